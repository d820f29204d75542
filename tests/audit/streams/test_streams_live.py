"""Each kind of log stream against a real receiver on loopback: generic HTTPS over TLS with
Standard Webhooks signatures checked by the Python package, a Splunk HEC-shaped collector, a
Datadog-shaped intake, and syslog over TLS with a throwaway CA. The stream's own creation is
an audit event, and it flows down the stream with the others."""

from __future__ import annotations

import pytest

from audit.chain.models import AuditChain
from audit.streams import source
from audit.streams.models import LogStream
from tests.audit.helpers import series
from tests.audit.streams.conftest import drain, make_stream, seal, wait_out_backoff
from tests.audit.streams.receivers import Answer, Later, datadog, hec, signed, throwaway_pki


def chain_size(org) -> int:
    return AuditChain.objects.get(chain=org.pk).size


def positions(records) -> list[int]:
    return [r["chain"]["position"] for r in records]


def test_an_https_stream_sends_signed_json_batches_over_tls(
    world, http_receiver, tmp_path, monkeypatch
):
    pki = throwaway_pki(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_path)  # the client trusts the throwaway CA
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge, tls=pki.server)
    created = make_stream(world, url=receiver.url("/siem", host="localhost"))
    judge.judge = signed(created.signing_secret, batches)
    assert created.signing_secret.startswith("whsec_")
    series(world.a, 5, action="login.failed", outcome="failure")
    seal()

    assert drain(created.stream) == ["delivered", "nothing to send"]

    stream = LogStream.objects.get(pk=created.stream.pk)
    records = [r for batch in batches for r in batch]
    assert positions(records) == list(range(positions(records)[0], chain_size(world.a) + 1))
    assert "audit.stream_created" in [r["action"] for r in records]  # its own creation, too
    assert [r["action"] for r in records].count("login.failed") == 5
    assert stream.position == chain_size(world.a)
    assert stream.last_success_at is not None
    head = receiver.requests[0].headers
    assert head["webhook-id"] == f"{world.a.pk}-{records[0]['chain']['position']}-{stream.position}"
    assert head["content-type"] == "application/json"


def test_a_forged_signature_is_refused_by_the_receiver_and_the_stream_keeps_its_place(
    world, http_receiver
):
    batches: list = []
    receiver = http_receiver(signed("whsec_" + "A" * 44, batches))  # not the stream's secret
    created = make_stream(world, url=receiver.url("/siem"))
    seal()
    assert drain(created.stream) == ["failed"]
    stream = LogStream.objects.get(pk=created.stream.pk)
    assert batches == []
    assert stream.position == created.stream.position
    assert stream.status == LogStream.Status.FAILING
    assert stream.last_error.startswith("HTTP 401")


def test_a_splunk_stream_sends_hec_events_with_its_token_and_channel(world, http_receiver):
    events: list = []
    receiver = http_receiver(hec("hec-token-1", events))
    created = make_stream(
        world, kind="splunk_hec", url=receiver.url("/"), credential="hec-token-1", format="ocsf"
    )
    series(world.a, 3, action="login.succeeded")
    seal()
    assert drain(created.stream) == ["delivered", "nothing to send"]
    stream = LogStream.objects.get(pk=created.stream.pk)
    assert stream.position == chain_size(world.a)
    sent = [e["event"]["unmapped"]["chain"]["position"] for e in events]
    assert sent == list(range(created.stream.position + 1, stream.position + 1))
    assert len(sent) == 4  # the stream's creation and the three sign-ins
    actions = [e["event"]["unmapped"]["action"] for e in events]
    assert actions.count("login.succeeded") == 3
    assert "audit.stream_created" in actions
    assert {e["event"]["class_uid"] for e in events} == {3002, 0}
    channels = {r.headers["x-splunk-request-channel"] for r in receiver.requests}
    assert len(channels) == 1


def test_a_wrong_hec_token_is_a_failure_shown_to_the_admin(world, http_receiver):
    receiver = http_receiver(hec("the-right-token", []))
    created = make_stream(world, kind="splunk_hec", url=receiver.url("/"), credential="wrong")
    seal()
    assert drain(created.stream) == ["failed"]
    stream = LogStream.objects.get(pk=created.stream.pk)
    assert stream.position == created.stream.position
    assert stream.last_error.startswith("HTTP 403")
    assert "Invalid token" in stream.last_error
    assert "wrong" not in stream.last_error


