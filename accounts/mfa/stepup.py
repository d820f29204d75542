"""Step-up: sensitive actions need a recent, strong enough authentication.

"Recent" is ``GATEHOUSE_STEPUP_MAX_AGE`` seconds. "Strong enough" is the user's strongest kind
of factor (``policy.required_stepup_strength``): an account with an authenticator app or a
passkey steps up with one of those (or a backup code), an account with only email codes with
an emailed code, and an account without MFA with its password (or an emailed code when it has
no password). The second step of a login counts, so someone who just logged in is not asked
again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.mfa import policy
from accounts.mfa.allauth_glue import authentication_records
from accounts.mfa.policy import STRENGTH, Kind


def record_strength(entry: dict[str, Any]) -> int:
    method = entry.get("method")
    if method == "passkey":
        return STRENGTH[Kind.PASSKEY]
    if method == "mfa":
        try:
            return STRENGTH[Kind(entry.get("type", ""))]
        except ValueError:
            return -1
    if method == "password":
        return STRENGTH[Kind.PASSWORD]
    if method == "code":  # allauth's login by emailed code
        return STRENGTH[Kind.EMAIL]
    return -1  # social and enterprise logins step up with Gatehouse's own factors


def required_strength(user: Any) -> int:
    required = policy.required_stepup_strength(user)
    if required == STRENGTH[Kind.PASSWORD] and not user.has_usable_password():
        return STRENGTH[Kind.EMAIL]
    return required


def is_satisfied(request: HttpRequest) -> bool:
    user = request.user
    if not user.is_authenticated:
        return False
    now = time.time()
    window = settings.GATEHOUSE_STEPUP_MAX_AGE
    recent = [
        r
        for r in authentication_records(request, user)
        if isinstance(r.get("at"), int | float) and now - r["at"] < window
    ]
    if not recent:
        return False
    needed = required_strength(user)
    return any(record_strength(r) >= needed for r in recent)


def stepup_url(next_url: str) -> str:
    return f"{reverse('mfa:stepup')}?{urlencode({'next': next_url})}"


def stepup_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send the user to step up first, then back to the page.

    A POST is not kept for replay: its body may hold passwords (a password change), which
    must not be parked in the session. The user submits the form again after the step-up.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated and not is_satisfied(request):
            if request.method == "POST":
                from django.contrib import messages

                messages.info(request, "Confirm it is you, then try again.")
            back = request.get_full_path() if request.method == "GET" else request.path
            return HttpResponseRedirect(stepup_url(back))
        return view(request, *args, **kwargs)

    wrapper.gatehouse_stepup_required = True  # type: ignore[attr-defined]
    return wrapper
