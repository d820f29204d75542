"""An app bound to one organization sees that organization only, on every management API
route: the routes are walked from config.api's URL list (not a hand-kept one), each filled in
with organization B's slug and the ids of B's objects, and called with every method the view
answers by an app of organization A holding every permission. Each answer is a 404 (always,
under /organizations/<slug>/: never a 403 that would confirm B exists), a refusal (403) that
wrote nothing, or a list that shows nothing of B's.

The same walk over A's own organization proves the other side: every write route of the
organizations API succeeds for A's app, is audited as the app, and is refused (403 naming
``organizations:write``) for a token without that permission."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from allauth.usersessions.models import UserSession
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent, AuditVerification
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from events.services import create_endpoint
from organizations.models import Domain, Invitation, Membership, OrganizationPolicy
from organizations.services.domains import add_domain
from organizations.services.invitations import invite
from provider.models import ApiAccess, Application
from tests.api.oauth_world import backend
from tests.organizations.conftest import signed_in

# Routes that describe the API rather than reach any data.
NOT_DATA = {"schema", "docs"}
# Bodies for the writes: valid enough to reach past validation to the tenant check.
BODIES = {
    "POST": {
        "reason": "isolation walk",
        "email": "new@b.example",
        "name": "x",
        "role": "member",
        "kind": "m2m",
        "organization": "bolt",
        "identifier": "https://b.example/api/",
        "api": "http://testserver/api/v1/",
        "scopes": ["users:read"],
    },
    "PATCH": {"display_name": "Mallory", "name": "Mallory", "role": "admin"},
}


def patterns(resolver: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in resolver:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from patterns(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and pattern.name not in NOT_DATA:
            yield route, pattern


def management_api_routes() -> list[Any]:
    """config.api's URL list, as the root resolver mounts it at /api/."""
    (mounted,) = (
        pattern
        for pattern in get_resolver().url_patterns
        if isinstance(pattern, URLResolver) and pattern.namespace == "api"
    )
    return list(mounted.url_patterns)


def methods_of(pattern: URLPattern) -> list[str]:
    callback: Any = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:
        # DRF adds "head" to a viewset's actions once it has answered a GET: HEAD is GET.
        return sorted(method.upper() for method in actions if method not in ("head", "options"))
    view = callback.cls
    return sorted(
        method.upper()
        for method in ("get", "post", "patch", "put", "delete")
        if hasattr(view, method)
    )


class BWorld:
    """Organization B's objects, by the URL parameter names that reach them."""

    def __init__(self, world: Any) -> None:
        b_owner = Membership.objects.get(organization=world.b, user=world.b_owner)
        self.invitation = invite(actor=b_owner, org=world.b, email="guest@b.example", role="member")
        self.domain = add_domain(actor=b_owner, org=world.b, name="bolt.example")
        signed_in(world.b_member)
        self.session = UserSession.objects.get(user=world.b_member)
        self.member = Membership.objects.get(organization=world.b, user=world.b_member)
        self.app = backend(name="Bolt's backend", organization=world.b).application
        self.endpoint = create_endpoint(
            actor=b_owner, organization=world.b, url="https://93.184.216.34/bolt-hook"
        ).endpoint
        self.delivery = Delivery.objects.create(
            endpoint=self.endpoint,
            event=Event.objects.create(type="organization.updated", organization_id=world.b.pk),
        )
        self.check = AuditVerification.objects.create(
            organization=world.b,
            checkpoint={"chain": world.b.pk},
            checkpoint_size=1,
            status=AuditVerification.Status.RUNNING,
        )
        self.people = [world.b_owner, world.b_admin, world.b_member]
        # What must never appear in an answer to A's app.
        self.markers = [
            "bolt",
            "Bolt",
            "@b.example",
            self.app.client_id,
            self.endpoint.public_id,
            *(str(user.public_id) for user in self.people),
        ]

    def fill(self, name: str, route: str) -> str:
        ids = {"member": self.member.pk, "invitation": self.invitation.pk, "domain": self.domain.pk}
        kind = name.split("-")[0]
        values = {
            "slug": "bolt",
            "org_slug": "bolt",
            "pk": ids.get(kind, self.member.pk),
            "user_id": self.member.user.public_id,
            "session_id": self.session.pk,
            "event_id": uuid.uuid4(),
            "client_id": self.app.client_id,
            "endpoint_id": self.endpoint.public_id,
            "delivery_id": self.delivery.public_id,
            "check_id": self.check.public_id,
        }
        return fill_route(route, values)


