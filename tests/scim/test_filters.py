"""Filters on /Users and /Groups: the allow-listed attributes find exactly what they say, on
stored comparison keys; anything else is invalidFilter, never a wider list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from sso.scim.models import ScimUser
from tests.scim.payloads import ENTERPRISE, assert_error, create, group, user, work_user


@pytest.fixture
def people(scim):
    ann = create(
        scim.client,
        work_user("Ann@Acme.test", externalId="E-1", displayName="Ann Lee", active=True),
    )
    bob = create(
        scim.client,
        user(
            "bob@acme.test",
            externalId="e-1",
            active=False,
            emails=[{"value": "bob@home.test", "type": "home"}],
        ),
    )
    cy = create(scim.client, work_user("cy@acme.test"))
    return {"ann": ann["id"], "bob": bob["id"], "cy": cy["id"]}


def _ids(scim, expression: str, endpoint: str = "Users") -> list[str]:
    response = scim.client.get(endpoint, {"filter": expression})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["totalResults"] == len(body["Resources"])
    return sorted(r["id"] for r in body["Resources"])


def _named(people, *names: str) -> list[str]:
    return sorted(people[name] for name in names)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ann@acme.TEST"', ["ann"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ANN@acme.test"', ["ann"]),
        ('userName eq "nobody@acme.test"', []),
        ('userName sw "ann"', ["ann"]),
        ('userName ew "@acme.test"', ["ann", "bob", "cy"]),
        ('userName co "ob@"', ["bob"]),
        ('externalId eq "E-1"', ["ann"]),
        ('externalId eq "e-1"', ["bob"]),
        ("externalId pr", ["ann", "bob"]),
        ('emails[type eq "work"].value eq "ANN@acme.test"', ["ann"]),
        ('emails[type eq "work"].value eq "bob@home.test"', []),
        ("active eq false", ["bob"]),
        ('displayName eq "ann lee"', ["ann"]),
        ('userName eq "ann@acme.test" or userName eq "cy@acme.test"', ["ann", "cy"]),
        ('userName ew "@acme.test" and not (active eq false)', ["ann", "cy"]),
        ('userName ne "ann@acme.test"', ["bob", "cy"]),
        ("not (userName pr)", []),
    ],
)
def test_user_filters_find_exactly_their_matches(scim, people, expression, expected):
    assert _ids(scim, expression) == _named(people, *expected)


def test_any_email_address_on_postgresql_and_a_clear_refusal_elsewhere(scim, people):
    if connection.features.supports_json_field_contains:
        assert _ids(scim, 'emails.value eq "bob@home.test"') == _named(people, "bob")
        assert _ids(scim, 'emails[value eq "cy@acme.test"]') == _named(people, "cy")
    else:
        response = scim.client.get("Users", {"filter": 'emails.value eq "bob@home.test"'})
        assert_error(response, 400, "invalidFilter")


def test_id_filter_matches_the_scim_id_only(scim, people):
    assert _ids(scim, f'id eq "{people["bob"]}"') == [people["bob"]]
    assert _ids(scim, 'id eq "not-a-uuid"') == []


def test_entra_test_connection_gets_an_empty_list_not_404(scim):
    response = scim.client.get(
        "Users", {"filter": 'userName eq "d29b6b1b-4aa1-4ce4-9d37-0a21d1e2f8a7"'}
    )
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0
    assert response.json()["Resources"] == []


def test_last_modified_comparisons(scim, people):
    ScimUser.objects.filter(public_id=people["ann"]).update(
        updated_at=timezone.now() - timedelta(days=3)
    )
    since = (timezone.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert _ids(scim, f'meta.lastModified gt "{since}"') == _named(people, "bob", "cy")
    assert _ids(scim, f'meta.lastModified le "{since}"') == _named(people, "ann")


def test_quotes_and_sql_in_values_are_plain_values(scim, people):
    assert _ids(scim, 'userName eq "a\'; DROP TABLE sso_scimuser;--"') == []
    assert ScimUser.objects.count() == 3


@pytest.mark.parametrize(
    "expression",
    [
        'nickName eq "x"',  # a real attribute, but not filterable here
        'userName eq "ann@acme.test" and nickName eq "x"',  # never silently dropped
        "title pr",
        f'{ENTERPRISE}:employeeNumber eq "1"',
        'emails[type eq "home"].value eq "bob@home.test"',
        'userName gt "a"',
        "active pr",
        'meta.lastModified gt "yesterday"',
        'nickNamez eq "b"',  # not an attribute at all
        "userName eq",  # not a filter
        'userName eq "a" and',
        '(userName eq "a"',
    ],
)
def test_anything_else_is_invalid_filter(scim, people, expression):
    assert_error(scim.client.get("Users", {"filter": expression}), 400, "invalidFilter")


def test_group_filters(scim, people):
    eng = create(scim.client, group("Engineering", [people["ann"]], externalId="g-1"), "Groups")
    ops = create(scim.client, group("Ops", [people["ann"], people["bob"]]), "Groups")
    assert _ids(scim, 'displayName eq "engineering"', "Groups") == [eng["id"]]
    assert _ids(scim, 'externalId eq "g-1"', "Groups") == [eng["id"]]
    assert _ids(scim, f'id eq "{ops["id"]}"', "Groups") == [ops["id"]]
    both = sorted([eng["id"], ops["id"]])
    assert _ids(scim, f'members[value eq "{people["ann"]}"]', "Groups") == both
    assert _ids(scim, f'members.value eq "{people["bob"]}"', "Groups") == [ops["id"]]
    assert _ids(scim, f'members.value eq "{people["cy"]}"', "Groups") == []
    assert _ids(scim, 'displayName sw "eng"', "Groups") == [eng["id"]]
    assert_error(
        scim.client.get("Groups", {"filter": 'members.display eq "x"'}), 400, "invalidFilter"
    )
