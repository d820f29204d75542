"""Bad input gets a SCIM error with the right status and scimType, never a 500, and leaves
nothing written: malformed JSON, oversized and deeply nested bodies, wrong media types,
unknown attributes and operations, conflicting userNames, a wrong If-Match."""

from __future__ import annotations

import pytest
from django.test import override_settings

from audit.models import AuditEvent
from sso.scim.models import Directory, ScimGroup, ScimUser
from tests.scim.payloads import assert_error, create, patch, user, work_user


def _nothing_written(scim, users: int = 0) -> None:
    assert ScimUser.objects.count() == users
    assert not ScimGroup.objects.exists()
    assert Directory.objects.get(pk=scim.directory.pk).user_count == users


@pytest.mark.parametrize("body", ["{", "not json", '{"userName": "a",}', "\xff\xfe"])
def test_malformed_json_is_invalid_syntax(scim, body):
    assert_error(scim.client.post("Users", body), 400, "invalidSyntax")
    _nothing_written(scim)


@pytest.mark.parametrize("body", ["[]", '"text"', "42", "null"])
def test_a_body_that_is_no_object_is_invalid_syntax(scim, body):
    assert_error(scim.client.post("Users", body), 400, "invalidSyntax")


def test_ten_thousand_levels_of_nesting_are_refused_without_recursion(scim):
    deep = '{"userName": "a@acme.test", "x": ' + "[" * 10_000 + "]" * 10_000 + "}"
    assert_error(scim.client.post("Users", deep), 400, "invalidSyntax")
    nested_object = '{"a":' * 10_000 + "1" + "}" * 10_000
    assert_error(scim.client.post("Users", nested_object), 400, "invalidSyntax")
    _nothing_written(scim)


def test_oversized_body_is_413(scim):
    big = user("big@acme.test", displayName="x" * (2 * 1024 * 1024))
    assert_error(scim.client.post("Users", big), 413)
    _nothing_written(scim)


@override_settings(GATEHOUSE_SCIM_MAX_BODY_BYTES=200)
def test_the_body_limit_is_scims_own_setting(scim):
    assert_error(scim.client.post("Users", user("a@acme.test", title="t" * 300)), 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_wrong_content_type_is_415(scim, content_type):
    response = scim.client.post("Users", work_user("a@acme.test"), content_type=content_type)
    assert_error(response, 415)
    _nothing_written(scim)


def test_plain_json_is_accepted(scim):
    response = scim.client.post("Users", work_user("a@acme.test"), content_type="application/json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (user("a@acme.test", nickNamez="x"), "invalidSyntax"),  # no such attribute
        (user("a@acme.test", schemas=["urn:example:unknown"]), "invalidSyntax"),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}, "invalidValue"),
        (user("a@acme.test", emails=[{"value": "not-an-address"}]), "invalidValue"),
        (user("a@acme.test", active="perhaps"), "invalidValue"),
        (user(""), "invalidValue"),
        (user("   "), "invalidValue"),
        (user("a" * 256), "invalidValue"),
        (user("a@acme.test", externalId="e" * 256), "invalidValue"),
    ],
)
def test_invalid_resources_are_refused_with_their_scim_type(scim, body, scim_type):
    assert_error(scim.client.post("Users", body), 400, scim_type)
    _nothing_written(scim)


def test_overlong_group_names_are_invalid_value(scim):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g" * 256}
    assert_error(scim.client.post("Groups", body), 400, "invalidValue")
    _nothing_written(scim)


def test_conflicting_user_name_is_409_uniqueness_and_writes_nothing(scim):
    create(scim.client, work_user("ann@acme.test", externalId="x1"))
    events = AuditEvent.objects.count()
    assert_error(scim.client.post("Users", work_user("ANN@acme.test")), 409, "uniqueness")
    assert_error(
        scim.client.post("Users", work_user("other@acme.test", externalId="x1")), 409, "uniqueness"
    )
    _nothing_written(scim, users=1)
    assert AuditEvent.objects.count() == events


