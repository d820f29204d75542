"""What a caller of the management API may do: the permissions (scopes) a token needs per
endpoint and method, and the rules sessions keep.

A view declares ``required_scopes = {"GET": ["users:read"], "POST": ["users:write"]}``. A
token needs every permission listed for the request's method; a method the view does not list
(or a view that declares nothing) takes no token at all. Browser sessions are not judged by
scopes: they keep each view's own rules (organization roles, Django permissions for staff).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from provider.models import AccessToken

ScopeMap = Mapping[str, Sequence[str]]
# Methods that only read are judged as the view's GET.
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_scopes(view: Any, method: str) -> list[str] | None:
    """The permissions a token needs to call ``view`` with ``method``; None when the view does
    not take tokens for that method."""
    declared: ScopeMap | None = getattr(view, "required_scopes", None)
    if declared is None:
        return None
    method = method.upper()
    scopes = declared.get("GET" if method in _READS else method)
    return list(scopes) if scopes is not None else None


def missing_scopes(granted: str, needed: Sequence[str]) -> list[str]:
    have = set(granted.split())
    return [scope for scope in needed if scope not in have]


def by_token(request: Request) -> bool:
    return isinstance(getattr(request, "auth", None), AccessToken)


def by_app_token(request: Request) -> bool:
    """An app's own token (client credentials): no person, judged by its scopes alone. A
    person's token is judged by its scopes and by that person's own rules as well, so an app
    that people sign in to never lends them more than they have."""
    token = getattr(request, "auth", None)
    return isinstance(token, AccessToken) and token.user_id is None


class SignedInOrToken(permissions.BasePermission):
    """The management API's default: a signed-in person, or a token the authenticator has
    already checked against the view's ``required_scopes``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if by_token(request):
            return True
        user = request.user
        return bool(user is not None and user.is_authenticated)


class StaffPermission(permissions.BasePermission):
    """A person needs the view's Django permission (``session_perms`` per method, e.g.
    ``{"GET": "accounts.view_user"}``), with a session or with a token of theirs; an app's own
    token was judged by its scopes."""

    message = "This needs a staff permission."

    def has_permission(self, request: Request, view: Any) -> bool:
        if by_app_token(request):
            return True
        user = request.user
        if user is None or not user.is_authenticated:
            return False
        perms: Mapping[str, str] = getattr(view, "session_perms", {})
        method = request.method or "GET"
        perm = perms.get("GET" if method in _READS else method)
        return bool(perm and user.is_staff and user.has_perm(perm))
