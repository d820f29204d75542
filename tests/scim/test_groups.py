"""/Groups: a directory's groups and their members, kept as rows the role mapping can read,
with the counter, uniqueness and the audit trail."""

from __future__ import annotations

import json

from audit.models import AuditEvent
from sso.scim.models import Directory, ScimGroup, ScimGroupMember
from tests.scim.payloads import assert_error, create, group, patch, work_user


def _members(group_id: str) -> set[str]:
    return {
        str(public_id)
        for public_id in ScimGroupMember.objects.filter(group__public_id=group_id).values_list(
            "scim_user__public_id", flat=True
        )
    }


def _people(scim, *names: str) -> list[str]:
    return [create(scim.client, work_user(f"{name}@acme.test"))["id"] for name in names]


def test_create_keeps_members_as_rows_and_the_group_as_sent(scim):
    ann, bob = _people(scim, "ann", "bob")
    created = create(scim.client, group("Engineering", [ann, bob], externalId="g1"), "Groups")
    assert created["displayName"] == "Engineering"
    assert [m["value"] for m in created["members"]] == [ann, bob]
    assert _members(created["id"]) == {ann, bob}
    assert Directory.objects.get(pk=scim.directory.pk).group_count == 1
    assert scim.client.get(f"Groups/{created['id']}").json() == created


def test_excluded_members_are_left_out(scim):
    (ann,) = _people(scim, "ann")
    created = create(scim.client, group("Eng", [ann]), "Groups")
    body = scim.client.get(f"Groups/{created['id']}", {"excludedAttributes": "members"}).json()
    assert "members" not in body
    listed = scim.client.get("Groups", {"excludedAttributes": "members"}).json()
    assert "members" not in listed["Resources"][0]


def test_unknown_member_is_invalid_value_and_nothing_is_written(scim):
    (ann,) = _people(scim, "ann")
    missing = "6d1f3a0e-0000-4000-8000-000000000000"
    for members in ([ann, missing], [ann, "not-a-uuid"]):
        response = scim.client.post("Groups", group("Eng", members))
        assert_error(response, 400, "invalidValue")
    assert not ScimGroup.objects.exists()
    assert Directory.objects.get(pk=scim.directory.pk).group_count == 0


def test_a_group_is_not_a_member(scim):
    other = create(scim.client, group("Other"), "Groups")
    body = group("Eng")
    body["members"] = [{"value": other["id"], "type": "Group"}]
    assert_error(scim.client.post("Groups", body), 400, "invalidValue")


def test_duplicate_display_name_is_409_in_any_case(scim):
    create(scim.client, group("Engineering"), "Groups")
    assert_error(scim.client.post("Groups", group("ENGINEERING")), 409, "uniqueness")
    assert ScimGroup.objects.count() == 1


def test_patch_adds_and_removes_members_and_audits_counts(scim):
    ann, bob, cy = _people(scim, "ann", "bob", "cy")
    created = create(scim.client, group("Eng", [ann]), "Groups")
    path = f"Groups/{created['id']}"
    response = scim.client.patch(
        path,
        patch(
            {"op": "add", "path": "members", "value": [{"value": bob}, {"value": cy}]},
            {"op": "remove", "path": f'members[value eq "{ann}"]'},
        ),
    )
    assert response.status_code == 200
    assert {m["value"] for m in response.json()["members"]} == {bob, cy}
    assert _members(created["id"]) == {bob, cy}
    event = AuditEvent.objects.get(action="scim.group_members_changed")
    assert event.data == {"added": 2, "removed": 1}


def test_patch_naming_an_unknown_member_changes_nothing(scim):
    (ann,) = _people(scim, "ann")
    created = create(scim.client, group("Eng", [ann]), "Groups")
    response = scim.client.patch(
        f"Groups/{created['id']}",
        patch(
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {
                "op": "add",
                "path": "members",
                "value": [{"value": "c0ffee00-0000-4000-8000-0000000000aa"}],
            },
        ),
    )
    assert_error(response, 400, "invalidValue")
    row = ScimGroup.objects.get(public_id=created["id"])
    assert (row.display_name, row.version) == ("Eng", 1)
    assert _members(created["id"]) == {ann}


def test_put_replaces_members(scim):
    ann, bob = _people(scim, "ann", "bob")
    created = create(scim.client, group("Eng", [ann]), "Groups")
    replaced = scim.client.put(f"Groups/{created['id']}", group("Eng", [bob])).json()
    assert [m["value"] for m in replaced["members"]] == [bob]
    assert _members(created["id"]) == {bob}


def test_deleting_a_user_takes_them_out_of_their_groups(scim):
    ann, bob = _people(scim, "ann", "bob")
    created = create(scim.client, group("Eng", [ann, bob]), "Groups")
    scim.client.delete(f"Users/{ann}")
    body = scim.client.get(f"Groups/{created['id']}").json()
    assert [m["value"] for m in body["members"]] == [bob]
    assert body["meta"]["version"] == 'W/"2"'
    assert _members(created["id"]) == {bob}


def test_delete_group_keeps_its_users(scim):
    (ann,) = _people(scim, "ann")
    created = create(scim.client, group("Eng", [ann]), "Groups")
    assert scim.client.delete(f"Groups/{created['id']}").status_code == 204
    assert_error(scim.client.get(f"Groups/{created['id']}"), 404)
    assert scim.client.get(f"Users/{ann}").status_code == 200
    assert Directory.objects.get(pk=scim.directory.pk).group_count == 0
    actions = list(
        AuditEvent.objects.filter(action__startswith="scim.group").values_list("action", "data")
    )
    assert sorted(actions) == [
        ("scim.group_created", {"members": 1}),
        ("scim.group_deleted", {"members": 1}),
    ]
    assert "ann@" not in json.dumps([data for _, data in actions])


def test_a_group_pushed_with_thousands_of_members_fits(scim):
    # Records made directly (the directory would have sent them over time): 3,000 members make
    # a body of some 150 kB, more than the management API takes.
    from sso.scim.documents import user_name_key
    from sso.scim.models import ScimUser

    rows = ScimUser.objects.bulk_create(
        ScimUser(
            directory=scim.directory,
            organization=scim.org,
            user_name=f"person{n}@outside.example",
            user_name_key=user_name_key(f"person{n}@outside.example"),
        )
        for n in range(3000)
    )
    ids = [str(row.public_id) for row in rows]
    body = group("Everyone", ids)
    assert len(json.dumps(body)) > 128 * 1024

    made = create(scim.client, body, "Groups")

    assert len(_members(made["id"])) == 3000
