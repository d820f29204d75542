"""The application cannot rewrite its own evidence: PostgreSQL refuses it by privilege.

These tests run as the application role (DATABASE_URL), with the owner role (DATABASE_OWNER_URL)
having created and migrated the test database, as in production (audit/db_roles.py). Every way
an attacker holding the application's connection might try to change or remove audit and consent
events fails: plain statements, the session switches that used to open the trigger, disabling or
dropping the triggers, becoming another role, and the owner's functions called with arguments
erasure and retention never use. CI runs them; on a laptop without the two roles they skip.
"""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import checks, db_roles
from audit import context as audit_context
from audit import services as audit_services
from audit.actions import Action
from audit.models import AuditEvent
from consent import evidence, services
from consent.models import ConsentEvent, DataSubjectRequest, Purpose
from tests.audit.helpers import erasure_under_way
from tests.conftest import require
from tests.factories import UserFactory

_defaults = importlib.import_module("consent.migrations.0003_default_purposes")

PSEUDONYM = "erased-00c0ffee00aa"
ERASED = f"{PSEUDONYM}@erased.invalid"
REFUSED = r"permission denied|must be owner"


def _split_roles() -> None:
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(
        db_roles.roles_are_split(),
        "DATABASE_OWNER_URL: an owner role apart from the application's (README, production)",
    )


def _owner() -> str:
    credentials = db_roles.owner_credentials()
    assert credentials is not None
    return credentials["USER"]


def _as(ip: str, user_agent: str):
    return audit_context.RequestContext(request_id="r1", ip=ip, user_agent=user_agent)


@pytest.fixture
def world():
    """Pat, whose erasure is under way: Pat's sign-ins from v4 and v6 addresses (the second
    quoting Pat's address), a block by a staff member from the staff member's address, the
    staff member's own sign-in (nothing to do with Pat), Pat's consent (imported with an
    address and browser) and one Pat recorded for the staff member."""
    _split_roles()
    _defaults.seed(apps, None)
    pat = UserFactory(email="pat@person.example")
    staff = UserFactory(email="staff@gatehouse.test", is_staff=True)
    token = audit_context.activate(_as("203.0.113.77", "Pat's browser"))
    own = audit_services.record(Action.LOGIN_SUCCEEDED, actor=pat, target=pat)
    audit_context.deactivate(token)
    token = audit_context.activate(_as("2001:db8:aa:bb::7", "Pat's phone"))
    own_v6 = audit_services.record(
        Action.LOGIN_SUCCEEDED,
        actor=pat,
        target=pat,
        data={"email": "pat@person.example", "attempts": 3},
    )
    audit_context.deactivate(token)
    token = audit_context.activate(_as("198.51.100.9", "Staff browser"))
    by_staff = audit_services.record(Action.USER_BLOCKED, actor=staff, target=pat)
    not_pats = audit_services.record(
        Action.LOGIN_SUCCEEDED, actor=staff, target=staff, data={"method": "password"}
    )
    audit_context.deactivate(token)
    analytics = Purpose.objects.get(key="analytics", organization__isnull=True)
    consent, _ = services.record_consent(
        user=pat,
        purpose=analytics,
        decision="granted",
        method="import",
        ip="198.51.100.7",
        user_agent="CRM import",
    )
    # Pat, an operator's staff member too, recorded a consent for the staff member.
    recorded, _ = services.record_consent(
        user=staff, purpose=analytics, decision="granted", method="api", actor=pat
    )
    erasure_under_way(pat, PSEUDONYM)
    return {
        "pat": pat,
        "staff": staff,
        "own": own,
        "own_v6": own_v6,
        "by_staff": by_staff,
        "not_pats": not_pats,
        "consent": consent,
        "recorded": recorded,
    }


def _snapshot() -> tuple[list, list]:
    return (
        list(AuditEvent.objects.order_by("pk").values()),
        list(ConsentEvent.objects.order_by("pk").values()),
    )


