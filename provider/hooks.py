"""How the provider hears that a person's access must end, without the apps below it
importing it: the ``end_app_tokens`` hook of ``accounts.extensions`` (block, sessions ended,
removal from an organization, erasure), allauth's ``password_reset`` signal and Django's
``user_logged_out`` (a sign-out ends the browser's OIDC session). Registered in
``ProviderConfig.ready``. It also answers ``invitation_app``: whether the app that sent an
invitation through the management API may still manage that organization.

Browser sessions are matched to OIDC sessions by ``ProviderSession.session_key_digest``, the
SHA-256 of the Django session key (``session_key_digest``), so the table never holds a key
that would open the session.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db.models import Q
from django.utils import timezone

from provider.device import deny_approved_devices
from provider.models import ApiAccess, Application, Authorization, ProviderSession
from provider.services.consent_ledger import EndedBy, lock_person, record_all_ended
from provider.services.revocation import Reason, revoke_tokens
from provider.services.sessions import SESSION_KEY, end_provider_session


def session_key_digest(session_key: str) -> str:
    """What ``ProviderSession.session_key_digest`` holds for a browser session."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def end_app_tokens(
    *,
    user: Any,
    reason: str,
    actor: Any = None,
    organization: Any = None,
    session_keys: list[str] | None = None,
    keep_session_key: str | None = None,
) -> int:
    """Answer to ``accounts.extensions.hooks.end_app_tokens``; returns how many access and
    refresh tokens ended. Runs in the caller's transaction."""
    if session_keys is not None:
        return _end_sessions(user, reason, actor, session_keys)
    if organization is not None:
        lock_person(user)  # before any token row, in the order Allow and Remove access take
        revoked = revoke_tokens(user=user, reason=reason, organization=organization, actor=actor)
        # Standing permissions given through that organization go with the membership, and
        # the consent ledger says so.
        record_all_ended(
            user=user,
            ended_by=EndedBy.REMOVED_FROM_ORGANIZATION,
            organization=organization,
            actor=actor,
        )
        Authorization.objects.filter(user=user, organization=organization).delete()
        return revoked.access_tokens + revoked.refresh_tokens
    if reason == Reason.ERASURE:
        lock_person(user)
    deny_approved_devices(user=user)
    sessions = ProviderSession.objects.filter(user=user, ended_at__isnull=True)
    kept: frozenset[str] = frozenset()
    if keep_session_key:
        digest = session_key_digest(keep_session_key)
        kept = frozenset(sessions.filter(session_key_digest=digest).values_list("sid", flat=True))
    revoked = revoke_tokens(user=user, reason=reason, keep_sids=kept, actor=actor)
    sessions.exclude(sid__in=kept).update(ended_at=timezone.now())
    if reason == Reason.ERASURE:
        record_all_ended(user=user, ended_by=EndedBy.ERASURE, actor=actor)
        Authorization.objects.filter(user=user).delete()
    return revoked.access_tokens + revoked.refresh_tokens


def _end_sessions(user: Any, reason: str, actor: Any, session_keys: list[str]) -> int:
    digests = [session_key_digest(key) for key in session_keys if key]
    sessions = ProviderSession.objects.filter(
        user=user, session_key_digest__in=digests, ended_at__isnull=True
    )
    ended = 0
    for sid in sessions.values_list("sid", flat=True):
        revoked = revoke_tokens(user=user, reason=reason, sid=sid, actor=actor)
        ended += revoked.access_tokens + revoked.refresh_tokens
    sessions.update(ended_at=timezone.now())
    return ended


def invitation_app(*, client_id: str, organization: Any) -> Any:
    """The app of ``client_id`` as an actor in ``organization``, while it is usable, bound
    to that organization or to none, and allowed ``organizations:write``; else None."""
    from provider.api.authentication import ClientActor

    app = (
        Application.objects.filter(client_id=client_id, disabled_at__isnull=True)
        .filter(Q(organization__isnull=True) | Q(organization=organization))
        .first()
    )
    if app is None:
        return None
    access = ApiAccess.objects.filter(application=app, api__system=True).first()
    if access is None or "organizations:write" not in access.scopes:
        return None
    return ClientActor(app)


def on_password_reset(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """allauth's ``password_reset``: whoever knew the old password may hold tokens through it,
    so every token ends (in the reset's own transaction, see
    ``accounts.allauth_flows.PasswordResetFromKeyView``)."""
    end_app_tokens(user=user, reason=Reason.PASSWORD_RESET, actor=user)


def on_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Django's ``user_logged_out`` (any sign-out of Gatehouse, read before the session is
    flushed): the browser's OIDC session ends with it. Found by the session key's digest, or
    by the sid the session holds when the key changed since (a later login in the same
    browser cycles it)."""
    session = getattr(request, "session", None)
    if user is None or session is None:
        return
    key = session.session_key or ""
    matches = Q(session_key_digest=session_key_digest(key)) if key else Q(pk__in=[])
    if session.get(SESSION_KEY):
        matches |= Q(sid=session[SESSION_KEY])
    open_sessions = ProviderSession.objects.filter(matches, user=user, ended_at__isnull=True)
    for sid in open_sessions.values_list("sid", flat=True):
        end_provider_session(sid=sid, user=user)


def register() -> None:
    from allauth.account.signals import password_reset
    from django.contrib.auth.signals import user_logged_out

    from accounts import extensions

    extensions.register(end_app_tokens=end_app_tokens, invitation_app=invitation_app)
    password_reset.connect(on_password_reset, dispatch_uid="provider_tokens_on_password_reset")
    user_logged_out.connect(on_logged_out, dispatch_uid="provider_session_on_logout")
