"""Retention of the audit log per organization: only what is older than the organization's
setting goes, in batches, through the owner's function; the application role can still not
delete an audit event itself. The cut is at the newest checkpoint signed before the cutoff
(T27), and never reaches an event that is not older than the cutoff, whatever a checkpoint row
says. So these tests write a log as it grows: the organizations were set up long ago (their
own first events are that old), events are sealed in the order they happened, and checkpoints
are signed with the date they would have had."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import db_roles, retention
from audit.actions import Action
from audit.chain import checkpoints
from audit.chain.verify import verify
from audit.models import AuditChain, AuditCheckpoint, AuditEvent, AuditSeal
from organizations.models import OrganizationPolicy
from tests.audit.chain.helpers import position_of, seal_in_test_transaction, sign_as_of
from tests.audit.helpers import dated, event, series
from tests.conftest import require
from tests.organizations.conftest import OrgWorld


def _days_ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def world() -> OrgWorld:
    """The two organizations, set up 2000 days ago: their creation and their owners joining
    come first in their chains (sealed before anything else), and are older than any cutoff
    here."""
    with dated(_days_ago(2000)):
        made = OrgWorld()
    seal_in_test_transaction()
    return made


def _sign_every_chain() -> None:
    """Seal everything and sign a checkpoint of every chain now, as beat would."""
    seal_in_test_transaction()
    for chain in AuditChain.objects.values_list("chain", flat=True):
        checkpoints.sign(chain)


def _verifies(chain: int) -> None:
    seal_in_test_transaction()  # the purge's own record
    report = verify(chain)
    assert report.ok, report.summary()


def test_each_organization_loses_only_what_is_older_than_its_own_setting(world, settings):
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=90)
    OrganizationPolicy.objects.filter(organization=world.b).update(audit_retention_days=None)
    settings.GATEHOUSE_AUDIT_RETENTION_DAYS = 400
    a_old = series(world.a, 7, start=_days_ago(97))
    b_old = event(world.b, at=_days_ago(1999))
    wide_old = event(None, at=_days_ago(401))
    seal_in_test_transaction()
    # Beat's checkpoints of that time, each signed after those events and before the cutoffs.
    a_cut = sign_as_of(world.a.pk, _days_ago(96)).size
    wide_cut = sign_as_of(0, _days_ago(400.5)).size
    sign_as_of(world.b.pk, _days_ago(1998))
    a_kept = event(world.a, at=_days_ago(89))
    wide_kept = event(None, at=_days_ago(399))
    _sign_every_chain()

    deleted = retention.purge_all()

    # Everything the old checkpoints cover goes (the organizations' own first events too).
    assert deleted == a_cut + wide_cut
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in [*a_old, wide_old]]).exists()
    assert AuditEvent.objects.filter(pk__in=[a_kept.pk, b_old.pk, wide_kept.pk]).count() == 3
    assert AuditChain.objects.get(chain=world.a.pk).pruned_through == a_cut
    assert AuditChain.objects.get(chain=world.b.pk).pruned_through == 0
    purged = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_PURGED)
    assert purged.data["deleted"] == a_cut
    assert purged.actor_text == "system"
    assert not AuditEvent.objects.for_org(world.b).filter(action=Action.AUDIT_PURGED).exists()
    assert retention.purge_all() == 0  # a second run finds nothing due
    for chain in (world.a.pk, world.b.pk, 0):
        _verifies(chain)


def test_without_a_checkpoint_old_enough_nothing_is_deleted(world):
    old = event(world.a, at=_days_ago(400))
    seal_in_test_transaction()
    sign_as_of(world.a.pk, _days_ago(10))  # after the cutoff: it cannot anchor a cut before it

    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) == 0
    assert AuditEvent.objects.filter(pk=old.pk).exists()


def test_retention_deletes_in_batches(world):
    old = series(world.a, 7, start=_days_ago(107))
    seal_in_test_transaction()
    size = sign_as_of(world.a.pk, _days_ago(96)).size
    kept = event(world.a, at=_days_ago(90))
    _sign_every_chain()

    with CaptureQueriesContext(connection) as queries:
        assert retention.purge(world.a.pk, cutoff=_days_ago(95), batch=3) == size

    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk=kept.pk).exists()
    if connection.vendor == "postgresql":
        calls = [q for q in queries.captured_queries if "gatehouse_purge_audit_events" in q["sql"]]
        assert len(calls) == size // 3 + 1  # full batches, then a short (or empty) one
    # Each batch that removed something left its record, in its own transaction.
    purged = AuditEvent.objects.for_org(world.a).filter(action=Action.AUDIT_PURGED)
    assert sorted(p.data["deleted"] for p in purged) == sorted(
        [3] * (size // 3) + ([size % 3] if size % 3 else [])
    )
    _verifies(world.a.pk)


def test_retention_stops_before_the_first_recent_event_whatever_a_checkpoint_row_says(world):
    """What someone holding the application's database role can write: a checkpoint row of
    the chain as it stands, dated long ago, with no valid signature. Retention may believe its
    date, but still takes nothing that is not older than the cutoff, and the verifier names
    the cut it made as resting on no signed checkpoint."""
    old = series(world.a, 3, start=_days_ago(400))
    seal_in_test_transaction()
    recent = series(world.a, 3, start=_days_ago(2))
    seal_in_test_transaction()
    size = AuditChain.objects.get(chain=world.a.pk).size
    backdated = AuditCheckpoint.objects.create(
        chain=world.a.pk,
        size=size,
        head_hash=bytes(AuditSeal.objects.get(chain=world.a.pk, position=size).chain_hash),
        signed_at=_days_ago(400),
        key=checkpoints.active_key(),
        note=f"id.example.com/audit/acme\n{size}\nforged\n{_days_ago(400).isoformat()}\n",
        signature=bytes(64),
    )
    assert AuditCheckpoint.objects.filter(pk=backdated.pk).exists()  # the insert was taken
    first_recent = min(position_of(e) for e in recent)

    removed = retention.purge(world.a.pk, cutoff=_days_ago(300))

    assert removed == first_recent - 1  # the world's set-up and the three old events
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in recent]).count() == 3
    assert AuditChain.objects.get(chain=world.a.pk).pruned_through == first_recent - 1
    seal_in_test_transaction()
    report = verify(world.a.pk)
    messages = [p.message for p in report.problems]
    assert f"the checkpoint stored for position {size} is not validly signed" in messages
    assert (
        f"position {first_recent - 1}: no signed checkpoint vouches for the retention cut"
        in messages
    )


def test_retention_stops_before_an_event_not_older_than_the_cutoff_even_at_a_signed_checkpoint(
    world,
):
    """A genuine checkpoint signed before the cutoff can cover an event dated after it (a clock
    set wrong, say): that event and everything after it stay."""
    old = series(world.a, 3, start=_days_ago(400))
    seal_in_test_transaction()
    ahead = event(world.a, at=_days_ago(200))
    seal_in_test_transaction()
    signed = sign_as_of(world.a.pk, _days_ago(350))
    assert signed.size == position_of(ahead)

    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) == signed.size - 1

    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk=ahead.pk).exists()
    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) == 0
    _verifies(world.a.pk)  # from the cut, the chain leads to the checkpoint just after it


def test_a_setting_below_the_minimum_still_keeps_thirty_days(world):
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=1)
    recent = event(world.a, at=_days_ago(25))
    seal_in_test_transaction()
    sign_as_of(world.a.pk, _days_ago(24))  # before a one-day cutoff, after a thirty-day one

    assert retention.purge_all() == 0

    assert AuditEvent.objects.filter(pk=recent.pk).exists()


def test_an_organization_that_keeps_its_log_for_ever_loses_none_of_it_whoever_asks(world):
    """Retention never runs for such an organization; a call for it anyway (a mistake, or the
    application role calling the purge function itself) is refused, by the function on
    PostgreSQL and by audit/retention.py on SQLite."""
    OrganizationPolicy.objects.filter(organization=world.a).update(audit_retention_days=None)
    old = event(world.a, at=_days_ago(400))
    seal_in_test_transaction()
    sign_as_of(world.a.pk, _days_ago(350))

    with pytest.raises((DatabaseError, ValueError), match="keeps its audit log for ever"):
        retention.purge(world.a.pk, cutoff=_days_ago(300))

    assert AuditEvent.objects.filter(pk=old.pk).exists()
    assert not AuditEvent.objects.for_org(world.a).filter(action=Action.AUDIT_PURGED).exists()
    assert AuditChain.objects.get(chain=world.a.pk).pruned_through == 0


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
    seal_in_test_transaction()
    sign_as_of(world.a.pk, _days_ago(350))
    assert retention.purge(world.a.pk, cutoff=_days_ago(300)) >= 1  # the owner's function may
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
