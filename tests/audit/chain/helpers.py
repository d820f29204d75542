"""What the chain tests share: sealing, signing, running ``verify_audit``, and tampering with
the database as its superuser would (past every trigger and grant)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from io import StringIO
from pathlib import Path
from typing import Any

import psycopg
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Max

from audit.chain import checkpoints, sealer
from audit.chain.models import AuditChain, AuditCheckpoint, AuditSeal, SealCursor
from audit.models import AuditEvent
from events import horizon


def seal_committed(timeout: float = 30.0) -> int:
    """Seal everything committed so far, as the pipeline would: first wait for the horizon to
    pass the newest audit event (it is cluster-wide, T2, so other sessions may hold it back)."""
    newest = AuditEvent.objects.aggregate(newest=Max("txid"))["newest"]
    limit = time.monotonic() + timeout
    while newest is not None and horizon.ordered_by_commit():
        current = horizon.current_horizon()
        if current is not None and current > newest:
            break
        assert time.monotonic() < limit, "the horizon did not pass the newest audit event"
        time.sleep(0.05)
    sealed = 0
    while done := sealer.seal_batch():
        sealed += done
    return sealed


def seal_in_test_transaction() -> int:
    """Seal inside a test's own transaction, which holds the horizon back for as long as it
    runs: the horizon is taken as passed. For tests that are not transactional.

    Every row of such a test shares the test's transaction id, so rows written after a seal
    may sort before the cursor (ids are random): the cursor goes back to the start each time,
    and what is sealed already is skipped."""
    SealCursor.objects.filter(pk=1).update(txid=0, last_id="")
    return sealer._seal(10_000, 2**62)


def sign_as_of(chain: int, when: datetime) -> AuditCheckpoint:
    """A checkpoint of ``chain`` as it stands, genuinely signed, its note dated ``when``: the
    checkpoint beat would have signed then. Stored checkpoints take no edits (audit migration
    0026), so an old one is made old, not backdated afterwards."""
    with transaction.atomic():
        return checkpoints._sign(AuditChain.objects.select_for_update().get(chain=chain), when)


def position_of(event: Any) -> int:
    return AuditSeal.objects.get(event_id=event.pk).position


def checkpoint_file(tmp_path: Path, chain: int) -> Path:
    checkpoint = checkpoints.sign(chain)
    assert checkpoint is not None
    path = tmp_path / f"checkpoint-{chain}-{checkpoint.size}.json"
    path.write_text(json.dumps(checkpoints.as_json(checkpoint)))
    return path


def verify_audit(*args: str) -> tuple[int, str]:
    """Run ``manage.py verify_audit``: its exit code and everything it printed."""
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue() + err.getvalue() + str(exc)
    return 0, out.getvalue() + err.getvalue()


@contextmanager
def superuser() -> Iterator[psycopg.Connection[Any]]:
    """A separate connection to the test database as PostgreSQL's superuser, with triggers off
    for its session: someone with full access to the database server."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user="postgres",
        dbname=db["NAME"],
        autocommit=True,
    ) as conn:
        conn.execute("SET session_replication_role = replica")
        yield conn
