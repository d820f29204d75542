"""Background work on the audit log: building large exports, expiring them, retention, sealing
and checkpoints, and checking long chains. Each is safe to run twice: a built export is
skipped, an expired one is gone, retention deletes only what is still due, and a check that is
finished or held by a live worker is left alone."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def build_audit_export(export_id: int) -> str:
    from audit import exports

    return exports.build(export_id)


@shared_task
def expire_audit_exports() -> int:
    from audit import exports

    return exports.expire()


@shared_task(acks_late=True)
def purge_audit_events() -> int:
    from audit import retention

    return retention.purge_all()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def seal_audit() -> int:
    """Seal every audit event ready to be sealed, a batch at a time. Returns how many."""
    from audit.chain.sealer import BATCH, seal_batch

    sealed = 0
    while True:
        done = seal_batch(BATCH)
        sealed += done
        if done < BATCH:
            return sealed


@shared_task(acks_late=True)
def sign_checkpoints() -> int:
    """Sign a checkpoint of every chain that grew since its last one."""
    from audit.chain import checkpoints

    return checkpoints.sign_due()


@shared_task(acks_late=True)
def rotate_checkpoint_key() -> bool:
    """Retire the checkpoint signing key once it is a year old."""
    from audit.chain import checkpoints

    return checkpoints.rotate_if_due()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3)
def verify_audit_chain(verification_id: int) -> str:
    """Run one background check of an organization's chain (audit/chain/verifications.py)."""
    from audit.chain import verifications

    return verifications.run(verification_id)


@shared_task
def requeue_audit_verifications() -> int:
    """Queue again the checks whose message was lost or whose worker died."""
    from audit.chain import verifications

    return verifications.requeue()
