"""The Log streams tab: an org admin creates each kind of stream, sees the HTTPS signing secret
once and a typed credential never again, changes, pauses, resumes and deletes streams (each
change audited, naming the kind and the fields, never the credential), and sends a test
message that shows the answer. Support staff read streams in the admin without the
credential."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.actions import Action
from audit.models import AuditEvent
from audit.streams.models import LogStream
from config.encryption import decrypt
from tests.audit.streams.conftest import drain, make_stream, seal
from tests.audit.streams.receivers import Answer, Later, hec, signed, throwaway_pki
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

NEW = "/orgs/acme/streams/new/"


@pytest.fixture
def admin_a(world) -> Client:
    return signed_in(world.a_admin)


def form(**fields) -> dict:
    return {"name": "SIEM", "kind": "https", "format": "json", "port": "", **fields}


def audited(action: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("occurred_at"))


def test_an_https_stream_shows_its_signing_secret_once(world, admin_a, http_receiver):
    receiver = http_receiver(lambda got: Answer(204))
    response = admin_a.post(NEW, form(url=receiver.url("/siem")))
    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    stream = LogStream.objects.get()
    secret = decrypt(stream.credential_encrypted)
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()
    for page in (f"/orgs/acme/streams/{stream.public_id}/", "/orgs/acme/streams/"):
        shown = admin_a.get(page)
        assert shown.status_code == 200
        assert secret not in shown.content.decode()
    created = audited(Action.AUDIT_STREAM_CREATED)
    assert len(created) == 1
    assert created[0].organization_id == world.a.pk
    assert created[0].data["kind"] == "https"
    assert secret not in str(created[0].data)


def test_a_typed_credential_is_kept_encrypted_and_never_shown(world, admin_a, http_receiver):
    receiver = http_receiver(hec("hec-token-xyz", []))
    response = admin_a.post(
        NEW, form(kind="splunk_hec", url=receiver.url("/"), credential="hec-token-xyz")
    )
    assert response.status_code == 302
    stream = LogStream.objects.get()
    assert "hec-token-xyz" not in stream.credential_encrypted
    assert decrypt(stream.credential_encrypted) == "hec-token-xyz"
    page = admin_a.get(response["Location"]).content.decode()
    assert "hec-token-xyz" not in page
    assert 'type="password"' in page


def test_a_change_is_audited_by_field_names_and_an_empty_credential_keeps_the_saved_one(
    world, admin_a, http_receiver
):
    receiver = http_receiver(hec("first", []))
    created = make_stream(world, kind="splunk_hec", url=receiver.url("/"), credential="first")
    detail = f"/orgs/acme/streams/{created.stream.public_id}/"
    response = admin_a.post(detail, form(name="Splunk", url=receiver.url("/"), format="ocsf"))
    assert response.status_code == 302
    stream = LogStream.objects.get()
    assert (stream.name, stream.format) == ("Splunk", "ocsf")
    assert decrypt(stream.credential_encrypted) == "first"
    admin_a.post(
        detail, form(name="Splunk", url=receiver.url("/"), format="ocsf", credential="second")
    )
    assert decrypt(LogStream.objects.get().credential_encrypted) == "second"
    changes = audited(Action.AUDIT_STREAM_UPDATED)
    assert [c.data["changed"] for c in changes] == [["name", "format"], ["credential"]]
    assert all(c.data["kind"] == "splunk_hec" for c in changes)
    assert "second" not in str([c.data for c in changes])


def test_pause_resume_and_delete_are_audited_and_flow_down_the_stream(
    world, admin_a, http_receiver
):
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge)
    created = make_stream(world, url=receiver.url("/siem"))
    judge.judge = signed(created.signing_secret, batches)
    base = f"/orgs/acme/streams/{created.stream.public_id}/"
    assert admin_a.post(base + "pause/").status_code == 302
    assert LogStream.objects.get().status == "paused"
    assert admin_a.post(base + "resume/").status_code == 302
    assert LogStream.objects.get().status == "active"
    seal()
    drain(created.stream)
    sent = [r["action"] for b in batches for r in b]
    # One test transaction wrote all three, so their order in the chain is the sealer's.
    assert sorted(sent) == ["audit.stream_created", "audit.stream_paused", "audit.stream_resumed"]
    assert admin_a.post(base + "delete/").status_code == 302
    assert not LogStream.objects.exists()
    assert len(audited(Action.AUDIT_STREAM_DELETED)) == 1
    assert admin_a.get(base).status_code == 404


def test_the_test_button_sends_one_marked_message_outside_the_place_and_shows_the_answer(
    world, admin_a, http_receiver
):
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge)
    created = make_stream(world, url=receiver.url("/siem"))
    judge.judge = signed(created.signing_secret, batches)
    test = f"/orgs/acme/streams/{created.stream.public_id}/test/"
    page = admin_a.post(test, follow=True).content.decode()
    assert "Test message sent. Delivered (HTTP 204)." in page
    assert len(batches) == 1
    [message] = batches[0]
    assert message["test"] is True
    assert message["action"] == "audit.stream_tested"
    assert "chain" not in message
    assert receiver.requests[0].headers["webhook-id"].startswith("test-")
    assert LogStream.objects.get().position == created.stream.position
    receiver.queued.append(Answer(500, b"receiver broke"))
    page = admin_a.post(test, follow=True).content.decode()
    assert "The test message was not delivered. HTTP 500: receiver broke" in page
    tested = audited(Action.AUDIT_STREAM_TESTED)
    assert [t.data["delivered"] for t in tested] == [True, False]
    assert tested[1].data["result"] == "HTTP 500: receiver broke"


def test_the_test_button_reaches_a_syslog_server(world, admin_a, syslog_receiver, tmp_path):
    pki = throwaway_pki(tmp_path)
    receiver = syslog_receiver(pki.server)
    created = make_stream(
        world, kind="syslog_tls", host="localhost", port=receiver.port, ca_pem=pki.ca_pem
    )
    admin_a.post(f"/orgs/acme/streams/{created.stream.public_id}/test/")
    [message] = receiver.messages
    assert message.msgid == "audit.stream_tested"
    assert message.record["test"] is True


BAD_INPUT = [
    (form(url="https://10.0.0.1/collect"), "url", "private or local address"),
    (form(url="https://169.254.169.254/latest"), "url", "private or local address"),
    (form(url="ftp://siem.example/"), "url", "https://"),
    (form(kind="syslog_tls", host="localhost", port="70000"), "port", "65535"),
    (form(kind="syslog_tls", host="localhost", port="0"), "port", "greater than or equal to 1"),
    (
        form(kind="syslog_tls", host="localhost", port="6514", ca_pem="not a certificate"),
        "ca_pem",
        "PEM",
    ),
    (
        form(
            kind="syslog_tls",
            host="localhost",
            port="6514",
            ca_pem="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
        ),
        "ca_pem",
        "could not be read",
    ),
    (form(kind="syslog_tls", host="10.1.2.3", port="6514"), "host", "private or local address"),
    (
        form(kind="datadog", datadog_site="evil.example", credential="k"),
        "datadog_site",
        "valid choice",
    ),
    (form(kind="datadog", datadog_site="", credential="k"), "datadog_site", "Datadog site"),
    (form(kind="splunk_hec", url="http://127.0.0.1:8088/"), "credential", "HEC token"),
    (form(name=""), "name", "required"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_INPUT)
def test_bad_input_is_a_form_error_and_writes_nothing(world, admin_a, data, field, message):
    response = admin_a.post(NEW, data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not LogStream.objects.exists()
    assert audited(Action.AUDIT_STREAM_CREATED) == []


def test_plain_http_is_refused_outside_the_test_switch(world, admin_a, loopback):
    loopback.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    response = admin_a.post(NEW, form(url="http://siem.example/collect"))
    assert response.status_code == 400
    assert "The URL must start with https://." in response.context["form"].errors["url"]
    assert not LogStream.objects.exists()


def test_an_org_admin_never_gets_the_operators_private_networks(world, admin_a, loopback):
    import ipaddress

    loopback.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    response = admin_a.post(NEW, form(url="https://10.0.0.1/collect"))
    assert response.status_code == 400
    assert not LogStream.objects.exists()


def test_a_bad_change_keeps_the_stream_as_it_was(world, admin_a, http_receiver):
    receiver = http_receiver(lambda got: Answer(204))
    created = make_stream(world, url=receiver.url("/siem"))
    response = admin_a.post(
        f"/orgs/acme/streams/{created.stream.public_id}/", form(name="New", url="https://10.0.0.1/")
    )
    assert response.status_code == 400
    stream = LogStream.objects.get()
    assert (stream.name, stream.url) == ("SIEM", receiver.url("/siem"))
    assert audited(Action.AUDIT_STREAM_UPDATED) == []


def test_support_reads_streams_in_the_admin_without_the_credential(world, http_receiver):
    receiver = http_receiver(hec("hec-admin-secret", []))
    created = make_stream(
        world, kind="splunk_hec", url=receiver.url("/"), credential="hec-admin-secret"
    )
    staff = force_login_verified(Client(), UserFactory(is_staff=True, is_superuser=True))
    page = staff.get(f"/admin/audit/logstream/{created.stream.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert receiver.url("/") in body
    assert "hec-admin-secret" not in body
    assert created.stream.credential_encrypted not in body
    listing = "/admin/audit/logstream/"
    assert staff.get(listing).status_code == 200
    assert staff.get(listing, {"credential_encrypted__startswith": "g"}).status_code == 400
    assert staff.get(listing + "add/").status_code == 403
    assert staff.post(f"{listing}{created.stream.pk}/delete/").status_code == 403
