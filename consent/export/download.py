"""Handing an export over: the emailed link's single-use token, spent on POST only
(consent.export_views: mail scanners fetch links with GET), and expiry of links that ran out
unused. Only the token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config import encryption
from config.refusals import service
from consent.export.archive import decrypt_archive
from consent.models import DataSubjectRequest, ExportArchive

logger = logging.getLogger(__name__)

Export = DataSubjectRequest.Kind.EXPORT
Status = DataSubjectRequest.Status
MAX_TOKEN_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything far longer is junk
# Exports expired per transaction.
EXPIRY_BATCH = 200


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def download_url(export: DataSubjectRequest, token: str) -> str:
    return settings.GATEHOUSE_PUBLIC_URL + reverse(
        "consent:export-download", args=[export.public_id, token]
    )


def find_download(*, user: User, public_id: Any, token: str) -> DataSubjectRequest | None:
    """The ready, unspent, unexpired export of ``user`` that ``token`` opens, without spending
    it (the confirmation page a mail scanner may fetch)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    export = DataSubjectRequest.objects.filter(
        public_id=public_id,
        user=user,
        kind=Export,
        status=Status.READY,
        downloaded_at__isnull=True,
        download_expires_at__gt=timezone.now(),
    ).first()
    if export is None or not hmac.compare_digest(export.download_token_hash, hash_token(token)):
        return None
    return export


@service
def spend_download(
    *, user: User, public_id: Any, token: str
) -> tuple[DataSubjectRequest, bytes | None] | None:
    """Spend the link's token and hand back the decrypted zip, or ``None`` when the token is
    wrong, spent, expired or someone else's. A conditional UPDATE spends it, so of two
    concurrent downloads exactly one wins; the archive is deleted in the same transaction.
    An archive that can no longer be read (its encryption key was dropped, or it was altered)
    fails the request and comes back as ``(request, None)``: the person asks for a new one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    now = timezone.now()
    spent = DataSubjectRequest.objects.filter(
        public_id=public_id,
        user=user,
        kind=Export,
        status=Status.READY,
        download_token_hash=hash_token(token),
        downloaded_at__isnull=True,
        download_expires_at__gt=now,
    ).update(downloaded_at=now, status=Status.DOWNLOADED, completed_at=now)
    if spent != 1:
        return None
    export = DataSubjectRequest.objects.get(public_id=public_id)
    archive = ExportArchive.objects.filter(request=export).first()
    if archive is None:
        transaction.set_rollback(True)  # nothing to hand over: leave the link as it was
        return None
    payload = _read(archive)
    archive.delete()
    if payload is None:
        logger.error("export archive %s cannot be read", export.public_id)
        DataSubjectRequest.objects.filter(pk=export.pk).update(
            status=Status.FAILED, last_error="archive unreadable"
        )
        return export, None
    record(
        Action.PRIVACY_EXPORT_DOWNLOADED,
        actor=user,
        target=user,
        data={"request": str(export.public_id), "size": len(payload)},
    )
    return export, payload


def _read(archive: ExportArchive) -> bytes | None:
    """The archive's zip, or None when it cannot be decrypted or is not what was stored."""
    try:
        payload = decrypt_archive(archive.data)
    except encryption.SecretUnreadable:
        return None
    if not hmac.compare_digest(hashlib.sha256(payload).hexdigest(), archive.sha256):
        return None
    return payload


# --- Expiry --------------------------------------------------------------------------------------


def expire() -> int:
    """Mark ready exports whose link ran out as expired and delete their archives, in batches.
    Returns how many expired."""
    expired = 0
    while True:
        batch = _expire_batch()
        if batch is None:
            return expired
        expired += batch


@service
def _expire_batch() -> int | None:
    """Expire up to ``EXPIRY_BATCH`` exports; None when none were left."""
    batch = list(
        DataSubjectRequest.objects.select_for_update(skip_locked=True)
        .filter(kind=Export, status=Status.READY, download_expires_at__lt=timezone.now())
        .values_list("pk", flat=True)[:EXPIRY_BATCH]
    )
    if not batch:
        return None
    ExportArchive.objects.filter(request_id__in=batch).delete()
    return DataSubjectRequest.objects.filter(pk__in=batch).update(
        status=Status.EXPIRED, completed_at=timezone.now()
    )