def _run(*statements: str, params: list | None = None) -> None:
    """One transaction of the application's, as an attacker holding its connection would."""
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement, params if "%s" in statement else None)


# --- Who the application is ---------------------------------------------------------------------


def test_the_application_connects_as_a_role_that_owns_nothing_and_may_not_change_evidence():
    _split_roles()
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, session_user")
        current, session = cursor.fetchone()

    assert current == session == db_roles.app_role() != _owner()
    assert db_roles.privilege_problems() == []
    assert checks.check_evidence_privileges(databases=["default"]) == []


@pytest.mark.django_db(transaction=True)
def test_the_deploy_check_refuses_a_single_role_that_owns_the_tables():
    _split_roles()
    with db_roles.as_owner() as owner:
        assert owner
        errors = checks.check_evidence_privileges(databases=["default"])

    assert {error.id for error in errors} == {"audit.E001"}
    assert any("owns audit_auditevent" in error.msg for error in errors)
    assert any("owns consent_consentevent" in error.msg for error in errors)


# --- Statements the application might try ------------------------------------------------------

AUDIT_ATTEMPTS = {
    "update": ["UPDATE audit_auditevent SET actor_text = 'nobody'"],
    "update the action": ["UPDATE audit_auditevent SET action = 'login.failed'"],
    "delete": ["DELETE FROM audit_auditevent"],
    "truncate": ["TRUNCATE audit_auditevent"],
    "truncate cascade": ["TRUNCATE audit_auditevent CASCADE"],
    "disable the trigger": ["ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only"],
    "disable all triggers": ["ALTER TABLE audit_auditevent DISABLE TRIGGER ALL"],
    "drop the trigger": ["DROP TRIGGER audit_event_append_only ON audit_auditevent"],
    "take the table": ["ALTER TABLE audit_auditevent OWNER TO CURRENT_USER"],
    "replace the trigger function": [
        "CREATE OR REPLACE FUNCTION gatehouse_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN COALESCE(NEW, OLD); END $$"
    ],
    "old maintenance switch, then delete": [
        "SET LOCAL gatehouse.audit_maintenance = 'on'",
        "DELETE FROM audit_auditevent",
    ],
    "old erasure switch, then update": [
        "SET LOCAL gatehouse.erasure = 'on'",
        "UPDATE audit_auditevent SET actor_text = 'nobody'",
    ],
    "new marker, then delete": [
        "SET LOCAL gatehouse.evidence_change = 'purge'",
        "DELETE FROM audit_auditevent",
    ],
    "triggers off for replication": [
        "SET LOCAL session_replication_role = replica",
        "DELETE FROM audit_auditevent",
    ],
}
CONSENT_ATTEMPTS = {
    "update": ["UPDATE consent_consentevent SET ip = NULL, user_agent = ''"],
    "update the decision": ["UPDATE consent_consentevent SET decision = 'granted'"],
    "delete": ["DELETE FROM consent_consentevent"],
    "truncate": ["TRUNCATE consent_consentevent CASCADE"],
    "disable the trigger": [
        "ALTER TABLE consent_consentevent DISABLE TRIGGER consent_event_append_only"
    ],
    "drop the trigger": ["DROP TRIGGER consent_event_append_only ON consent_consentevent"],
    "old maintenance switch, then delete": [
        "SET LOCAL gatehouse.audit_maintenance = 'on'",
        "DELETE FROM consent_consentevent",
    ],
    "old erasure switch, then update": [
        "SET LOCAL gatehouse.erasure = 'on'",
        "UPDATE consent_consentevent SET ip = NULL, user_agent = ''",
    ],
}


@pytest.mark.parametrize(
    "statements",
    [*AUDIT_ATTEMPTS.values(), *CONSENT_ATTEMPTS.values()],
    ids=[*(f"audit: {k}" for k in AUDIT_ATTEMPTS), *(f"consent: {k}" for k in CONSENT_ATTEMPTS)],
)
def test_the_application_cannot_change_or_remove_evidence(world, statements):
    before = _snapshot()

    with pytest.raises(DatabaseError, match=REFUSED):
        _run(*statements)

    assert _snapshot() == before


