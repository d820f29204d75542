"""Retention of the audit log per organization: only what is older than the organization's
setting goes, in batches, through the owner's function; the application role can still not
delete an audit event itself. The cut is at the newest checkpoint signed before the cutoff
(T27): these tests seal the log and sign checkpoints at chosen times."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import db_roles, retention
from audit.actions import Action
from audit.chain import checkpoints
from audit.models import AuditChain, AuditCheckpoint, AuditEvent
from organizations.models import OrganizationPolicy
from tests.audit.chain.helpers import seal_in_test_transaction
from tests.audit.helpers import event
from tests.conftest import require
from tests.organizations.conftest import OrgWorld


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


def _days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def _checkpoint_all(signed_days_ago: float) -> dict[int, int]:
    """Seal everything and sign every chain that grew, as if ``signed_days_ago`` days ago.
    Returns each chain's checkpointed size."""
    seal_in_test_transaction()
    sizes = {}
    for chain in AuditChain.objects.values_list("chain", flat=True):
        checkpoint = checkpoints.sign(chain)
        assert checkpoint is not None
        AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(
            signed_at=_days_ago(signed_days_ago)
        )
        sizes[chain] = checkpoint.size
    return sizes


def test_each_organization_loses_only_what_is_older_than_its_own_setting(world, settings):
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=90)
    OrganizationPolicy.objects.filter(organization=world.b).update(audit_retention_days=None)
    settings.GATEHOUSE_AUDIT_RETENTION_DAYS = 400
    a_old = [event(world.a, at=_days_ago(91 + i)) for i in range(7)]
    b_old = event(world.b, at=_days_ago(2000))
    wide_old = event(None, at=_days_ago(401))
    old_sizes = _checkpoint_all(400.5)
    a_kept = event(world.a, at=_days_ago(89))
    wide_kept = event(None, at=_days_ago(399))
    _checkpoint_all(0)

    deleted = retention.purge_all()

    # Everything the old checkpoints cover goes (the organizations' own first events too).
    assert deleted == old_sizes[world.a.pk] + old_sizes[0]
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in [*a_old, wide_old]]).exists()
    assert AuditEvent.objects.filter(pk__in=[a_kept.pk, b_old.pk, wide_kept.pk]).count() == 3
    purged = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_PURGED)
    assert purged.data["deleted"] == old_sizes[world.a.pk]
    assert purged.actor_text == "system"
    assert not AuditEvent.objects.for_org(world.b).filter(action=Action.AUDIT_PURGED).exists()
    assert retention.purge_all() == 0  # a second run finds nothing due


def test_without_a_checkpoint_old_enough_nothing_is_deleted(world):
    old = event(world.a, at=_days_ago(400))
    _checkpoint_all(10)  # signed after the cutoff: it cannot anchor a cut before it

    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) == 0
    assert AuditEvent.objects.filter(pk=old.pk).exists()


def test_retention_deletes_in_batches(world):
    old = [event(world.a, at=_days_ago(100 + i)) for i in range(7)]
    size = _checkpoint_all(96)[world.a.pk]

    with CaptureQueriesContext(connection) as queries:
        assert retention.purge(world.a.pk, cutoff=_days_ago(95), batch=3) == size

    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    if connection.vendor == "postgresql":
        calls = [q for q in queries.captured_queries if "gatehouse_purge_audit_events" in q["sql"]]
        assert len(calls) == size // 3 + 1  # full batches, then a short (or empty) one


def test_a_setting_below_the_minimum_still_keeps_thirty_days(world):
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=1)
    recent = event(world.a, at=_days_ago(20))

    retention.purge_all()

    assert AuditEvent.objects.filter(pk=recent.pk).exists()


def test_the_policy_refuses_a_retention_under_thirty_days(world):
    from config.refusals import Refusal
    from organizations.services.policy import update_policy

    membership = world.membership(world.a, world.a_owner)
    with pytest.raises(Refusal, match="between 30 days and 10 years"):
        update_policy(actor=membership, org=world.a, audit_retention_days=7)
    update_policy(actor=membership, org=world.a, audit_retention_days=45)
    assert OrganizationPolicy.objects.get(organization=world.a).audit_retention_days == 45


def test_the_application_role_cannot_delete_audit_events_itself(world):
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(db_roles.roles_are_split(), "DATABASE_OWNER_URL: an owner role apart from the app's")
    old = event(world.a, at=_days_ago(400))

    with (
        pytest.raises(DatabaseError, match="permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [old.pk])

    assert AuditEvent.objects.filter(pk=old.pk).exists()
    _checkpoint_all(350)
    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) >= 1  # the owner's function may
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
