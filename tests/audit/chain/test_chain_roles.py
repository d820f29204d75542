"""The chain's evidence is as safe from the application as the audit log (audit/db_roles.py):
the application role may read and add seals, salts and erasure subjects, and only read erasure
marks (the owner's erase function leaves them), never change or remove any of them, however it
asks. Runs as the application role; needs the two roles (CI has them)."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from audit import db_roles
from audit.chain.models import AuditErasureMark, AuditSalt, AuditSeal, ErasureSubject
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


@pytest.fixture
def sealed(db):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(db_roles.roles_are_split(), "DATABASE_OWNER_URL: an owner role apart from the app's")
    made = event(5)
    seal_in_test_transaction()
    record_erasure_subject(
        pseudonym="erased-00c0ffee00aa", user_id=7, request_id=uuid.uuid4(), targets=[]
    )
    return made


def _run(statement: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)


def _counts() -> tuple[int, ...]:
    return (
        AuditSeal.objects.count(),
        AuditSalt.objects.count(),
        AuditErasureMark.objects.count(),
        ErasureSubject.objects.count(),
    )


def test_the_evidence_tables_are_in_the_deploy_check_and_pass_it(sealed):
    for table in TABLES:
        assert table in db_roles.EVIDENCE_TABLES
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