def test_the_application_cannot_become_the_owner_or_grant_itself_more(world):
    before = _snapshot()
    owner = connection.ops.quote_name(_owner())

    with pytest.raises(DatabaseError, match="permission denied"):
        _run(f"SET ROLE {owner}")
    # Only the owner grants; anyone else's GRANT gives nothing (PostgreSQL warns, no error).
    _run("GRANT ALL ON audit_auditevent, consent_consentevent TO CURRENT_USER")
    with pytest.raises(DatabaseError, match=REFUSED):
        _run("DELETE FROM audit_auditevent")

    assert db_roles.privilege_problems() == []
    assert _snapshot() == before


def test_the_application_still_adds_evidence_and_changes_its_other_tables(world):
    pat = world["pat"]

    audit_services.record(Action.PROFILE_UPDATED, actor=pat, target=pat)
    pat.display_name = "Pat P."
    pat.save()
    DataSubjectRequest.objects.filter(user=pat).update(last_error="x")

    assert AuditEvent.objects.filter(action="profile.updated").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT has_table_privilege('audit_auditevent', 'INSERT')")
        assert cursor.fetchone()[0]


# --- The owner's functions, called as erasure and retention never call them --------------------


def _audit(pseudonym, changes):
    return "SELECT gatehouse_erase_audit_quotes(%s, %s::jsonb)", [pseudonym, json.dumps(changes)]


def _consent_actor(pseudonym, changes):
    return "SELECT gatehouse_erase_consent_actor(%s, %s::jsonb)", [pseudonym, json.dumps(changes)]


