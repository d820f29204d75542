"""The export job: build the archive of one request, store it encrypted and email the link.

The archive is built outside any transaction (it reads everything about the person and can take
a while); then one short transaction, with the request row locked, stores it if the request is
still pending. Two workers on the same request may both build, but only one stores and emails;
an erasure that started meanwhile has failed the request, and nothing is stored.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.db import DatabaseError, OperationalError
from django.utils import timezone

from accounts.services import outside_a_request
from audit.actions import Action
from audit.services import record
from config.refusals import service
from consent.export import archive
from consent.export.download import download_url, hash_token
from consent.models import DataSubjectRequest, ExportArchive

logger = logging.getLogger(__name__)

Export = DataSubjectRequest.Kind.EXPORT
Status = DataSubjectRequest.Status
EMAIL_TEMPLATE = "email/consent/export_ready"


def build(request_id: int) -> str:
    """Build, store and announce the export of one request. Returns "ready", "failed", or
    "skipped" when the request is not pending (already built, or gone): running it twice
    builds one archive and sends one email."""
    export = (
        DataSubjectRequest.objects.select_related("user")
        .filter(pk=request_id, kind=Export, status=Status.PENDING)
        .first()
    )
    if export is None:
        return "skipped"
    user = export.user
    if user.erased_at is not None:
        return _fail(request_id, "the account was erased")
    now = timezone.now()
    try:
        payload = archive.build_zip(user, generated_at=now)
    except OperationalError:
        raise  # the task retries with backoff
    except (DatabaseError, ValueError, TypeError, KeyError) as exc:
        logger.exception("export %s failed to build", export.public_id)
        return _fail(request_id, f"could not build the archive ({type(exc).__name__})")
    if len(payload) > settings.GATEHOUSE_EXPORT_MAX_BYTES:
        return _fail(request_id, f"archive of {len(payload)} bytes is over the size limit")
    return _store(request_id, payload, archive.encrypt_archive(payload), built_at=now)


def _locked_pending(request_id: int) -> DataSubjectRequest | None:
    return (
        DataSubjectRequest.objects.select_for_update()
        .select_related("user")
        .filter(pk=request_id, kind=Export, status=Status.PENDING)
        .first()
    )


@service
def _store(request_id: int, payload: bytes, sealed: bytes, *, built_at: datetime) -> str:
    export = _locked_pending(request_id)
    if export is None:
        return "skipped"  # built by another worker, or failed by an erasure, meanwhile
    ExportArchive.objects.create(
        request=export,
        data=sealed,
        sha256=hashlib.sha256(payload).hexdigest(),
        size=len(payload),
    )
    token = secrets.token_urlsafe(32)
    export.attempts += 1
    export.download_token_hash = hash_token(token)
    export.download_expires_at = built_at + timedelta(hours=settings.GATEHOUSE_EXPORT_LINK_HOURS)
    export.status = Status.READY
    export.last_error = ""
    export.save(
        update_fields=[
            "attempts",
            "download_token_hash",
            "download_expires_at",
            "status",
            "last_error",
        ]
    )
    record(
        Action.PRIVACY_EXPORT_READY,
        actor_text="system",
        target=export.user,
        data={"request": str(export.public_id), "size": len(payload)},
    )
    _send_ready_email(export, token)
    return "ready"


@service
def _fail(request_id: int, reason: str) -> str:
    export = _locked_pending(request_id)
    if export is None:
        return "skipped"
    export.attempts += 1
    export.status = Status.FAILED
    export.last_error = reason[:200]
    export.completed_at = timezone.now()
    export.save(update_fields=["attempts", "status", "last_error", "completed_at"])
    return "failed"


def _send_ready_email(export: DataSubjectRequest, token: str) -> None:
    user = export.user
    with outside_a_request():
        get_adapter().send_mail(
            EMAIL_TEMPLATE,
            user.email,
            {
                "user": user,
                "download_url": download_url(export, token),
                "expires_at": export.download_expires_at,
                "link_hours": settings.GATEHOUSE_EXPORT_LINK_HOURS,
            },
        )
