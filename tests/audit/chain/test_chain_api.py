"""Checkpoints where people use them: the public JWKS, the management API's verify endpoint
(scope ``audit:read``, one organization's apps only theirs), the audit page's download button
and verify form, and the events feed's ``sealed`` summary. A checkpoint that cannot be trusted
is a clear 400 (or a message on the page), never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.actions import Action
from audit.chain import checkpoints
from audit.models import AuditEvent, AuditSeal
from tests.api.oauth_world import backend
from tests.audit.chain.helpers import seal_in_test_transaction
from tests.organizations.conftest import OrgWorld, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> OrgWorld:
    made = OrgWorld()
    seal_in_test_transaction()
    for org in (made.a, made.b):
        checkpoints.sign(org.pk)
    return made


def _checkpoint(org) -> dict:
    newest = checkpoints.newest_checkpoint(org.pk)
    assert newest is not None
    return checkpoints.as_json(newest)


def _post(client, org, body):
    """POST a checkpoint to the verify endpoint. What the test wrote since the fixture sealed
    (the app's registration, a sign-in) is sealed first: inside one test transaction every row
    shares a transaction id, and a late one could otherwise sort behind the sealer's cursor."""
    seal_in_test_transaction()
    return client.post(_verify_url(org), json.dumps(body), content_type="application/json")


def _verify_url(org) -> str:
    return f"/api/v1/organizations/{org.slug}/audit/verify"


def test_the_jwks_is_public_and_keeps_retired_keys(world):
    old = _checkpoint(world.a)
    response = Client().get("/audit/.well-known/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kid"] == old["kid"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")

    checkpoints.rotate(actor_text="ops@example.com")

    kids = [k["kid"] for k in Client().get("/audit/.well-known/jwks.json").json()["keys"]]
    assert kids[0] == old["kid"]
    assert len(kids) == 2
    assert checkpoints.read(old).size == old["size"]  # signed by a retired key, still good
    assert AuditEvent.objects.filter(action=Action.AUDIT_CHECKPOINT_KEY_ROTATED).exists()


def test_an_organizations_app_verifies_its_log(world):
    app = backend(organization=world.a, scopes=["audit:read"]).caller()
    response = _post(app, world.a, _checkpoint(world.a))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True
    assert body["first_problem"] is None
    assert body["size"] >= _checkpoint(world.a)["size"]
    assert AuditEvent.objects.for_org(world.a).filter(action=Action.AUDIT_VERIFIED).exists()


def test_the_endpoint_needs_the_audit_read_scope(world):
    app = backend(organization=world.a, scopes=["organizations:read"]).caller()
    response = app.send("POST", _verify_url(world.a), _checkpoint(world.a))
    assert response.status_code == 403
    assert "audit:read" in response["WWW-Authenticate"]


def test_another_organizations_log_is_a_404_to_an_app_and_to_an_admin(world):
    app = backend(organization=world.a, scopes=["audit:read"]).caller()
    assert app.send("POST", _verify_url(world.b), _checkpoint(world.b)).status_code == 404
    admin = signed_in(world.a_admin)
    response = admin.post(
        _verify_url(world.b), json.dumps(_checkpoint(world.b)), content_type="application/json"
    )
    assert response.status_code == 404
    own = _post(admin, world.a, _checkpoint(world.a))
    assert own.status_code == 200
    assert own.json()["ok"] is True
    member = signed_in(world.a_member)
    refused = member.post(
        _verify_url(world.a), json.dumps(_checkpoint(world.a)), content_type="application/json"
    )
    assert refused.status_code == 403


def _tampered(checkpoint: dict, **changes) -> dict:
    return {**checkpoint, **changes}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: _tampered(c, note=c["note"] + "extra\n"), "signature does not"),
        (lambda c: _tampered(c, signature="not base64!"), "signature does not"),
        (lambda c: _tampered(c, kid="someone-elses-key"), "key Gatehouse does not know"),
        (lambda c: _tampered(c, kid="a\u0000b"), "key Gatehouse does not know"),
        (lambda c: _tampered(c, chain=2**70), "no chain number"),
        (lambda c: _tampered(c, chain="acme"), "no chain number"),
        (lambda c: [c], "is a JSON object"),
        (lambda c: _tampered(c, chain=0), "another organization"),
    ],
)
def test_a_checkpoint_that_cannot_be_trusted_is_a_clear_400(world, change, message):
    app = backend(scopes=["audit:read"]).caller()
    response = app.send("POST", _verify_url(world.a), change(_checkpoint(world.a)))
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert message in json.dumps(response.json())


