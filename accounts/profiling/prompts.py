"""When people are asked: after the sign-in that reaches a field's count (remembered in the
session until answered), and before an app that asked for a field's scope gets its consent
page. The questions page itself is ``accounts.profiling.views.questions``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from accounts.profiling import selectors
from accounts.profiling.models import ProfileField

SESSION_KEY = "gatehouse_profile_due"


def note_due_after_login(request: HttpRequest, user: Any) -> None:
    """Called once a login is written (``AccountAdapter.login``): remember in the session
    which fields this sign-in made due, for the middleware to ask."""
    due = selectors.due_after_sign_ins(user)
    session = getattr(request, "session", None)
    if session is None:
        return
    if due:
        session[SESSION_KEY] = [f.pk for f in due]
    else:
        session.pop(SESSION_KEY, None)


def pending_in_session(request: HttpRequest) -> list[int]:
    session = getattr(request, "session", None)
    ids = session.get(SESSION_KEY) if session is not None else None
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def due_now(request: HttpRequest, scopes: list[str]) -> list[ProfileField]:
    """The fields to ask on the questions page: those this session's sign-in made due and
    those of ``scopes``, still active and not answered or skipped meanwhile."""
    user = request.user
    due = {f.pk: f for f in selectors.due_for_scopes(user, scopes)}
    ids = pending_in_session(request)
    if ids:
        for field in selectors.unsettled(user, ids):
            due.setdefault(field.pk, field)
    return sorted(due.values(), key=lambda f: (f.position, f.pk))


def forget_settled(request: HttpRequest) -> None:
    """Drop the session's list once its fields are settled."""
    ids = pending_in_session(request)
    if not ids:
        return
    left = [f.pk for f in selectors.unsettled(request.user, ids)]
    if left:
        request.session[SESSION_KEY] = left
    else:
        request.session.pop(SESSION_KEY, None)


def questions_url(next_url: str, scopes: list[str] | None = None) -> str:
    query = {"next": next_url}
    if scopes:
        query["scope"] = " ".join(scopes)
    return f"{reverse('selfservice:profile-questions')}?{urlencode(query)}"
