"""Consent events are append-only evidence; the current state is derived from them and kept in
step in the same transaction; a change is announced once, after commit, never for a rollback."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from config.refusals import Refusal
from consent import evidence, keys, selectors, services
from consent.models import (
    ConsentEvent,
    ConsentRecordIsAppendOnly,
    ConsentState,
    Purpose,
    ReceiptKey,
)
from consent.signals import consent_changed
from tests.audit.helpers import erasure_under_way
from tests.conftest import require
from tests.consent.conftest import publish
from tests.factories import UserFactory


def state_of(user) -> dict[str, tuple[bool, int | None]]:
    return {s.purpose.key: (s.granted, s.event_id) for s in selectors.current_states(user)}


def derived(user) -> dict[str, tuple[bool, int | None]]:
    return {
        e.purpose.key: (e.decision == "granted", e.pk)
        for e in selectors.derived_current_events(user).select_related("purpose")
    }


def test_the_state_table_always_equals_the_state_derived_from_events(published, purposes):
    rng = random.Random(6)
    people = [UserFactory() for _ in range(3)]
    optional = [purposes["marketing_email"], purposes["analytics"], purposes["do_not_sell"]]
    for _ in range(60):
        person = rng.choice(people)
        step = rng.random()
        if step < 0.15:
            publish(rng.choice(["terms", "privacy"]), reaccept=rng.random() < 0.5)
        elif step < 0.3:
            services.record_consent(
                user=person,
                purpose=rng.choice([purposes["terms"], purposes["privacy"]]),
                decision="granted",
                method="reconsent",
            )
        else:
            services.record_consent(
                user=person,
                purpose=rng.choice(optional),
                decision=rng.choice(["granted", "withdrawn"]),
                method="settings",
            )
    for person in people:
        assert state_of(person) == derived(person)
    assert ConsentState.objects.count() == len(
        {(e.user_id, e.purpose_id) for e in ConsentEvent.objects.all()}
    )


def test_the_same_decision_again_changes_nothing(purposes):
    person = UserFactory()
    first, created = services.record_consent(
        user=person, purpose=purposes["analytics"], decision="granted", method="settings"
    )
    again, created_again = services.record_consent(
        user=person, purpose=purposes["analytics"], decision="granted", method="api"
    )
    assert created
    assert not created_again
    assert again == first
    assert ConsentEvent.objects.filter(user=person).count() == 1


def test_an_import_older_than_the_current_decision_is_kept_but_does_not_move_it(purposes):
    person = UserFactory()
    services.record_consent(
        user=person, purpose=purposes["marketing_email"], decision="withdrawn", method="settings"
    )
    old, created = services.record_consent(
        user=person,
        purpose=purposes["marketing_email"],
        decision="granted",
        method="import",
        occurred_at=timezone.now() - timedelta(days=400),
        ip="198.51.100.7",
        user_agent="CRM",
    )
    assert created
    assert old.ip == "198.51.100.7"
    state = ConsentState.objects.get(user=person, purpose=purposes["marketing_email"])
    assert state.granted is False
    assert state_of(person) == derived(person)


def test_only_an_import_says_when(purposes):
    with pytest.raises(Refusal):
        services.record_consent(
            user=UserFactory(),
            purpose=purposes["analytics"],
            decision="granted",
            method="settings",
            occurred_at=timezone.now() - timedelta(days=1),
        )


def test_a_change_is_announced_once_after_commit_and_never_for_a_rollback(purposes):
    heard: list[tuple[str, str]] = []

    def listener(sender, event, user, purpose, decision, **kwargs):
        heard.append((purpose.key, decision))

    analytics, marketing = purposes["analytics"], purposes["marketing_email"]
    consent_changed.connect(listener)
    try:
        person = UserFactory()
        # Sign-up records consent inside its own transaction (record_signup joins it).
        with transaction.atomic():
            services.record_signup(user=person, purposes=[analytics], ticked={analytics.pk})
            assert heard == []  # not before commit
        assert heard == [("analytics", "granted")]
        services.record_consent(user=person, purpose=analytics, decision="granted", method="api")
        assert heard == [("analytics", "granted")]  # a no-op announces nothing

        def sign_up_rolled_back() -> None:
            with transaction.atomic():
                services.record_signup(user=person, purposes=[marketing], ticked={marketing.pk})
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            sign_up_rolled_back()
        assert heard == [("analytics", "granted")]
        assert not ConsentState.objects.filter(user=person, purpose=marketing).exists()
        assert ConsentState.objects.get(user=person, purpose=analytics).granted
    finally:
        consent_changed.disconnect(listener)


def test_events_refuse_changes_in_the_orm(purposes):
    event, _ = services.record_consent(
        user=UserFactory(), purpose=purposes["analytics"], decision="granted", method="api"
    )
    with pytest.raises(ConsentRecordIsAppendOnly):
        event.save()
    with pytest.raises(ConsentRecordIsAppendOnly):
        ConsentEvent.objects.filter(pk=event.pk).update(decision="withdrawn")
    with pytest.raises(ConsentRecordIsAppendOnly):
        event.delete()
    with pytest.raises(ConsentRecordIsAppendOnly):
        ConsentEvent.objects.all().delete()


def _raw(sql: str, params: list, *, erasure: bool = False) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if erasure:  # the switch that used to open the guard: it opens nothing now
            cursor.execute("SET LOCAL gatehouse.erasure = 'on'")
        cursor.execute(sql, params)


@pytest.mark.django_db(transaction=True)
def test_postgresql_keeps_events_append_only_with_one_narrow_exception(purposes):
    require(connection.vendor == "postgresql", "PostgreSQL triggers")
    user = UserFactory()
    event, _ = services.record_consent(
        user=user,
        purpose=purposes["analytics"],
        decision="granted",
        method="import",
        ip="198.51.100.7",
        user_agent="CRM import",
    )
    refused = [
        ("UPDATE consent_consentevent SET decision = 'withdrawn' WHERE id = %s", False),
        ("UPDATE consent_consentevent SET decision = 'withdrawn' WHERE id = %s", True),
        ("UPDATE consent_consentevent SET occurred_at = now() WHERE id = %s", True),
        ("UPDATE consent_consentevent SET ip = NULL, receipt = '' WHERE id = %s", True),
        ("UPDATE consent_consentevent SET ip = NULL WHERE id = %s", False),
        ("UPDATE consent_consentevent SET ip = NULL, user_agent = '' WHERE id = %s", True),
        ("DELETE FROM consent_consentevent WHERE id = %s", True),
    ]
    for sql, erasure in refused:
        with pytest.raises(DatabaseError):
            _raw(sql, [event.pk], erasure=erasure)
    # Erasing a person may clear the address and user agent, and nothing else: only through
    # the database's function, and only while their erasure is under way.
    with pytest.raises(DatabaseError, match="no erasure is under way"):
        evidence.clear_origins(user=user, pseudonym="erased-00000000000a")
    erasure_under_way(user, "erased-00000000000a")
    assert evidence.clear_origins(user=user, pseudonym="erased-00000000000a") == 1
    kept = ConsentEvent.objects.get(pk=event.pk)
    assert kept.ip is None
    assert kept.user_agent == ""
    assert kept.receipt == event.receipt
    assert kept.decision == "granted"
    assert kept.occurred_at == event.occurred_at


@pytest.mark.django_db(transaction=True)
def test_racing_first_signers_share_one_key(purposes):
    require(connection.vendor == "postgresql", "PostgreSQL (concurrent connections)")
    barrier = threading.Barrier(4)
    kids: list[str] = []

    def sign() -> None:
        try:
            barrier.wait()
            kids.append(keys.active_key().kid)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kids) == 4
    assert len(set(kids)) == 1
    assert ReceiptKey.objects.count() == 1


def test_an_import_cannot_be_dated_in_the_future(purposes):
    with pytest.raises(Refusal, match="future"):
        services.record_consent(
            user=UserFactory(),
            purpose=purposes["analytics"],
            decision="granted",
            method="import",
            occurred_at=timezone.now() + timedelta(days=30),
        )
    assert not ConsentEvent.objects.exists()


def test_an_archived_purpose_of_another_organization_is_not_found(purposes):
    from organizations import services as org_services

    org = org_services.create_organization(actor=UserFactory(), name="Other", slug="other")
    hidden = Purpose.objects.create(organization=org, key="old", name="Old", archived=True)
    with pytest.raises(Refusal) as refused:
        services.record_consent(
            user=UserFactory(), purpose=hidden, decision="granted", method="api"
        )
    assert refused.value.status == 404
    own = Purpose.objects.create(key="retired", name="Retired", archived=True)
    with pytest.raises(Refusal) as archived:
        services.record_consent(user=UserFactory(), purpose=own, decision="granted", method="api")
    assert archived.value.status == 409
