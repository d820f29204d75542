"""Deactivation as a directory sends it over HTTP: the person is signed out before the answer
arrives, and when the session store fails the answer is a 503 the directory retries, never a
500 and never a membership left half-ended."""

from __future__ import annotations

import pytest

from organizations.models import Membership
from organizations.services import members
from sso.scim.models import ScimRequest
from tests.factories import UserFactory
from tests.scim.payloads import assert_error, create, patch, work_user
from tests.scim.test_entra_replay import signed_in

DEACTIVATE = patch({"op": "replace", "path": "active", "value": False})


def test_a_failed_session_store_is_a_503_and_the_retry_signs_the_person_out(scim, monkeypatch):
    pat = UserFactory(email="pat@acme.test")
    user_id = create(scim.client, work_user("pat@acme.test"))["id"]
    browser = signed_in(pat)

    def store_down(user_id: int, org_id: int) -> int:
        raise ConnectionError("session store unreachable")

    with monkeypatch.context() as patched:
        patched.setattr(members, "clear_active_org", store_down)
        failed = scim.client.patch(f"Users/{user_id}", DEACTIVATE)

    assert_error(failed, 503)
    assert int(failed["Retry-After"]) > 0
    membership = Membership.objects.get(organization=scim.org, user=pat)
    assert membership.status == Membership.Status.REMOVED  # the change itself committed
    assert ScimRequest.objects.filter(method="PATCH", status=503).count() == 1

    retried = scim.client.patch(f"Users/{user_id}", DEACTIVATE)

    assert retried.status_code == 200, retried.content
    assert retried.json()["active"] is False
    assert browser.get("/account/").status_code == 302
    membership.refresh_from_db()
    assert membership.deprovisioned_at is not None


@pytest.mark.parametrize(
    "undo",
    [
        ("PATCH", patch({"op": "replace", "path": "active", "value": None})),
        ("PATCH", patch({"op": "remove", "path": "active"})),
        ("PUT", None),
    ],
    ids=["replace with null", "remove", "PUT with null"],
)
def test_a_null_or_removed_active_never_brings_a_deactivated_person_back(scim, undo):
    pat = UserFactory(email="pat@acme.test")
    user_id = create(scim.client, work_user("pat@acme.test"))["id"]
    assert scim.client.patch(f"Users/{user_id}", DEACTIVATE).status_code == 200
    method, body = undo
    if body is None:
        body = scim.client.get(f"Users/{user_id}").json()
        body["active"] = None

    response = scim.client.send(method, f"Users/{user_id}", body)

    assert response.status_code == 200, response.content
    assert response.json().get("active") is not True
    membership = Membership.objects.get(organization=scim.org, user=pat)
    assert membership.status == Membership.Status.REMOVED