def test_malformed_json_is_a_clear_400(world):
    app = backend(scopes=["audit:read"]).caller()
    response = app.post(_verify_url(world.a), "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


def test_the_audit_page_shows_how_far_the_log_is_sealed(world):
    page = signed_in(world.a_admin).get(f"/orgs/{world.a.slug}/audit/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Sealed up to" in text
    assert "last checkpoint" in text
    assert "Download checkpoint (JSON)" in text


def test_the_audit_page_downloads_a_checkpoint_that_verifies(world):
    admin = signed_in(world.a_admin)
    response = admin.post(f"/orgs/{world.a.slug}/audit/checkpoint/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="audit-checkpoint-')
    downloaded = json.loads(response.content)
    assert downloaded["chain"] == world.a.pk
    assert checkpoints.read(downloaded).chain == world.a.pk
    assert (
        AuditEvent.objects.for_org(world.a)
        .filter(action=Action.AUDIT_CHECKPOINT_DOWNLOADED)
        .exists()
    )
    # ...and another organization's admin cannot download it.
    other = signed_in(world.b_admin).post(f"/orgs/{world.a.slug}/audit/checkpoint/")
    assert other.status_code == 404


def _upload(client: Client, org, content: bytes):
    upload = SimpleUploadedFile("checkpoint.json", content, content_type="application/json")
    return client.post(f"/orgs/{org.slug}/audit/verify/", {"checkpoint": upload}, follow=True)


def test_the_verify_form_checks_an_uploaded_checkpoint(world):
    admin = signed_in(world.a_admin)
    seal_in_test_transaction()
    good = _upload(admin, world.a, json.dumps(_checkpoint(world.a)).encode())
    assert good.status_code == 200
    assert "The log verifies" in good.content.decode()

    for junk in (b"\x00not a checkpoint", b"[" * 16_000):  # the second nests past the parser
        bad = _upload(admin, world.a, junk)
        assert bad.status_code == 200
        assert "The checkpoint is not valid JSON." in bad.content.decode()

    forged = _checkpoint(world.a)
    forged["signature"] = base64.b64encode(b"\x00" * 64).decode()
    refused = _upload(admin, world.a, json.dumps(forged).encode())
    assert "signature does not match" in refused.content.decode()

    other = signed_in(world.b_admin)
    upload = SimpleUploadedFile("c.json", json.dumps(_checkpoint(world.a)).encode())
    response = other.post(f"/orgs/{world.a.slug}/audit/verify/", {"checkpoint": upload})
    assert response.status_code == 404


def test_the_events_feed_says_how_far_sealing_has_reached(world):
    operator = backend(scopes=["events:read"]).caller()
    body = operator.get("/api/v1/events").json()
    assert body["sealed"]["chain"] is None
    assert body["sealed"]["size"] == AuditSeal.objects.count()
    bound = backend(organization=world.a, scopes=["events:read"]).caller()
    sealed = bound.get("/api/v1/events").json()["sealed"]
    assert sealed["chain"] == world.a.pk
    assert sealed["size"] == _checkpoint(world.a)["size"]
    assert sealed["sealed_through"] is not None


def test_checking_the_log_is_limited_per_organization(world, monkeypatch):
    """A check reads the organization's whole chain in the request: the API and the audit
    page share one quota per organization, and going past it is a clear 429 or message."""
    from accounts.ratelimits import Limit
    from audit.chain import views

    monkeypatch.setattr(views, "VERIFY_LIMIT", Limit(attempts=2, window_seconds=600))
    app = backend(organization=world.a, scopes=["audit:read"]).caller()
    for _ in range(2):
        assert _post(app, world.a, _checkpoint(world.a)).status_code == 200
    refused = _post(app, world.a, _checkpoint(world.a))
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    checks = AuditEvent.objects.for_org(world.a).filter(action=Action.AUDIT_VERIFIED)
    assert checks.count() == 2  # the refused check was not run, so not recorded

    page = _upload(signed_in(world.a_admin), world.a, json.dumps(_checkpoint(world.a)).encode())
    assert "checked 2 times in the last 10 minutes" in page.content.decode()
    assert checks.count() == 2

    # Another organization's quota is its own.
    other = backend(organization=world.b, scopes=["audit:read"]).caller()
    assert _post(other, world.b, _checkpoint(world.b)).status_code == 200
