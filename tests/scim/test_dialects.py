"""What Microsoft Entra ID and Okta really send (docs/scim.md §2), at the protocol level:
Entra both with and without its "aadOptscim062020" flag, Okta's PUTs and no-path PATCHes."""

from __future__ import annotations

from sso.scim.models import ScimGroup, ScimGroupMember, ScimUser
from tests.scim.payloads import (
    ENTERPRISE,
    ENTRA_GROUP_SCHEMA,
    GROUP_SCHEMA,
    assert_error,
    create,
    group,
    patch,
    user,
    work_user,
)


def _entra_user(name: str) -> dict:
    return user(
        name,
        active=True,
        externalId=name.split("@")[0],
        displayName="Entra Person",
        emails=[{"primary": True, "type": "work", "value": name}],
        meta={"resourceType": "User"},
        name={"formatted": "Entra Person", "familyName": "Person", "givenName": "Entra"},
        roles=[],
    )


def test_entra_unflagged_update_disable_and_reactivate(scim):
    created = create(scim.client, _entra_user("pat@acme.test"))
    path = f"Users/{created['id']}"
    updated = scim.client.patch(
        path,
        patch(
            {"op": "Replace", "path": "displayName", "value": "Pat P"},
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "pp@acme.test"},
            {"op": "Add", "path": f"{ENTERPRISE}:employeeNumber", "value": "1234"},
        ),
    ).json()
    assert updated["displayName"] == "Pat P"
    assert updated["emails"] == [{"primary": True, "type": "work", "value": "pp@acme.test"}]
    assert updated[ENTERPRISE]["employeeNumber"] == "1234"
    assert ScimUser.objects.get(public_id=created["id"]).work_email == "pp@acme.test"

    disabled = scim.client.patch(path, patch({"op": "Replace", "path": "active", "value": "False"}))
    assert disabled.json()["active"] is False
    # A soft-deleted user is still found by GET and by filters.
    found = scim.client.get("Users", {"filter": 'userName eq "pat@acme.test"'}).json()
    assert found["totalResults"] == 1
    scim.client.patch(path, patch({"op": "Replace", "path": "active", "value": "True"}))
    assert ScimUser.objects.get(public_id=created["id"]).active is True


def test_entra_work_email_replace_creates_the_entry(scim):
    created = create(scim.client, user("noemail@acme.test"))
    response = scim.client.patch(
        f"Users/{created['id']}",
        patch({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "n@acme.test"}),
    )
    assert response.json()["emails"] == [{"type": "work", "value": "n@acme.test"}]


def test_entra_flagged_no_path_replace_with_dotted_and_urn_keys(scim):
    created = create(scim.client, _entra_user("quin@acme.test"))
    response = scim.client.patch(
        f"/scim/v2/Users/{created['id']}?aadOptscim062020",
        patch(
            {
                "op": "replace",
                "value": {
                    "active": False,
                    "name.givenName": "Q",
                    f"{ENTERPRISE}:department": "Sales",
                },
            }
        ),
    )
    body = response.json()
    assert body["active"] is False
    assert body["name"]["givenName"] == "Q"
    assert body[ENTERPRISE]["department"] == "Sales"


def test_entra_group_with_its_schema_urn_and_both_member_removals(scim):
    ann = create(scim.client, _entra_user("ann@acme.test"))["id"]
    bob = create(scim.client, _entra_user("bob@acme.test"))["id"]
    cy = create(scim.client, _entra_user("cy@acme.test"))["id"]
    body = group("Sales", externalId="ag-1")
    body["schemas"] = [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA]
    created = create(scim.client, body, "Groups")
    assert created["schemas"] == [GROUP_SCHEMA]
    path = f"Groups/{created['id']}"
    scim.client.patch(
        path,
        patch(
            {
                "op": "Add",
                "path": "members",
                "value": [{"value": ann}, {"value": bob}, {"value": cy}],
            }
        ),
    )
    # Unflagged: a value array; flagged: a path filter.
    scim.client.patch(path, patch({"op": "Remove", "path": "members", "value": [{"value": ann}]}))
    scim.client.patch(path, patch({"op": "remove", "path": f'members[value eq "{bob}"]'}))
    members = ScimGroupMember.objects.filter(group__public_id=created["id"])
    assert [str(m.scim_user.public_id) for m in members] == [cy]
    read = scim.client.get(path, {"excludedAttributes": "members"}).json()
    assert "members" not in read
    assert read["displayName"] == "Sales"


def test_an_operation_not_understood_is_an_error(scim):
    created = create(scim.client, work_user("op@acme.test"))
    path = f"Users/{created['id']}"
    assert_error(
        scim.client.patch(path, patch({"op": "merge", "path": "active", "value": False})),
        400,
        "invalidValue",
    )
    assert_error(
        scim.client.patch(path, patch({"op": "replace", "path": "favouriteColour", "value": "x"})),
        400,
        "invalidPath",
    )
    assert ScimUser.objects.get(public_id=created["id"]).version == 1


def test_okta_filter_then_create_then_conflict(scim):
    lookup = scim.client.get(
        "Users", {"filter": 'userName eq "okta.user@acme.test"', "startIndex": 1, "count": 100}
    ).json()
    assert lookup["totalResults"] == 0
    body = work_user("okta.user@acme.test", password="1mPassword", groups=[], active=True)
    create(scim.client, body)
    assert_error(scim.client.post("Users", body), 409, "uniqueness")


def test_okta_put_of_the_whole_user_with_id_meta_and_groups(scim):
    created = create(scim.client, work_user("wiz@acme.test", active=True))
    whole = scim.client.get(f"Users/{created['id']}").json()
    whole["displayName"] = "Wizard"
    whole["groups"] = []
    del whole["active"]
    replaced = scim.client.put(f"Users/{created['id']}", whole).json()
    assert replaced["displayName"] == "Wizard"
    assert replaced["active"] is True
    whole["active"] = False
    assert scim.client.put(f"Users/{created['id']}", whole).json()["active"] is False


def test_okta_deactivate_by_no_path_patch(scim):
    created = create(scim.client, work_user("oz@acme.test", active=True))
    response = scim.client.patch(
        f"Users/{created['id']}", patch({"op": "replace", "value": {"active": False}})
    )
    assert response.status_code == 200
    assert response.json()["active"] is False


def test_okta_group_push_rename_and_full_member_replace(scim):
    ann = create(scim.client, work_user("ann@acme.test"))["id"]
    bob = create(scim.client, work_user("bob@acme.test"))["id"]
    created = create(scim.client, group("Okta Group", []), "Groups")
    path = f"Groups/{created['id']}"
    scim.client.patch(
        path,
        patch({"op": "replace", "value": {"id": created["id"], "displayName": "Renamed"}}),
    )
    scim.client.patch(path, patch({"op": "add", "path": "members", "value": [{"value": ann}]}))
    scim.client.patch(path, patch({"op": "replace", "path": "members", "value": [{"value": bob}]}))
    row = ScimGroup.objects.get(public_id=created["id"])
    assert row.display_name == "Renamed"
    assert [str(m.scim_user.public_id) for m in row.memberships.all()] == [bob]
    assert scim.client.delete(path).status_code == 204
