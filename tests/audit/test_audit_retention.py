"""Retention of the audit log per organization: only what is older than the organization's
setting goes, in batches, through the owner's function; the application role can still not
delete an audit event itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import db_roles, retention
from audit.actions import Action
from audit.models import AuditEvent
from organizations.models import OrganizationPolicy
from tests.audit.helpers import event
from tests.conftest import require
from tests.organizations.conftest import OrgWorld


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


def _days_ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_each_organization_loses_only_what_is_older_than_its_own_setting(world, settings):
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=90)
    OrganizationPolicy.objects.filter(organization=world.b).update(audit_retention_days=None)
    settings.GATEHOUSE_AUDIT_RETENTION_DAYS = 400
    a_old = [event(world.a, at=_days_ago(91 + i)) for i in range(7)]
    a_kept = event(world.a, at=_days_ago(89))
    b_old = event(world.b, at=_days_ago(2000))
    wide_old, wide_kept = event(None, at=_days_ago(401)), event(None, at=_days_ago(399))

    deleted = retention.purge_all()

    assert deleted == 8
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in [*a_old, wide_old]]).exists()
    assert AuditEvent.objects.filter(pk__in=[a_kept.pk, b_old.pk, wide_kept.pk]).count() == 3
    purged = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_PURGED)
    assert purged.data["deleted"] == 7
    assert purged.actor_text == "system"
    assert not AuditEvent.objects.for_org(world.b).filter(action=Action.AUDIT_PURGED).exists()
    assert retention.purge_all() == 0  # a second run finds nothing due


def test_retention_deletes_in_batches(world):
    old = [event(world.a, at=_days_ago(100 + i)) for i in range(7)]

    with CaptureQueriesContext(connection) as queries:
        assert retention.purge(world.a.pk, cutoff=_days_ago(95), batch=3) == 7

    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    if connection.vendor == "postgresql":
        calls = [q for q in queries.captured_queries if "gatehouse_purge_audit_events" in q["sql"]]
        assert len(calls) == 3  # 3 + 3 + 1


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
    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) == 1  # the owner's function may
