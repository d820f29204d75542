"""The chain's evidence is as safe from the application as the audit log (audit/db_roles.py):
the application role may read and add seals, salts and erasure marks, never change or remove
them, however it asks. Runs as the application role; needs the two roles (CI has them)."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from audit import db_roles
from audit.chain.models import AuditErasureMark, AuditSalt, AuditSeal
from tests.audit.chain.helpers import seal_in_test_transaction
from tests.audit.helpers import event
from tests.conftest import require

TABLES = ("audit_auditseal", "audit_auditsalt", "audit_auditerasuremark")
REFUSED = r"permission denied|must be owner"


@pytest.fixture
def sealed(db):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(db_roles.roles_are_split(), "DATABASE_OWNER_URL: an owner role apart from the app's")
    made = event(5)
    seal_in_test_transaction()
    AuditErasureMark.objects.create(event_id=uuid.uuid4(), pseudonym="erased-00c0ffee00aa")
    return made


def _run(statement: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)


def _counts() -> tuple[int, int, int]:
    return (AuditSeal.objects.count(), AuditSalt.objects.count(), AuditErasureMark.objects.count())


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
        "UPDATE {table} SET event_id = event_id",
        "DELETE FROM {table}",
        "TRUNCATE {table}",
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "DROP TRIGGER {table}_append_only ON {table}",
    ],
)
def test_the_application_cannot_change_or_remove_chain_evidence(sealed, table, statement):
    counts = (
        AuditSeal.objects.count(),
        AuditSalt.objects.count(),
        AuditErasureMark.objects.count(),
    )
    with pytest.raises(DatabaseError, match=REFUSED):
        _run(statement.format(table=table))
    after = (AuditSeal.objects.count(), AuditSalt.objects.count(), AuditErasureMark.objects.count())
    assert after == counts


def test_the_purge_function_still_refuses_a_recent_cutoff(sealed):
    with pytest.raises(DatabaseError, match="kept at least 28 days"):
        _run("SELECT gatehouse_purge_audit_events(5, now(), 100)")
    assert AuditSeal.objects.filter(event_id=sealed.pk).exists()
