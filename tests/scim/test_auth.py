"""The bearer token chooses the directory: anything else is a bare 401 (429 once an address
keeps failing), a paused directory is 503, and every authenticated call leaves a line in the
directory's request log with no personal data in it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from accounts.ratelimits import Limit
from sso.scim import transport
from sso.scim.models import Directory, ScimRequest, ScimUser
from tests.scim.conftest import ScimClient
from tests.scim.payloads import assert_error, create, patch, work_user

CHALLENGE = 'Bearer realm="Gatehouse SCIM"'


def _refused(response) -> None:
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == CHALLENGE


@pytest.mark.parametrize(
    "authorization",
    ["", "Basic dXNlcjpwYXNz", "Bearer", "Bearer gh_scim_short_x", "Bearer not-a-token"],
)
def test_missing_or_malformed_tokens_are_401(scim, authorization):
    client = ScimClient("")
    client.http.defaults["HTTP_AUTHORIZATION"] = authorization
    _refused(client.get("Users"))


def test_a_wrong_secret_with_a_real_prefix_is_401(scim):
    prefix = scim.token.rsplit("_", 1)[0]
    _refused(ScimClient(prefix + "_wrongsecret").get("Users"))


def test_revoked_token_is_401(scim):
    scim.directory.tokens.update(revoked_at=timezone.now())
    _refused(scim.client.get("Users"))


def test_directory_turned_off_is_401(scim):
    Directory.objects.filter(pk=scim.directory.pk).update(status=Directory.Status.OFF)
    _refused(scim.client.get("ServiceProviderConfig"))


def test_failed_attempts_are_not_logged_as_requests(scim):
    ScimClient("gh_scim_aaaaaaaaaaaa_nope").get("Users")
    assert not ScimRequest.objects.exists()


def test_repeated_failures_from_one_address_get_429_but_a_good_token_still_works(scim, monkeypatch):
    monkeypatch.setattr(transport, "FAILED_AUTH_LIMIT", Limit(attempts=3, window_seconds=60))
    bad = ScimClient("gh_scim_aaaaaaaaaaaa_nope")
    for _ in range(3):
        _refused(bad.get("Users"))
    limited = bad.get("Users")
    assert_error(limited, 429)
    assert 0 < int(limited["Retry-After"]) <= 60
    # Directories share their provider's addresses: another tenant's good token gets through.
    assert scim.client.get("Users").status_code == 200
    assert_error(bad.get("Users"), 429)


def test_paused_directory_is_503_with_retry_after_and_writes_nothing(scim):
    Directory.objects.filter(pk=scim.directory.pk).update(status=Directory.Status.PAUSED)
    response = scim.client.post("Users", work_user("ann@acme.test"))
    assert_error(response, 503)
    assert response["Retry-After"] == "300"
    assert not ScimUser.objects.exists()
    logged = ScimRequest.objects.get()
    assert logged.status == 503


def test_a_session_cookie_never_stands_in_for_the_token(scim, client, django_user_model):
    person = django_user_model.objects.create_user(email="admin@acme.test", password="pw-12345678")
    client.force_login(person)
    response = client.get("/scim/v2/Users")
    _refused(response)


def test_each_call_is_logged_without_bodies_or_personal_data(scim):
    created = create(scim.client, work_user("ann@acme.test", externalId="ext-ann"))
    scim.client.patch(
        f"Users/{created['id']}",
        patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@acme.test"},
            {"op": "Replace", "path": "active", "value": "False"},
        ),
    )
    scim.client.get("Users", {"filter": 'userName eq "ann@acme.test"'})
    scim.client.post("Users", work_user("ann@acme.test"))
    rows = list(ScimRequest.objects.filter(directory=scim.directory).order_by("id"))
    assert [(r.method, r.operation, r.status, r.scim_type) for r in rows] == [
        ("POST", "POST", 201, ""),
        ("PATCH", "PATCH replace emails.value; replace active", 200, ""),
        ("GET", "GET list filtered", 200, ""),
        ("POST", "POST", 409, "uniqueness"),
    ]
    assert rows[1].resource_public_id is not None
    assert str(rows[1].resource_public_id) == created["id"]
    for row in rows:
        text = " ".join(str(value) for value in row.__dict__.values())
        assert "ann@" not in text
        assert "a@acme" not in text
        assert "ext-ann" not in text
