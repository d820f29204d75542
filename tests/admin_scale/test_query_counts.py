"""Every changelist and change page staff use costs a fixed number of queries, however many
rows it shows (no N+1), pinned here; and no page counts a table without a bound."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import OutboundEmail
from audit.models import AuditEvent
from consent.models import ConsentEvent
from organizations.admin import PREVIEW_ROWS
from organizations.models import Invitation, Membership, Organization
from provider.models import AccessToken, Application, RefreshToken
from sso.models import Connection
from tests.admin_scale.world import grow, newest, some_user, staff_client
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# Path -> queries it runs (session, user, OTP device, the list's EXPLAIN, its rows, and each
# page's own lookups), the same with 3 rows as with 8. Not counted here: the bounded count the
# paginator adds when the planner expects a short list, which depends on the planner's
# statistics (a table another test filled and rolled back still looks big to it until it is
# vacuumed); that any count is bounded is asserted on its own.
CHANGELISTS: dict[str, int] = {
    "/admin/accounts/user/": 6,
    "/admin/accounts/user/?verified=yes": 6,
    "/admin/accounts/user/?q=person1%40scale.example": 6,
    "/admin/accounts/user/?q=person": 6,
    "/admin/accounts/outboundemail/": 7,
    "/admin/accounts/outboundemail/?q=person1%40scale.example": 7,
    "/admin/account/emailaddress/": 6,
    "/admin/account/emailaddress/?q=person1%40scale.example": 6,
    "/admin/usersessions/usersession/": 6,
    "/admin/socialaccount/socialaccount/": 7,
    "/admin/organizations/organization/": 6,
    "/admin/organizations/organization/?q=person1%40scale.example": 6,
    "/admin/organizations/organization/?q=org": 6,
    "/admin/organizations/membership/": 6,
    "/admin/organizations/membership/?q=person1%40scale.example": 6,
    "/admin/organizations/invitation/": 6,
    "/admin/organizations/invitation/?q=invitee1%40scale.example": 6,
    "/admin/audit/auditevent/": 6,
    "/admin/audit/auditevent/?q=person1%40scale.example": 6,
    "/admin/consent/consentevent/": 7,
    "/admin/consent/consentevent/?q=person1%40scale.example": 7,
    "/admin/consent/datasubjectrequest/": 6,
    "/admin/sso/connection/": 7,
    "/admin/sso/connection/?q=idp": 7,
    "/admin/provider/application/": 6,
    "/admin/provider/accesstoken/": 6,
    "/admin/provider/accesstoken/?q=person1%40scale.example": 6,
    "/admin/provider/refreshtoken/": 6,
    "/admin/events/delivery/": 7,
}

CHANGE_PAGES: dict[str, tuple[Callable[[], Any], int]] = {
    "organization": (lambda: newest(Organization), 9),
    "membership": (lambda: newest(Membership), 7),
    "invitation": (lambda: newest(Invitation), 7),
    "auditevent": (
        lambda: AuditEvent.objects.filter(actor__isnull=False).order_by("-occurred_at").first(),
        6,
    ),
    "consentevent": (lambda: newest(ConsentEvent), 5),
    "connection": (lambda: newest(Connection), 8),
    "application": (lambda: newest(Application), 11),
    "accesstoken": (lambda: newest(AccessToken), 7),
    "refreshtoken": (lambda: newest(RefreshToken), 7),
    "emailaddress": (lambda: EmailAddress.objects.filter(user=some_user()).first(), 6),
    "usersession": (lambda: newest(UserSession), 6),
    "socialaccount": (lambda: newest(SocialAccount), 6),
    "outboundemail": (lambda: newest(OutboundEmail), 5),
}


def _queries(client: Any, path: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return [q["sql"] for q in captured.captured_queries]


def _change_url(obj: Any) -> str:
    meta = obj._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/{obj.pk}/change/"


def _without_bounded_counts(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if not ("COUNT(" in sql and re.search(r"LIMIT \d+\)", sql))]


def _unbounded_counts(sqls: list[str]) -> list[str]:
    return [sql for sql in sqls if "COUNT(" in sql and not re.search(r"LIMIT \d+\)", sql)]


def test_changelists_cost_the_same_with_more_rows_and_never_count_unbounded():
    client = staff_client()
    grow(3)
    client.get("/admin/")  # the session's first request settles its own caches
    small = {path: _queries(client, path) for path in CHANGELISTS}
    grow(5)
    large = {path: _queries(client, path) for path in CHANGELISTS}

    measured = {path: len(_without_bounded_counts(large[path])) for path in CHANGELISTS}
    growing = {p: (len(small[p]), len(large[p])) for p in CHANGELISTS if small[p] != large[p]}
    assert not [p for p in growing if len(small[p]) != len(large[p])], growing
    assert measured == CHANGELISTS
    unbounded = {p: _unbounded_counts(large[p]) for p in CHANGELISTS if _unbounded_counts(large[p])}
    assert not unbounded


def test_change_pages_cost_a_pinned_number_of_queries():
    client = staff_client()
    grow(4)
    client.get("/admin/")
    urls = {name: _change_url(find()) for name, (find, _) in CHANGE_PAGES.items()}
    for url in urls.values():
        client.get(url)  # the first view of a kind of page looks up its content type once
    measured = {name: len(_queries(client, url)) for name, url in urls.items()}
    assert measured == {name: pinned for name, (_, pinned) in CHANGE_PAGES.items()}


def test_an_organization_page_shows_its_newest_members_whatever_their_number():
    client = staff_client()
    grow(1)
    org = newest(Organization)
    client.get("/admin/")
    url = _change_url(org)
    client.get(url)
    few = _queries(client, url)
    people = [UserFactory(email=f"member{i}@big.example") for i in range(PREVIEW_ROWS + 5)]
    for person in people:
        Membership.objects.create(organization=org, user=person, role="member", source="admin")
    many = _queries(client, url)
    response = client.get(url)

    assert len(many) == len(few)
    shown = response.content.decode()
    assert "member24@big.example" in shown  # the newest
    assert "member0@big.example" not in shown  # past the preview: in the members list
    assert f"/admin/organizations/membership/?organization={org.pk}" in shown
