"""Erasure blanks the outbox rows about the person (docs/events.md 4.3): events are not
evidence, and the feed must not keep serving a deleted person's address for 30 days."""

from __future__ import annotations

import json

from events.models import Event
from organizations import services as org_services
from organizations.models import Membership
from tests.consent.conftest import published, purposes  # noqa: F401  (fixtures)
from tests.consent.test_erasure import ERASE, PAT, client, pat  # noqa: F401  (fixtures)
from tests.factories import UserFactory


def test_erasure_blanks_the_events_about_the_person(pat, client, settings):  # noqa: F811
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    inviter = Membership.objects.get(organization=org, user=owner)
    org_services.invite(actor=inviter, org=org, email=PAT, role="member")
    about_pat = Event.objects.filter(subject_type="user", subject_id=str(pat.pk))
    assert about_pat.filter(type="session.started").exists()
    assert any(PAT in json.dumps(e.data) for e in Event.objects.all())
    others = list(Event.objects.filter(type="organization.created").values_list("data", flat=True))

    former_id = str(pat.public_id)

    client.post(ERASE, {"confirm": "delete"})

    # Nothing in the outbox names the person's address any more...
    assert not any(PAT in json.dumps(e.data) for e in Event.objects.all())
    # ...the rows about them are kept (the feed's order holds) with their data blanked...
    blanked = Event.objects.filter(type__in=["session.started", "invitation.created"])
    assert blanked.exists()
    assert {json.dumps(e.data) for e in blanked} == {'{"erased": true}'}
    # ...and other events are untouched; the erasure itself is announced.
    assert (
        list(Event.objects.filter(type="organization.created").values_list("data", flat=True))
        == others
    )
    # The deletion names the person by the id apps knew (the tombstone's is new).
    deleted = Event.objects.get(type="user.deleted")
    assert deleted.data["details"]["former_id"] == former_id
    assert deleted.data["object"]["id"] != former_id
    assert Event.objects.filter(type="erasure.completed").exists()