BAD_CALLS = {
    "not a pseudonym": lambda w: (
        "not an erasure pseudonym",
        _audit("pat@person.example", [_quote(w)]),
    ),
    "pseudonym as SQL": lambda w: (
        "not an erasure pseudonym",
        _audit("erased-'; DELETE FROM audit_auditevent; --", []),
    ),
    "no pseudonym": lambda w: ("not an erasure pseudonym", _audit(None, [_quote(w)])),
    "no erasure under way": lambda w: (
        "no erasure is under way",
        _audit("erased-0123456789ab", [_quote(w)]),
    ),
    "changes not a list": lambda w: ("JSON list", _audit(PSEUDONYM, {"id": str(w["own"].pk)})),
    "too many at once": lambda w: ("JSON list", _audit(PSEUDONYM, [_quote(w)] * 1001)),
    "an event without id": lambda w: (
        "erasure changes only",
        _audit(PSEUDONYM, [{"actor_text": PSEUDONYM}]),
    ),
    "nothing to change": lambda w: (
        "erasure changes only",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk)}]),
    ),
    "the action": lambda w: (
        "erasure changes only",
        _audit(PSEUDONYM, [{**_quote(w), "action": "login.failed"}]),
    ),
    "the time": lambda w: (
        "erasure changes only",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "occurred_at": "2020-01-01T00:00:00Z"}]),
    ),
    "an unknown event": lambda w: (
        "no audit event",
        _audit(
            PSEUDONYM, [{"id": "00000000-0000-0000-0000-000000000000", "actor_text": PSEUDONYM}]
        ),
    ),
    "text without the pseudonym": lambda w: (
        "must name the pseudonym",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "actor_text": "somebody else"}]),
    ),
    "data without the pseudonym": lambda w: (
        "must name the pseudonym",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "data": {"note": "nothing happened"}}]),
    ),
    "data of an event not about them": lambda w: (
        "only puts the pseudonym",
        _audit(PSEUDONYM, [{"id": str(w["not_pats"].pk), "data": {"method": PSEUDONYM}}]),
    ),
    "a key added to data": lambda w: (
        "only puts the pseudonym",
        _audit(
            PSEUDONYM,
            [{"id": str(w["not_pats"].pk), "data": {"method": "password", "by": ERASED}}],
        ),
    ),
    "a name put in an event not about them": lambda w: (
        "only puts the pseudonym",
        _audit(PSEUDONYM, [{"id": str(w["not_pats"].pk), "target_text": PSEUDONYM}]),
    ),
    "their quote made to say more": lambda w: (
        "only puts the pseudonym",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "actor_text": f"{ERASED}, on leave"}]),
    ),
    "a number changed beside their quote": lambda w: (
        "only puts the pseudonym",
        _audit(
            PSEUDONYM,
            [{"id": str(w["own_v6"].pk), "data": {"email": ERASED, "attempts": 0}}],
        ),
    ),
    "another address": lambda w: (
        "cut to its network",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "ip": "192.0.2.1"}]),
    ),
    "an address cut too short": lambda w: (
        "cut to its network",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "ip": "203.0.0.0"}]),
    ),
    "an address removed": lambda w: (
        "cut to its network",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "ip": None}]),
    ),
    "another browser": lambda w: (
        "only be dropped",
        _audit(PSEUDONYM, [{"id": str(w["own"].pk), "user_agent": "Staff browser"}]),
    ),
    "the staff member's address": lambda w: (
        "only where the person acted",
        _audit(PSEUDONYM, [{"id": str(w["by_staff"].pk), "ip": "198.51.100.0"}]),
    ),
    "the staff member's browser": lambda w: (
        "only where the person acted",
        _audit(PSEUDONYM, [{"id": str(w["by_staff"].pk), "user_agent": ""}]),
    ),
    "consent: another column": lambda w: (
        "only actor_text",
        _consent_actor(
            PSEUDONYM, [{"id": w["recorded"].pk, "actor_text": PSEUDONYM, "decision": "granted"}]
        ),
    ),
    "consent: not recorded by them": lambda w: (
        "not recorded by the person",
        _consent_actor(PSEUDONYM, [{"id": w["consent"].pk, "actor_text": PSEUDONYM}]),
    ),
    "consent: text without the pseudonym": lambda w: (
        "must name the pseudonym",
        _consent_actor(PSEUDONYM, [{"id": w["recorded"].pk, "actor_text": "someone"}]),
    ),
    "consent: no erasure under way": lambda w: (
        "no erasure is under way",
        (
            "SELECT gatehouse_erase_consent_origin(%s)",
            ["erased-0123456789ab"],
        ),
    ),
    "purge: a cutoff in the future": lambda w: (
        "in the past",
        (
            "SELECT gatehouse_purge_consent_evidence(%s, 500)",
            [timezone.now() + timedelta(days=1)],
        ),
    ),
    "purge: no cutoff": lambda w: (
        "in the past",
        ("SELECT gatehouse_purge_consent_evidence(NULL, 500)", None),
    ),
    "purge: an empty batch": lambda w: (
        "1 to 10000",
        (
            "SELECT gatehouse_purge_consent_evidence(now(), 0)",
            None,
        ),
    ),
    "purge: a huge batch": lambda w: (
        "1 to 10000",
        (
            "SELECT gatehouse_purge_consent_evidence(now(), 1000000)",
            None,
        ),
    ),
    "audit retention: yesterday's events": lambda w: (
        "kept at least 28 days",
        (
            "SELECT gatehouse_purge_audit_events(NULL, %s, 500)",
            [timezone.now() - timedelta(days=1)],
        ),
    ),
    "audit retention: no cutoff": lambda w: (
        "kept at least 28 days",
        ("SELECT gatehouse_purge_audit_events(7, NULL, 500)", None),
    ),
    "audit retention: a huge batch": lambda w: (
        "1 to 10000",
        ("SELECT gatehouse_purge_audit_events(7, now() - interval '1 year', 1000000)", None),
    ),
}


def _quote(w) -> dict:
    return {"id": str(w["own"].pk), "actor_text": f"{PSEUDONYM}@erased.invalid"}