def fill_route(route: str, values: dict[str, Any]) -> str:
    path = route
    for key, value in values.items():
        for converter in ("slug", "int", "uuid", "str"):
            path = path.replace(f"<{converter}:{key}>", str(value))
    assert "<" not in path, f"fill in a value for {route}"
    return "/api/" + path


def in_an_organization(route: str) -> bool:
    """Routes under /organizations/<slug>/: the organization is in the path."""
    return route.startswith("v1/organizations/<")


def state_of_b(world: Any, b: BWorld) -> tuple[Any, ...]:
    """What a write by A's app could change in B's world."""
    world.b.refresh_from_db()
    return (
        world.b.name,
        sorted(Membership.objects.filter(organization=world.b).values_list("pk", "role", "status")),
        sorted(Invitation.objects.filter(organization=world.b).values_list("pk", "revoked_at")),
        sorted(Domain.objects.filter(organization=world.b).values_list("pk", "verified_at")),
        sorted(
            User.objects.filter(email__endswith="@b.example").values_list(
                "pk", "display_name", "is_blocked"
            )
        ),
        UserSession.objects.filter(user=world.b_member).count(),
        User.objects.count(),
        Application.objects.count(),
        sorted(ApiAccess.objects.values_list("pk", "scopes")),
        Application.objects.filter(pk=b.app.pk).values_list("secret_digest", "disabled_at").get(),
        sorted(WebhookEndpoint.objects.values_list("pk", "url", "status", "event_types")),
        sorted(WebhookSecret.objects.values_list("pk", "expires_at")),
        sorted(Delivery.objects.values_list("pk", "status")),
        sorted(AuditVerification.objects.values_list("pk", "status", "attempts")),
    )


def test_an_organization_bound_app_sees_nothing_of_another_organization(world):
    b = BWorld(world)
    caller = backend(organization=world.a).caller()
    before = state_of_b(world, b)
    events_before = set(AuditEvent.objects.values_list("pk", flat=True))
    walked = []
    for route, pattern in patterns(management_api_routes()):
        path = b.fill(str(pattern.name), route)
        for method in methods_of(pattern):
            response = caller.send(method, path, BODIES.get(method))
            walked.append(f"{method} {route}")
            where = f"{method} {path}: {response.status_code} {response.content[:300]!r}"
            # A write may also be refused as invalid (400): the state check below proves it
            # changed nothing.
            # Under /organizations/<slug>/, only 404: a 403 would confirm B exists.
            allowed: tuple[int, ...] = (200, 403, 404) if method == "GET" else (400, 403, 404)
            if in_an_organization(route):
                allowed = (404,)
            assert response.status_code in allowed, where
            if response.status_code == 200:
                body = response.content.decode()
                assert not any(marker in body for marker in b.markers), where
    assert len(walked) >= 30
    assert state_of_b(world, b) == before
    # Nothing was done: the only events are refusals and probes, never a success.
    done = AuditEvent.objects.exclude(pk__in=events_before).filter(outcome="success")
    assert not done.exists(), list(done.values_list("action", flat=True))


def test_the_same_walk_reaches_the_apps_own_organization(world):
    # The control for the walk above: the token works, so its 404s are isolation.
    caller = backend(organization=world.a).caller()
    listed = caller.get("/api/v1/organizations/").json()["results"]
    assert [org["slug"] for org in listed] == ["acme"]
    for path in (
        "/api/v1/organizations/acme/",
        "/api/v1/organizations/acme/members/",
        "/api/v1/organizations/acme/invitations/",
        "/api/v1/organizations/acme/domains/",
        "/api/v1/organizations/acme/policy/",
        f"/api/v1/users/{world.a_member.public_id}/",
        f"/api/v1/users/{world.a_member.public_id}/sessions/",
        f"/api/v1/users/{world.a_member.public_id}/consents/",
    ):
        assert caller.get(path).status_code == 200, path
    people = caller.get("/api/v1/users/").json()["results"]
    assert {row["email"] for row in people} == {
        "owner@a.example",
        "admin@a.example",
        "member@a.example",
    }


