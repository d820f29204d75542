"""After erasure, no trace: every text column of every table is read back and searched, in Python,
for Pat's addresses (current, secondary and former), names (current and former, one of them not
ASCII) and IP address. Python, not SQL: SQLite keeps JSON with \\u escapes and lowercases only
ASCII, so a LIKE scan would pass without looking. Sessions are decoded, JSON is re-read. Bobby,
the bystander, must come through with his own data intact."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp_webauthn.models import WebAuthnUserHandle

from accounts.models import User
from audit.models import AuditEvent
from consent.erasure import job
from consent.models import ConsentEvent, DataSubjectRequest
from tests.consent.world import (
    BYSTANDER_EMAIL,
    BYSTANDER_IP,
    BYSTANDER_NAME,
    FRIEND_EMAIL,
    PERSON_ALT,
    PERSON_EMAIL,
    PERSON_IP,
    PERSON_UA,
    build_world,
)

FORMER_EMAIL = "pat.former@person.example"
NEW_NAME = "Zoë Pat-Person"
OLD_NAME = "Pat Person"
SHOUTED = "PAT@Person.Example"  # the address as a stranger typed it at a failed login


def _texts(value: Any) -> list[str]:
    """A column's value as the strings to search: JSON text is read and written back without
    escapes, so "Zo\\u00eb" is found as "Zoë"."""
    if value is None or isinstance(value, bytes | memoryview | int | float | bool):
        return []
    text = str(value)
    found = [text]
    if text[:1] in '{["':
        with contextlib.suppress(ValueError):
            found.append(json.dumps(json.loads(text), ensure_ascii=False))
    return found


def _session_texts(table: str, row: dict[str, Any]) -> list[str]:
    if table != "django_session":
        return []
    decoded = DatabaseSessionStore().decode(row["session_data"])
    return [json.dumps(decoded, ensure_ascii=False, default=str)]


def scan(needles: list[str]) -> dict[str, set[str]]:
    """``{needle: {"table.column", ...}}`` for every needle found anywhere in the database."""
    folded = {needle: needle.casefold() for needle in needles}
    hits: dict[str, set[str]] = {needle: set() for needle in needles}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 (table names from introspection)
            columns = [c[0] for c in cursor.description]
            for values in cursor.fetchall():
                row = dict(zip(columns, values, strict=True))
                extra = _session_texts(table, row)
                for column, value in row.items():
                    for text in _texts(value) + (extra if column == "session_data" else []):
                        haystack = text.casefold()
                        for needle, fold in folded.items():
                            if fold in haystack:
                                hits[needle].add(f"{table}.{column}")
    return {needle: where for needle, where in hits.items() if where}


def scan_cache(needles: list[str]) -> list[str]:
    """Keys and values in the shared cache (Redis in CI: sessions, throttles) naming Pat."""
    client = getattr(cache, "client", None)
    if client is None:  # the local-memory cache of a laptop run
        return []
    found: list[str] = []
    raw = client.get_client()
    for key in raw.scan_iter(match=f"*{settings.CACHES['default'].get('KEY_PREFIX', '')}*"):
        try:
            value = cache.get(key.decode().split(":", 2)[-1])
        except Exception:  # noqa: BLE001 - the scan reads raw whatever the cache cannot decode
            value = raw.get(key)
        text = f"{key!r} {json.dumps(value, ensure_ascii=False, default=str)}".casefold()
        found.extend(needle for needle in needles if needle.casefold() in text)
    return found


@pytest.fixture
def world(published):
    world = build_world()
    pat, client = world.person, world.client
    # A former address, known now only to the audit log: added, made primary, then dropped.
    EmailAddress.objects.create(user=pat, email=FORMER_EMAIL, verified=True, primary=False)
    assert (
        client.post("/accounts/email/", {"email": FORMER_EMAIL, "action_primary": ""}).status_code
        == 302
    )
    assert (
        client.post("/accounts/email/", {"email": PERSON_EMAIL, "action_primary": ""}).status_code
        == 302
    )
    assert (
        client.post("/accounts/email/", {"email": FORMER_EMAIL, "action_remove": ""}).status_code
        == 302
    )
    # A new name, the old one kept in the audit log's profile change.
    assert client.post("/account/", {"display_name": NEW_NAME}).status_code == 302
    # A stranger types the address in capitals.
    Client(REMOTE_ADDR="203.0.113.9").post(
        "/accounts/login/", {"login": SHOUTED, "password": "wrong"}
    )
    # An export (its request, its archive and its email), an emailed-code factor, a passkey
    # handle, and a staff edit of Pat in the admin's change log.
    assert client.post("/account/privacy/export/").status_code == 302
    EmailDevice.objects.create(user=pat, name="Pat's inbox", email=PERSON_ALT, confirmed=True)
    WebAuthnUserHandle.objects.create(user=pat, handle_hex="ab" * 32)
    LogEntry.objects.create(
        user=world.bystander,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(pat.pk),
        object_repr=str(pat),
        action_flag=CHANGE,
        change_message=json.dumps([{"changed": {"fields": ["Display name"]}}]),
        action_time=timezone.now(),
    )
    pat.refresh_from_db()
    assert pat.display_name == NEW_NAME
    assert pat.email == PERSON_EMAIL
    return world


def _bobbys_rows(bobby) -> list[tuple]:
    """Everything Bobby did, as the log says: who, what, when, from where, in which
    organization. (Where Bobby acted on Pat, Pat's address in the row goes; Bobby's stays.)"""
    return list(
        AuditEvent.objects.filter(actor=bobby)
        .order_by("occurred_at", "id")
        .values_list(
            "id", "action", "actor_text", "ip", "user_agent", "occurred_at", "organization_id"
        )
    )


NEEDLES = [PERSON_EMAIL, PERSON_ALT, FORMER_EMAIL, NEW_NAME, OLD_NAME, PERSON_IP, PERSON_UA]


def test_after_erasure_no_column_of_any_table_names_the_person(world):
    pat, bobby = world.person, world.bystander
    before = scan(NEEDLES)
    # The scan can see: before erasure Pat is all over the database.
    assert {"accounts_user.email", "account_emailaddress.email"} <= before[PERSON_EMAIL]
    assert "audit_auditevent.data" in before[FORMER_EMAIL]
    assert "audit_auditevent.actor_text" in before[PERSON_EMAIL]
    assert "audit_auditevent.data" in before[OLD_NAME]
    assert "accounts_user.display_name" in before[NEW_NAME]
    assert "organizations_invitation.email" in before[PERSON_EMAIL]
    assert "accounts_outboundemail.to" in before[PERSON_EMAIL]
    assert "accounts_outboundemail.subject" in before[NEW_NAME] | before[OLD_NAME]
    assert "django_admin_log.object_repr" in before[PERSON_EMAIL]
    assert "consent_consentevent.ip" in before[PERSON_IP]
    assert "audit_auditevent.user_agent" in before[PERSON_UA]
    assert len({where for hits in before.values() for where in hits}) >= 15
    if settings.SESSION_ENGINE.endswith(".db"):  # a laptop run: sessions in the database
        assert "django_session.session_data" in before[PERSON_EMAIL]
    if hasattr(cache, "client"):  # Redis: Pat's sessions live there, and name Pat
        assert PERSON_EMAIL in scan_cache(NEEDLES)
    bobby_before = scan([BYSTANDER_EMAIL, BYSTANDER_NAME, BYSTANDER_IP])
    friend_before = scan([FRIEND_EMAIL])[FRIEND_EMAIL]
    assert "audit_auditevent.data" in friend_before  # Pat invited the friend
    # Bobby's invitation email to Pat names Bobby; it goes with Pat's emails.
    bobby_before[BYSTANDER_NAME].discard("accounts_outboundemail.subject")
    bobby_rows = _bobbys_rows(bobby)

    DataSubjectRequest.objects.create(
        user=pat,
        kind="erasure",
        status="scheduled",
        scheduled_for=timezone.now(),
    )
    request = DataSubjectRequest.objects.get(user=pat, kind="erasure")
    mail.outbox.clear()
    assert job.erase(request.pk) == "erased"
    assert job.erase(request.pk) == "skipped"  # twice is harmless

    assert scan(NEEDLES) == {}
    # Throttle counters keyed by client address (at most an hour, tied to no account) are
    # the cache's only mention of Pat's IP; nothing there names Pat.
    assert scan_cache([n for n in NEEDLES if n != PERSON_IP]) == []
    # Bobby's own records are where they were.
    assert scan([BYSTANDER_EMAIL, BYSTANDER_NAME, BYSTANDER_IP]) == bobby_before
    assert _bobbys_rows(bobby) == bobby_rows
    # The friend Pat invited keeps their invitation, their email and the record of both.
    assert scan([FRIEND_EMAIL])[FRIEND_EMAIL] == friend_before
    # The completion email went to Pat's verified addresses, and its record forgot them.
    assert sorted(m.to[0] for m in mail.outbox) == sorted([PERSON_EMAIL, PERSON_ALT])
    tombstone = User.objects.get(pk=pat.pk)
    assert tombstone.erased_at is not None
    assert tombstone.email.endswith("@erased.invalid")
    # What remains still reads: Pat's audit trail and consent evidence, under the pseudonym.
    request.refresh_from_db()
    assert request.status == "completed"
    assert request.identifiers is None
    trail = AuditEvent.objects.filter(actor_id=pat.pk)
    assert trail.count() > 5
    assert all(request.pseudonym in e.actor_text for e in trail)
    assert ConsentEvent.objects.filter(user=pat).count() >= 3
    # The IP addresses Pat used are cut to their network.
    assert set(trail.exclude(ip=None).values_list("ip", flat=True)) == {"192.0.2.0"}
