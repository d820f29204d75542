"""Asking for an export: one open at a time, a few a day.

``request_export`` records a ``DataSubjectRequest`` and queues ``consent.tasks.build_export``
once it commits (consent.export.job builds it).
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from consent.models import DataSubjectRequest, ExportArchive

REQUESTS_PER_DAY = 3
# A pending export older than this lost its task; a new request replaces it.
STALE_AFTER = timedelta(hours=6)

Export = DataSubjectRequest.Kind.EXPORT
Status = DataSubjectRequest.Status


def open_export(user: User) -> DataSubjectRequest | None:
    """The person's export that is being built or waiting to be downloaded, if any."""
    return DataSubjectRequest.objects.filter(
        user=user, kind=Export, status__in=[Status.PENDING, Status.READY]
    ).first()


def _link_ran_out(export: DataSubjectRequest) -> bool:
    expires = export.download_expires_at
    return export.status == Status.READY and expires is not None and expires <= timezone.now()


def _never_built(export: DataSubjectRequest) -> bool:
    return export.status == Status.PENDING and export.requested_at < timezone.now() - STALE_AFTER


@service
def request_export(*, user: User, via: str = DataSubjectRequest.Via.SELF) -> DataSubjectRequest:
    """Ask for an export of ``user``'s data. Returns the open request if there already is one
    (pending or ready); otherwise creates one, audits it and queues the build once this
    transaction commits. Refuses (429) past ``REQUESTS_PER_DAY`` in 24 hours."""
    from consent.tasks import build_export

    existing = _still_open(open_export(user))
    if existing is not None:
        return existing
    since = timezone.now() - timedelta(days=1)
    recent = DataSubjectRequest.objects.filter(
        user=user, kind=Export, requested_at__gte=since
    ).count()
    if recent >= REQUESTS_PER_DAY:
        raise Refusal(
            f"You can ask for an export {REQUESTS_PER_DAY} times a day. Please try again tomorrow.",
            status=429,
        )
    try:
        with transaction.atomic():  # a savepoint: losing the race returns the winner's request
            export = DataSubjectRequest.objects.create(
                user=user, kind=Export, status=Status.PENDING, via=via
            )
    except IntegrityError:
        # Another request of theirs won the race to the one-open-export constraint.
        existing = open_export(user)
        if existing is None:
            raise
        return existing
    record(
        Action.PRIVACY_EXPORT_REQUESTED,
        actor=user,
        target=user,
        data={"request": str(export.public_id), "via": via},
    )
    pk = export.pk
    transaction.on_commit(lambda: build_export.delay(pk))
    return export


def _still_open(existing: DataSubjectRequest | None) -> DataSubjectRequest | None:
    """``existing``, unless its link ran out or it was never built: then it is closed now, to
    free the one open slot for a new request."""
    if existing is not None and _link_ran_out(existing):
        # The hourly sweep has not reached it yet: expire it now rather than refuse.
        ExportArchive.objects.filter(request=existing).delete()
        DataSubjectRequest.objects.filter(pk=existing.pk, status=Status.READY).update(
            status=Status.EXPIRED, completed_at=timezone.now()
        )
        return None
    if existing is not None and _never_built(existing):
        # Its task was lost (a broker outage, retries exhausted).
        DataSubjectRequest.objects.filter(pk=existing.pk, status=Status.PENDING).update(
            status=Status.FAILED, last_error="never built", completed_at=timezone.now()
        )
        return None
    return existing