def test_an_unbound_app_with_organizations_read_sees_every_organization(world):
    caller = backend(scopes=["organizations:read"]).caller()
    listed = caller.get("/api/v1/organizations/").json()["results"]
    assert [org["slug"] for org in listed] == ["acme", "bolt"]
    assert caller.get("/api/v1/organizations/bolt/members/").status_code == 200
    # Reading is all that permission gives.
    response = caller.send("PATCH", "/api/v1/organizations/bolt/", {"name": "Taken"})
    assert response.status_code == 403
    assert "organizations:write" in response.json()["detail"]
    world.b.refresh_from_db()
    assert world.b.name == "Bolt"


# --- The app's own organization: every write route ---------------------------------------------

# Each write of the organizations API under /organizations/<slug>/, with a body that succeeds
# for an app in its own organization, the status it answers and the event it writes. A write
# route added to the API fails the walk below until it is listed here.
OWN_WRITES: dict[tuple[str, str], tuple[dict[str, Any] | None, int, str]] = {
    ("organization-detail", "PATCH"): ({"name": "Acme Two"}, 200, "org.updated"),
    ("member-detail", "PATCH"): ({"role": "admin"}, 200, "org.member_role_changed"),
    ("member-detail", "DELETE"): (None, 204, "org.member_removed"),
    ("invitation-list", "POST"): (
        {"email": "new@a.example", "role": "admin"},
        201,
        "org.invitation_sent",
    ),
    ("invitation-detail", "DELETE"): (None, 204, "org.invitation_revoked"),
    ("invitation-resend", "POST"): (None, 200, "org.invitation_resent"),
    ("domain-list", "POST"): ({"name": "acme-two.example"}, 201, "org.domain_added"),
    ("domain-detail", "DELETE"): (None, 204, "org.domain_removed"),
    ("domain-verify", "POST"): (None, 200, "org.domain_verified"),
    ("policy", "PATCH"): ({"session_lifetime_minutes": 60}, 200, "org.policy_updated"),
}


class AWorld:
    """Organization A's objects, one per write that changes or ends it."""

    def __init__(self, world: Any, dns_server: Any) -> None:
        owner = Membership.objects.get(organization=world.a, user=world.a_owner)
        revoked = invite(actor=owner, org=world.a, email="revoke@a.example", role="member")
        resent = invite(actor=owner, org=world.a, email="resend@a.example", role="member")
        # Sent long enough ago to be sent again (a minute must pass).
        Invitation.objects.filter(pk=resent.pk).update(sent_at=timezone.now() - timedelta(hours=1))
        removed = add_domain(actor=owner, org=world.a, name="old.acme.example")
        verified = add_domain(actor=owner, org=world.a, name="acme.example")
        dns_server.zone.records[verified.record_name] = [verified.record_value]
        self.ids = {
            ("member", "PATCH"): world.membership(world.a, world.a_member).pk,
            ("member", "DELETE"): world.membership(world.a, world.a_admin).pk,
            ("invitation", "DELETE"): revoked.pk,
            ("invitation", "POST"): resent.pk,
            ("domain", "DELETE"): removed.pk,
            ("domain", "POST"): verified.pk,
        }

    def fill(self, name: str, route: str, method: str) -> str:
        pk = self.ids.get((name.split("-")[0], method), 0)
        return fill_route(route, {"slug": "acme", "org_slug": "acme", "pk": pk})


# POSTs that only read: checking the audit log against a checkpoint (``audit:read``; its
# scope and isolation are tests/audit/chain/test_chain_api.py's).
READS_BY_POST = frozenset({"audit-verify"})


