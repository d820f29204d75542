"""Okta's provisioning, replayed as Okta sends it: a filter before each create, a 409 for a
duplicate, whole-user PUTs (with and without "active"), PATCH deactivation and reactivation,
group push with renames before each membership change, members added and removed both ways,
and the full replace of a group's members. Each step asserts what the organization's admin
would see: the member, their role, their sessions, and what was (never) stored.
"""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso.scim.models import ScimUser
from tests.factories import UserFactory
from tests.scim.payloads import GROUP_SCHEMA, USER_SCHEMA, patch
from tests.scim.test_entra_replay import map_group_role, signed_in

OKTA_PASSWORD = "1mz050nq-okta-sends-this"


def okta_user(user_name: str, **extra) -> dict:
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Grace", "familyName": "Hopper"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Grace Hopper",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": OKTA_PASSWORD,
        "active": True,
        **extra,
    }


@pytest.fixture
def grace():
    return UserFactory(email="grace@acme.test", display_name="Grace")


def membership(world, user) -> Membership:
    return Membership.objects.get(organization=world.org, user=user)


def test_okta_users(scim, grace):
    client = scim.client
    lookup = client.get(
        "Users", {"filter": 'userName eq "grace@acme.test"', "startIndex": 1, "count": 100}
    )
    assert lookup.status_code == 200
    assert lookup.json()["totalResults"] == 0
    assert lookup.json()["startIndex"] == 1

    created = client.post("Users", okta_user("grace@acme.test"))
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    assert "password" not in created.json()
    assert membership(scim, grace).is_active

    # The password Okta sent is nowhere: not in the record, not the account's password.
    record = ScimUser.objects.get(public_id=user_id)
    assert OKTA_PASSWORD not in json.dumps(record.document)
    grace.refresh_from_db()
    assert not grace.check_password(OKTA_PASSWORD)

    duplicate = client.post("Users", okta_user("GRACE@acme.test"))
    assert duplicate.status_code == 409
    assert duplicate.json()["scimType"] == "uniqueness"
    assert ScimUser.objects.filter(directory=scim.directory).count() == 1

    browser = signed_in(grace)

    # An OIN update: GET, then a PUT of the whole user. Without "active", she stays active.
    current = client.get(f"Users/{user_id}").json()
    current.pop("active")
    current["displayName"] = "Rear Admiral Hopper"
    replaced = client.put(f"Users/{user_id}", current)
    assert replaced.status_code == 200, replaced.content
    assert replaced.json()["displayName"] == "Rear Admiral Hopper"
    assert replaced.json()["active"] is True
    assert membership(scim, grace).is_active

    # The App Integration Wizard's deactivation is a PUT with "active": false.
    current["active"] = False
    assert client.put(f"Users/{user_id}", current).status_code == 200
    assert not membership(scim, grace).is_active
    assert browser.get("/account/").status_code == 302

    # OIN reactivation and deactivation: a no-path replace.
    reactivated = client.patch(
        f"Users/{user_id}", patch({"op": "replace", "value": {"active": True}})
    )
    assert reactivated.status_code == 200, reactivated.content
    assert membership(scim, grace).is_active
    deactivated = client.patch(
        f"Users/{user_id}", patch({"op": "replace", "value": {"active": False}})
    )
    assert deactivated.status_code == 200, deactivated.content
    assert not membership(scim, grace).is_active

    actions = list(
        AuditEvent.objects.filter(actor_text=scim.directory.actor_text)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions.count("scim.user_deactivated") == 2
    assert actions.count("scim.user_reactivated") == 1


def test_put_without_active_deactivates_when_the_org_opts_in(scim, grace):
    scim.directory.put_without_active_deactivates = True
    scim.directory.save(update_fields=["put_without_active_deactivates"])
    user_id = scim.client.post("Users", okta_user("grace@acme.test")).json()["id"]
    current = scim.client.get(f"Users/{user_id}").json()
    current.pop("active")
    assert scim.client.put(f"Users/{user_id}", current).status_code == 200
    assert not membership(scim, grace).is_active


def test_okta_group_push(scim, grace):
    client = scim.client
    user_id = client.post("Users", okta_user("grace@acme.test")).json()["id"]
    pushed = client.post(
        "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Admirals", "members": []}
    )
    assert pushed.status_code == 201, pushed.content
    group_id = pushed.json()["id"]
    map_group_role(scim, group_id, Role.ADMIN)

    def rename(name: str) -> None:
        renamed = client.patch(
            f"Groups/{group_id}",
            patch({"op": "replace", "value": {"id": group_id, "displayName": name}}),
        )
        assert renamed.status_code == 200, renamed.content

    rename("Admirals of the Fleet")
    added = client.patch(
        f"Groups/{group_id}",
        patch(
            {
                "op": "add",
                "path": "members",
                "value": [{"value": user_id, "display": "grace@acme.test"}],
            }
        ),
    )
    assert added.status_code == 200, added.content
    assert membership(scim, grace).role == Role.ADMIN

    rename("Admirals")
    client.patch(
        f"Groups/{group_id}", patch({"op": "remove", "path": f'members[value eq "{user_id}"]'})
    )
    assert membership(scim, grace).role == Role.MEMBER

    replaced = client.patch(
        f"Groups/{group_id}",
        patch({"op": "replace", "path": "members", "value": [{"value": user_id}]}),
    )
    assert replaced.status_code == 200, replaced.content
    assert membership(scim, grace).role == Role.ADMIN
    members = client.get(f"Groups/{group_id}").json()["members"]
    assert [m["value"] for m in members] == [user_id]
    assert client.get(f"Groups/{group_id}").json()["displayName"] == "Admirals"

    assert client.delete(f"Groups/{group_id}").status_code == 204
    assert client.get(f"Groups/{group_id}").status_code == 404
    assert membership(scim, grace).role == Role.MEMBER
