"""The SCIM tab of the organization portal, through HTTP as an org admin uses it: turn SCIM on
and copy the base URL and the token (shown once) into Entra ID or Okta; choose domains and roles;
rotate and revoke tokens; map groups to roles; read the users, groups and last requests; pause,
resume and turn off. Every route is also in tests/organizations/test_isolation.py's matrix."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern

from organizations.models import Domain
from sso.scim import accounts, directories, tokens
from sso.scim import portal as scim_portal
from sso.scim.models import Directory, DirectoryToken, ScimGroup
from tests.organizations.conftest import signed_in
from tests.scim.admins import ScimAdmins, events, scim_group, scim_request, scim_user

TOKEN = re.compile(r"gh_scim_[a-z0-9]{12}_[A-Za-z0-9_-]{20,}")


@pytest.fixture
def world(db) -> ScimAdmins:
    return ScimAdmins()


@pytest.fixture
def admin(world) -> Client:
    return signed_in(world.a_admin)


@pytest.fixture
def directory(world) -> Directory:
    return directories.turn_on(actor=world.a_admin_membership, org=world.a).directory


def tokens_in(response: Any) -> list[str]:
    return TOKEN.findall(response.content.decode())


def test_an_admin_turns_scim_on_and_gets_the_base_url_and_the_token_once(world, admin):
    portal = admin.get("/orgs/acme/")
    assert b'href="/orgs/acme/scim/"' in portal.content

    page = admin.get("/orgs/acme/scim/")
    assert page.status_code == 200
    assert b'id="scim-on-form"' in page.content

    shown = admin.post("/orgs/acme/scim/on/")

    assert shown.status_code == 201
    assert "no-store" in shown["Cache-Control"]
    (token,) = set(tokens_in(shown))
    assert tokens.authenticate(f"Bearer {token}") is not None
    text = shown.content.decode()
    assert "http://testserver/scim/v2/" in text
    # Where each value goes in Entra ID and in Okta.
    for words in ("Tenant URL", "Secret Token", "SCIM connector base URL", "HTTP Header"):
        assert words in text, words
    # Never again: not on the overview, nor the tokens page, which name it by its prefix.
    overview = admin.get("/orgs/acme/scim/")
    assert tokens_in(overview) == []
    assert b"http://testserver/scim/v2/" in overview.content
    listing = admin.get("/orgs/acme/scim/tokens/")
    assert tokens_in(listing) == []
    prefix = DirectoryToken.objects.get().prefix
    assert f"gh_scim_{prefix}_…" in listing.content.decode()
    # Turned on once more: nothing new is shown.
    again = admin.post("/orgs/acme/scim/on/")
    assert again.status_code == 302
    assert DirectoryToken.objects.count() == 1


def test_a_member_has_no_scim_tab_and_is_refused_every_page(world, directory):
    member = signed_in(world.a_member)
    assert b"/orgs/acme/scim/" not in member.get("/orgs/acme/").content
    for path in ("/orgs/acme/scim/", "/orgs/acme/scim/users/", "/orgs/acme/scim/tokens/"):
        assert member.get(path).status_code == 403, path
    assert member.post("/orgs/acme/scim/off/").status_code == 403
    assert Directory.objects.get(pk=directory.pk).status == "active"


def _concrete_paths(group: int, token: int) -> list[tuple[str, str]]:
    """Every route of the tab as (method, path) under Bolt's slug, derived from the urlpatterns
    so that a new route is checked without a line here."""
    found = []
    for pattern in scim_portal.urlpatterns:
        assert isinstance(pattern, URLPattern)
        route = str(pattern.pattern).replace("<int:group_id>", str(group))
        route = route.replace("<int:token_id>", str(token))
        method = "get" if pattern.name in GETS else "post"
        found.append((method, f"/orgs/bolt/scim/{route}"))
    return found


GETS = {"scim", "scim-settings", "scim-tokens", "scim-users", "scim-groups", "scim-requests"}


def test_another_organizations_admin_gets_404_on_every_page_and_action(world, admin):
    theirs = directories.turn_on(actor=world.b_admin_membership, org=world.b)
    group = scim_group(theirs.directory, "Bolt admins")
    assert theirs.issued is not None

    for method, path in _concrete_paths(group.pk, theirs.issued.row.pk):
        response = getattr(admin, method)(path, {"role": "admin", "overlap": "0"})
        assert response.status_code == 404, (method, path)
        assert b"Bolt admins" not in response.content

    # Bolt's directory is as it was: on, its token working, its group without a role.
    assert Directory.objects.get(pk=theirs.directory.pk).status == "active"
    assert tokens.authenticate(f"Bearer {theirs.issued.token}") is not None
    assert ScimGroup.objects.get(pk=group.pk).role is None


def test_pages_that_need_the_directory_send_to_the_overview_before_it_exists(world, admin):
    for path in ("settings/", "tokens/", "users/", "groups/", "requests/"):
        response = admin.get(f"/orgs/acme/scim/{path}")
        assert response.status_code == 302, path
        assert response["Location"] == "/orgs/acme/scim/"
    for path in ("pause/", "off/", "tokens/1/revoke/", "groups/1/role/"):
        assert admin.post(f"/orgs/acme/scim/{path}", {"role": "admin"}).status_code == 404
    assert not Directory.objects.exists()


def test_forms_need_the_csrf_token(world, directory):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.a_admin)
    assert strict.post("/orgs/acme/scim/off/").status_code == 403
    assert strict.post("/orgs/acme/scim/tokens/new/", {"overlap": "0"}).status_code == 403
    assert Directory.objects.get(pk=directory.pk).status == "active"
    assert DirectoryToken.objects.count() == 1
    # The page's own form token is what lets the same post through.
    page = strict.get("/orgs/acme/scim/").content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf is not None
    assert (
        strict.post("/orgs/acme/scim/off/", {"csrfmiddlewaretoken": csrf.group(1)}).status_code
        == 302
    )
    assert Directory.objects.get(pk=directory.pk).status == "off"


def test_settings_offer_the_verified_domains_and_save(world, admin, directory):
    Domain.objects.create(
        organization=world.a, name="pending.a.example", verification_token=Domain.new_token()
    )
    page = admin.get("/orgs/acme/scim/settings/")
    text = page.content.decode()
    assert "a.example" in text
    assert "pending.a.example" not in text
    assert "b.example" not in text

    saved = admin.post(
        "/orgs/acme/scim/settings/",
        {"domain_ids": [], "default_role": "admin", "put_without_active_deactivates": "on"},
    )
    assert saved.status_code == 302
    directory.refresh_from_db()
    assert directory.default_role == "admin"
    assert directory.put_without_active_deactivates is True
    assert not directory.domains.exists()
    assert len(events("scim.directory_updated", world.a)) == 1


def test_settings_refuse_another_organizations_domain_and_keep_what_was_there(
    world, admin, directory
):
    refused = admin.post(
        "/orgs/acme/scim/settings/",
        {"domain_ids": [str(world.b_domain.pk)], "default_role": "owner"},
    )
    assert refused.status_code == 400
    assert b"field--invalid" in refused.content
    directory.refresh_from_db()
    assert list(directory.domains.all()) == [world.a_domain]
    assert directory.default_role == "member"
    assert events("scim.directory_updated", world.a) == []


def test_a_new_token_is_shown_once_and_the_old_one_works_until_the_overlap_ends(
    world, admin, directory
):
    old = DirectoryToken.objects.get(directory=directory)

    shown = admin.post("/orgs/acme/scim/tokens/new/", {"overlap": "24h"})

    assert shown.status_code == 201
    assert "no-store" in shown["Cache-Control"]
    (new_token,) = set(tokens_in(shown))
    caller = tokens.authenticate(f"Bearer {new_token}")
    assert caller is not None
    assert caller.token.pk != old.pk
    old.refresh_from_db()
    assert old.expires_at is not None
    assert old.usable()
    listing = admin.get("/orgs/acme/scim/tokens/").content.decode()
    assert tokens_in(admin.get("/orgs/acme/scim/tokens/")) == []
    assert f'data-token-id="{old.pk}" data-usable="true"' in listing
    assert "Replaced" in listing
    assert len(events("scim.token_rotated", world.a)) == 1

    bad = admin.post("/orgs/acme/scim/tokens/new/", {"overlap": "30d"})
    assert bad.status_code == 302
    assert DirectoryToken.objects.count() == 2


def test_revoking_a_token_ends_it_at_once(world, admin, directory):
    row = DirectoryToken.objects.get(directory=directory)
    listing = admin.get("/orgs/acme/scim/tokens/").content.decode()
    assert f'/orgs/acme/scim/tokens/{row.pk}/revoke/" data-confirm=' in listing

    response = admin.post(f"/orgs/acme/scim/tokens/{row.pk}/revoke/")

    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert not row.usable()
    listing = admin.get("/orgs/acme/scim/tokens/").content.decode()
    assert f'data-token-id="{row.pk}" data-usable="false"' in listing
    assert "Revoked" in listing
    assert len(events("scim.token_revoked", world.a)) == 1


def test_pause_resume_and_turn_off(world, admin, directory):
    page = admin.get("/orgs/acme/scim/").content.decode()
    assert 'id="scim-pause-form"' in page
    assert 'id="scim-off-form" data-confirm=' in page

    assert admin.post("/orgs/acme/scim/pause/").status_code == 302
    directory.refresh_from_db()
    assert directory.status == "paused"
    assert directory.paused_at is not None
    page = admin.get("/orgs/acme/scim/").content.decode()
    assert 'id="scim-paused"' in page
    assert 'id="scim-resume-form"' in page

    admin.post("/orgs/acme/scim/resume/")
    directory.refresh_from_db()
    assert directory.status == "active"
    assert directory.paused_at is None

    admin.post("/orgs/acme/scim/off/")
    directory.refresh_from_db()
    assert directory.status == "off"
    assert b'id="scim-on-form"' in admin.get("/orgs/acme/scim/").content
    # Pausing a directory that is off is refused, as a message on the page.
    refused = admin.post("/orgs/acme/scim/pause/", follow=True)
    assert "SCIM is off" in refused.content.decode()
    assert Directory.objects.get(pk=directory.pk).status == "off"
    assert [
        len(events(f"scim.directory_{what}", world.a)) for what in ("paused", "resumed", "disabled")
    ] == [1, 1, 1]


def test_users_come_in_keyset_pages_and_can_be_searched_by_user_name(world, admin, directory):
    linked = scim_user(directory, "Zed@a.example", user=world.a_member, link_state="linked")
    for i in range(60):
        scim_user(directory, f"person{i:02d}@a.example", active=i % 2 == 0)
    theirs = directories.turn_on(actor=world.b_admin_membership, org=world.b).directory
    scim_user(theirs, "person-bolt@b.example")
    scim_user(theirs, "zed@b.example")

    first = admin.get("/orgs/acme/scim/users/")
    text = first.content.decode()
    assert text.count("data-scim-user=") == 50
    assert "Zed@a.example" in text
    assert "member@a.example" in text  # the linked member's address
    assert 'data-link-state="linked"' in text
    assert "b.example" not in text
    following = re.search(r'href="\?after=(\d+)"', text)
    assert following is not None

    second = admin.get("/orgs/acme/scim/users/", {"after": following.group(1)}).content.decode()
    assert second.count("data-scim-user=") == 11
    assert "person59@a.example" in second
    assert "?after=" not in second
    assert "b.example" not in second

    found = admin.get("/orgs/acme/scim/users/", {"q": "ZED"}).content.decode()
    assert found.count("data-scim-user=") == 1
    assert f'data-scim-user="{linked.public_id}"' in found
    assert (
        admin.get("/orgs/acme/scim/users/", {"q": "person-bolt"}).content.count(b"data-scim-user=")
        == 0
    )
    # Nonsense in the page parameter is the first page, never an error.
    assert admin.get("/orgs/acme/scim/users/", {"after": "x"}).status_code == 200


def test_groups_show_their_role_and_an_admin_maps_one(world, admin, directory, monkeypatch):
    synced: list[list[int]] = []
    monkeypatch.setattr(accounts, "sync_roles", lambda d, ids, *, actor: synced.append(sorted(ids)))
    ann = scim_user(directory, "ann@a.example")
    group = scim_group(directory, "Engineering", [ann])

    page = admin.get("/orgs/acme/scim/groups/").content.decode()
    assert f'data-scim-group="{group.public_id}" data-role=""' in page
    assert f'action="/orgs/acme/scim/groups/{group.pk}/role/"' in page

    response = admin.post(f"/orgs/acme/scim/groups/{group.pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    assert ScimGroup.objects.get(pk=group.pk).role == "admin"
    assert synced == [[ann.pk]]
    page = admin.get("/orgs/acme/scim/groups/").content.decode()
    assert f'data-scim-group="{group.public_id}" data-role="admin"' in page
    admin.post(f"/orgs/acme/scim/groups/{group.pk}/role/", {"role": "owner"})
    assert ScimGroup.objects.get(pk=group.pk).role == "admin"
    admin.post(f"/orgs/acme/scim/groups/{group.pk}/role/", {"role": ""})
    assert ScimGroup.objects.get(pk=group.pk).role is None


def test_the_request_log_shows_outcomes_and_no_personal_data(world, admin, directory):
    ok = scim_request(directory, method="POST", operation="create", status=201)
    refused = scim_request(
        directory,
        method="PATCH",
        operation="PATCH replace active",
        status=400,
        scim_type="noTarget",
    )
    theirs = directories.turn_on(actor=world.b_admin_membership, org=world.b).directory
    scim_request(theirs, method="DELETE", status=204, operation="bolt-only-operation")

    text = admin.get("/orgs/acme/scim/requests/").content.decode()

    assert text.count("<tr data-status=") == 2
    assert text.index("PATCH replace active") < text.index("create")  # newest first
    assert "noTarget" in text
    assert "bolt-only-operation" not in text
    assert str(ok.resource_public_id) not in text
    assert str(refused.resource_public_id) not in text
    overview = admin.get("/orgs/acme/scim/").content.decode()
    assert "noTarget" in overview
