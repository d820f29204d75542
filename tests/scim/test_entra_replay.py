"""Microsoft Entra ID's provisioning cycle, replayed as Entra sends it, in both of its dialects:
the default one (capitalised operations, "active" as a string, member removal with a value
array) and the one the ``aadOptscim062020`` flag turns on (lower-case operations, booleans,
member removal by a path filter). Each step asserts what the organization's admin would see:
the member, their role, their sessions, the audit log and the SCIM tab's request log.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from organizations.models import Membership, Role
from sso.scim.models import ScimRequest, ScimUser
from tests.factories import UserFactory
from tests.provider.person_tokens import signed_in as password_login
from tests.scim.payloads import ENTERPRISE, ENTRA_GROUP_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, patch


def entra_user(user_name: str, external_id: str) -> dict:
    """A user as Entra's provisioning service creates it."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "displayName": "Ada Lovelace",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "roles": [],
        ENTERPRISE: {"department": "Analytical Engines", "employeeNumber": "1815"},
    }


def signed_in(user) -> Client:
    """A browser signed in with the password, as the person does."""
    browser = password_login(user)
    assert browser.get("/account/").status_code == 200
    return browser


def membership(world, user) -> Membership:
    return Membership.objects.get(organization=world.org, user=user)


@pytest.fixture
def ada():
    return UserFactory(email="ada@acme.test", display_name="Ada")


@pytest.mark.parametrize("flagged", [False, True], ids=["default", "aadOptscim062020"])
def test_entra_cycle(scim, ada, flagged):
    client = scim.client
    query = {"aadOptscim062020": ""} if flagged else {}
    op = str.lower if flagged else str.capitalize

    # Test Connection: a filter on a random userName answers an empty list, not a 404.
    probe = client.get(
        "Users", {"filter": 'userName eq "a5c8e1f0-0d1e-4b5e-9d50-6f0e6a3b9b11"', **query}
    )
    assert probe.status_code == 200
    assert probe.json()["totalResults"] == 0
    assert probe["Content-Type"].startswith("application/scim+json")

    # Provisioning: look the person up by userName, then create them.
    assert (
        client.get("Users", {"filter": 'userName eq "ada@acme.test"'}).json()["totalResults"] == 0
    )
    created = client.post("Users", entra_user("ada@acme.test", "e1-ada"))
    assert created.status_code == 201, created.content
    user_id = created.json()["id"]
    assert created.json()["userName"] == "ada@acme.test"
    assert created["ETag"]
    assert membership(scim, ada).is_active
    assert membership(scim, ada).role == Role.MEMBER
    browser = signed_in(ada)

    # An update, as Entra sends it: one operation per attribute (or one no-path replace).
    if flagged:
        update = patch(
            {
                "op": "replace",
                "value": {
                    "displayName": "Ada King",
                    "name.familyName": "King",
                    f"{ENTERPRISE}:department": "Engines",
                },
            }
        )
    else:
        update = patch(
            {"op": "Replace", "path": "displayName", "value": "Ada King"},
            {"op": "Replace", "path": "name.familyName", "value": "King"},
            {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Engines"},
            {"op": "Add", "path": "title", "value": "Countess"},
        )
    updated = client.patch(f"Users/{user_id}", update)
    assert updated.status_code == 200, updated.content
    read = client.get(f"Users/{user_id}").json()
    assert read["displayName"] == "Ada King"
    assert read["name"]["familyName"] == "King"
    assert read[ENTERPRISE]["department"] == "Engines"
    assert read[ENTERPRISE]["employeeNumber"] == "1815"

    # A group, with Entra's extra schema URN, found by displayName, mapped to admin by the org.
    group = client.post(
        "Groups",
        {
            "schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA],
            "externalId": "g-eng",
            "displayName": "Engineering",
            "meta": {"resourceType": "Group"},
        },
    )
    assert group.status_code == 201, group.content
    group_id = group.json()["id"]
    found = client.get(
        "Groups", {"filter": 'displayName eq "Engineering"', "excludedAttributes": "members"}
    ).json()
    assert [g["id"] for g in found["Resources"]] == [group_id]
    map_group_role(scim, group_id, Role.ADMIN)

    added = client.patch(
        f"Groups/{group_id}",
        patch({"op": op("add"), "path": "members", "value": [{"value": user_id}]}),
    )
    assert added.status_code == 200, added.content
    assert membership(scim, ada).role == Role.ADMIN
    in_group = client.get("Groups", {"filter": f'members[value eq "{user_id}"]'}).json()
    assert in_group["totalResults"] == 1

    removal: dict[str, Any]
    if flagged:
        removal = {"op": "remove", "path": f'members[value eq "{user_id}"]'}
    else:
        removal = {"op": "Remove", "path": "members", "value": [{"value": user_id}]}
    removed = client.patch(f"Groups/{group_id}", patch(removal))
    assert removed.status_code == 200, removed.content
    assert membership(scim, ada).role == Role.MEMBER
    assert client.get(f"Groups/{group_id}").json().get("members", []) == []

    # Disable: Entra's soft delete. The membership ends and the browser is signed out now.
    disabled = client.patch(
        f"Users/{user_id}",
        patch({"op": op("replace"), "path": "active", "value": False if flagged else "False"}),
    )
    assert disabled.status_code == 200, disabled.content
    assert not membership(scim, ada).is_active
    assert browser.get("/account/").status_code == 302
    # A soft-deleted user is still found by Entra's filters, as inactive.
    listed = client.get("Users", {"filter": 'userName eq "ada@acme.test"'}).json()
    assert [u["active"] for u in listed["Resources"]] == [False]

    # Enable again: the membership comes back.
    enabled = client.patch(
        f"Users/{user_id}",
        patch({"op": op("replace"), "path": "active", "value": True if flagged else "True"}),
    )
    assert enabled.status_code == 200, enabled.content
    assert membership(scim, ada).is_active

    # The hard delete, thirty days on: the record goes, the membership ends, the account stays.
    assert client.delete(f"Users/{user_id}").status_code == 204
    assert client.get(f"Users/{user_id}").status_code == 404
    assert not membership(scim, ada).is_active
    assert ScimUser.objects.filter(directory=scim.directory).count() == 0
    ada.refresh_from_db()
    assert ada.is_active

    # What the admin reads afterwards: the directory as the actor, and the tab's request log.
    actions = set(
        AuditEvent.objects.filter(actor_text=scim.directory.actor_text).values_list(
            "action", flat=True
        )
    )
    assert {
        "scim.user_provisioned",
        "scim.user_updated",
        "scim.group_created",
        "scim.group_members_changed",
        "scim.user_deactivated",
        "scim.user_reactivated",
        "scim.user_deleted",
    } <= actions
    log = list(ScimRequest.objects.filter(directory=scim.directory).order_by("at", "id"))
    assert [r.method for r in log][:3] == ["GET", "GET", "POST"]
    # Every call succeeded but the read after the delete, which found nothing.
    assert [(r.method, r.status) for r in log if r.status >= 400] == [("GET", 404)]
    assert any("active" in r.operation for r in log if r.method == "PATCH")


def map_group_role(world, group_id: str, role: str) -> None:
    """The org admin maps the directory's group to a role on the SCIM tab."""
    from sso.scim import directories
    from sso.scim.models import ScimGroup

    owner = Membership.objects.create(
        organization=world.org, user=UserFactory(email="owner@example.com"), role=Role.OWNER
    )
    group = ScimGroup.objects.get(public_id=group_id)
    directories.set_group_role(actor=owner, org=world.org, group_id=group.pk, role=role)
