"""The SSO background jobs: IdP metadata refresh and certificate expiry notices."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from config.refusals import Refusal
from organizations.models import Membership
from sso import services, tasks
from sso.certificates import read_certificate
from sso.models import IdPCertificate
from sso.portal.pages import certificate_warnings
from sso.services import saml as saml_services
from tests.factories import UserFactory
from tests.sso import conftest as idp
from tests.sso.builders import (
    HOST,
    certificate,
    idp_metadata,
    org_with_domain,
    request,
    saml_connection,
)


@pytest.fixture(autouse=True)
def _sso_host(settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True


class MetadataServer:
    """Serves whatever ``body``/``status`` say, on 127.0.0.1."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/metadata"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def metadata_server():
    server = MetadataServer()
    yield server
    server.close()


def fingerprints(connection) -> set[str]:
    return set(connection.certificates.values_list("fingerprint_sha256", flat=True))


def test_refresh_picks_up_a_rotated_certificate_and_drops_the_retired_one(metadata_server):
    org, owner = org_with_domain()
    old, new = certificate(name="old"), certificate(name="new")
    metadata_server.body = idp_metadata([old])
    conn = services.create_connection(
        actor=owner,
        org=org,
        site_url=request().build_absolute_uri("/"),
        protocol="saml",
        name="Okta",
    )
    services.import_metadata(actor=owner, org=org, connection_id=conn.pk, url=metadata_server.url)
    assert fingerprints(conn) == {read_certificate(old).fingerprint_sha256}

    # The IdP publishes the next certificate beside the current one, then retires the old one.
    metadata_server.body = idp_metadata([old, new])
    assert tasks.refresh_saml_metadata() == 1
    assert fingerprints(conn) == {read_certificate(c).fingerprint_sha256 for c in (old, new)}
    metadata_server.body = idp_metadata([new])
    assert tasks.refresh_saml_metadata() == 1
    assert fingerprints(conn) == {read_certificate(new).fingerprint_sha256}
    assert AuditEvent.objects.filter(action="sso.metadata_refreshed").count() == 2


def test_a_failed_refresh_keeps_the_last_good_settings_and_says_why(metadata_server):
    org, owner = org_with_domain()
    cert = certificate()
    metadata_server.body = idp_metadata([cert])
    conn = saml_connection(org, owner)
    services.import_metadata(actor=owner, org=org, connection_id=conn.pk, url=metadata_server.url)
    before = fingerprints(conn)
    for status, body in ((500, b"oops"), (200, b"<not-metadata/>"), (200, b"")):
        metadata_server.status, metadata_server.body = status, body
        assert tasks.refresh_saml_metadata() == 0
        conn.refresh_from_db()
        assert conn.metadata_error
        assert fingerprints(conn) == before
    assert AuditEvent.objects.filter(action="sso.metadata_refresh_failed").count() == 3


def test_metadata_urls_are_read_outside_any_transaction(metadata_server, monkeypatch):
    from config.refusals import inside_a_write
    from sso import fetch

    reads: list[bool] = []
    real_fetch = fetch.fetch

    def watched(url, **kwargs):
        reads.append(inside_a_write())
        return real_fetch(url, **kwargs)

    monkeypatch.setattr(fetch, "fetch", watched)
    org, owner = org_with_domain()
    metadata_server.body = idp_metadata([certificate()])
    conn = saml_connection(org, owner)

    services.import_metadata(actor=owner, org=org, connection_id=conn.pk, url=metadata_server.url)
    assert tasks.refresh_saml_metadata() == 1

    assert reads == [False, False]


def test_a_refresh_that_finds_the_url_changed_meanwhile_writes_nothing(metadata_server):
    org, owner = org_with_domain()
    metadata_server.body = idp_metadata([certificate()])
    conn = saml_connection(org, owner)
    services.import_metadata(actor=owner, org=org, connection_id=conn.pk, url=metadata_server.url)
    meta = services.parse_idp_metadata(idp_metadata([certificate()]))
    services.stop_metadata_refresh(actor=owner, org=org, connection_id=conn.pk)

    # What the job's read of the old URL would write, after the admin stopped the refreshes.
    assert not saml_services.store_refreshed(conn.pk, metadata_server.url, meta, "")

    assert AuditEvent.objects.filter(action="sso.metadata_refreshed").count() == 0


def test_metadata_with_a_dtd_is_refused():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        + idp_metadata([certificate()]).split(b"?>", 1)[1]
    )
    with pytest.raises(Refusal):
        services.import_metadata(actor=owner, org=org, connection_id=conn.pk, xml=evil)


def expiring(conn, days: int) -> IdPCertificate:
    cert = conn.certificates.get()
    cert.not_after = timezone.now() + timedelta(days=days, hours=1)
    cert.save(update_fields=["not_after"])
    return cert


def test_owners_and_admins_hear_30_and_7_days_before_a_certificate_expires():
    org, owner = org_with_domain()
    admin = UserFactory(email="admin@acme.test")
    plain = UserFactory(email="member@acme.test")
    Membership.objects.create(organization=org, user=admin, role="admin", source="admin")
    Membership.objects.create(organization=org, user=plain, role="member", source="admin")
    conn = saml_connection(org, owner)

    expiring(conn, 45)
    assert tasks.warn_expiring_certificates() == 0
    assert mail.outbox == []

    expiring(conn, 20)
    assert tasks.warn_expiring_certificates() == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted([owner.user.email, admin.email])
    message = mail.outbox[0]
    assert "expires in 20 days" in message.subject
    assert f"/orgs/{org.slug}/sso/" in message.body
    assert tasks.warn_expiring_certificates() == 0  # once per threshold

    expiring(conn, 5)
    mail.outbox.clear()
    assert tasks.warn_expiring_certificates() == 1
    assert len(mail.outbox) == 2
    assert "5 days" in mail.outbox[0].subject
    assert tasks.warn_expiring_certificates() == 0
    events = AuditEvent.objects.filter(action="sso.certificate_expiring")
    assert sorted(e.data["days"] for e in events) == [7, 30]


def test_a_late_first_notice_is_sent_once_not_twice():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    expiring(conn, 3)
    assert tasks.warn_expiring_certificates() == 1
    assert tasks.warn_expiring_certificates() == 0
    assert len(mail.outbox) == 1


def test_disabled_connections_send_no_notices():
    org, owner = org_with_domain()
    conn = saml_connection(org, owner)
    services.disable(actor=owner, org=org, connection_id=conn.pk)
    expiring(conn, 5)
    assert tasks.warn_expiring_certificates() == 0


def test_no_expiry_email_once_a_successor_certificate_is_in_place(saml_idp, acme_org):
    connection = idp.saml_connection(acme_org, saml_idp)
    old = connection.certificates.get()
    IdPCertificate.objects.filter(pk=old.pk).update(not_after=timezone.now() + timedelta(days=20))
    assert [c.pk for c, _ in services.certificates_to_warn()] == [old.pk]
    services.add_certificate(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        pem=saml_idp.cert("idp2"),
    )
    connection.refresh_from_db()
    assert certificate_warnings(connection) == []
    assert services.certificates_to_warn() == []
