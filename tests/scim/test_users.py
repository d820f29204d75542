"""/Users: create, read, replace, patch and delete a directory's users, with ETags, response
attributes, pages, the directory's counter and the audit trail."""

from __future__ import annotations

import json

from audit.models import AuditEvent
from sso.scim.models import Directory, ScimUser
from tests.scim.payloads import ENTERPRISE, assert_error, create, patch, user, work_user


def _count(scim) -> int:
    return Directory.objects.get(pk=scim.directory.pk).user_count


def test_create_answers_201_with_location_etag_and_the_resource_as_sent(scim):
    body = work_user(
        "Ann.Lee@acme.test",
        externalId="00u1",
        name={"givenName": "Ann", "familyName": "Lee"},
        **{ENTERPRISE: {"employeeNumber": "42", "department": "R&D"}},
    )
    body["schemas"].append(ENTERPRISE)
    response = scim.client.post("Users", body)
    assert response.status_code == 201
    created = response.json()
    assert response["Location"] == f"http://testserver/scim/v2/Users/{created['id']}"
    assert response["ETag"] == 'W/"1"' == created["meta"]["version"]
    assert created["userName"] == "Ann.Lee@acme.test"
    assert created[ENTERPRISE] == {"employeeNumber": "42", "department": "R&D"}
    row = ScimUser.objects.get(public_id=created["id"])
    assert (row.user_name_key, row.work_email, row.external_id) == (
        "ann.lee@acme.test",
        "ann.lee@acme.test",
        "00u1",
    )
    assert row.organization_id == scim.org.pk
    assert _count(scim) == 1
    assert scim.client.get(f"Users/{created['id']}").json() == created


def test_okta_password_is_dropped_and_never_stored(scim):
    created = create(scim.client, work_user("bo@acme.test", password="S3cret!pass", groups=[]))
    assert "password" not in created
    row = ScimUser.objects.get(public_id=created["id"])
    assert "S3cret" not in json.dumps(row.document)
    # A PATCH that sets one is accepted and forgotten as well.
    scim.client.patch(
        f"Users/{created['id']}", patch({"op": "replace", "path": "password", "value": "N3w!"})
    )
    row.refresh_from_db()
    assert "N3w!" not in json.dumps(row.document)


def test_okta_local_addresses_are_accepted(scim):
    created = create(scim.client, work_user("test.user@okta.local"))
    assert created["emails"][0]["value"] == "test.user@okta.local"


def test_get_honours_attributes_and_excluded_attributes(scim):
    created = create(scim.client, work_user("cy@acme.test", displayName="Cy"))
    only = scim.client.get(f"Users/{created['id']}", {"attributes": "userName"}).json()
    assert set(only) == {"schemas", "id", "userName"}
    without = scim.client.get(f"Users/{created['id']}", {"excludedAttributes": "emails"}).json()
    assert "emails" not in without
    assert without["displayName"] == "Cy"


def test_if_none_match_gives_304_and_a_stale_tag_the_resource(scim):
    created = create(scim.client, work_user("di@acme.test"))
    path = f"Users/{created['id']}"
    not_modified = scim.client.get(path, **{"If-None-Match": 'W/"1"'})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert scim.client.get(path, **{"If-None-Match": 'W/"0"'}).status_code == 200


def test_if_match_mismatch_is_412_and_changes_nothing(scim):
    created = create(scim.client, work_user("ed@acme.test"))
    path = f"Users/{created['id']}"
    stale = scim.client.patch(
        path,
        patch({"op": "replace", "path": "displayName", "value": "Ed"}),
        **{"If-Match": 'W/"7"'},
    )
    assert_error(stale, 412)
    assert_error(scim.client.delete(path, **{"If-Match": 'W/"7"'}), 412)
    row = ScimUser.objects.get(public_id=created["id"])
    assert (row.version, row.display_name) == (1, "")
    fresh = scim.client.patch(
        path,
        patch({"op": "replace", "path": "displayName", "value": "Ed"}),
        **{"If-Match": 'W/"1"'},
    )
    assert fresh.status_code == 200
    assert fresh["ETag"] == 'W/"2"'


def test_put_replaces_the_user_and_keeps_active_when_it_is_left_out(scim):
    created = create(scim.client, work_user("fay@acme.test", active=True, displayName="Fay"))
    response = scim.client.put(f"Users/{created['id']}", work_user("fay@acme.test", title="CTO"))
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["title"] == "CTO"
    assert "displayName" not in replaced
    assert replaced["active"] is True
    assert ScimUser.objects.get(public_id=created["id"]).active is True


def test_put_without_active_deactivates_when_the_directory_opted_in(scim):
    Directory.objects.filter(pk=scim.directory.pk).update(put_without_active_deactivates=True)
    created = create(scim.client, work_user("gus@acme.test", active=True))
    replaced = scim.client.put(f"Users/{created['id']}", work_user("gus@acme.test")).json()
    assert replaced["active"] is False
    assert ScimUser.objects.get(public_id=created["id"]).active is False


