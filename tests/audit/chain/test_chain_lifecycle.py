"""The chain through a log's life: events that commit out of order are sealed in commit order,
erasing a person leaves the chain verifying, and retention cuts it only at a signed checkpoint.
Also in embedded mode (SQLite), where sealing and verifying work the same."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from audit import context as audit_context
from audit import retention
from audit.actions import Action, Outcome
from audit.chain import checkpoints, sealer
from audit.chain.models import AuditChain, AuditErasureMark, AuditSalt, AuditSeal
from audit.chain.verify import verify
from audit.models import AuditEvent
from audit.services import record, rewrite_events
from organizations import services as org_services
from organizations.models import Membership, Role
from tests.audit.chain.helpers import (
    position_of,
    seal_committed,
    seal_in_test_transaction,
    sign_as_of,
    verify_audit,
)
from tests.audit.helpers import erasure_under_way, event
from tests.conftest import require
from tests.consent.conftest import published, purposes  # noqa: F401  (fixtures)
from tests.consent.test_erasure import ERASE, PAT, client, pat  # noqa: F401  (fixtures)
from tests.factories import UserFactory

CHAIN = 77


def _seal() -> int:
    """Seal inside this (non-transactional) test: on SQLite rowid order needs no horizon."""
    if connection.vendor == "postgresql":
        return seal_in_test_transaction()
    return sealer.seal_batch()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_began_first_and_committed_last_is_sealed_first():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    wrote, release, done = threading.Event(), threading.Event(), threading.Event()
    early: list[AuditEvent] = []

    def early_writer() -> None:
        try:
            with transaction.atomic():
                early.append(record(Action.AUDIT_PURGED, actor_text="early", organization=CHAIN))
                wrote.set()
                release.wait(30)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=early_writer)
    thread.start()
    try:
        assert wrote.wait(30)
        late = record(Action.AUDIT_PURGED, actor_text="late", organization=CHAIN)
        # Committed, yet not sealed: an older transaction is still open below it.
        assert sealer.seal_batch() == 0
        assert not AuditSeal.objects.filter(event_id=late.pk).exists()
    finally:
        release.set()
        assert done.wait(30)
        thread.join()
    assert seal_committed() == 2
    assert position_of(early[0]) == 1
    assert position_of(late) == 2
    assert verify(CHAIN).ok


def _quoted_by_others(person: Any) -> list[AuditEvent]:
    """Events erasure rewrites besides the person's own: an owner inviting their address, a
    stranger signing in with it (from the stranger's address and browser), and an owner
    changing their membership, which names them."""
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    inviter = Membership.objects.get(organization=org, user=owner)
    org_services.invite(actor=inviter, org=org, email=PAT, role="member")
    invited = AuditEvent.objects.get(action=Action.ORG_INVITATION_SENT)
    token = audit_context.activate(
        audit_context.RequestContext(request_id="r9", ip="198.51.100.23", user_agent="Curl")
    )
    try:
        tried = record(Action.LOGIN_FAILED, actor_text=PAT, outcome=Outcome.FAILURE)
    finally:
        audit_context.deactivate(token)
    membership = Membership.objects.create(organization=org, user=person, role=Role.MEMBER)
    changed = record(
        Action.ORG_MEMBER_ROLE_CHANGED,
        actor=owner,
        target=membership,
        organization=org,
        data={"name": "Pat Person", "from": "member", "to": "admin"},
    )
    return [invited, tried, changed]


@pytest.mark.django_db
def test_erasing_a_person_keeps_the_chain_verifying(pat, client, settings):  # noqa: F811
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    others = _quoted_by_others(pat)
    theirs = list(AuditEvent.objects.about_user(pat).values_list("pk", flat=True))
    assert theirs
    _seal()  # (in embedded mode the pass after each commit may have sealed them already)
    everyone = theirs + [e.pk for e in others]
    assert AuditSeal.objects.filter(event_id__in=everyone).count() == len(everyone)
    chains = list(AuditChain.objects.values_list("chain", flat=True))
    for chain in chains:
        checkpoints.sign(chain)

    client.post(ERASE, {"confirm": "delete"})

    assert AuditEvent.objects.filter(pk__in=theirs, actor_text__contains="erased-").exists()
    # Their salts are gone and marks say erasure took them, from the events that quoted them
    # too (the address in the invitation and the failed sign-in, the name in the change)...
    assert not AuditSalt.objects.filter(event_id__in=everyone).exists()
    marked = set(AuditErasureMark.objects.values_list("event_id", flat=True))
    assert set(everyone) <= marked
    for before in others:
        after = AuditEvent.objects.get(pk=before.pk)
        assert PAT not in json.dumps([after.actor_text, after.target_text, after.data])
        assert "Pat Person" not in json.dumps(after.data)
    # ...and every chain still verifies against the checkpoint signed before the erasure.
    _seal()  # the erasure's own events
    for chain in chains:
        newest = checkpoints.newest_checkpoint(chain)
        assert newest is not None
        claim = checkpoints.read(checkpoints.as_json(newest))
        report = verify(chain, claim)
        assert report.ok, report.summary()


@pytest.mark.django_db
def test_retention_cuts_only_at_a_checkpoint_and_the_rest_still_verifies():
    now = timezone.now()
    old = [event(CHAIN, at=now - timedelta(days=400, minutes=-i)) for i in range(5)]
    _seal()
    first = sign_as_of(CHAIN, now - timedelta(days=300))
    # Old too, but sealed after that checkpoint: it waits for a later one to age.
    after_it = event(CHAIN, at=now - timedelta(days=250))
    _seal()
    recent = event(CHAIN, at=now - timedelta(days=5))
    _seal()
    second = checkpoints.sign(CHAIN)
    assert second is not None

    removed = retention.purge(CHAIN, cutoff=now - timedelta(days=200), batch=2)

    assert removed == 5
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert not AuditSeal.objects.filter(event_id__in=[e.pk for e in old]).exists()
    assert not AuditSalt.objects.filter(event_id__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[after_it.pk, recent.pk]).count() == 2
    chain = AuditChain.objects.get(chain=CHAIN)
    assert chain.pruned_through == 5
    assert bytes(chain.pruned_hash or b"") == bytes(first.head_hash)
    # Each of the three batches (2, 2 and 1 positions) left its record.
    purged = AuditEvent.objects.filter(organization_id=CHAIN, action=Action.AUDIT_PURGED)
    assert sorted(p.data["deleted"] for p in purged) == [1, 2, 2]
    _seal()  # the purge's own records
    report = verify(CHAIN, checkpoints.read(checkpoints.as_json(second)))
    assert report.ok, report.summary()
    assert report.checked == 5  # two kept events and the purge's three records
    # A chain without a checkpoint old enough keeps everything.
    assert retention.purge(CHAIN, cutoff=now - timedelta(days=200)) == 0


@pytest.mark.django_db
def test_sealing_and_verifying_work_on_either_database(tmp_path):
    """The embedded mode's path (SQLite, rowid order) and PostgreSQL's give the same result."""
    events = [event(CHAIN, data={"i": i, "f": 0.1 * i}) for i in range(4)]
    assert _seal() == 4
    # One test transaction writes them all: PostgreSQL orders them by (txid, id), one txid.
    assert sorted(position_of(e) for e in events) == [1, 2, 3, 4]
    checkpoint = checkpoints.sign(CHAIN)
    assert checkpoint is not None
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(checkpoints.as_json(checkpoint)))
    assert verify_audit("--checkpoint", str(path))[0] == 0
    if connection.vendor == "postgresql":
        return  # tampering on PostgreSQL is test_chain's, as the superuser
    from django.db import models

    models.QuerySet.update(AuditEvent.objects.filter(pk=events[1].pk), action="user.blocked")
    code, output = verify_audit("--checkpoint", str(path))
    assert code == 1
    assert f"position {position_of(events[1])}: event {events[1].pk} was changed" in output


@pytest.mark.django_db
def test_a_mark_on_an_event_erasure_could_not_have_rewritten_is_named_on_either_database():
    pseudonym = "erased-0a0b0c0d0e0f"
    erasure_under_way(UserFactory(email=PAT), pseudonym)
    unrelated = event(CHAIN, actor_text="sam@else.example", data={"plan": "small"})
    _seal()
    # Erasure itself refuses: the database's function on PostgreSQL, this module on SQLite.
    with pytest.raises((DatabaseError, ValueError)), transaction.atomic():
        rewrite_events(pseudonym, [(unrelated.pk, {"data": {"plan": "large"}})])
    assert AuditSalt.objects.filter(event_id=unrelated.pk).exists()
    if connection.vendor == "postgresql":
        return  # forging past it on PostgreSQL is test_erasure_marks', as the superuser
    from django.db import models

    AuditSalt.objects.filter(event_id=unrelated.pk).delete()
    AuditErasureMark.objects.create(event_id=unrelated.pk, pseudonym=pseudonym)
    models.QuerySet.update(AuditEvent.objects.filter(pk=unrelated.pk), data={"plan": "large"})
    report = verify(CHAIN)
    assert not report.ok
    assert (
        f"position {position_of(unrelated)}: event {unrelated.pk} is marked erased as "
        f"{pseudonym}, but is not about the person erased"
    ) == report.problems[0].message
