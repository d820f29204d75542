"""The chain's evidence is as safe from the application as the audit log (audit/db_roles.py):
the application role may read and add seals, salts, erasure subjects and checkpoints, and only
read erasure marks (the owner's erase function leaves them), never change or remove any of
them, however it asks; a checkpoint it adds must state what the chain sealed. The chain's
working state it may only change as the sealer and key rotation do: a chain grows, only
retention moves its cut, a key is only retired. Runs as the application role; needs the two
roles (CI has them)."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from audit import db_roles
from audit.chain import checkpoints
from audit.chain.models import (
    AuditChain,
    AuditCheckpoint,
    AuditErasureMark,
    AuditSalt,
    AuditSeal,
    CheckpointKey,
    ErasureSubject,
)
from audit.services import record_erasure_subject
from tests.audit.chain.helpers import seal_in_test_transaction
from tests.audit.helpers import event
from tests.conftest import require

# Each evidence table of the chain, with a column to try to change.
TABLES = {
    "audit_auditseal": "event_id",
    "audit_auditsalt": "event_id",
    "audit_auditerasuremark": "event_id",
    "audit_erasuresubject": "user_id",
}
REFUSED = r"permission denied|must be owner"
CHAIN = 5  # written out in the SQL below


@pytest.fixture
def sealed(db):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(db_roles.roles_are_split(), "DATABASE_OWNER_URL: an owner role apart from the app's")
    made = event(CHAIN)
    seal_in_test_transaction()
    record_erasure_subject(
        pseudonym="erased-00c0ffee00aa", user_id=7, request_id=uuid.uuid4(), targets=[]
    )
    return made


@pytest.fixture
def signed(sealed):
    """Two sealed events of the chain, a checkpoint signed at position 2 with the key that
    has since been retired, and the active key that replaced it."""
    event(CHAIN)
    seal_in_test_transaction()
    checkpoint = checkpoints.sign(CHAIN)
    checkpoints.rotate()
    assert checkpoint is not None
    assert checkpoint.size == 2
    return checkpoint


def _run(*statements: str) -> None:
    """One transaction of the application's, as an attacker holding its connection would."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _counts() -> tuple[int, ...]:
    return (
        AuditSeal.objects.count(),
        AuditSalt.objects.count(),
        AuditErasureMark.objects.count(),
        ErasureSubject.objects.count(),
    )


def test_the_evidence_tables_are_in_the_deploy_check_and_pass_it(sealed):
    for table in (*TABLES, "audit_auditcheckpoint"):
        assert table in db_roles.EVIDENCE_TABLES
    assert set(db_roles.GUARDED_TABLES) == {"audit_auditchain", "audit_checkpointkey"}
    assert db_roles.privilege_problems() == []


def test_the_sealer_writes_as_the_application_role(sealed):
    assert AuditSeal.objects.filter(event_id=sealed.pk).exists()
    assert AuditSalt.objects.filter(event_id=sealed.pk).exists()


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "DROP TRIGGER {table}_append_only ON {table}",
    ],
)
def test_the_application_cannot_change_or_remove_chain_evidence(sealed, table, statement):
    counts = _counts()
    with pytest.raises(DatabaseError, match=REFUSED):
        _run(statement.format(table=table, column=TABLES[table]))
    assert _counts() == counts


def test_only_the_erase_function_leaves_an_erasure_mark(sealed):
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        AuditErasureMark.objects.create(event_id=sealed.pk, pseudonym="erased-00c0ffee00aa")
    assert not AuditErasureMark.objects.exists()


def test_the_purge_function_still_refuses_a_recent_cutoff(sealed):
    with pytest.raises(DatabaseError, match="kept at least 28 days"):
        _run("SELECT gatehouse_purge_audit_events(5, now(), 100)")
    assert AuditSeal.objects.filter(event_id=sealed.pk).exists()


# --- Checkpoints: evidence ------------------------------------------------------------------------


def _checkpoints() -> list[tuple]:
    return list(AuditCheckpoint.objects.order_by("pk").values_list("chain", "size", "signed_at"))


@pytest.mark.parametrize(
    "statements",
    [
        ["UPDATE audit_auditcheckpoint SET signed_at = signed_at - interval '400 days'"],
        ["UPDATE audit_auditcheckpoint SET size = 1"],
        ["DELETE FROM audit_auditcheckpoint"],
        ["TRUNCATE audit_auditcheckpoint"],
        [
            "SET LOCAL gatehouse.evidence_change = 'purge'",
            "DELETE FROM audit_auditcheckpoint",
        ],
        ["ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER USER"],
        ["DROP TRIGGER audit_auditcheckpoint_states_the_chain ON audit_auditcheckpoint"],
    ],
)
def test_the_application_cannot_change_or_remove_a_checkpoint(signed, statements):
    before = _checkpoints()
    with pytest.raises(DatabaseError, match=REFUSED):
        _run(*statements)
    assert _checkpoints() == before


