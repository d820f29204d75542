"""A stream's credential goes only where it was given (found in review): changing where a
stream sends (a Splunk URL, a Datadog site) needs the HEC token or API key again, in the
portal and in the service under it, and a change without it is refused on the credential
field and changes nothing. With the new credential the stream sends it, and only it, to the
new destination; an HTTPS stream gets a new signing secret, shown once. Changing anything
else keeps the saved credential. The receivers are real, on loopback, and record every
request, so a token that reached the wrong one would be seen."""

from __future__ import annotations

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from audit.actions import Action
from audit.models import AuditEvent
from audit.streams import services
from audit.streams.checks import StreamSettings
from audit.streams.models import LogStream
from config.encryption import decrypt
from config.refusals import Refusal
from tests.audit.streams.conftest import admin_of, drain, make_stream, seal
from tests.audit.streams.receivers import Answer, HttpReceiver, Later, datadog, hec, signed
from tests.organizations.conftest import signed_in


@pytest.fixture
def admin_a(world) -> Client:
    return signed_in(world.a_admin)


def page_of(stream: LogStream) -> str:
    return f"/orgs/acme/streams/{stream.public_id}/"


def form(**fields) -> dict:
    return {"name": "SIEM", "format": "json", "port": "", **fields}


def saved(stream: LogStream) -> LogStream:
    return LogStream.objects.get(pk=stream.pk)


def updates() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.AUDIT_STREAM_UPDATED))


def carried(receiver: HttpReceiver, secret: str) -> bool:
    """Whether any request the receiver got carries ``secret``, in a header or the body."""
    return any(
        secret in value for got in receiver.requests for value in got.headers.values()
    ) or any(secret.encode() in got.body for got in receiver.requests)


@pytest.fixture
def splunk(world, http_receiver):
    """A Splunk stream saved with "old-token" for the old collector, and a new collector (on
    another port) that accepts only "new-token"."""
    old_events: list = []
    old = http_receiver(hec("old-token", old_events))
    new = http_receiver(hec("new-token", []))
    created = make_stream(world, kind="splunk_hec", url=old.url("/"), credential="old-token")
    return created.stream, old, new


def test_a_new_url_without_the_token_is_a_form_error_and_changes_nothing(world, admin_a, splunk):
    stream, old, new = splunk
    response = admin_a.post(page_of(stream), form(url=new.url("/"), name="Moved"))

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "paste the HEC token again" in " ".join(errors["credential"])
    after = saved(stream)
    assert (after.url, after.name) == (old.url("/"), "SIEM")
    assert decrypt(after.credential_encrypted) == "old-token"
    assert updates() == []

    # The stream still sends to the old collector only, and the new one has seen nothing.
    seal()
    assert drain(stream) == ["delivered", "nothing to send"]
    assert old.requests
    assert new.requests == []


def test_a_new_url_with_a_new_token_sends_the_new_token_there_and_never_the_old_one(
    world, admin_a, splunk
):
    stream, old, new = splunk
    response = admin_a.post(page_of(stream), form(url=new.url("/"), credential="new-token"))

    assert response.status_code == 302
    after = saved(stream)
    assert after.url == new.url("/")
    assert decrypt(after.credential_encrypted) == "new-token"
    [update] = updates()
    assert update.data["changed"] == ["url", "credential"]
    assert "new-token" not in str(update.data)

    seal()
    assert drain(stream) == ["delivered", "nothing to send"]
    admin_a.post(page_of(stream) + "test/")
    assert len(new.requests) == 2  # the batch and the test message
    assert {got.headers["authorization"] for got in new.requests} == {"Splunk new-token"}
    assert not carried(new, "old-token")
    assert old.requests == []


def test_changing_only_other_fields_keeps_the_saved_token(world, admin_a, splunk):
    stream, old, new = splunk
    response = admin_a.post(
        page_of(stream),
        form(url=old.url("/"), name="Renamed", format="ocsf", actions=["login.failed"]),
    )

    assert response.status_code == 302
    after = saved(stream)
    assert (after.name, after.format, after.actions) == ("Renamed", "ocsf", ["login.failed"])
    assert decrypt(after.credential_encrypted) == "old-token"
    assert updates()[0].data["changed"] == ["name", "format", "actions"]
    admin_a.post(page_of(stream) + "test/")
    assert [got.headers["authorization"] for got in old.requests] == ["Splunk old-token"]
    assert new.requests == []


