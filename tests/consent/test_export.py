"""Data export: asked for on the privacy page, built by a task, announced by email, downloaded
once from a page that spends nothing on GET. The zip holds every section and a verifying receipt
per consent decision, and nobody else's data; the stored archive is encrypted; links are
single-use, expire, and answer every misuse with the same 404."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, models
from django.test import Client
from django.utils import timezone

from accounts.models import OutboundEmail
from audit.models import AuditEvent
from consent import keys, receipts, services, tasks
from consent.addresses import proven_addresses
from consent.export import audit_trail, job, requesting
from consent.export.archive import FORMAT_VERSION, build_zip, decrypt_archive
from consent.export.download import expire
from consent.export.sections import NOT_EXPORTED, SECTIONS
from consent.models import ConsentEvent, DataSubjectRequest, ExportArchive
from tests.conftest import path_of
from tests.consent.world import (
    ATTACKER_IP,
    ATTACKER_UA,
    BYSTANDER_EMAIL,
    BYSTANDER_IP,
    BYSTANDER_NAME,
    BYSTANDER_UA,
    FRIEND_EMAIL,
    PERSON_ALT,
    PERSON_EMAIL,
    accept_required,
    build_world,
    signed_in,
)
from tests.factories import UserFactory

PRIVACY = "/account/privacy/"
REQUEST = "/account/privacy/export/"

SECTION_FILES = {f"{section.name}.json" for section in SECTIONS}


def export_link() -> str:
    [link] = [
        path_of(url)
        for url in re.findall(r"https?://[^\s\"'<>]+", str(mail.outbox[-1].body))
        if "/account/privacy/exports/" in url
    ]
    return link


def unzip(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def person(published):
    pat = UserFactory(email=PERSON_EMAIL, display_name="Pat Person")
    accept_required(pat)
    return pat


@pytest.fixture
def client(person) -> Client:
    return signed_in(person, HTTP_USER_AGENT="PatBrowser/1.0")


@pytest.fixture
def link(client, person) -> str:
    mail.outbox.clear()
    assert client.post(REQUEST)["Location"] == PRIVACY
    return export_link()


@pytest.fixture
def world(published) -> SimpleNamespace:
    return build_world()


# --- The whole path ------------------------------------------------------------------------------


def test_request_email_confirm_page_and_download_of_every_section(world):
    pat, client = world.person, world.client
    mail.outbox.clear()

    response = client.post(REQUEST)

    assert response["Location"] == PRIVACY
    [message] = mail.outbox
    assert message.to == [PERSON_EMAIL]
    assert "expires" in message.body
    link = export_link()
    request = DataSubjectRequest.objects.get(user=pat, kind="export")
    assert request.status == "ready"
    assert request.download_token_hash
    assert link.split("/")[-2] not in request.download_token_hash, "only the hash is stored"
    assert AuditEvent.objects.filter(action="privacy.export_requested", actor=pat).exists()
    assert AuditEvent.objects.filter(action="privacy.export_ready").exists()
    assert 'id="export-status"' in client.get(PRIVACY).content.decode()

    # A mail scanner (or the person) may open the link any number of times: nothing is spent.
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200
        assert b'id="export-download"' in page.content
    request.refresh_from_db()
    assert request.status == "ready"
    assert request.downloaded_at is None

    download = client.post(link)

    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert re.fullmatch(
        r'attachment; filename="gatehouse-export-\d{4}-\d{2}-\d{2}\.zip"',
        download["Content-Disposition"],
    )
    files = unzip(download.content)
    request.refresh_from_db()
    assert request.status == "downloaded"
    assert request.downloaded_at is not None
    assert not ExportArchive.objects.exists(), "Gatehouse's copy is gone once downloaded"
    assert AuditEvent.objects.filter(action="privacy.export_downloaded", actor=pat).exists()

    # The manifest vouches for every other file.
    manifest = json.loads(files["manifest.json"])
    assert manifest["subject"] == str(pat.public_id)
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["generated_at"]
    assert set(manifest["files"]) == set(files) - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == digest, name
    assert {"README.txt", *SECTION_FILES} <= set(files)

    # One receipt per consent decision, each verifying against the published keys.
    events = ConsentEvent.objects.filter(user=pat)
    assert events.count() >= 3
    jwks = keys.jwks()
    for event in events:
        claims = receipts.verify(files[f"receipts/{event.public_id}.jwt"].decode(), jwks)
        assert claims["jti"] == str(event.public_id)
        assert claims["sub"] == str(pat.public_id)
    assert len([n for n in files if n.startswith("receipts/")]) == events.count()

    data = {name[:-5]: json.loads(files[name]) for name in SECTION_FILES}
    assert data["user"]["email"] == PERSON_EMAIL
    assert data["user"]["display_name"] == "Pat Person"
    assert {a["email"] for a in data["email_addresses"]} == {PERSON_EMAIL, PERSON_ALT}
    [membership] = data["memberships"]
    assert membership["organization"] == {"name": "Acme", "slug": "acme"}
    assert membership["role"] == "admin"
    assert membership["source"] == "invitation"
    [invitation] = data["invitations"]
    assert invitation["state"] == "accepted"
    assert invitation["organization"]["slug"] == "acme"
    assert "token_hash" not in invitation
    assert "invited_by" not in invitation
    assert data["sessions"]
    assert all("session_key" not in s for s in data["sessions"])
    assert {"ip", "user_agent", "created_at", "last_seen_at"} <= set(data["sessions"][0])
    assert {(d["kind"], d["name"]) for d in data["mfa_devices"]} == {("totp", "Pat's phone")}
    [identity] = data["linked_identities"]
    assert identity["uid"] == "pat-1234"
    assert identity["extra_data"] == {"given_name": "Pat"}
    assert {e["purpose"]["key"] for e in data["consent"]["events"]} >= {
        "terms",
        "privacy",
        "marketing_email",
    }
    assert any(s["purpose"]["key"] == "marketing_email" for s in data["consent"]["current"])
    assert [r["kind"] for r in data["data_requests"]] == ["export"]
    assert {e["template"] for e in data["outbound_email"]} >= {"organizations/email/invitation"}
    assert all("text_body" not in e and "html_body" not in e for e in data["outbound_email"])
    actions = {e["action"] for e in data["audit_events"]}
    assert {
        "login.failed",
        "org.member_role_changed",
        "org.invitation_sent",
        "privacy.export_requested",
    } <= actions

    # Events others performed say what happened, not who did it or from where.
    [failed] = [e for e in data["audit_events"] if e["action"] == "login.failed"]
    assert failed["actor"] == audit_trail.SIGNING_IN_AS_YOU
    assert failed["ip"] is None
    assert failed["user_agent"] == ""
    [role] = [e for e in data["audit_events"] if e["action"] == "org.member_role_changed"]
    assert role["actor"] == "organization admin"
    assert role["ip"] is None
    mine = [e for e in data["audit_events"] if e["actor"] == "you"]
    assert mine
    assert any(e["user_agent"] == "PatBrowser/1.0" for e in mine)

    # Nothing of the bystander's anywhere: not their address, name, id, address or browser.
    everything = b"\n".join(files.values()).decode()
    for secret in (
        BYSTANDER_EMAIL,
        BYSTANDER_NAME,
        "Bobby",
        str(world.bystander.public_id),
        BYSTANDER_IP,
        BYSTANDER_UA,
        ATTACKER_IP,
        ATTACKER_UA,
        FRIEND_EMAIL,
    ):
        assert secret not in everything, secret
    for event in ConsentEvent.objects.filter(user=world.bystander):
        assert str(event.public_id) not in everything
    # Nor any factor secret.
    assert world.device.key not in everything


def test_every_model_holding_a_persons_data_is_exported_or_excluded_on_purpose():
    """A new model that points at a user, or keeps an email address, must join a section of
    the export (and so the erasure that walks the same list) or say why it stays out."""
    covered = {label for section in SECTIONS for label in section.covers}
    assert not covered & set(NOT_EXPORTED)
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    missing = []
    for model in apps.get_models(include_auto_created=True):
        points_at_user = any(
            field.is_relation and field.related_model is user_model
            for field in model._meta.concrete_fields
        )
        has_address = any(isinstance(f, models.EmailField) for f in model._meta.concrete_fields)
        if (points_at_user or has_address or model is user_model) and (
            model._meta.label not in covered | set(NOT_EXPORTED)
        ):
            missing.append(model._meta.label)
    assert missing == []


def test_erasure_has_an_answer_for_every_model_the_export_knows():
    from consent.erasure.removal import WHAT_HAPPENS

    known = {label for section in SECTIONS for label in section.covers}
    assert set(WHAT_HAPPENS) == known | set(NOT_EXPORTED)


def test_the_zip_is_encrypted_at_rest(client, person, link):
    archive = ExportArchive.objects.get(request__user=person)
    stored = bytes(archive.data)
    assert PERSON_EMAIL.encode() not in stored
    assert b"PK\x03\x04" not in stored
    plain = decrypt_archive(stored)
    assert plain.startswith(b"PK\x03\x04")
    assert hashlib.sha256(plain).hexdigest() == archive.sha256
    assert archive.size == len(plain)


# --- Single use, and the same 404 for every misuse ---------------------------------------------


def test_the_link_works_once(client, link):
    assert client.post(link).status_code == 200
    assert client.post(link).status_code == 404
    assert client.get(link).status_code == 404


@pytest.mark.parametrize(
    "token",
    ["wrong-token", "x" * 500, "%00", "..", "a%2Fb", "<script>", "' OR 1=1 --"],
)
def test_a_wrong_or_malformed_token_is_a_404_and_spends_nothing(client, person, link, token):
    public_id = link.split("/")[-3]
    bad = f"/account/privacy/exports/{public_id}/{token}/"
    assert client.get(bad).status_code == 404
    assert client.post(bad).status_code == 404
    request = DataSubjectRequest.objects.get(user=person, kind="export")
    assert request.status == "ready"
    assert request.downloaded_at is None
    assert client.post(link).status_code == 200


def test_a_malformed_request_id_is_a_404(client, link):
    token = link.split("/")[-2]
    assert client.get(f"/account/privacy/exports/not-a-uuid/{token}/").status_code == 404
    assert client.post(f"/account/privacy/exports/{'0' * 32}/{token}/").status_code == 404


def test_someone_else_signed_in_gets_the_same_404_and_spends_nothing(client, person, link):
    someone = UserFactory(email="other@else.example")
    accept_required(someone)
    other = signed_in(someone)
    assert other.get(link).status_code == 404
    assert other.post(link).status_code == 404
    assert DataSubjectRequest.objects.get(user=person).downloaded_at is None
    assert ExportArchive.objects.count() == 1
    assert client.post(link).status_code == 200


def test_an_expired_link_is_a_404(client, person, link):
    DataSubjectRequest.objects.filter(user=person).update(
        download_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(link).status_code == 404
    assert client.post(link).status_code == 404
    assert DataSubjectRequest.objects.get(user=person).downloaded_at is None


def test_signed_out_the_link_asks_to_sign_in_first(link):
    response = Client().get(link)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_without_a_recent_sign_in_the_link_asks_to_step_up_and_spends_nothing(person, link):
    stale = Client()
    stale.force_login(person)  # a session with no recent authentication on record
    for method in (stale.get, stale.post):
        response = method(link)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/security/verify/")
    assert DataSubjectRequest.objects.get(user=person).status == "ready"


# --- Requests, retries, limits, expiry ---------------------------------------------------------


def test_one_open_export_at_a_time(client, person, link):
    mail.outbox.clear()
    assert client.post(REQUEST)["Location"] == PRIVACY
    assert DataSubjectRequest.objects.filter(user=person, kind="export").count() == 1
    assert mail.outbox == []


def test_a_concurrent_request_that_loses_the_race_gets_the_open_one(person):
    mail.outbox.clear()
    first = requesting.request_export(user=person)
    with mock.patch.object(requesting, "open_export", side_effect=[None, first]):
        second = requesting.request_export(user=person)
    assert second.pk == first.pk
    assert DataSubjectRequest.objects.filter(user=person).count() == 1
    with (
        mock.patch.object(requesting, "open_export", return_value=None),
        pytest.raises(IntegrityError),
    ):
        requesting.request_export(user=person)


def test_a_request_whose_build_was_lost_gives_way_to_a_new_one(person):
    with mock.patch.object(tasks.build_export, "delay"):  # the broker loses the task
        lost = requesting.request_export(user=person)
    assert requesting.request_export(user=person).pk == lost.pk, "still pending: the same one"
    DataSubjectRequest.objects.filter(pk=lost.pk).update(
        requested_at=timezone.now() - requesting.STALE_AFTER - timedelta(minutes=1)
    )

    fresh = requesting.request_export(user=person)

    assert fresh.pk != lost.pk
    lost.refresh_from_db()
    assert lost.status == "failed"
    assert lost.last_error == "never built"
    fresh.refresh_from_db()
    assert fresh.status == "ready"


def test_running_the_task_twice_builds_one_archive_and_sends_one_email(person, link):
    request = DataSubjectRequest.objects.get(user=person)
    assert tasks.build_export(request.pk) == "skipped"
    assert tasks.build_export.delay(request.pk).get() == "skipped"
    assert ExportArchive.objects.count() == 1
    assert OutboundEmail.objects.filter(template=job.EMAIL_TEMPLATE).count() == 1
    assert tasks.build_export(987654) == "skipped"


def test_at_most_three_requests_a_day(client, person):
    for _ in range(requesting.REQUESTS_PER_DAY):
        assert client.post(REQUEST)["Location"] == PRIVACY
        DataSubjectRequest.objects.filter(user=person, status="ready").update(status="downloaded")

    refused = client.post(REQUEST, follow=True)

    assert "3 times a day" in refused.content.decode()
    assert DataSubjectRequest.objects.filter(user=person).count() == requesting.REQUESTS_PER_DAY
    # A day later it works again.
    DataSubjectRequest.objects.filter(user=person).update(
        requested_at=timezone.now() - timedelta(days=1, minutes=1)
    )
    assert client.post(REQUEST)["Location"] == PRIVACY
    assert DataSubjectRequest.objects.filter(user=person, status="ready").count() == 1


def test_expire_flips_the_status_and_deletes_the_archive(client, person, link):
    request = DataSubjectRequest.objects.get(user=person)
    assert tasks.expire_exports() == 0
    DataSubjectRequest.objects.filter(pk=request.pk).update(
        download_expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert tasks.expire_exports() == 1

    request.refresh_from_db()
    assert request.status == "expired"
    assert not ExportArchive.objects.exists()
    assert client.get(link).status_code == 404
    assert expire() == 0


def test_a_link_that_ran_out_does_not_block_a_new_request(client, person, link):
    DataSubjectRequest.objects.filter(user=person).update(
        download_expires_at=timezone.now() - timedelta(minutes=1)
    )
    mail.outbox.clear()
    assert client.post(REQUEST)["Location"] == PRIVACY
    statuses = sorted(
        DataSubjectRequest.objects.filter(user=person).values_list("status", flat=True)
    )
    assert statuses == ["expired", "ready"]
    assert len(mail.outbox) == 1
    assert ExportArchive.objects.count() == 1


def test_an_archive_over_the_size_limit_is_refused(settings, client, person):
    settings.GATEHOUSE_EXPORT_MAX_BYTES = 100
    mail.outbox.clear()
    client.post(REQUEST)
    request = DataSubjectRequest.objects.get(user=person)
    assert request.status == "failed"
    assert "size limit" in request.last_error
    assert not ExportArchive.objects.exists()
    assert mail.outbox == []
    # A failed export does not hold the one open slot.
    settings.GATEHOUSE_EXPORT_MAX_BYTES = 50 * 1024 * 1024
    client.post(REQUEST)
    assert DataSubjectRequest.objects.filter(user=person, status="ready").count() == 1


def test_requesting_needs_a_post_and_a_signed_in_person(client):
    assert client.get(REQUEST).status_code == 405
    response = Client().post(REQUEST)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert not DataSubjectRequest.objects.exists()


def test_sessions_rows_exist_for_the_person(client, person):
    # The sessions section has something to export for anyone signed in.
    assert UserSession.objects.filter(user=person).exists()


def everything_in(archive: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return "\n".join(z.read(name).decode() for name in z.namelist())


def test_an_unverified_address_brings_in_nothing_of_its_real_owner():
    """Anyone can add a stranger's address and leave it unverified: the export matches only
    addresses the person proved, so the stranger's failed logins and mail stay out."""
    mallory = UserFactory(email="mallory@example.com")
    EmailAddress.objects.create(user=mallory, email="victim@corp.example", verified=False)
    Client().post("/accounts/login/", {"login": "victim@corp.example", "password": "wrong-1"})
    OutboundEmail.objects.create(to="victim@corp.example", subject="Secret", template="x")
    assert proven_addresses(mallory) == ["mallory@example.com"]
    with zipfile.ZipFile(io.BytesIO(build_zip(mallory))) as z:
        files = {name: z.read(name).decode() for name in z.namelist()}
    # Her own address rows list what she added (unverified); nothing else names it.
    holding = sorted(name for name, text in files.items() if "victim@corp.example" in text)
    assert len(holding) == 1, holding
    assert "email" in holding[0], holding
    everything = "\n".join(files.values())
    assert "Secret" not in everything
    assert "login.failed" not in everything