def test_put_with_active_false_deactivates(scim):
    created = create(scim.client, work_user("hal@acme.test", active=True))
    scim.client.put(f"Users/{created['id']}", work_user("hal@acme.test", active=False))
    assert ScimUser.objects.get(public_id=created["id"]).active is False


def test_patch_without_change_keeps_the_version(scim):
    created = create(scim.client, work_user("ivy@acme.test", displayName="Ivy"))
    response = scim.client.patch(
        f"Users/{created['id']}", patch({"op": "replace", "path": "displayName", "value": "Ivy"})
    )
    assert response.status_code == 200
    assert response["ETag"] == 'W/"1"'


def test_delete_removes_the_record_then_404(scim):
    created = create(scim.client, work_user("jo@acme.test"))
    response = scim.client.delete(f"Users/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(scim.client.get(f"Users/{created['id']}"), 404)
    assert_error(scim.client.delete(f"Users/{created['id']}"), 404)
    assert _count(scim) == 0


def test_ids_that_are_not_uuids_are_404(scim):
    assert_error(scim.client.get("Users/42"), 404)


def test_audit_names_attributes_never_values(scim):
    created = create(scim.client, work_user("kim@acme.test", externalId="x-kim"))
    scim.client.patch(
        f"Users/{created['id']}",
        patch({"op": "replace", "value": {"displayName": "Kim Secret", "active": False}}),
    )
    scim.client.delete(f"Users/{created['id']}")
    events = list(AuditEvent.objects.filter(organization_id=scim.org.pk).order_by("occurred_at"))
    assert [e.action for e in events] == [
        "scim.user_provisioned",
        "scim.user_updated",
        "scim.user_deleted",
    ]
    assert all(e.actor_text == f"scim:{scim.directory.public_id}" for e in events)
    assert events[0].data["attributes"] == ["emails", "externalId", "userName"]
    assert events[1].data == {"attributes": ["active", "displayName"], "active": False}
    assert "Kim Secret" not in json.dumps([e.data for e in events])
    assert "x-kim" not in json.dumps([e.data for e in events])


def test_list_pages_in_a_stable_order_with_the_counter_as_total(scim):
    ids = [create(scim.client, user(f"user{i:02}@acme.test"))["id"] for i in range(5)]
    first = scim.client.get("Users", {"startIndex": 1, "count": 2}).json()
    second = scim.client.get("Users", {"startIndex": 3, "count": 2}).json()
    last = scim.client.get("Users", {"startIndex": 5, "count": 2}).json()
    assert [first["totalResults"], first["startIndex"], first["itemsPerPage"]] == [5, 1, 2]
    assert [r["id"] for r in first["Resources"] + second["Resources"] + last["Resources"]] == ids
    assert last["itemsPerPage"] == 1
    # The total of an unfiltered list is the directory's counter, not a count of rows.
    Directory.objects.filter(pk=scim.directory.pk).update(user_count=12345)
    assert scim.client.get("Users", {"count": 0}).json()["totalResults"] == 12345


def test_count_is_capped_at_200_and_defaults_to_100(scim):
    ScimUser.objects.bulk_create(
        ScimUser(
            directory=scim.directory,
            organization=scim.org,
            user_name=f"bulk{i}@acme.test",
            user_name_key=f"bulk{i}@acme.test",
            document={"userName": f"bulk{i}@acme.test"},
        )
        for i in range(205)
    )
    assert scim.client.get("Users").json()["itemsPerPage"] == 100
    assert scim.client.get("Users", {"count": 500}).json()["itemsPerPage"] == 200


def test_sort_by_user_name_descending_and_unknown_sorts_refused(scim):
    for name in ["b@acme.test", "C@acme.test", "a@acme.test"]:
        create(scim.client, user(name))
    body = scim.client.get("Users", {"sortBy": "userName", "sortOrder": "descending"}).json()
    assert [r["userName"] for r in body["Resources"]] == [
        "C@acme.test",
        "b@acme.test",
        "a@acme.test",
    ]
    assert_error(scim.client.get("Users", {"sortBy": "title"}), 400, "invalidPath")


def test_list_applies_attributes_and_ignores_unknown_parameters(scim):
    create(scim.client, work_user("lu@acme.test", displayName="Lu"))
    body = scim.client.get(
        "/scim/v2/Users?aadOptscim062020&attributes=displayName&somethingElse=1"
    ).json()
    assert body["Resources"][0].keys() == {"schemas", "id", "displayName"}


def test_search_endpoint_lists_like_get(scim):
    create(scim.client, work_user("mo@acme.test"))
    create(scim.client, work_user("ned@acme.test"))
    response = scim.client.post(
        "Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName eq "mo@acme.test"',
            "attributes": ["userName"],
        },
    )
    assert response.status_code == 200
    assert [r["userName"] for r in response.json()["Resources"]] == ["mo@acme.test"]