def test_a_datadog_stream_sends_an_array_to_the_chosen_site_with_its_key(
    world, http_receiver, settings
):
    logs: list = []
    receiver = http_receiver(datadog("dd-key", logs))
    settings.GATEHOUSE_DATADOG_INTAKE_URLS = {"datadoghq.eu": receiver.url("/api/v2/logs")}
    created = make_stream(world, kind="datadog", datadog_site="datadoghq.eu", credential="dd-key")
    series(world.a, 2, action="user.blocked")
    seal()
    assert drain(created.stream) == ["delivered", "nothing to send"]
    assert [log["message"] for log in logs].count("user.blocked") == 2
    assert {log["ddsource"] for log in logs} == {"gatehouse"}
    for log in logs:  # the helper's events are months old (T16); today's carry their time
        old = log["gatehouse"]["action"] == "user.blocked"
        assert ("timestamp" in log) is not old
    assert LogStream.objects.get(pk=created.stream.pk).position == chain_size(world.a)


def test_a_syslog_stream_sends_octet_counted_rfc5424_messages_over_tls(
    world, syslog_receiver, tmp_path
):
    pki = throwaway_pki(tmp_path)
    receiver = syslog_receiver(pki.server)
    created = make_stream(
        world, kind="syslog_tls", host="localhost", port=receiver.port, ca_pem=pki.ca_pem
    )
    series(world.a, 3, action="login.failed", outcome="failure")
    seal()
    assert drain(created.stream) == ["delivered", "nothing to send"]
    messages = receiver.messages
    assert [m.msgid for m in messages].count("login.failed") == 3
    failed = next(m for m in messages if m.msgid == "login.failed")
    assert failed.pri == 13 * 8 + 4
    assert failed.app == "gatehouse"
    assert failed.structured_data == "-"
    assert failed.record["action"] == "login.failed"
    assert [m.record["chain"]["position"] for m in messages] == list(
        range(messages[0].record["chain"]["position"], chain_size(world.a) + 1)
    )
    assert LogStream.objects.get(pk=created.stream.pk).position == chain_size(world.a)


def test_a_syslog_session_cut_off_before_a_clean_close_is_sent_again(
    world, syslog_receiver, tmp_path
):
    """T25: without close_notify both ways nothing says the bytes arrived; the cursor waits."""
    pki = throwaway_pki(tmp_path)
    receiver = syslog_receiver(pki.server)
    receiver.drop_sessions = 1
    created = make_stream(
        world, kind="syslog_tls", host="localhost", port=receiver.port, ca_pem=pki.ca_pem
    )
    seal()
    assert drain(created.stream) == ["failed"]
    assert LogStream.objects.get(pk=created.stream.pk).position == created.stream.position
    assert receiver.sessions == []
    wait_out_backoff(created.stream)
    assert drain(created.stream) == ["delivered", "nothing to send"]
    assert [m.msgid for m in receiver.messages] == ["audit.stream_created"]


def test_a_syslog_server_with_a_certificate_from_another_ca_is_not_trusted(
    world, syslog_receiver, tmp_path
):
    pki = throwaway_pki(tmp_path / "one")
    other = throwaway_pki(tmp_path / "two")
    receiver = syslog_receiver(pki.server)
    created = make_stream(
        world, kind="syslog_tls", host="localhost", port=receiver.port, ca_pem=other.ca_pem
    )
    seal()
    assert drain(created.stream) == ["failed"]
    stream = LogStream.objects.get(pk=created.stream.pk)
    assert stream.position == created.stream.position
    assert "certificate" in stream.last_error
    assert receiver.sessions == []


@pytest.fixture(autouse=True)
def _two_dirs(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()


def test_a_stream_reads_only_its_own_organizations_chain(world, http_receiver):
    batches: list = []
    judge = Later()
    receiver = http_receiver(judge)
    created = make_stream(world, url=receiver.url("/siem"))
    judge.judge = signed(created.signing_secret, batches)
    series(world.b, 4, action="login.succeeded")
    seal()
    drain(created.stream)
    records = [r for batch in batches for r in batch]
    assert {r["organization_id"] for r in records} == {world.a.pk}
    assert source.read_after(world.b.pk, 0)  # org B's events were sealed, in B's chain


def test_a_receiver_echoing_the_credential_does_not_put_it_on_screen(world, http_receiver):
    receiver = http_receiver(lambda got: Answer(400, got.headers["authorization"].encode()))
    created = make_stream(world, kind="splunk_hec", url=receiver.url("/"), credential="s3cr3t-hec")
    seal()
    assert drain(created.stream) == ["failed"]
    error = LogStream.objects.get(pk=created.stream.pk).last_error
    assert error == "HTTP 400: Splunk [credential]"