@pytest.mark.parametrize("call", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_the_owners_functions_refuse_what_erasure_and_retention_never_ask(world, call):
    reason, (statement, params) = call(world)
    before = _snapshot()

    with (
        pytest.raises(DatabaseError, match=reason),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, params)

    assert _snapshot() == before


def test_the_owners_functions_do_exactly_what_erasure_asks(world):
    own, own_v6, recorded = world["own"], world["own_v6"], world["recorded"]
    name = f"{PSEUDONYM}@erased.invalid"

    changed = audit_services.rewrite_events(
        PSEUDONYM,
        [
            (own.pk, {"actor_text": name, "ip": "203.0.113.0", "user_agent": ""}),
            (own_v6.pk, {"data": {"email": name, "attempts": 3}, "ip": "2001:db8:aa::"}),
        ],
    )
    kept = evidence.clear_origins(user=world["pat"], pseudonym=PSEUDONYM)
    recorders = evidence.rewrite_recorders(PSEUDONYM, [(recorded.pk, {"actor_text": name})])

    assert (changed, kept, recorders) == (2, 1, 1)
    after = AuditEvent.objects.get(pk=own.pk)
    assert (after.actor_text, after.ip, after.user_agent) == (name, "203.0.113.0", "")
    assert (after.action, after.occurred_at, after.actor_id) == (
        own.action,
        own.occurred_at,
        own.actor_id,
    )
    assert AuditEvent.objects.get(pk=own_v6.pk).ip == "2001:db8:aa::"
    assert AuditEvent.objects.get(pk=world["by_staff"].pk).ip == "198.51.100.9"
    for event in ConsentEvent.objects.filter(user=world["pat"]):
        assert event.ip is None
        assert event.user_agent == ""
    assert ConsentEvent.objects.get(pk=recorded.pk).actor_text == name


def test_an_erasure_the_application_points_at_someone_else_erases_nothing_of_theirs(world):
    """Whom a pseudonym stands for is read from evidence (audit_erasuresubject), not from the
    request, which the application updates as the job runs: pointed at the staff member, the
    request no longer matches the record, and the record itself cannot be changed."""
    staff = world["staff"]
    DataSubjectRequest.objects.filter(pseudonym=PSEUDONYM).update(user=staff)
    before = _snapshot()
    # A name replaced in the staff member's own event: what erasing them would do.
    statement, params = _audit(
        PSEUDONYM, [{"id": str(world["not_pats"].pk), "target_text": PSEUDONYM}]
    )

    with pytest.raises(DatabaseError, match="no erasure is under way"):
        _run(statement, params=params)
    for attempt in (
        "UPDATE audit_erasuresubject SET user_id = %s",
        "DELETE FROM audit_erasuresubject WHERE user_id <> %s",
    ):
        with pytest.raises(DatabaseError, match=REFUSED):
            _run(attempt, params=[staff.pk])
    with pytest.raises(DatabaseError, match="duplicate key"):
        _run(
            "INSERT INTO audit_erasuresubject (pseudonym, user_id, request_id, targets, "
            "recorded_at) VALUES (%s, %s, gen_random_uuid(), '[]', now())",
            params=[PSEUDONYM, staff.pk],
        )

    assert _snapshot() == before


def test_the_application_cannot_leave_an_erasure_mark(world):
    """A mark makes the verifier accept an event it can no longer check: only the erase
    function, which checks the event is about the person, leaves one."""
    with pytest.raises(DatabaseError, match="permission denied"):
        _run(
            "INSERT INTO audit_auditerasuremark (event_id, pseudonym, at) VALUES (%s, %s, now())",
            params=[world["not_pats"].pk, PSEUDONYM],
        )


def test_the_functions_ignore_look_alike_tables_the_application_creates(world):
    """The functions name their tables with the schema and search only pg_catalog: a temporary
    table of the same name, with a made-up erasure in it, is never read."""
    other = UserFactory(email="bystander@else.example")
    before = _snapshot()

    with pytest.raises(DatabaseError, match="no erasure is under way"):
        _run(
            "CREATE TEMP TABLE consent_datasubjectrequest "
            "(user_id bigint, pseudonym text, kind text, status text)",
            "INSERT INTO consent_datasubjectrequest "
            "VALUES (%s, 'erased-0123456789ab', 'erasure', 'erasing')",
            "CREATE TEMP TABLE audit_erasuresubject (pseudonym text, user_id bigint)",
            "INSERT INTO audit_erasuresubject VALUES ('erased-0123456789ab', %s)",
            "SELECT gatehouse_erase_consent_origin('erased-0123456789ab')",
            params=[other.pk],
        )

    assert _snapshot() == before


def test_the_functions_are_the_owners_with_a_fixed_search_path():
    _split_roles()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, pg_get_userbyid(proowner), prosecdef, proconfig FROM pg_proc "
            "WHERE proname = ANY(%s) ORDER BY proname",
            [list(db_roles.DEFINER_FUNCTIONS)],
        )
        rows = cursor.fetchall()

    assert [row[0] for row in rows] == sorted(db_roles.DEFINER_FUNCTIONS)
    for _, owner, definer, config in rows:
        assert owner == _owner()
        assert definer
        assert config == ["search_path=pg_catalog, pg_temp"]


