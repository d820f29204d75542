"""Deactivation as a directory sends it over HTTP: the person is signed out before the answer
arrives, and when the session store fails the answer is a 503 the directory retries, never a
500 and never a membership left half-ended."""

from __future__ import annotations

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