def organization_writes() -> Iterator[tuple[str, str, str]]:
    """(name, route, method) of every write under /organizations/<slug>/."""
    for route, pattern in patterns(management_api_routes()):
        if in_an_organization(route) and pattern.name not in READS_BY_POST:
            for method in methods_of(pattern):
                if method != "GET":
                    yield str(pattern.name), route, method


def test_an_organization_bound_app_makes_every_change_in_its_own_organization(world, dns_server):
    a = AWorld(world, dns_server)
    app = backend(organization=world.a, scopes=["organizations:read", "organizations:write"])
    caller = app.caller()
    walked = set()
    for name, route, method in organization_writes():
        assert (name, method) in OWN_WRITES, f"list {method} {route} in OWN_WRITES"
        body, expected, action = OWN_WRITES[(name, method)]
        path = a.fill(name, route, method)
        response = caller.send(method, path, body)
        assert response.status_code == expected, f"{method} {path}: {response.content[:300]!r}"
        event = AuditEvent.objects.filter(action=action).latest("occurred_at")
        # On record as the app, in its organization: no person acted.
        assert (event.actor_text, event.actor_id, event.organization_id, event.outcome) == (
            f"client {app.client_id}",
            None,
            world.a.pk,
            "success",
        ), f"{method} {route}"
        walked.add((name, method))
    assert walked == set(OWN_WRITES)
    # What the writes did, read back from the database.
    world.a.refresh_from_db()
    assert world.a.name == "Acme Two"
    assert world.membership(world.a, world.a_member).role == "admin"
    assert world.membership(world.a, world.a_admin).status == Membership.Status.REMOVED
    sent = Invitation.objects.get(organization=world.a, email="new@a.example")
    assert (sent.invited_by_id, sent.invited_by_client) == (None, app.client_id)
    assert Invitation.objects.get(pk=a.ids[("invitation", "DELETE")]).revoked_at is not None
    assert Domain.objects.get(pk=a.ids[("domain", "POST")]).is_verified
    assert not Domain.objects.filter(pk=a.ids[("domain", "DELETE")]).exists()
    assert world.a.policy.session_lifetime_minutes == 60


def test_a_token_without_organizations_write_changes_nothing(world, dns_server):
    a = AWorld(world, dns_server)
    caller = backend(organization=world.a, scopes=["organizations:read"]).caller()
    before = state_of_a(world)
    writes = list(organization_writes())
    assert len(writes) == len(OWN_WRITES)
    for name, route, method in writes:
        body = OWN_WRITES[(name, method)][0]
        response = caller.send(method, a.fill(name, route, method), body)
        where = f"{method} {route}"
        assert response.status_code == 403, where
        assert "organizations:write" in response.json()["detail"], where
        assert 'scope="organizations:write"' in response["WWW-Authenticate"], where
    assert state_of_a(world) == before


def state_of_a(world: Any) -> tuple[Any, ...]:
    world.a.refresh_from_db()
    return (
        world.a.name,
        sorted(Membership.objects.filter(organization=world.a).values_list("pk", "role", "status")),
        sorted(
            Invitation.objects.filter(organization=world.a).values_list(
                "pk", "revoked_at", "token_hash"
            )
        ),
        sorted(Domain.objects.filter(organization=world.a).values_list("pk", "verified_at")),
        OrganizationPolicy.objects.filter(organization=world.a).values().get(),
    )


def test_a_write_to_someone_in_other_organizations_too_is_refused(world):
    # Blocking reaches every organization a person is in: A's app may not block B's member,
    # even one who is also A's.
    Membership.objects.create(organization=world.a, user=world.b_member, role="member")
    caller = backend(organization=world.a).caller()
    path = f"/api/v1/users/{world.b_member.public_id}/block/"
    response = caller.send("POST", path, {"reason": "no"})
    assert response.status_code == 403, response.content
    world.b_member.refresh_from_db()
    assert not world.b_member.is_blocked
    # A's own member, in no other organization, can be blocked by A's app.
    response = caller.send(
        "POST", f"/api/v1/users/{world.a_member.public_id}/block/", {"reason": "x"}
    )
    assert response.status_code == 200
    assert json.loads(response.content)["blocked"] is True