def test_retention_purges_through_the_owners_function_only_what_is_due(world, settings):
    pat, staff = world["pat"], world["staff"]
    pat.erased_at = timezone.now() - timedelta(days=1100)
    pat.save()
    settings.GATEHOUSE_CONSENT_EVIDENCE_DAYS = 1095
    other = UserFactory(erased_at=timezone.now() - timedelta(days=10))
    services.record_consent(
        user=other,
        purpose=Purpose.objects.get(key="analytics", organization__isnull=True),
        decision="granted",
        method="api",
    )

    from consent import erasure

    assert erasure.purge_evidence() == 1
    assert not ConsentEvent.objects.filter(user=pat).exists()
    assert ConsentEvent.objects.filter(user__in=[other, staff]).count() == 2


# --- Defence in depth and repair ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_trigger_holds_and_migrate_repairs_a_grant_made_by_mistake(world):
    """Were the application granted UPDATE and DELETE by hand, the trigger would still refuse
    (only the owner's functions pass it), the deploy check would say so, and the next migrate
    takes the grant back."""
    app = connection.ops.quote_name(db_roles.app_role())
    with db_roles.as_owner(), connection.cursor() as cursor:
        cursor.execute(f"GRANT UPDATE, DELETE ON audit_auditevent, consent_consentevent TO {app}")
    before = _snapshot()

    for statements in (
        [
            "SET LOCAL gatehouse.evidence_change = 'rewrite'",
            "UPDATE audit_auditevent SET ip = NULL",
        ],
        ["SET LOCAL gatehouse.evidence_change = 'purge'", "DELETE FROM audit_auditevent"],
        ["SET LOCAL gatehouse.audit_maintenance = 'on'", "DELETE FROM consent_consentevent"],
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _run(*statements)
    assert _snapshot() == before
    assert any("may UPDATE audit_auditevent" in p for p in db_roles.privilege_problems())

    call_command("migrate", verbosity=0)

    assert db_roles.privilege_problems() == []


@pytest.mark.django_db(transaction=True)
def test_a_table_a_later_migration_creates_is_usable_without_a_grant():
    _split_roles()
    with db_roles.as_owner(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE gatehouse_later (id bigint GENERATED BY DEFAULT AS IDENTITY "
            "PRIMARY KEY, note text)"
        )
    try:
        _run(
            "INSERT INTO gatehouse_later (note) VALUES ('a')",
            "UPDATE gatehouse_later SET note = 'b'",
            "DELETE FROM gatehouse_later",
        )
        with pytest.raises(DatabaseError, match="permission denied"):
            _run("TRUNCATE gatehouse_later")
    finally:
        with db_roles.as_owner(), connection.cursor() as cursor:
            cursor.execute("DROP TABLE gatehouse_later")


def test_without_an_owner_role_nothing_switches(settings):
    settings.GATEHOUSE_DATABASE_OWNER = None

    with db_roles.as_owner() as owner:
        assert not owner
        assert not db_roles.roles_are_split()
