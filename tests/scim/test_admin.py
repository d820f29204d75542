"""Support staff look SCIM directories, tokens and records up in the Django admin: read-only,
fast to search, and never a token's digest."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sso.scim import directories
from sso.scim.models import DirectoryToken
from tests.conftest import force_login_verified
from tests.factories import UserFactory
from tests.scim.admins import ScimAdmins, scim_group, scim_user


@pytest.fixture
def world(db) -> ScimAdmins:
    return ScimAdmins()


@pytest.fixture
def staff(db) -> Client:
    return force_login_verified(Client(), UserFactory(is_staff=True, is_superuser=True))


def test_support_sees_the_directory_and_its_tokens_without_secrets(world, staff):
    done = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert done.issued is not None
    row = DirectoryToken.objects.get()

    page = staff.get(f"/admin/sso/directory/{done.directory.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "a.example" in text  # its domains
    assert row.prefix in text  # the tokens inline
    assert row.digest not in text
    assert done.issued.token not in text

    token_page = staff.get(f"/admin/sso/directorytoken/{row.pk}/change/").content.decode()
    assert row.prefix in token_page
    assert row.digest not in token_page
    # No rebuilding the digest through URL filters; nothing to add, change or delete.
    listing = "/admin/sso/directorytoken/"
    assert staff.get(listing, {"digest__startswith": row.digest[:4]}).status_code == 400
    assert staff.get(listing, {"key_id": row.key_id}).status_code == 400
    assert staff.get("/admin/sso/directorytoken/add/").status_code == 403
    assert staff.post(f"/admin/sso/directory/{done.directory.pk}/delete/").status_code == 403
    assert staff.post(f"/admin/sso/directorytoken/{row.pk}/delete/").status_code == 403
    assert DirectoryToken.objects.filter(pk=row.pk).exists()


def test_support_finds_a_scim_user_by_user_name_external_id_or_id(world, staff):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    ann = scim_user(directory, "Ann.Lee@a.example", external_id="E-1001")
    scim_user(directory, "bob@a.example", user=world.a_member, link_state="linked")
    listing = "/admin/sso/scimuser/"

    for query, found in (
        ({"q": "ann.l"}, ["Ann.Lee@a.example"]),
        ({"q": "ANN"}, ["Ann.Lee@a.example"]),
        ({"q": "E-1001"}, ["Ann.Lee@a.example"]),
        ({"q": str(ann.public_id)}, ["Ann.Lee@a.example"]),
        ({"q": "lee"}, []),  # the start of the user name, not any part of it
        ({"link_state__exact": "linked"}, ["bob@a.example"]),
    ):
        response = staff.get(listing, query)
        assert response.status_code == 200, query
        assert [u.user_name for u in response.context["cl"].result_list] == found, query


def test_the_scim_user_list_does_not_query_per_row(world, staff):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    for i in range(3):
        scim_user(directory, f"p{i}@a.example", user=UserFactory(), link_state="linked")
    staff.get("/admin/sso/scimuser/")  # the session's first request loads more than the list
    with CaptureQueriesContext(connection) as few:
        staff.get("/admin/sso/scimuser/")
    for i in range(3, 20):
        scim_user(directory, f"p{i}@a.example", user=UserFactory(), link_state="linked")
    with CaptureQueriesContext(connection) as many:
        response = staff.get("/admin/sso/scimuser/")
    assert len(response.context["cl"].result_list) == 20
    assert len(many.captured_queries) == len(few.captured_queries)


def test_support_sees_groups_with_their_role(world, staff):
    directory = directories.turn_on(actor=world.a_admin_membership, org=world.a).directory
    group = scim_group(directory, "Engineering")
    directories.set_group_role(
        actor=world.a_admin_membership, org=world.a, group_id=group.pk, role="admin"
    )
    response = staff.get("/admin/sso/scimgroup/", {"q": "engin"})
    assert [g.display_name for g in response.context["cl"].result_list] == ["Engineering"]
    page = staff.get(f"/admin/sso/scimgroup/{group.pk}/change/").content.decode()
    assert "Engineering" in page
    assert 'name="role"' not in page  # read-only
