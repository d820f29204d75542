"""The tamper-evident audit log on PostgreSQL (docs/events.md 4.9): events are sealed into their
organization's chain after they commit, a checkpoint is signed, and then every way someone with
full database access might rewrite history is caught by ``verify_audit``, which exits non-zero
and names the position and the event."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit import retention
from audit.chain import checkpoints
from audit.chain.models import AuditChain, AuditSalt, AuditSeal
from audit.models import AuditEvent
from tests.audit.chain.helpers import (
    checkpoint_file,
    position_of,
    seal_committed,
    sign_as_of,
    superuser,
    verify_audit,
)
from tests.audit.helpers import BASE, event
from tests.conftest import require

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN = 4242


@pytest.fixture
def sealed(tmp_path):
    """Six events of one organization, varied enough to exercise the encoding (a float jsonb
    rewrites, text outside ASCII, an address, a Gatehouse-wide event between them), sealed, and
    a checkpoint of the chain kept in a file."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    events = [
        event(CHAIN, at=BASE + timedelta(minutes=i), data=data, ip=ip)
        for i, (data, ip) in enumerate(
            [
                ({"big": 1e21, "b": 1, "a": [1.5, None]}, "203.0.113.7"),
                ({"name": "Zoë Ørsted ✓"}, None),
                ({"n": 2**70}, "2001:db8::1"),
                ({}, None),
                ({"nested": {"z": 1, "y": "two"}}, "198.51.100.1"),
                ({"last": True}, None),
            ]
        )
    ]
    event(None, at=BASE)  # the Gatehouse-wide chain
    assert seal_committed() == 7
    return events, checkpoint_file(tmp_path, CHAIN)


def _fails_at(path, position: int, event_id: object, words: str) -> None:
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1, output
    assert f"position {position}: event {event_id} {words}" in output, output


def test_an_untouched_log_verifies_against_its_checkpoint(sealed):
    events, path = sealed
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 0, output
    assert f"chain {CHAIN}: 6 events verified up to position 6" in output
    assert [position_of(e) for e in events] == [1, 2, 3, 4, 5, 6]
    # ...and so does every chain against its newest stored checkpoint.
    checkpoints.sign_due()
    assert verify_audit()[0] == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("action", "'user.blocked'"),
        ("outcome", "'failure'"),
        ("occurred_at", "occurred_at + interval '1 second'"),
        ("actor_id", "7"),
        ("request_id", "'forged'"),
    ],
)
def test_changing_what_happened_is_named(sealed, column, value):
    events, path = sealed
    with superuser() as db:
        statement = f"UPDATE audit_auditevent SET {column} = {value} WHERE id = %s"  # noqa: S608
        db.execute(statement, [events[2].pk])
    _fails_at(path, 3, events[2].pk, "was changed")


def test_changing_the_data_names_the_field(sealed):
    events, path = sealed
    with superuser() as db:
        db.execute(
            "UPDATE audit_auditevent SET data = '{\"n\": 3}', actor_text = 'someone else' "
            "WHERE id = %s",
            [events[2].pk],
        )
    _fails_at(path, 3, events[2].pk, "was changed (actor_text, data)")


def test_a_deleted_event_is_named(sealed):
    events, path = sealed
    with superuser() as db:
        db.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    _fails_at(path, 2, events[1].pk, "is missing")


def test_an_event_deleted_with_its_seal_leaves_a_gap(sealed):
    events, path = sealed
    with superuser() as db:
        db.execute("DELETE FROM audit_auditseal WHERE event_id = %s", [events[3].pk])
        db.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[3].pk])
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1
    assert "position 4 is missing (deleted or reordered)" in output, output


def test_swapping_two_events_is_named(sealed):
    events, path = sealed
    first, second = events[0], events[1]
    with superuser() as db:
        db.execute(
            "UPDATE audit_auditevent a SET occurred_at = b.occurred_at, data = b.data, "
            "ip = b.ip FROM audit_auditevent b WHERE (a.id, b.id) IN ((%s, %s), (%s, %s))",
            [first.pk, second.pk, second.pk, first.pk],
        )
    _fails_at(path, 1, first.pk, "was changed (ip, data)")
    _, output = verify_audit("--checkpoint", str(path))
    assert f"position 2: event {second.pk} was changed" in output


def test_a_backdated_row_slipped_in_below_the_sealer_is_named(sealed):
    _, path = sealed
    forged = uuid.uuid4()
    with superuser() as db:
        db.execute(
            "INSERT INTO audit_auditevent (id, occurred_at, action, outcome, actor_text, "
            "organization_id, target_type, target_id, target_text, user_agent, request_id, "
            "data, txid) VALUES (%s, %s, 'login.succeeded', 'success', 'pat', %s, '', '', '', "
            "'', '', '{}', %s)",
            [forged, BASE + timedelta(seconds=30), CHAIN, 3],  # an old transaction's id
        )
    seal_committed()  # nothing to seal: the row sits behind the sealer's cursor
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1
    assert f"event {forged} was inserted outside the log" in output, output


def test_a_backdated_row_written_now_is_reported_late(sealed):
    _, path = sealed
    forged = event(CHAIN, at=BASE - timedelta(days=1), actor_text="backdated")
    seal_committed()
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1
    assert f"position 7: event {forged.pk} was written late" in output, output


