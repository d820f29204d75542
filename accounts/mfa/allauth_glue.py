"""The one place Gatehouse touches allauth's internal login machinery.

allauth keeps a login that is half done (first factor passed, later stages pending) in the
session, and a list of the authentications the session has seen. These helpers are internal
to allauth, so they are imported here only: an allauth upgrade that moves them breaks one file.
"""

from __future__ import annotations

from typing import Any

from allauth.account.internal.flows.login import (
    get_authentication_records,
    perform_login,
    record_authentication,
)
from allauth.account.internal.stagekit import clear_login
from allauth.account.models import Login
from allauth.account.stages import LoginStage, LoginStageController
from django.http import HttpRequest, HttpResponse

__all__ = [
    "LoginStage",
    "LoginStageController",
    "authentication_records",
    "clear_login",
    "enter_stage",
    "login_with_passkey",
    "record",
]


def authentication_records(request: HttpRequest, user: Any) -> list[dict[str, Any]]:
    return list(get_authentication_records(request, user))


def record(request: HttpRequest, user: Any, method: str, **extra: Any) -> None:
    record_authentication(request, user, method=method, **extra)


def enter_stage(request: HttpRequest, key: str) -> Any:
    """The pending login's stage ``key``, if that is the stage the login is waiting in."""
    return LoginStageController.enter(request, key)


def login_with_passkey(request: HttpRequest, user: Any, redirect_url: str | None) -> HttpResponse:
    """A passwordless passkey login: the first factor through allauth's flow, so the
    blocked-user check, email verification and session bookkeeping all apply."""
    return perform_login(request, Login(user=user, redirect_url=redirect_url or None))