def test_what_someone_did_to_another_person_leaves_that_persons_details_out():
    from accounts.services import update_profile
    from audit.actions import Action
    from audit.services import record

    staff = UserFactory(email="agent@example.com", is_staff=True)
    carol = UserFactory(email="carol@example.com")
    update_profile(user=carol, display_name="Carol Confidential")
    record(
        Action.USER_BLOCKED,
        actor=staff,
        target=carol,
        data={"reason": "chargeback fraud, phone 555-0100"},
    )
    text = everything_in(build_zip(staff))
    assert "user.blocked" in text  # the event is there, what it says about Carol is not
    assert "chargeback" not in text
    assert "Carol Confidential" not in text


def test_an_archive_that_can_no_longer_be_read_fails_clearly_and_frees_a_new_request(
    settings, client, person, link
):
    from cryptography.fernet import Fernet

    from config import encryption

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # the old key was dropped
    encryption._fernet.cache_clear()
    try:
        response = client.post(link)
    finally:
        encryption._fernet.cache_clear()
    assert response.status_code == 302
    assert response["Location"] == "/account/privacy/"
    assert b"can no longer be read" in client.get("/account/privacy/").content
    failed = DataSubjectRequest.objects.get(user=person)
    assert failed.status == "failed"
    assert not ExportArchive.objects.filter(request=failed).exists()
    assert client.post("/account/privacy/export/").status_code == 302
    assert DataSubjectRequest.objects.filter(user=person, status="ready").exists()


def test_consent_imported_with_the_persons_own_address_keeps_it_in_their_export(purposes):
    operator = UserFactory(email="crm-sync@example.com", is_staff=True)
    pat = UserFactory(email="pat.import@example.com")
    services.record_consent(
        user=pat,
        purpose=purposes["marketing_email"],
        decision="granted",
        method="import",
        actor=operator,
        occurred_at=timezone.now() - timedelta(days=3),
        ip="198.51.100.44",
        user_agent="Pat's phone",
    )
    [event] = json.loads(unzip(build_zip(pat))["consent.json"])["events"]
    assert event["ip"] == "198.51.100.44"
    assert event["user_agent"] == "Pat's phone"
    assert event["recorded_by"] == "someone else"