def test_a_checkpoint_the_application_adds_must_state_what_the_chain_sealed(signed):
    """The application role may add a checkpoint row (beat signs as that role), but not one
    for a size the chain has not sealed yet, nor with a head the chain never had."""
    seal_one = AuditSeal.objects.get(chain=CHAIN, position=1)

    def add(size: int, head: bytes) -> None:
        with transaction.atomic():
            AuditCheckpoint.objects.create(
                chain=CHAIN,
                size=size,
                head_hash=head,
                key=checkpoints.active_key(),
                note="forged",
                signature=bytes(64),
            )

    before = _checkpoints()
    for size, head in ((3, bytes(seal_one.chain_hash)), (1, bytes(32)), (10**9, bytes(32))):
        with pytest.raises(DatabaseError, match="a checkpoint states a sealed position"):
            add(size, head)
    assert _checkpoints() == before
    add(1, bytes(seal_one.chain_hash))  # what the chain did seal is taken (its date is not judged)
    assert len(_checkpoints()) == len(before) + 1


# --- Chains and keys: working state, guarded ------------------------------------------------------


def _chain() -> tuple:
    return AuditChain.objects.filter(chain=CHAIN).values_list(
        "size", "head_hash", "pruned_through", "pruned_hash"
    )[0]


@pytest.mark.parametrize(
    "statements",
    [
        ["UPDATE audit_auditchain SET pruned_through = 1 WHERE chain = 5"],
        ["UPDATE audit_auditchain SET pruned_hash = head_hash WHERE chain = 5"],
        [
            "SET LOCAL gatehouse.evidence_change = 'purge'",
            "UPDATE audit_auditchain SET pruned_through = 1 WHERE chain = 5",
        ],
        ["UPDATE audit_auditchain SET size = size - 1 WHERE chain = 5"],
        ["UPDATE audit_auditchain SET head_hash = '\\x00'::bytea WHERE chain = 5"],
        ["UPDATE audit_auditchain SET chain = 6 WHERE chain = 5"],
        ["DELETE FROM audit_auditchain WHERE chain = 5"],
        ["TRUNCATE audit_auditchain"],
        [
            "INSERT INTO audit_auditchain (chain, size, head_hash, pruned_through, pruned_hash) "
            "VALUES (99, 0, '\\x00'::bytea, 7, '\\x00'::bytea)"
        ],
        [
            "INSERT INTO audit_auditchain (chain, size, head_hash, pruned_through) "
            "VALUES (99, 12, '\\x00'::bytea, 0)"
        ],
        ["ALTER TABLE audit_auditchain DISABLE TRIGGER USER"],
    ],
)
def test_the_application_cannot_move_a_chains_cut_shrink_it_or_remove_it(signed, statements):
    before = _chain()
    with pytest.raises(DatabaseError, match=rf"{REFUSED}|a chain only grows"):
        _run(*statements)
    assert _chain() == before
    assert not AuditChain.objects.filter(chain=99).exists()


def test_the_sealer_still_advances_a_chain_as_the_application_role(signed):
    size = _chain()[0]
    made = event(CHAIN)
    seal_in_test_transaction()
    assert _chain()[0] == size + 1
    assert AuditSeal.objects.get(event_id=made.pk).position == size + 1
    assert checkpoints.sign(CHAIN) is not None  # and beat signs the new size


def _keys() -> list[tuple]:
    return list(
        CheckpointKey.objects.order_by("pk").values_list(
            "kid", "public_key", "status", "retired_at", "created_at"
        )
    )


@pytest.mark.parametrize(
    "statements",
    [
        ["UPDATE audit_checkpointkey SET public_key = '\\x00'::bytea"],
        ["UPDATE audit_checkpointkey SET kid = kid || 'x'"],
        [
            "UPDATE audit_checkpointkey SET status = 'active', retired_at = NULL "
            "WHERE status = 'retired'"
        ],
        [
            "UPDATE audit_checkpointkey SET retired_at = now() - interval '1 day' "
            "WHERE status = 'retired'"
        ],
        ["DELETE FROM audit_checkpointkey WHERE status = 'retired'"],
        ["TRUNCATE audit_checkpointkey CASCADE"],
    ],
)
def test_the_application_cannot_change_or_remove_a_published_key(signed, statements):
    before = _keys()
    with pytest.raises(DatabaseError, match=rf"{REFUSED}|only ever retired"):
        _run(*statements)
    assert _keys() == before


def test_rotation_still_retires_and_adds_keys_as_the_application_role(signed):
    before = CheckpointKey.objects.get(status=CheckpointKey.Status.ACTIVE)
    made = checkpoints.rotate()
    assert CheckpointKey.objects.get(pk=before.pk).status == CheckpointKey.Status.RETIRED
    assert CheckpointKey.objects.get(status=CheckpointKey.Status.ACTIVE) == made
