"""OIDC sessions: the ``sid`` shared by every token issued through one browser session."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from audit.actions import Action
from audit.services import record
from config.refusals import service
from provider.models import ProviderSession
from provider.services.revocation import Reason, revoke_tokens

SESSION_KEY = "gatehouse_provider_sid"


def _digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def current_sid(request: HttpRequest, user: Any) -> str | None:
    """The live OIDC session of this browser session, if it has one for ``user``."""
    sid = request.session.get(SESSION_KEY)
    if not sid:
        return None
    alive = ProviderSession.objects.filter(sid=sid, user=user, ended_at__isnull=True).exists()
    return sid if alive else None


def provider_sid(request: HttpRequest, user: Any) -> str:
    """The ``sid`` of this browser session, started on first use (a random value, never the
    session key, which would let anyone holding an ID token hijack the session)."""
    sid = current_sid(request, user)
    if sid:
        return sid
    if request.session.session_key is None:
        request.session.save()
    session = start_provider_session(user=user, session_key=request.session.session_key or "")
    request.session[SESSION_KEY] = session.sid
    return session.sid


@service
def start_provider_session(*, user: Any, session_key: str) -> ProviderSession:
    return ProviderSession.objects.create(
        sid=secrets.token_urlsafe(24), user=user, session_key_digest=_digest(session_key)
    )


@service(durable=False)
def end_provider_session(*, sid: str, user: Any, client_id: str = "") -> int:
    """End the person's OIDC session ``sid``: they signed out, of Gatehouse or through a
    relying party (``client_id``). The tokens issued through it end, except those granted
    with ``offline_access``, and the apps that took part hear of it by back-channel logout.
    Audited even when the browser had none."""
    ended = 0
    session = ProviderSession.objects.filter(sid=sid, user=user, ended_at__isnull=True)
    if sid and session.exists():
        # Before the session is marked ended: its ID tokens are what tells revoke_tokens
        # which apps to send a logout token.
        revoke_tokens(user=user, reason=Reason.SIGNED_OUT, sid=sid, keep_offline=True, actor=user)
        ended = session.update(ended_at=timezone.now())
    record(
        Action.OAUTH_LOGOUT,
        actor=user,
        data={"client_id": client_id, "sessions_ended": ended},
    )
    return ended