def test_the_service_refuses_a_new_url_without_the_token_whoever_calls_it(world, splunk):
    stream, old, new = splunk
    chosen = StreamSettings(name="SIEM", kind="splunk_hec", url=new.url("/"))

    with pytest.raises(Refusal) as refused:
        services.update_stream(
            actor=admin_of(world), org=world.a, stream_id=stream.public_id, chosen=chosen
        )

    assert refused.value.code == "credential"
    assert (saved(stream).url, decrypt(saved(stream).credential_encrypted)) == (
        old.url("/"),
        "old-token",
    )
    assert updates() == []


def test_a_new_datadog_site_needs_the_api_key_again(world, admin_a, http_receiver, settings):
    us_logs: list = []
    eu_logs: list = []
    us = http_receiver(datadog("us-key", us_logs))
    eu = http_receiver(datadog("eu-key", eu_logs))
    settings.GATEHOUSE_DATADOG_INTAKE_URLS = {
        "datadoghq.com": us.url("/api/v2/logs"),
        "datadoghq.eu": eu.url("/api/v2/logs"),
    }
    stream = make_stream(
        world, kind="datadog", datadog_site="datadoghq.com", credential="us-key"
    ).stream

    refused = admin_a.post(page_of(stream), form(datadog_site="datadoghq.eu"))
    assert refused.status_code == 400
    assert "paste the Datadog API key again" in " ".join(
        refused.context["form"].errors["credential"]
    )
    assert saved(stream).datadog_site == "datadoghq.com"
    with pytest.raises(Refusal):
        services.update_stream(
            actor=admin_of(world),
            org=world.a,
            stream_id=stream.public_id,
            chosen=StreamSettings(name="SIEM", kind="datadog", datadog_site="datadoghq.eu"),
        )

    moved = admin_a.post(page_of(stream), form(datadog_site="datadoghq.eu", credential="eu-key"))
    assert moved.status_code == 302
    seal()
    assert drain(stream) == ["delivered", "nothing to send"]
    assert eu_logs
    assert {got.headers["dd-api-key"] for got in eu.requests} == {"eu-key"}
    assert not carried(eu, "us-key")
    assert us.requests == []


def test_a_new_url_gives_an_https_stream_a_new_signing_secret_shown_once(
    world, admin_a, http_receiver
):
    batches: list = []
    judge = Later()
    old = http_receiver(lambda got: Answer(204))
    new = http_receiver(judge)
    created = make_stream(world, url=old.url("/siem"))
    stream = created.stream

    renamed = admin_a.post(page_of(stream), form(url=old.url("/siem"), name="Renamed"))
    assert renamed.status_code == 302  # nothing moved: the secret stays and is not shown
    assert decrypt(saved(stream).credential_encrypted) == created.signing_secret

    response = admin_a.post(page_of(stream), form(url=new.url("/siem"), name="Renamed"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = decrypt(saved(stream).credential_encrypted)
    assert secret.startswith("whsec_")
    assert secret != created.signing_secret
    assert secret in response.content.decode()
    assert secret not in admin_a.get(page_of(stream)).content.decode()
    assert sorted(u.data["changed"] for u in updates()) == [["name"], ["url", "credential"]]

    judge.judge = signed(secret, batches)
    seal()
    assert drain(stream) == ["delivered", "nothing to send"]
    assert batches
    # What the new receiver got is signed with the new secret; the old secret, which the old
    # receiver holds, does not verify it.
    got = new.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(created.signing_secret).verify(got.body, got.headers)
    assert old.requests == []


def test_a_syslog_stream_may_move_without_a_credential_it_never_had(
    world, syslog_receiver, tmp_path
):
    from tests.audit.streams.receivers import throwaway_pki

    pki = throwaway_pki(tmp_path)
    first, second = syslog_receiver(pki.server), syslog_receiver(pki.server)
    stream = make_stream(
        world, kind="syslog_tls", host="localhost", port=first.port, ca_pem=pki.ca_pem
    ).stream

    updated = services.update_stream(
        actor=admin_of(world),
        org=world.a,
        stream_id=stream.public_id,
        chosen=StreamSettings(
            name="SIEM", kind="syslog_tls", host="localhost", port=second.port, ca_pem=pki.ca_pem
        ),
    )

    assert updated.stream.port == second.port
    assert updated.signing_secret == ""
    seal()
    assert drain(stream) == ["delivered", "nothing to send"]
    assert second.messages
    assert first.sessions == []
