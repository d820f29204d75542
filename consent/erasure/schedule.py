"""Asking for erasure and calling it off, and which requests are due.

A request waits ``GATEHOUSE_ERASURE_GRACE_DAYS``; until then the account works and the person
may cancel. Someone who alone owns an organization with other members cannot ask (nor be erased
later): those members would be left with nobody able to manage it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service
from consent.erasure import notices
from consent.models import DataSubjectRequest
from organizations.models import Membership, Organization, Role

Erasure = DataSubjectRequest.Kind.ERASURE
Status = DataSubjectRequest.Status
OPEN = (Status.SCHEDULED, Status.ERASING, Status.ON_HOLD)
# What the person types to confirm, on the page and in the API.
CONFIRMATION = "delete"
# A job that started this long ago and never finished (a worker died) is queued again.
STALLED_AFTER = timedelta(minutes=30)
# How many due requests one run of the beat task queues.
DUE_BATCH = 500


def open_erasure(user: User) -> DataSubjectRequest | None:
    """The person's erasure that is scheduled, under way or on hold, if any."""
    return (
        DataSubjectRequest.objects.filter(user=user, kind=Erasure, status__in=OPEN)
        .order_by("-requested_at")
        .first()
    )


def blocking_organizations(user: User) -> list[Organization]:
    """Organizations the person alone owns while others still belong to them: erasing the
    person would leave those members with nobody able to manage the organization."""
    owned = Membership.objects.filter(
        user=user, role=Role.OWNER, status=Membership.Status.ACTIVE
    ).values("organization_id")
    active = Q(memberships__status=Membership.Status.ACTIVE)
    return list(
        Organization.objects.filter(pk__in=owned)
        .annotate(
            owners=Count("memberships", filter=active & Q(memberships__role=Role.OWNER)),
            others=Count("memberships", filter=active & ~Q(memberships__user=user)),
        )
        .filter(owners=1, others__gt=0)
        .order_by("name")
    )


def sole_owner_message(orgs: list[Organization]) -> str:
    names = ", ".join(org.name for org in orgs)
    return (
        f"You are the only owner of {names}. Make another member an owner (or remove the "
        "other members) first, so the organization is not left without anyone to manage it."
    )


@service
def request_erasure(
    *, user: User, via: str = DataSubjectRequest.Via.SELF, actor: Any = None, reason: str = ""
) -> DataSubjectRequest:
    """Schedule the erasure of ``user``'s account. Returns the open request if there is one.
    Refuses an account already erased (404) or a sole owner (409). The caller checks who is
    asking (a signed-in person after a step-up); ``actor`` is who asked when not the person
    (an operator's backend through the users API, or support staff, who must give a
    ``reason``: it is kept in the audit event)."""
    if via == DataSubjectRequest.Via.SUPPORT:
        from accounts.services import clean_reason

        reason = clean_reason(reason)
    from consent.tasks import erase_user

    locked = User.objects.select_for_update().get(pk=user.pk)  # one request at a time
    if locked.erased_at is not None:
        raise NotFound("This account has already been erased.")
    existing = open_erasure(locked)
    if existing is not None:
        return existing
    blocking = blocking_organizations(locked)
    if blocking:
        raise Refusal(sole_owner_message(blocking), status=409)
    now = timezone.now()
    due = now + timedelta(days=settings.GATEHOUSE_ERASURE_GRACE_DAYS)
    try:
        with transaction.atomic():  # a savepoint: losing the race returns the winner's request
            erasure = DataSubjectRequest.objects.create(
                user=locked,
                kind=Erasure,
                status=Status.SCHEDULED,
                via=via,
                requested_at=now,
                scheduled_for=due,
            )
    except IntegrityError:
        existing = open_erasure(locked)
        if existing is None:
            raise
        return existing
    record(
        Action.PRIVACY_ERASURE_REQUESTED,
        actor=actor or locked,
        target=locked,
        data={
            "request": str(erasure.public_id),
            "via": via,
            "scheduled_for": due.isoformat(),
            **({"reason": reason} if reason else {}),
        },
    )
    notices.email_everyone(locked, "email/consent/erasure_scheduled", {"erasure": erasure})
    if due <= now:  # no grace period configured
        pk = erasure.pk
        transaction.on_commit(lambda: erase_user.delay(pk))
    return erasure


@service
def cancel_erasure(*, user: User, via: str = DataSubjectRequest.Via.SELF) -> DataSubjectRequest:
    """Call off the person's scheduled (or held) erasure. Refuses when there is none (404) or
    the job has already begun (409)."""
    erasure = (
        DataSubjectRequest.objects.select_for_update()
        .filter(user=user, kind=Erasure, status__in=OPEN)
        .first()
    )
    if erasure is None:
        raise NotFound("There is no account deletion to cancel.")
    if erasure.status == Status.ERASING:
        raise Refusal("The deletion of this account has already begun.", status=409)
    reactivate(erasure)  # a job that started and went on hold had signed them out
    erasure.status = Status.CANCELLED
    erasure.cancelled_at = timezone.now()
    erasure.identifiers = None
    erasure.save(update_fields=["status", "cancelled_at", "identifiers"])
    record(
        Action.PRIVACY_ERASURE_CANCELLED,
        actor=user,
        target=user,
        data={"request": str(erasure.public_id), "via": via},
    )
    notices.email_everyone(user, "email/consent/erasure_cancelled", {"erasure": erasure})
    return erasure


def reactivate(erasure: DataSubjectRequest) -> None:
    """Undo what starting the job did to the account, when it stops short of erasing it."""
    if erasure.started_at is not None:
        User.objects.filter(pk=erasure.user_id, erased_at__isnull=True).update(is_active=True)


def due_requests() -> list[int]:
    """Requests to work on now: scheduled ones past their grace period, held ones (to check
    again whether ownership has moved), and started ones whose worker stopped."""
    now = timezone.now()
    return list(
        DataSubjectRequest.objects.filter(kind=Erasure)
        .filter(
            Q(status=Status.SCHEDULED, scheduled_for__lte=now)
            | Q(status=Status.ON_HOLD)
            | Q(status=Status.ERASING, started_at__lt=now - STALLED_AFTER)
        )
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )
