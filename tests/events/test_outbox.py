"""The outbox: a successful change writes its event rows in its own transaction, a change that
rolls back or is refused writes none, and a login still writes everything in one statement."""

from __future__ import annotations

import time

import jsonschema
import pytest
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from audit.actions import Action
from audit.models import AuditEvent
from audit.services import record
from config.refusals import Refusal
from events.models import Event
from events.registry import EVENT_TYPES, TYPES_BY_ACTION, schema_for
from organizations import services as org_services
from organizations.models import Membership, Organization
from tests.accounts.work import writes
from tests.conftest import require
from tests.factories import DEFAULT_PASSWORD, UserFactory


def login(client: Client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def validate(event: Event) -> None:
    jsonschema.validate(event.data, schema_for(EVENT_TYPES[event.type]))


def test_a_change_writes_its_event_with_it():
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")

    created = Event.objects.get(type="organization.created")
    audit = AuditEvent.objects.get(action="org.created")
    assert created.audit_event_id == audit.pk
    assert created.organization_id == org.pk
    assert created.occurred_at == audit.occurred_at
    assert created.public_id.startswith("evt_")
    assert "." not in created.public_id
    assert created.data["object"] == {
        "type": "organization",
        "id": str(org.public_id),
        "slug": "acme",
        "name": "Acme",
        "created_at": org.created_at.isoformat(),
    }
    assert created.data["actor"] == {"type": "user", "id": str(owner.public_id)}
    assert created.data["details"] == {"slug": "acme", "action": "org.created"}
    validate(created)
    # The owner's membership is an event of its own, about the member.
    joined = Event.objects.get(type="membership.created")
    assert (joined.organization_id, joined.data["object"]["id"]) == (org.pk, str(owner.public_id))
    assert joined.data["details"]["role"] == "owner"
    validate(joined)


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_event_carries_its_transaction_id():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    org_services.create_organization(actor=UserFactory(), name="Acme", slug="acme")
    created = Event.objects.get(type="organization.created")
    assert created.audit_event_id is not None
    audit = AuditEvent.objects.get(pk=created.audit_event_id)
    # Both rows carry the writing transaction's id, set by the database: the same one.
    assert created.txid is not None
    assert created.txid == audit.txid


@pytest.mark.django_db(transaction=True)
def test_a_change_that_rolls_back_leaves_no_event():
    owner = UserFactory()
    # Inviting the creator, already its owner, is refused after organization.created was
    # recorded: the whole service rolls back, its event with it.
    with pytest.raises(Refusal):
        org_services.create_organization(
            actor=owner, name="Acme", slug="acme", owner_email=owner.email
        )

    assert not Organization.objects.exists()
    assert not AuditEvent.objects.filter(action="org.created").exists()
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_record_inside_a_transaction_that_rolls_back_leaves_neither_row():
    user = UserFactory()

    def change_that_fails() -> None:
        with transaction.atomic():
            record(Action.USER_BLOCKED, actor=user, target=user)
            raise RuntimeError("the change failed after its audit event")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert not AuditEvent.objects.filter(action="user.blocked").exists()
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_record_outside_a_transaction_writes_both_rows_together():
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        record(Action.USER_BLOCKED, actor=user, target=user)

    sql = [q["sql"] for q in queries.captured_queries]
    # One transaction of its own (T28), holding the audit row and the event.
    assert any("audit_auditevent" in s for s in sql)
    assert any("events_event" in s for s in sql)
    assert Event.objects.get().type == "user.blocked"


def test_refusals_and_failures_write_no_event():
    user = UserFactory()
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    # A plain member may not add domains: refused, and audited as a failure.
    member = Membership.objects.create(
        organization=org, user=UserFactory(), role="member", source="admin"
    )
    before = Event.objects.count()

    assert login(Client(), user.email, "not the password").status_code == 200
    with pytest.raises(Refusal):
        org_services.add_domain(actor=member, org=org, name="acme.example")

    assert AuditEvent.objects.filter(action="login.failed").exists()
    assert AuditEvent.objects.filter(outcome="failure").count() >= 2
    assert Event.objects.count() == before


def test_an_unmapped_action_writes_no_event():
    user = UserFactory()
    record(Action.EMAIL_VERIFICATION_RESENT, actor=user, target=user)
    assert not Event.objects.exists()


@override_settings(GATEHOUSE_EVENTS_ENABLED=False)
def test_with_events_off_changes_write_no_event():
    org_services.create_organization(actor=UserFactory(), name="Acme", slug="acme")
    assert AuditEvent.objects.filter(action="org.created").exists()
    assert not Event.objects.exists()


def test_a_login_writes_its_event_in_the_same_single_statement():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    user = UserFactory()
    with CaptureQueriesContext(connection) as queries:
        assert login(Client(), user.email).status_code == 302

    statements = [
        q["sql"] for q in queries.captured_queries if "INSERT events_event" in writes(q["sql"])
    ]
    assert len(statements) == 1
    # The statement that writes the event also writes the login's audit event and session.
    assert {"INSERT audit_auditevent", "INSERT usersessions_usersession"} <= set(
        writes(statements[0])
    )
    started = Event.objects.get(type="session.started")
    assert started.subject_id == str(user.pk)
    assert started.data["object"]["id"] == str(user.public_id)
    assert started.data["details"]["method"] == "password"
    assert started.organization_id is None
    validate(started)


def test_every_mapped_action_exists_and_every_type_has_a_schema():
    actions = {a.value for a in Action}
    for event_type in EVENT_TYPES.values():
        assert event_type.actions, event_type.name
        assert event_type.actions <= actions, event_type.name
        assert event_type.objects
        assert event_type.description
        jsonschema.Draft202012Validator.check_schema(schema_for(event_type))
    assert set(TYPES_BY_ACTION) == set().union(*(t.actions for t in EVENT_TYPES.values()))
    # Only successes produce events, so a refusal-only action must not be mapped.
    for refused in (Action.LOGIN_FAILED, Action.ORG_ACCESS_DENIED, Action.SSO_LOGIN_FAILED):
        assert refused.value not in TYPES_BY_ACTION


def test_the_documentation_lists_every_event_type():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    missing = [name for name in EVENT_TYPES if f"`{name}`" not in docs]
    assert not missing, f"docs/events.md does not list {missing}"


def test_the_pipeline_loop_backs_off_when_idle_and_hurries_when_busy():
    from events.pipeline import BUSY_PAUSE, LONGEST_IDLE_PAUSE, WORKING_PAUSE, next_pause

    assert next_pause(LONGEST_IDLE_PAUSE, 500, True) == BUSY_PAUSE  # a full batch: more waits
    assert next_pause(LONGEST_IDLE_PAUSE, 3, False) == WORKING_PAUSE  # work resets the back-off
    pauses = [WORKING_PAUSE]
    for _ in range(4):
        pauses.append(next_pause(pauses[-1], 0, False))
    assert pauses[1] == min(2 * WORKING_PAUSE, LONGEST_IDLE_PAUSE)  # idle passes back off
    assert pauses == sorted(pauses)
    assert pauses[-1] == LONGEST_IDLE_PAUSE
    assert BUSY_PAUSE < WORKING_PAUSE <= LONGEST_IDLE_PAUSE


def test_a_stage_that_is_not_urgent_runs_at_most_once_in_its_interval(monkeypatch):
    from types import SimpleNamespace

    from events import pipeline

    runs: list[str] = []
    found = {"often": 0, "seldom": 0}  # rows each stage finds when it runs

    def stage(name: str) -> pipeline.Stage:
        def run() -> int:
            runs.append(name)
            return found[name]

        return run

    monkeypatch.setattr(
        pipeline,
        "STAGES",
        [
            pipeline.Step("often", stage("often"), batch=10),
            pipeline.Step("seldom", stage("seldom"), batch=10, every=5.0),
        ],
    )
    clock = [1000.0]
    monkeypatch.setattr(pipeline, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    # The stages' advisory locks are not the point here (and need no database).
    monkeypatch.setattr(pipeline._Locks, "take", lambda self, name: True)
    monkeypatch.setattr(pipeline._Locks, "release", lambda self: None)
    locks = pipeline._Locks()  # one loop's state, as pipeline.run keeps it
    for _ in range(3):
        pipeline.one_pass(locks)
        clock[0] += 1.0
    assert runs == ["often", "seldom", "often", "often"]
    clock[0] += 3.0  # five seconds since "seldom" ran
    pipeline.one_pass(locks)
    assert runs[-2:] == ["often", "seldom"]
    # A full batch means more is waiting: the stage runs again on the next pass, whatever its
    # interval, until a batch comes back short.
    found["seldom"] = 10
    clock[0] += 5.0
    runs.clear()
    assert pipeline.one_pass(locks) == (10, True)
    clock[0] += 0.1
    pipeline.one_pass(locks)
    found["seldom"] = 3
    clock[0] += 0.1
    assert pipeline.one_pass(locks) == (3, False)
    clock[0] += 0.1
    pipeline.one_pass(locks)
    assert runs == ["often", "seldom", "often", "seldom", "often", "seldom", "often"]
    # A pass outside a loop (tests, embedded mode) runs every stage.
    runs.clear()
    pipeline.one_pass()
    assert runs == ["often", "seldom"]


@pytest.mark.django_db(transaction=True)
def test_an_idle_dispatch_pass_writes_and_locks_nothing():
    """An idle loop runs a pass every second: it must cost reads only (a row lock alone costs
    PostgreSQL a transaction id and a WAL record); new events are still dispatched."""
    from events import dispatch
    from events.models import PipelineCursor

    def dispatched_all() -> PipelineCursor | None:
        # The horizon is the cluster's: another test's open transaction holds it back a while.
        deadline = time.monotonic() + 60
        while True:
            dispatch.dispatch()
            newest = str(Event.objects.latest("id").pk)
            cursor = PipelineCursor.objects.filter(stage="dispatch", last_id=newest).first()
            if cursor is not None or time.monotonic() > deadline:
                return cursor
            time.sleep(0.1)

    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    cursor = dispatched_all()
    assert cursor is not None
    assert dispatch.dispatch() == 0  # the first pass that finds nothing still takes the lock
    with CaptureQueriesContext(connection) as queries:
        assert dispatch.dispatch() == 0
    statements = [q["sql"].upper() for q in queries.captured_queries]
    assert statements
    assert not [s for s in statements if "FOR UPDATE" in s or not s.startswith("SELECT")]

    record(Action.ORG_UPDATED, actor=owner, organization=org, target=org, data={"n": 1})
    assert dispatched_all() is not None
    assert PipelineCursor.objects.get(stage="dispatch").last_id != cursor.last_id
