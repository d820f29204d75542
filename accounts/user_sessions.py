"""Tracking of each signed-in session (device, address, last seen) for the sessions page.

django-allauth's usersessions app keeps a row per session. Gatehouse keeps its model and its
sessions page logic, but changes when the rows are written:

* at login, one INSERT in the login's transaction (``accounts.adapter.AccountAdapter.login``),
  written in one statement with the login's other rows (``accounts.login_writes``),
  instead of allauth's receiver that first re-checks every other session of the user against
  the session store (a cache read and a query per session, on the path every password login
  waits for) and writes after the login's other rows; ended sessions are swept by a periodic
  task instead;
* while browsing, ``last_seen_at`` is refreshed at most every few minutes per session, not
  written on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.signals import user_logged_in
from allauth.core.internal.httpkit import HTTP_USER_AGENT_MAX_LENGTH
from allauth.usersessions import signals as usersessions_signals
from allauth.usersessions.models import UserSession
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts import login_writes

LAST_SEEN_RESOLUTION = timedelta(minutes=5)
_SEEN_KEY = "_gatehouse_session_seen"


def record_login_session(request: HttpRequest, user: Any) -> None:
    """A new row for the session this login just started (its key is new: login cycles it)."""
    if not request.session.session_key:
        request.session.save()
    now = timezone.now()
    login_writes.add_row(
        UserSession(
            session_key=request.session.session_key,
            user=user,
            ip=get_adapter().get_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:HTTP_USER_AGENT_MAX_LENGTH],
            created_at=now,
            last_seen_at=now,
        )
    )
    request.session[_SEEN_KEY] = now.timestamp()


def install() -> None:
    """Disconnect allauth's login receiver: Gatehouse's adapter records the session instead
    (called from AccountsConfig.ready)."""
    user_logged_in.disconnect(receiver=usersessions_signals.on_user_logged_in)


class SessionActivityMiddleware:
    """Refreshes a session's "last seen" time and address, at most every few minutes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and user.is_authenticated and session and session.session_key:
            now = timezone.now()
            seen = session.get(_SEEN_KEY, 0)
            if now.timestamp() - seen >= LAST_SEEN_RESOLUTION.total_seconds():
                UserSession.objects.filter(session_key=session.session_key, user_id=user.pk).update(
                    last_seen_at=now, ip=get_adapter().get_client_ip(request)
                )
                session[_SEEN_KEY] = now.timestamp()
        return self.get_response(request)
