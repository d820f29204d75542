"""What stays the person's own while support impersonates them: their password, second
factors and linked sign-ins, addresses, consents and erasure. Every page and endpoint that
changes one is refused, whatever the method: the pages that only show a form are refused
too, so that the banner's promise is plain."""

from __future__ import annotations

from django.http import HttpRequest

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

# (path prefix, what it changes, whether reading it is refused too)
_AREAS: tuple[tuple[str, str, bool], ...] = (
    ("/account/password/", "the password", True),
    ("/accounts/password/", "the password", True),
    ("/account/security/", "second factors", True),
    ("/accounts/2fa/", "second factors", True),
    ("/webauthn/", "second factors", True),
    ("/accounts/3rdparty/", "linked sign-ins", True),
    ("/accounts/social/", "linked sign-ins", True),
    ("/account/email/", "email addresses", True),
    ("/accounts/email/", "email addresses", True),
    ("/accounts/confirm-email/", "email addresses", True),
    ("/account/privacy/delete/", "erasure", True),
    ("/account/privacy/export/", "the person's data", True),
    ("/account/privacy/", "consents", False),
    ("/api/v1/me/erasure/", "erasure", True),
    ("/api/v1/me/", "consents", False),
)


def refused_area(request: HttpRequest) -> str:
    """What the request would change that impersonation may not ("" when allowed)."""
    path = request.path
    for prefix, area, reading_too in _AREAS:
        if path.startswith(prefix):
            if reading_too or request.method not in _SAFE:
                return area
            return ""
    return ""


def is_sign_out(request: HttpRequest) -> bool:
    """Signing out while impersonating ends the impersonation instead (the staff member gets
    their own session back rather than losing it)."""
    return request.path == "/accounts/logout/" and request.method == "POST"
