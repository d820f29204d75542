"""One organization's token never reaches another's directory: Globex's token with Acme's
ids, externalIds, filter values and member values gets 404 or an empty list, and nothing of
Acme's changes."""

from __future__ import annotations

import pytest

from sso.scim.models import Directory, ScimGroup, ScimGroupMember, ScimRequest, ScimUser
from tests.scim.payloads import assert_error, create, group, patch, work_user


@pytest.fixture
def acme_data(scim):
    ann = create(scim.client, work_user("ann@acme.test", externalId="shared-ext"))
    eng = create(scim.client, group("Engineering", [ann["id"]], externalId="grp-ext"), "Groups")
    return ann, eng


def _snapshot(scim):
    return (
        sorted(
            ScimUser.objects.filter(directory=scim.directory).values_list(
                "public_id", "version", "updated_at", "active"
            )
        ),
        sorted(
            ScimGroup.objects.filter(directory=scim.directory).values_list(
                "public_id", "version", "updated_at"
            )
        ),
        ScimGroupMember.objects.filter(group__directory=scim.directory).count(),
        Directory.objects.filter(pk=scim.directory.pk)
        .values_list("user_count", "group_count")
        .get(),
    )


ITEM_CALLS = [
    ("GET", None),
    ("PUT", "replace"),
    ("PATCH", patch({"op": "replace", "path": "displayName", "value": "Taken"})),
    ("DELETE", None),
]


@pytest.mark.parametrize(("method", "body"), ITEM_CALLS)
def test_another_directorys_user_and_group_ids_are_404(scim, other_scim, acme_data, method, body):
    ann, eng = acme_data
    before = _snapshot(scim)
    for endpoint, resource, replacement in (
        ("Users", ann, work_user("ann@acme.test")),
        ("Groups", eng, group("Engineering")),
    ):
        payload = replacement if body == "replace" else body
        response = other_scim.client.send(method, f"{endpoint}/{resource['id']}", payload)
        assert_error(response, 404)
    assert _snapshot(scim) == before


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "ann@acme.test"',
        'externalId eq "shared-ext"',
        'emails[type eq "work"].value eq "ann@acme.test"',
        "userName pr",
    ],
)
def test_filters_never_reach_another_directory(scim, other_scim, acme_data, expression):
    # The filter finds Acme's record with Acme's token, and nothing with Globex's.
    assert scim.client.get("Users", {"filter": expression}).json()["totalResults"] == 1
    body = other_scim.client.get("Users", {"filter": expression}).json()
    assert body["totalResults"] == 0
    assert body["Resources"] == []


def test_lists_and_group_filters_are_scoped(scim, other_scim, acme_data):
    ann, eng = acme_data
    assert other_scim.client.get("Users").json()["totalResults"] == 0
    assert other_scim.client.get("Groups").json()["totalResults"] == 0
    for expression in (
        f'members.value eq "{ann["id"]}"',
        f'id eq "{eng["id"]}"',
        'externalId eq "grp-ext"',
    ):
        assert scim.client.get("Groups", {"filter": expression}).json()["totalResults"] == 1
        assert other_scim.client.get("Groups", {"filter": expression}).json()["Resources"] == []
    search = other_scim.client.post("Users/.search", {"filter": f'id eq "{ann["id"]}"'}).json()
    assert search["totalResults"] == 0


def test_the_same_names_and_external_ids_are_free_in_another_directory(scim, other_scim, acme_data):
    before = _snapshot(scim)
    mine = create(other_scim.client, work_user("ann@acme.test", externalId="shared-ext"))
    create(other_scim.client, group("Engineering", [mine["id"]], externalId="grp-ext"), "Groups")
    assert mine["id"] != acme_data[0]["id"]
    assert _snapshot(scim) == before


def test_another_directorys_users_cannot_be_made_members(scim, other_scim, acme_data):
    ann, _ = acme_data
    before = _snapshot(scim)
    assert_error(
        other_scim.client.post("Groups", group("Stolen", [ann["id"]])), 400, "invalidValue"
    )
    mine = create(other_scim.client, group("Mine", []), "Groups")
    response = other_scim.client.patch(
        f"Groups/{mine['id']}",
        patch({"op": "add", "path": "members", "value": [{"value": ann["id"]}]}),
    )
    assert_error(response, 400, "invalidValue")
    assert not ScimGroupMember.objects.filter(group__directory=other_scim.directory).exists()
    assert _snapshot(scim) == before


def test_each_directory_sees_only_its_own_request_log(scim, other_scim, acme_data):
    other_scim.client.get("Users")
    assert ScimRequest.objects.filter(directory=other_scim.directory).count() == 1
    assert ScimRequest.objects.filter(directory=scim.directory).count() == 2
