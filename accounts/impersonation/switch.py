"""Swapping the browser's session between the staff member's and the person's.

Starting puts the staff member's session aside under a new key (the old cookie value stops
working), kept by the impersonation record, and gives the browser a fresh session of the
person's that expires with the impersonation. Ending deletes the person's session and gives
the staff member's back under yet another key, still signed in and still past its second
factor, so no password or code is asked again.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from accounts.impersonation.models import Impersonation

MARKER = "_gatehouse_impersonation"
# The person's session outlives the impersonation by this much, so that the request that
# finds it over ends it cleanly (and gives the staff session back).
_GRACE_SECONDS = 300


def _store(session_key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key)  # type: ignore[no-any-return]


def put_staff_session_aside(request: HttpRequest) -> str:
    """A new key for the staff member's session (the cookie's value dies), saved; returns it."""
    request.session.cycle_key()
    request.session.save()
    return str(request.session.session_key)


def enter(request: HttpRequest, imp: Impersonation, backend: str) -> None:
    """Give the browser a new session signed in as the impersonation's person."""
    person = imp.person
    session = _store()
    session[SESSION_KEY] = person._meta.pk.value_to_string(person)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = person.get_session_auth_hash()
    session[MARKER] = str(imp.public_id)
    session.set_expiry(imp.minutes * 60 + _GRACE_SECONDS)
    session.create()
    request.session = session
    request.user = person
    rotate_token(request)


def leave(request: HttpRequest, staff: Any, staff_session_key: str) -> bool:
    """Delete the person's session and give the staff member theirs back under a new key.
    False (and signed out) when it is gone meanwhile (it expired, or was ended elsewhere)."""
    request.session.delete()
    if staff_session_key:
        own = _store(staff_session_key)
        if own.get(SESSION_KEY) == str(staff.pk):
            own.cycle_key()
            request.session = own
            request.user = staff
            rotate_token(request)
            return True
        own.delete()
    request.session = _store()
    request.user = AnonymousUser()
    return False
