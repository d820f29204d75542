"""The erasure job: ``erase`` carries out one due request in three steps.

1. **Start** (one transaction, the request row locked): refuse while the person is the only owner
   of an organization that has other members (the request goes on hold, they are told, and it
   resumes once ownership moves); otherwise mark it ``erasing``, deactivate the account, draw a
   random pseudonym, record whom it stands for (``audit.services.record_erasure_subject``,
   evidence the application cannot change) and store the identifiers to erase, encrypted. Old
   addresses survive only in audit data, which step 2 rewrites: a crash must not lose them.
   Once it has committed, the person is signed out everywhere.
2. **Rewrite quotes** (a batch per transaction, consent.erasure.quotes).
3. **Finish** (one transaction): check ownership again, rewrite what was quoted meanwhile,
   turn the account into a tombstone, delete the person's own rows (consent.erasure.removal),
   mark the request completed, audit it and send a last email that forgets its recipient.

Running it again is harmless: every step looks for what is still there, and a completed request
is skipped.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any

from allauth.usersessions.models import UserSession
from django.db import transaction
from django.utils import timezone

from accounts import extensions
from accounts.models import User
from audit.actions import Action
from audit.services import record, record_erasure_subject
from config.refusals import service
from consent.addresses import account_addresses
from consent.erasure import notices, quotes, removal
from consent.erasure.identifiers import Identifiers, collect
from consent.erasure.schedule import (
    OPEN,
    STALLED_AFTER,
    Erasure,
    Status,
    blocking_organizations,
    reactivate,
    sole_owner_message,
)
from consent.models import DataSubjectRequest
from consent.signals import user_erased
from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)

# A job that keeps failing stops being retried and waits for staff (the admin shows why).
MAX_ATTEMPTS = 5
# Rows that committed late (a request's transaction that began before the job) are caught by
# the final pass, which looks this far back from the job's start.
LATE_COMMIT_MARGIN = timedelta(minutes=5)


def erase(request_id: int) -> str:
    """Carry out one erasure request. Returns "erased", "on_hold", "failed" (gave up after
    ``MAX_ATTEMPTS``), or "skipped" (not due, not an open erasure, already done, or another
    worker has it)."""
    started = start(request_id)
    if started is None or isinstance(started, str):
        return started or "skipped"
    erasure, identifiers = started
    began = erasure.started_at

    def heartbeat() -> None:  # a long pass must not look stalled to the sweep
        DataSubjectRequest.objects.filter(pk=request_id, status=Status.ERASING).update(
            started_at=timezone.now()
        )

    try:
        quotes.rewrite_quotes(erasure.user, identifiers, erasure.pseudonym, heartbeat=heartbeat)
        return finish(request_id, since=(began or timezone.now()) - LATE_COMMIT_MARGIN)
    except Exception as exc:
        DataSubjectRequest.objects.filter(pk=request_id).update(
            last_error=f"{type(exc).__name__}: {exc}"[:200]
        )
        raise


# --- Step 1: start -------------------------------------------------------------------------------


def start(request_id: int) -> tuple[DataSubjectRequest, Identifiers] | str | None:
    """Step 1. Returns the request under way with what to erase; or "on_hold" or "failed"; or
    None when there is nothing to do now."""
    claimed = _claim(request_id)
    if not isinstance(claimed, tuple):
        return claimed
    erasure, sessions = claimed
    # After the commit: the account is inactive by now, so no new session can begin.
    for session in sessions:
        session.end()
    return erasure, Identifiers.loads(erasure.identifiers)  # type: ignore[arg-type]


@service
def _claim(request_id: int) -> tuple[DataSubjectRequest, list[UserSession]] | str | None:
    erasure = (
        DataSubjectRequest.objects.select_for_update(skip_locked=True)
        .select_related("user")
        .filter(pk=request_id, kind=Erasure, status__in=OPEN)
        .first()
    )
    if erasure is None or _not_now(erasure):
        return None
    if erasure.status == Status.ERASING and erasure.attempts >= MAX_ATTEMPTS:
        return _give_up(erasure)
    user = erasure.user
    blocking = blocking_organizations(user)
    if blocking:
        return _hold(erasure, blocking)
    now = timezone.now()
    erasure.attempts += 1
    erasure.status = Status.ERASING
    erasure.started_at = now
    if not erasure.pseudonym:
        erasure.pseudonym = f"erased-{secrets.token_hex(6)}"
    if erasure.identifiers is None:
        erasure.identifiers = collect(user).dumps()
    erasure.save(update_fields=["attempts", "status", "started_at", "pseudonym", "identifiers"])
    # Whom the pseudonym stands for, kept where the application cannot change it: the
    # database's erase functions read the person from there, not from this request.
    record_erasure_subject(
        pseudonym=erasure.pseudonym,
        user_id=user.pk,
        request_id=erasure.public_id,
        targets=Identifiers.loads(erasure.identifiers).targets,  # type: ignore[arg-type]
    )
    # From here on nobody signs in as them, and no export of them is built or sent.
    User.objects.filter(pk=user.pk).update(is_active=False)
    # Nor does any app act for them with a token it already holds.
    extensions.hooks.end_app_tokens(user=user, reason="erasure")
    DataSubjectRequest.objects.filter(
        user=user,
        kind=DataSubjectRequest.Kind.EXPORT,
        status__in=(Status.PENDING, Status.READY),
    ).update(status=Status.FAILED, last_error="the account is being erased", completed_at=now)
    return erasure, list(UserSession.objects.filter(user=user))


def _not_now(erasure: DataSubjectRequest) -> bool:
    """Still in its grace period, or another worker is on it."""
    now = timezone.now()
    if erasure.status == Status.SCHEDULED:
        return (erasure.scheduled_for or now) > now
    started = erasure.started_at
    return (
        erasure.status == Status.ERASING and started is not None and started > now - STALLED_AFTER
    )


def _give_up(erasure: DataSubjectRequest) -> str:
    erasure.status = Status.FAILED
    erasure.completed_at = timezone.now()
    erasure.last_error = f"gave up after {erasure.attempts} attempts: {erasure.last_error}"[:200]
    erasure.save(update_fields=["status", "completed_at", "last_error"])
    logger.error("erasure %s failed for good: %s", erasure.public_id, erasure.last_error)
    return "failed"


def _hold(erasure: DataSubjectRequest, blocking: list[Organization]) -> str:
    """Wait until the person no longer alone owns an organization with other members, and tell
    them so the first time."""
    first_time = erasure.status != Status.ON_HOLD
    reactivate(erasure)  # they need to sign in to hand the organization over
    erasure.status = Status.ON_HOLD
    erasure.last_error = "sole owner of an organization with other members"
    erasure.save(update_fields=["status", "last_error"])
    if first_time:
        record(
            Action.PRIVACY_ERASURE_ON_HOLD,
            actor_text=removal.JOB_ACTOR,
            target=erasure.user,
            data={
                "request": str(erasure.public_id),
                "organizations": [str(org.public_id) for org in blocking],
            },
        )
        notices.email_everyone(
            erasure.user,
            "email/consent/erasure_on_hold",
            {
                "erasure": erasure,
                "organizations": blocking,
                "reason": sole_owner_message(blocking),
            },
        )
    return "on_hold"


# --- Step 3: finish ------------------------------------------------------------------------------


@service
def finish(request_id: int, *, since: Any) -> str:
    """Step 3. Returns "erased", "on_hold" (ownership came back to them alone meanwhile) or
    "skipped" (not under way)."""
    erasure = (
        DataSubjectRequest.objects.select_for_update()
        .select_related("user")
        .filter(pk=request_id, kind=Erasure, status=Status.ERASING)
        .first()
    )
    if erasure is None:
        return "skipped"
    user = erasure.user
    # Ownership may have moved while the quotes were rewritten (a co-owner left, or is being
    # erased too): check again with their organizations locked, as member changes lock them.
    list(
        Organization.objects.select_for_update().filter(
            pk__in=Membership.objects.filter(
                user=user, role=Role.OWNER, status=Membership.Status.ACTIVE
            ).values("organization_id")
        )
    )
    blocking = blocking_organizations(user)
    if blocking:
        return _hold(erasure, blocking)
    identifiers = Identifiers.loads(erasure.identifiers)  # type: ignore[arg-type]
    # Whatever quoted them while the first pass ran (a stranger trying their address).
    quotes.rewrite_quotes(user, identifiers, erasure.pseudonym, since=since, inside=True)
    addresses = account_addresses(user)
    old_public_id = user.public_id
    pseudonym = erasure.pseudonym
    # The tombstone first: audit events written below describe their rows by it.
    removal.tombstone(user, pseudonym)
    counts = removal.delete_their_rows(user, identifiers, pseudonym)
    erasure.status = Status.COMPLETED
    erasure.completed_at = timezone.now()
    erasure.identifiers = None
    erasure.download_token_hash = ""
    erasure.last_error = ""
    erasure.save(
        update_fields=["status", "completed_at", "identifiers", "download_token_hash", "last_error"]
    )
    record(
        Action.PRIVACY_USER_ERASED,
        actor_text=removal.JOB_ACTOR,
        target=user,
        # The id apps knew the person by: the tombstone has a new one, and a webhook consumer
        # must be able to find (and delete) its own copy of the account.
        data={
            "request": str(erasure.public_id),
            "counts": counts,
            "former_id": str(old_public_id),
        },
    )
    notices.send_completion_email(addresses)
    transaction.on_commit(
        lambda: user_erased.send(sender=User, user=user, old_public_id=old_public_id)
    )
    return "erased"
