"""Deep pages by key, not by OFFSET: the admin's "Next" cursor and the API's ``cursor``
pages walk a whole list once, in order, with no row skipped or repeated, and a cursor that
the list did not make is refused cleanly."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.admin import UserAdmin
from accounts.models import User
from config.api_framework import Pagination
from organizations.models import Membership
from tests.admin_scale.world import staff_client
from tests.api.oauth_world import backend
from tests.factories import UserFactory
from tests.organizations.conftest import OrgWorld, signed_in

pytestmark = pytest.mark.django_db

NEXT = re.compile(r'<a href="([^"]+)" class="next"')


def test_the_admin_walks_past_its_numbered_pages_by_cursor(monkeypatch):
    client = staff_client()
    people = [UserFactory(email=f"walk{i:02d}@deep.example") for i in range(23)]
    expected = [u.pk for u in User.objects.order_by("-date_joined", "-id")]

    monkeypatch.setattr(UserAdmin, "list_per_page", 5)

    seen: list[int] = []
    url = "/admin/accounts/user/"
    cursor_pages = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        seen += [row.pk for row in response.context["cl"].result_list]
        if "after=" in url:
            cursor_pages.append([q["sql"] for q in captured.captured_queries])
        found = NEXT.search(response.content.decode())
        if not found:
            break
        url = "/admin/accounts/user/" + unescape(found.group(1))

    assert len(people) == 23
    assert seen == expected
    assert len(cursor_pages) == 4  # 24 people (with staff), 5 a page: one numbered, four by key
    assert not [sql for page in cursor_pages for sql in page if "OFFSET" in sql]


def test_a_cursor_the_admin_did_not_make_shows_an_empty_page_not_an_error():
    client = staff_client()
    UserFactory()
    for junk in ("nonsense", "WyJ4Il0", "W10", "%00"):
        response = client.get("/admin/accounts/user/", {"after": junk})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


def test_api_members_walk_by_cursor_in_order(monkeypatch):
    world = OrgWorld()
    monkeypatch.setattr(Pagination, "page_size", 3)
    for i in range(7):
        person = UserFactory(email=f"m{i}@a.example")
        Membership.objects.create(organization=world.a, user=person, role="member", source="admin")
    client = signed_in(world.a_owner)
    expected = list(
        Membership.objects.filter(organization=world.a, status="active")
        .order_by("user__email", "pk")
        .values_list("user__email", flat=True)
    )
    url: str | None = "/api/v1/organizations/acme/members/?cursor="
    emails: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["previous"] is None
        assert body["count"] == len(expected)
        emails += [m["email"] for m in body["results"]]
        url = body["next"]
    assert emails == expected
    # Page numbers still work as before.
    first = client.get("/api/v1/organizations/acme/members/", {"page": "2"}).json()
    assert [m["email"] for m in first["results"]] == expected[3:6]


def test_api_users_walk_by_cursor_and_refuse_a_forged_one(db):
    for i in range(5):
        UserFactory(email=f"u{i}@cursor.example")
    caller = backend(scopes=["users:read"]).caller()
    url: str | None = "/api/v1/users/?cursor="
    ids: list[str] = []
    while url:
        body = caller.get(url).json()
        ids += [u["id"] for u in body["results"]]
        url = body["next"]
    assert ids == [str(u) for u in User.objects.order_by("pk").values_list("public_id", flat=True)]

    for forged in ("nonsense", "WyJ4Il0", "W10", "0" * 1000):
        response = caller.get("/api/v1/users/", {"cursor": forged})
        assert response.status_code == 404, (forged, response.content)
        assert response["Content-Type"] == "application/problem+json"
    too_long = caller.get("/api/v1/users/", {"cursor": "x" * 1001})
    assert too_long.status_code == 400
    assert "cursor" in too_long.json()["errors"]
    # With a cursor, a page number is ignored.
    both = caller.get("/api/v1/users/", {"cursor": "", "page": "2"}).json()
    assert [u["id"] for u in both["results"]] == ids[:50]
    # ... but it must still be a page number (the contract fuzzer sends ?page=null&cursor=).
    for wrong in ("null", "false", "0", "-1"):
        refused = caller.get("/api/v1/users/", {"cursor": "", "page": wrong})
        assert refused.status_code == 400, (wrong, refused.content)
        assert "page" in refused.json()["errors"]