def test_renaming_onto_another_user_is_409_and_changes_nothing(scim):
    create(scim.client, work_user("ann@acme.test"))
    bob = create(scim.client, work_user("bob@acme.test"))
    response = scim.client.patch(
        f"Users/{bob['id']}", patch({"op": "replace", "path": "userName", "value": "Ann@acme.test"})
    )
    assert_error(response, 409, "uniqueness")
    row = ScimUser.objects.get(public_id=bob["id"])
    assert (row.user_name, row.version) == ("bob@acme.test", 1)


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([{"op": "merge", "path": "active", "value": False}], "invalidValue"),
        ([{"op": "replace", "path": "nickNamez", "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": "id", "value": "x"}], "mutability"),
        ([{"op": "remove", "path": "userName"}], "mutability"),
        ([{"op": "replace", "path": "emails[type eq", "value": "x"}], "invalidPath"),
        ([], "invalidValue"),
    ],
)
def test_patch_operations_not_understood_are_errors(scim, operations, scim_type):
    created = create(scim.client, work_user("pat@acme.test"))
    response = scim.client.patch(f"Users/{created['id']}", patch(*operations))
    assert_error(response, 400, scim_type)
    assert ScimUser.objects.get(public_id=created["id"]).version == 1


def test_one_bad_operation_undoes_the_good_ones_before_it(scim):
    created = create(scim.client, work_user("pat@acme.test"))
    response = scim.client.patch(
        f"Users/{created['id']}",
        patch(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": "perhaps"},
        ),
    )
    assert_error(response, 400, "invalidValue")
    row = ScimUser.objects.get(public_id=created["id"])
    assert (row.display_name, row.version) == ("", 1)


def test_wrong_if_match_on_put_is_412(scim):
    created = create(scim.client, work_user("pat@acme.test"))
    response = scim.client.put(
        f"Users/{created['id']}", work_user("pat@acme.test", title="x"), **{"If-Match": 'W/"9"'}
    )
    assert_error(response, 412)
    assert "title" not in ScimUser.objects.get(public_id=created["id"]).document


@pytest.mark.parametrize(
    "params",
    [{"startIndex": "one"}, {"count": "many"}, {"sortOrder": "sideways"}],
)
def test_bad_list_parameters_are_400(scim, params):
    response = scim.client.get("Users", params)
    assert response.status_code == 400
    assert response.json()["status"] == "400"


def test_nul_characters_are_invalid_values_not_500s(scim):
    assert_error(scim.client.post("Users", user("nul\u0000@acme.test")), 400, "invalidValue")
    assert_error(
        scim.client.post("Users", user("a@acme.test", title="x\u0000")), 400, "invalidValue"
    )
    response = scim.client.get("Users", {"filter": r'userName eq "a\u0000b"'})
    assert_error(response, 400, "invalidValue")
    _nothing_written(scim)


def test_bad_response_parameters_refuse_a_write_before_it_is_made(scim):
    refused = scim.client.post("Users?attributes=[[", work_user("amy@acme.test"))
    assert_error(refused, 400, "invalidPath")
    _nothing_written(scim)
    created = create(scim.client, work_user("amy@acme.test"))
    refused = scim.client.patch(
        f"Users/{created['id']}?excludedAttributes=[[",
        patch({"op": "replace", "path": "active", "value": False}),
    )
    assert_error(refused, 400, "invalidPath")
    assert ScimUser.objects.get(public_id=created["id"]).active is True


def test_a_malformed_patch_path_leaves_no_value_in_the_request_log(scim):
    from sso.scim.models import ScimRequest

    created = create(scim.client, work_user("amy@acme.test"))
    scim.client.patch(
        f"Users/{created['id']}",
        patch({"op": "replace", "path": 'emails[value eq "amy.secret@acme.test"', "value": "x"}),
    )
    logged = ScimRequest.objects.filter(method="PATCH").get()
    assert logged.status == 400
    assert logged.operation == "PATCH replace emails"