def test_a_truncated_tail_is_caught_by_the_checkpoint(sealed):
    events, path = sealed
    tail = [str(e.pk) for e in events[4:]]
    with superuser() as db:
        for table, column in (
            ("audit_auditseal", "event_id"),
            ("audit_auditsalt", "event_id"),
            ("audit_auditevent", "id"),
        ):
            statement = f"DELETE FROM {table} WHERE {column} = ANY(%s::uuid[])"  # noqa: S608
            db.execute(statement, [tail])
        db.execute("UPDATE audit_auditchain SET size = 4 WHERE chain = %s", [CHAIN])
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1
    assert "events after position 4 were removed (the checkpoint vouches for 6)" in output


def test_a_salt_removed_outside_erasure_is_named(sealed):
    events, path = sealed
    with superuser() as db:
        db.execute("DELETE FROM audit_auditsalt WHERE event_id = %s", [events[0].pk])
    _fails_at(path, 1, events[0].pk, "lost its salt outside erasure")


def test_the_sealer_never_writes_to_the_audit_log_and_keeps_each_chain_apart(sealed):
    events, _ = sealed
    chain = AuditChain.objects.get(chain=CHAIN)
    newest = AuditSeal.objects.get(chain=CHAIN, position=6)
    assert chain.size == 6
    assert bytes(chain.head_hash) == bytes(newest.chain_hash)
    assert AuditChain.objects.get(chain=0).size == 1
    assert AuditSalt.objects.count() == 7
    assert seal_committed() == 0  # sealing again finds nothing new
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in events]).count() == 6


# --- Where retention cut the chain ----------------------------------------------------------------


@pytest.fixture
def cut():
    """A chain retention has cut: three events from 400 days ago and a checkpoint beat signed
    350 days ago, then three recent events and today's checkpoint; retention with a 300-day
    cutoff removed the first three. Returns the cut's position and the recent events."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    now = timezone.now()
    for i in range(3):
        event(CHAIN, at=now - timedelta(days=400, minutes=-i))
    seal_committed()
    old = sign_as_of(CHAIN, now - timedelta(days=350))
    recent = [event(CHAIN, at=now - timedelta(days=1, minutes=-i)) for i in range(3)]
    seal_committed()
    checkpoints.sign(CHAIN)
    assert retention.purge(CHAIN, cutoff=now - timedelta(days=300)) == old.size == 3
    seal_committed()  # the purge's own record
    checkpoints.sign(CHAIN)
    code, output = verify_audit()
    assert code == 0, output  # retention removed the old events; the rest still verifies
    return old.size, recent


def test_a_changed_retention_hash_is_named(cut):
    position, _ = cut
    with superuser() as db:
        db.execute(
            "UPDATE audit_auditchain SET pruned_hash = sha256(pruned_hash) WHERE chain = %s",
            [CHAIN],
        )
    code, output = verify_audit()
    assert code == 1
    assert (
        f"chain {CHAIN}: position {position}: the retention cut's hash does not match the "
        "checkpoint signed at that size"
    ) in output, output


def test_recent_events_removed_as_if_by_retention_are_named(cut):
    """Someone with full access deletes the next event the way retention would, and moves the
    cut past it with the hash the chain had there: the hashes agree, but the only checkpoint
    at or after the new cut is today's, and retention never cuts at one so young."""
    position, recent = cut
    first = recent[0]
    assert position_of(first) == position + 1
    with superuser() as db:
        db.execute(
            "UPDATE audit_auditchain c SET pruned_through = s.position, "
            "pruned_hash = s.chain_hash FROM audit_auditseal s "
            "WHERE c.chain = %s AND s.event_id = %s",
            [CHAIN, first.pk],
        )
        for table, column in (
            ("audit_auditseal", "event_id"),
            ("audit_auditsalt", "event_id"),
            ("audit_auditevent", "id"),
        ):
            db.execute(f"DELETE FROM {table} WHERE {column} = %s", [first.pk])  # noqa: S608
    code, output = verify_audit()
    assert code == 1
    assert f"chain {CHAIN}: position {position + 1}: the retention cut rests on the checkpoint" in (
        output
    ), output
    assert "less than 28 days ago; retention never cuts there" in output, output


def test_a_cut_with_no_signed_checkpoint_is_named(cut):
    position, _ = cut
    with superuser() as db:
        db.execute("DELETE FROM audit_auditcheckpoint WHERE chain = %s", [CHAIN])
    code, output = verify_audit()
    assert code == 1
    assert (
        f"chain {CHAIN}: position {position}: no signed checkpoint vouches for the retention cut"
    ) in output, output


def test_an_idle_sealing_pass_takes_no_lock_and_writes_nothing():
    """The loop runs a pass every second or so: when nothing is new, sealing costs plain reads
    (no advisory lock, no row lock: each would cost PostgreSQL a transaction id or a wait)."""
    from django.test.utils import CaptureQueriesContext

    from audit.chain import sealer

    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    event(5)
    assert seal_committed() == 1
    assert sealer.seal_batch() == 0  # the first pass that finds nothing still locks
    with CaptureQueriesContext(connection) as queries:
        assert sealer.seal_batch() == 0
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert statements
    assert not [s for s in statements if not s.startswith("SELECT") or "FOR UPDATE" in s]
    assert not [s for s in statements if "ADVISORY" in s]

    event(5)
    assert seal_committed() == 1  # a new event is still sealed
    assert AuditSeal.objects.filter(chain=5).count() == 2
