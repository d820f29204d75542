"""Ending tokens: a replayed code's or refresh token's family, everything a person holds (or
holds through one organization, app or session), and a person's authorization of an app.

Revocation is set-based: a few statements whatever the number of tokens, never a query per
row. Refresh tokens are marked revoked (not deleted), so a revoked one presented again is
recognised by DOT's reuse protection; access tokens are deleted, which is what DOT's own
``AccessToken.revoke()`` does and what introspection and bearer checks read. JWT access tokens
that a resource server verifies locally cannot be recalled: they die within their API's short
lifetime, and their refresh fails at once.

Apps with a back-channel logout URI hear of it once the transaction commits
(``provider.tasks.send_backchannel_logout``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import service
from provider.models import (
    AccessToken,
    Application,
    Authorization,
    Grant,
    IDToken,
    ProviderSession,
    RefreshToken,
)
from provider.services import consent_ledger
from provider.services.consent_ledger import EndedBy


class Reason:
    """Why a person's tokens ended: the words in the audit event and the task's log."""

    BLOCKED = "blocked"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    SESSION_REVOKED = "session_revoked"
    PASSWORD_RESET = "password_reset"  # noqa: S105  (a reason, not a password)
    REMOVED_FROM_ORGANIZATION = "removed_from_organization"
    ERASURE = "erasure"
    AUTHORIZATION_REMOVED = "authorization_removed"
    SIGNED_OUT = "signed_out"


# Tokens granted with ``offline_access`` are meant to outlive the sign-in (OIDC Core 11): a
# plain sign-out leaves them (OIDC Back-Channel Logout 1.0, 2.7); security actions do not.
OFFLINE_SCOPE = r"(^| )offline_access( |$)"


# ``organization=PERSONAL``: only the tokens issued outside any organization.
PERSONAL: Any = object()


@dataclass(frozen=True)
class Revoked:
    access_tokens: int
    refresh_tokens: int
    logouts_queued: int

    @property
    def anything(self) -> bool:
        return bool(self.access_tokens or self.refresh_tokens or self.logouts_queued)


@service
def revoke_code_family(*, family: uuid.UUID, client_id: str) -> int:
    """A used authorization code came back: whoever holds it now may have stolen it, so every
    token issued from it dies (refresh tokens revoked, access tokens deleted).

    Marking the grant first takes its row lock: an exchange of the same code still saving
    its tokens holds that lock (GatehouseValidator._save_bearer_token), so either its tokens
    are committed before they are revoked here, or it sees the mark and issues nothing."""
    Grant.objects.filter(family=family).update(replayed_at=timezone.now())
    RefreshToken.revoke_family(family)
    deleted, _ = AccessToken.objects.filter(family=family).delete()
    record(
        Action.OAUTH_CODE_REPLAYED,
        actor_text=f"client {client_id}",
        outcome=Outcome.FAILURE,
        data={"client_id": client_id, "family": str(family), "ended": {"access": deleted}},
    )
    return deleted


@service
def revoke_refresh_family(*, family: uuid.UUID, client_id: str) -> bool:
    """A spent refresh token came back (OAuth 2.1 4.3.1): either its holder or whoever used
    it first may be a thief, so the rest of its family dies, refresh tokens revoked and access
    tokens deleted. Also called when a rotation finds its token spent by a concurrent request
    a moment before: both requests presented the same token.

    Recorded only when something was still alive: a family that a sign-out, a block or an
    earlier replay already ended makes no event. True when something was ended."""
    if not family:
        return False  # never "every token without a family"
    now = timezone.now()
    # Refresh tokens first, then access tokens: the order rotation and revoke_tokens lock in.
    revoked = RefreshToken.objects.filter(token_family=family, revoked__isnull=True).update(
        revoked=now, updated=now
    )
    family_rows = RefreshToken.objects.filter(token_family=family)
    deleted = AccessToken.objects.filter(pk__in=family_rows.values("access_token_id"))._raw_delete(
        AccessToken.objects.db
    )
    # Unhooked after the delete (DOT's SET_NULL; the foreign key is checked at commit): the
    # delete above finds its rows through these pointers.
    family_rows.filter(access_token__isnull=False).update(access_token=None)
    if not (revoked or deleted):
        return False
    record(
        Action.OAUTH_REFRESH_REPLAYED,
        actor_text=f"client {client_id}",
        outcome=Outcome.FAILURE,
        data={
            "client_id": client_id,
            "family": str(family),
            "ended": {"access": deleted, "refresh": revoked},
        },
    )
    return True


def _scoped(
    queryset: QuerySet[Any],
    *,
    organization: Any,
    application: Any,
    sid: str | None,
    keep_sids: frozenset[str],
) -> QuerySet[Any]:
    if organization is PERSONAL:
        queryset = queryset.filter(organization__isnull=True)
    elif organization is not None:
        queryset = queryset.filter(organization=organization)
    if application is not None:
        queryset = queryset.filter(application=application)
    if sid is not None:
        queryset = queryset.filter(sid=sid)
    if keep_sids:
        queryset = queryset.exclude(sid__in=keep_sids)
    return queryset


@service(durable=False)
def revoke_tokens(
    *,
    user: Any,
    reason: str,
    organization: Any = None,
    application: Application | None = None,
    sid: str | None = None,
    keep_sids: frozenset[str] = frozenset(),
    keep_offline: bool = False,
    actor: Any = None,
) -> Revoked:
    """Make ``user``'s tokens stop working now: every one, or only those issued for one
    organization, one app or one OIDC session (``sid``); ``keep_sids`` spares the sessions
    a person keeps ("sign out of other sessions"); ``keep_offline`` spares tokens granted
    with ``offline_access`` (a plain sign-out).

    Joins the caller's transaction (blocking, erasure and removal from an organization end
    tokens in the same commit as the change that calls for it). Apps with a back-channel
    logout URI that held tokens or ID tokens in scope are told after the commit; an ID token
    counts because an app can keep a session on one without ever holding an access token.
    Calling it again finds nothing left and records nothing."""
    scope = {
        "organization": organization,
        "application": application,
        "sid": sid,
        "keep_sids": keep_sids,
    }
    refresh = _scoped(RefreshToken.objects.filter(user=user), **scope)
    access = _scoped(AccessToken.objects.filter(user=user), **scope)
    if keep_offline:
        refresh = refresh.exclude(access_token__scope__regex=OFFLINE_SCOPE)
        access = access.exclude(scope__regex=OFFLINE_SCOPE)
    now = timezone.now()
    # An app keeps its own session on an ID token: it hears of a session that is still open
    # (or an ID token still fresh), not again of one already ended.
    open_sids = ProviderSession.objects.filter(user=user, ended_at__isnull=True).values("sid")
    id_tokens = IDToken.objects.filter(Q(sid__in=open_sids) | Q(expires__gt=now), user=user)
    if application is not None:
        id_tokens = id_tokens.filter(application=application)
    if sid is not None:
        id_tokens = id_tokens.filter(sid=sid)
    if keep_sids:
        id_tokens = id_tokens.exclude(sid__in=keep_sids)
    if organization is not None and organization is not PERSONAL:
        # ID tokens carry no organization: an org-scoped revocation tells the apps whose
        # org-scoped tokens it ended, and no others.
        id_tokens = id_tokens.none()
    logouts = _backchannel_targets(
        user, refresh.filter(revoked__isnull=True), access.filter(expires__gt=now), id_tokens
    )
    # Refresh tokens first, access tokens second, in separate statements: a refresh that
    # rotated while the first statement waited on its row lock committed a pair the first
    # statement's snapshot cannot see; the second statement sees and deletes its access token,
    # which leaves its refresh token an orphan that DOT refuses. A refresh that reads its token
    # before this commits and rotates after is refused by the validator's re-check.
    revoked = refresh.filter(revoked__isnull=True).update(revoked=now, updated=now)
    deleted = _delete_access_tokens(access)
    sub = str(user.public_id)
    for application_id, session_id in logouts:
        _queue_logout(application_id, sub, session_id)
    result = Revoked(access_tokens=deleted, refresh_tokens=revoked, logouts_queued=len(logouts))
    if result.anything:
        record(
            Action.OAUTH_TOKENS_REVOKED,
            actor=actor,
            actor_text="" if actor is not None else "system",
            target=user,
            organization=None if organization is PERSONAL else organization,
            data={
                "reason": reason,
                # Not "..._tokens": the audit log redacts keys that look like secrets.
                "ended": {"access": result.access_tokens, "refresh": result.refresh_tokens},
                "backchannel_logouts": result.logouts_queued,
                "client_id": application.client_id if application is not None else "",
                "one_session": sid is not None,
            },
        )
    return result


def _delete_access_tokens(access: QuerySet[AccessToken]) -> int:
    """Delete in two statements whatever the count: unhook the refresh tokens that point at
    them (DOT's ``SET_NULL``), then delete by subselect. Django's ``delete()`` would first load
    every row to run that ``SET_NULL`` itself."""
    ids = access.values("pk")
    RefreshToken.objects.filter(access_token__in=ids).update(access_token=None)
    return int(AccessToken.objects.filter(pk__in=ids)._raw_delete(AccessToken.objects.db))


def _backchannel_targets(
    user: Any, refresh: QuerySet[Any], access: QuerySet[Any], id_tokens: QuerySet[Any]
) -> list[tuple[int, str]]:
    """(application id, sid) pairs to send a logout token to: apps with a back-channel logout
    URI that held something in scope, once per OIDC session (``""``: no session known)."""
    listening = Q(application__backchannel_logout_uri__gt="", application__disabled_at__isnull=True)
    pairs: set[tuple[int, str]] = set()
    for queryset in (refresh, access, id_tokens):
        pairs.update(queryset.filter(listening).values_list("application_id", "sid").distinct())
    # A session-less pair is redundant next to a session of the same app: the logout token
    # carries ``sub`` either way.
    with_session = {app for app, sid in pairs if sid}
    return sorted((app, sid) for app, sid in pairs if sid or app not in with_session)


def _queue_logout(application_id: int, sub: str, sid: str) -> None:
    from provider.tasks import queue_backchannel_logout

    transaction.on_commit(
        lambda: queue_backchannel_logout(application_id, sub, sid),
        robust=True,
    )


@service
def revoke_authorization(*, authorization_id: int, user: Any) -> bool:
    """ "Remove access" on /account/apps/: the person's tokens for that app (and organization)
    end now, the consent ledger records the withdrawal, and the app must ask again. Only the
    person's own authorization is found; False when there is none (another person's, or
    already removed)."""
    consent_ledger.lock_person(user)  # before the authorization row, as when it was given
    authorization = (
        Authorization.objects.select_for_update(of=("self",))
        .select_related("application", "organization")
        .filter(pk=authorization_id, user=user)
        .first()
    )
    if authorization is None:
        return False
    # A personal authorization ends the personal tokens; one given for an organization, that
    # organization's: the other stays with what it allowed.
    scope = authorization.organization or PERSONAL
    revoked = _end_app_access(user, authorization.application, scope)
    consent_ledger.record_ended(authorization=authorization, ended_by=EndedBy.PERSON, actor=user)
    authorization.delete()
    _record_removal(user, authorization.application, authorization.organization, revoked)
    return True


@service
def remove_app_access(*, user: Any, application_id: int) -> bool:
    """ "Remove access" for an app that holds live tokens without an authorization (a
    first-party app, which never asks for consent). False when it holds none."""
    application = Application.objects.filter(pk=application_id).first()
    if application is None:
        return False
    revoked = _end_app_access(user, application, None)
    if not (revoked.access_tokens or revoked.refresh_tokens):
        return False
    _record_removal(user, application, None, revoked)
    return True


def _end_app_access(user: Any, application: Application, organization: Any) -> Revoked:
    """The app's tokens for ``user``: all of them (None), one organization's, or PERSONAL."""
    return revoke_tokens(
        user=user,
        reason=Reason.AUTHORIZATION_REMOVED,
        application=application,
        organization=organization,
        actor=user,
    )


def _record_removal(
    user: Any, application: Application, organization: Any, revoked: Revoked
) -> None:
    record(
        Action.OAUTH_AUTHORIZATION_REMOVED,
        actor=user,
        target=application,
        organization=organization,
        data={
            "client_id": application.client_id,
            "ended": {"access": revoked.access_tokens, "refresh": revoked.refresh_tokens},
        },
    )
