"""What a stream sends for an event: Gatehouse's JSON record with the event's chain place,
OCSF events that validate against the vendored schemas (ocsf/README.md), RFC 5424 messages
with the action as MSGID (T15), and the Datadog timestamp rule (T16)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from audit.actions import Action
from audit.chain.models import AuditSeal
from audit.streams import formats, source
from audit.streams.transports import Batch, Destination, Entry, datadog, splunk_hec, syslog_tls
from tests.audit.helpers import event
from tests.audit.streams.conftest import seal
from tests.audit.streams.receivers import concatenated_objects, parse_message, split_frames
from tests.factories import UserFactory

OCSF = Path(__file__).parent / "ocsf"
SCHEMAS = {
    name: json.loads((OCSF / f"{name}.json").read_text())
    for name in ("_base", "base_event", "authentication", "account_change")
}
REGISTRY = Registry().with_resources(
    (f"{name}.json", Resource.from_contents(doc)) for name, doc in SCHEMAS.items()
)
BY_CLASS = {0: "base_event", 3002: "authentication", 3001: "account_change"}


def validate(doc: dict) -> None:
    schema = SCHEMAS[BY_CLASS[doc["class_uid"]]]
    Draft202012Validator(schema, registry=REGISTRY).validate(doc)
    assert doc["type_uid"] == doc["class_uid"] * 100 + doc["activity_id"]


def sealed_items(org) -> list[formats.Item]:
    seal()
    return source.read_after(org.pk, 0)


def test_the_json_record_carries_the_event_its_people_by_public_id_and_its_chain_place(world):
    person = UserFactory(email="pat@acme.example")
    first = event(world.a, action="login.succeeded", actor=person, ip="203.0.113.9")
    second = event(world.a, action="user.blocked", target_type="user", target_id=str(person.pk))
    items = {i.event.id: i for i in sealed_items(world.a)}
    users = formats.public_user_ids(i.event for i in items.values())
    login, blocked = formats.record(items[first.id], users), formats.record(items[second.id], users)
    seal_row = AuditSeal.objects.get(event_id=first.id)
    assert login["id"] == str(first.id)
    assert login["action"] == "login.succeeded"
    assert login["actor"] == {"id": str(person.public_id), "text": first.actor_text}
    assert login["ip"] == "203.0.113.9"
    assert login["organization_id"] == world.a.pk
    assert login["chain"] == {
        "position": seal_row.position,
        "hash": bytes(seal_row.chain_hash).hex(),
    }
    assert blocked["target"]["id"] == str(person.public_id)  # never the internal key
    assert blocked["chain"]["position"] == AuditSeal.objects.get(event_id=second.id).position
    assert "test" not in login


@pytest.mark.parametrize(
    ("action", "outcome", "class_uid", "activity_id"),
    [
        ("login.succeeded", "success", 3002, 1),
        ("login.failed", "failure", 3002, 1),
        ("sso.login_succeeded", "success", 3002, 1),
        ("mfa.verified", "success", 3002, 1),
        ("logout", "success", 3002, 2),
        ("oauth.logout", "success", 3002, 2),
        ("user.signed_up", "success", 3001, 1),
        ("scim.user_provisioned", "success", 3001, 1),
        ("user.unblocked", "success", 3001, 2),
        ("password.changed", "success", 3001, 3),
        ("password.reset", "success", 3001, 4),
        ("user.blocked", "success", 3001, 5),
        ("scim.user_deactivated", "success", 3001, 5),
        ("privacy.user_erased", "success", 3001, 6),
        ("mfa.device_added", "success", 3001, 10),
        ("mfa.device_removed", "success", 3001, 11),
        ("org.member_removed", "success", 0, 0),
        ("audit.stream_created", "success", 0, 0),
    ],
)
def test_ocsf_output_validates_and_maps_each_action_to_its_class(
    world, action, outcome, class_uid, activity_id
):
    person = UserFactory(email="sam@acme.example")
    made = event(
        world.a,
        action=action,
        outcome=outcome,
        actor=person,
        ip="198.51.100.7",
        target_type="user",
        target_id=str(person.pk),
        target_text=person.email,
    )
    item = next(i for i in sealed_items(world.a) if i.event.id == made.id)
    doc = formats.ocsf(item, formats.public_user_ids([made]))
    validate(doc)
    assert (doc["class_uid"], doc["activity_id"]) == (class_uid, activity_id)
    assert doc["status_id"] == (1 if outcome == "success" else 2)
    assert doc["time"] == int(made.occurred_at.timestamp() * 1000)
    assert doc["metadata"]["version"] == formats.OCSF_VERSION
    assert doc["unmapped"]["chain"]["position"] == item.position  # nothing is dropped
    if class_uid == 3002:
        assert doc["service"]["name"] == "Gatehouse"  # T14: service on every Authentication
        assert doc["user"]["uid"] == str(person.public_id)
        assert doc.get("is_mfa") is (True if action.startswith("mfa.") else None)
    if class_uid == 3001:
        assert doc["user"] == {
            "uid": str(person.public_id),
            "email_addr": person.email,
            "name": person.email,
        }
    if class_uid == 0:
        assert doc["unmapped"]["action"] == action


def test_the_schemas_refuse_an_authentication_event_without_service_or_destination(world):
    made = event(world.a, action="login.succeeded")
    doc = formats.ocsf(next(i for i in sealed_items(world.a) if i.event.id == made.id))
    validate(doc)
    del doc["service"]
    with pytest.raises(Exception, match=r"service|dst_endpoint|not valid"):
        validate(doc)


def test_every_action_fits_a_syslog_msgid():
    """T15: MSGID is at most 32 printable ASCII characters; a longer action would be cut."""
    too_long = [a for a in Action.values if len(a) > 32 or not a.isascii() or " " in a]
    assert too_long == []
    assert syslog_tls.msgid("audit.stream_created") == "audit.stream_created"
    assert syslog_tls.msgid("x" * 40) == "x" * 32


def _entries(count: int, *, when: datetime, failed: bool = False) -> list[Entry]:
    return [
        Entry(record={"n": n, "text": "é"}, occurred_at=when, action="login.failed", failed=failed)
        for n in range(count)
    ]


def test_syslog_frames_are_octet_counted_rfc5424_messages():
    when = datetime(2026, 12, 5, 10, 0, 1, 250000, tzinfo=UTC)
    entries = _entries(2, when=when, failed=True)
    data = b"".join(syslog_tls.frame(syslog_tls.message(e, "gatehouse.example")) for e in entries)
    frames = split_frames(data)
    assert len(frames) == 2
    first = parse_message(frames[0])
    assert first.pri == 13 * 8 + 4  # log audit, warning for a failure
    assert first.timestamp == "2026-12-05T10:00:01.250000Z"
    assert (first.hostname, first.app, first.msgid, first.structured_data) == (
        "gatehouse.example",
        "gatehouse",
        "login.failed",
        "-",
    )
    assert first.record == {"n": 0, "text": "é"}  # the count is of bytes, not characters


def test_a_hec_batch_is_event_objects_one_after_another_not_an_array():
    """T24."""
    when = datetime(2026, 12, 5, 10, 0, 1, 250000, tzinfo=UTC)
    body = splunk_hec.body_of(Batch(entries=_entries(3, when=when), batch_id="1-1-3"))
    assert not body.lstrip().startswith(b"[")
    objects = concatenated_objects(body)
    assert [o["event"]["n"] for o in objects] == [0, 1, 2]
    assert objects[0]["time"] == when.timestamp()  # epoch seconds, milliseconds as decimals
    assert str(objects[0]["time"]).endswith(".25")
    assert objects[0]["sourcetype"] == "gatehouse:audit"


def test_datadog_logs_older_than_17_hours_go_without_a_timestamp():
    """T16: Datadog refuses timestamps more than 18 hours old; intake time is used instead."""
    now = datetime.now(UTC)
    fresh = _entries(1, when=now - timedelta(hours=1))
    stale = _entries(1, when=now - timedelta(hours=20))
    target = Destination(
        kind="datadog", stream_id="s", organization_id=1, datadog_site="datadoghq.eu"
    )
    logs = datadog.logs_of(target, Batch(entries=fresh + stale, batch_id="b"))
    assert logs[0]["timestamp"] == int(fresh[0].occurred_at.timestamp() * 1000)
    assert "timestamp" not in logs[1]
    assert logs[1]["gatehouse"] == stale[0].record
    assert datadog.intake_url("datadoghq.eu") == "https://http-intake.logs.datadoghq.eu/api/v2/logs"


def test_the_destination_never_shows_its_credential():
    target = Destination(
        kind="splunk_hec", stream_id="s", organization_id=1, credential="hec-secret"
    )
    assert "hec-secret" not in repr(target)
