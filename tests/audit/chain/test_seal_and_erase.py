"""Sealing and erasure take turns (docs/events.md, "Left, and what a review found", item 3).

Two real PostgreSQL connections, one sealing and one erasing the same event. Whichever starts
first holds the advisory lock they share (``audit.chain.sealer.SEAL_OR_ERASE_LOCK``) until its
transaction ends, and the other waits: erasure then finds the salt and leaves a mark, or the
sealer reads the rewritten values. Either way the chain verifies. Without the lock the sealer
committed to the old address while erasure, seeing no salt yet, left no mark: "was changed".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from audit.chain import encoding, sealer
from audit.chain.models import AuditErasureMark, AuditSalt, AuditSeal
from audit.chain.verify import verify
from audit.models import AuditEvent
from audit.services import rewrite_events
from tests.audit.helpers import erasure_under_way, event
from tests.conftest import require
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN = 31
PAT = "pat@person.example"
PSEUDONYM = "erased-5ea1ed0e7a5e"
ERASED = f"{PSEUDONYM}@erased.invalid"
WAIT = 30.0


@pytest.fixture
def quoted():
    """Pat's erasure under way, and an event of Pat's quoting their address, not yet sealed."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    pat = UserFactory(email=PAT)
    erasure_under_way(pat, PSEUDONYM)
    return event(CHAIN, actor=pat, actor_text=PAT, data={"email": PAT})


def _erase(made: AuditEvent) -> None:
    rewrite_events(PSEUDONYM, [(made.pk, {"actor_text": ERASED, "data": {"email": ERASED}})])


def _seal() -> None:
    # The event committed before either side began: the horizon is taken as passed.
    sealer._seal(100, 2**62)


class _Side(threading.Thread):
    """One side of the race on its own connection: ``work`` runs in a transaction that stays
    open after ``ready`` is set until ``release`` is."""

    def __init__(self, work: Callable[[], None], *, hold: bool) -> None:
        super().__init__()
        self.work, self.hold = work, hold
        self.ready, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            if self.hold:
                with transaction.atomic():
                    self.work()
                    self.ready.set()
                    assert self.release.wait(WAIT)
            else:
                self.work()
                self.ready.set()
        except Exception as exc:  # noqa: BLE001  (raised again by finish())
            self.error = exc
        finally:
            self.ready.set()
            connections.close_all()

    def finish(self) -> None:
        self.release.set()
        self.join(WAIT)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error


def _waiting_for_the_lock(side: _Side) -> bool:
    """Whether ``side`` is still running after a while, waiting for an advisory lock in this
    database (and not, say, for a row lock)."""
    side.join(1.0)
    if not side.is_alive():
        return False
    with connection.cursor() as db:
        db.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted"
        )
        return bool(db.fetchone()[0])


def _sealed_consistently(made: AuditEvent) -> AuditSeal:
    seal = AuditSeal.objects.get(event_id=made.pk)
    report = verify(CHAIN)
    assert report.ok, report.summary()
    assert report.checked == 1
    return seal


def test_a_batch_sealed_while_an_erasure_is_open_waits_and_seals_the_new_values(quoted):
    erasure = _Side(lambda: _erase(quoted), hold=True)
    erasure.start()
    assert erasure.ready.wait(WAIT)
    batch = _Side(_seal, hold=False)
    batch.start()
    try:
        waited = _waiting_for_the_lock(batch)
    finally:
        erasure.finish()
        batch.finish()

    seal = _sealed_consistently(quoted)
    assert waited, "the sealer did not wait for the erasure"
    # Sealed after the erasure committed: its commitments are to the pseudonym, under a salt
    # that never saw the address, and nothing was marked.
    salt = AuditSalt.objects.get(event_id=quoted.pk).salt
    now = AuditEvent.objects.get(pk=quoted.pk)
    assert now.actor_text == ERASED
    assert encoding.split(bytes(seal.commitments)) == encoding.commitments(bytes(salt), now)
    assert not AuditErasureMark.objects.filter(event_id=quoted.pk).exists()


def test_an_erasure_while_a_batch_is_open_waits_and_removes_the_new_salt(quoted, monkeypatch):
    appended = sealer._append

    def append_then_wait(*args: Any) -> int:
        done = appended(*args)
        batch.ready.set()
        assert batch.release.wait(WAIT)
        return done

    monkeypatch.setattr(sealer, "_append", append_then_wait)
    batch = _Side(_seal, hold=False)
    batch.start()
    assert batch.ready.wait(WAIT)
    erasure = _Side(lambda: _erase(quoted), hold=False)
    erasure.start()
    try:
        waited = _waiting_for_the_lock(erasure)
    finally:
        batch.finish()
        erasure.finish()

    _sealed_consistently(quoted)
    assert waited, "the erasure did not wait for the sealing batch"
    # Sealed before the erasure: the erasure found the salt, removed it and left its mark.
    assert not AuditSalt.objects.filter(event_id=quoted.pk).exists()
    assert AuditErasureMark.objects.get(event_id=quoted.pk).pseudonym == PSEUDONYM
    assert AuditEvent.objects.get(pk=quoted.pk).actor_text == ERASED


def test_the_sealer_and_the_erase_function_take_the_same_lock():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    with connection.cursor() as db:
        db.execute(
            "SELECT pg_get_functiondef('gatehouse_erase_audit_quotes(text, jsonb)'::regprocedure)"
        )
        body = db.fetchone()[0]
    assert f"pg_advisory_xact_lock({sealer.SEAL_OR_ERASE_LOCK})" in body
