"""Tenant isolation, endpoint by endpoint: an admin of one organization never reaches another's
data, members cannot do admin actions, and every refusal is audited.

Every org-scoped portal page and API endpoint is listed once in ENDPOINTS; the tests below run
each check on each of them. A new endpoint gets the same checks by adding one line.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEvent, AuditExport, AuditVerification
from organizations import services
from organizations.models import Domain, Invitation, Membership
from provider.models import Application
from sso.models import Connection, IdPCertificate
from sso.scim import tokens as scim_tokens
from sso.scim.models import Directory, DirectoryToken, ScimGroup
from tests.audit.streams import isolation as streams
from tests.organizations import branding_images, isolation_webhooks
from tests.organizations.conftest import signed_in
from tests.sso.builders import certificate

# A signing certificate to add, made once for the whole module (key generation is slow).
CERTIFICATE_PEM = certificate()


# The kinds of object a path can point at, e.g. {domain}.
KINDS = (
    *("member", "invitation", "domain", "connection", "certificate", "application"),
    *("scim_token", "scim_group", "audit_export", "log_stream", "webhook_delivery", "webhook"),
    "audit_check",
)


@dataclass(frozen=True)
class Endpoint:
    method: str
    # {slug}, and one of KINDS in braces ({member}, {domain}, ...) for the object it acts on.
    path: str
    admin_only: bool = True
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False

    @property
    def object_kind(self) -> str | None:
        for kind in KINDS:
            if "{" + kind + "}" in self.path:
                return kind
        return None

    def call(self, client: Client, **values: Any):
        path = self.path.format(**values)
        if self.api:
            body = json.dumps(self.data) if self.method in ("post", "patch") else None
            return getattr(client, self.method)(path, body, content_type="application/json")
        # A (file name, bytes) value is a file upload; made afresh for each call.
        data = {
            k: SimpleUploadedFile(*v) if isinstance(v, tuple) else v for k, v in self.data.items()
        }
        return getattr(client, self.method)(path, data)


ENDPOINTS = [
    # Portal pages.
    Endpoint("get", "/orgs/{slug}/", admin_only=False),
    Endpoint("get", "/orgs/{slug}/members/", admin_only=False),
    Endpoint("post", "/orgs/{slug}/members/{member}/role/", data={"role": "admin"}),
    Endpoint("post", "/orgs/{slug}/members/{member}/remove/"),
    Endpoint("get", "/orgs/{slug}/invitations/"),
    Endpoint(
        "post", "/orgs/{slug}/invitations/", data={"email": "x@new.example", "role": "member"}
    ),
    Endpoint("post", "/orgs/{slug}/invitations/{invitation}/resend/"),
    Endpoint("post", "/orgs/{slug}/invitations/{invitation}/revoke/"),
    Endpoint("get", "/orgs/{slug}/domains/"),
    Endpoint("post", "/orgs/{slug}/domains/", data={"name": "new.example"}),
    Endpoint("post", "/orgs/{slug}/domains/{domain}/verify/"),
    Endpoint("post", "/orgs/{slug}/domains/{domain}/remove/"),
    Endpoint("get", "/orgs/{slug}/policy/"),
    Endpoint(
        "post",
        "/orgs/{slug}/policy/",
        data={"allowed_login_methods": ["password"], "default_role": "member"},
    ),
    Endpoint("get", "/orgs/{slug}/settings/"),
    Endpoint(
        "post",
        "/orgs/{slug}/settings/",
        data={
            "name": "Renamed",
            "display_name": "Renamed Cloud",
            "brand_colour": "#123456",
            "logo": ("logo.png", branding_images.png()),
        },
    ),
    Endpoint("get", "/orgs/{slug}/sso/"),
    Endpoint("get", "/orgs/{slug}/sso/new/"),
    Endpoint("post", "/orgs/{slug}/sso/new/", data={"protocol": "oidc", "name": "New"}),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/"),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/setup/"),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/idp/"),
    Endpoint(
        "post",
        "/orgs/{slug}/sso/{connection}/idp/",
        data={
            "name": "Renamed",
            "idp_entity_id": "https://idp.example.net/other",
            "idp_sso_url": "https://idp.example.net/other/sso",
        },
    ),
    Endpoint(
        "post",
        "/orgs/{slug}/sso/{connection}/idp/metadata-url/",
        data={"metadata_url": "https://idp.example.net/metadata"},
    ),
    Endpoint(
        "post",
        "/orgs/{slug}/sso/{connection}/idp/metadata-file/",
        data={"metadata_file": ("idp.xml", b"<EntityDescriptor/>")},
    ),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/idp/metadata-stop/"),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/accounts/"),
    Endpoint(
        "post",
        "/orgs/{slug}/sso/{connection}/accounts/",
        data={"default_role": "admin", "mfa_trust": "idp", "role_mapping": "staff = admin"},
    ),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/certificates/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/certificates/", data={"pem": CERTIFICATE_PEM}),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/certificates/{certificate}/remove/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/sp-key/start/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/sp-key/cancel/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/test/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/activate/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/disable/"),
    Endpoint("get", "/orgs/{slug}/sso/{connection}/delete/"),
    Endpoint("post", "/orgs/{slug}/sso/{connection}/delete/"),
    Endpoint("get", "/orgs/{slug}/applications/"),
    Endpoint("get", "/orgs/{slug}/applications/new/"),
    Endpoint(
        "post", "/orgs/{slug}/applications/new/", data={"name": "X", "permissions": ["users:read"]}
    ),
    Endpoint("get", "/orgs/{slug}/applications/{application}/"),
    Endpoint("post", "/orgs/{slug}/applications/{application}/rotate/", data={"overlap": "0"}),
    Endpoint("post", "/orgs/{slug}/applications/{application}/disable/", data={"reason": "x"}),
    Endpoint("post", "/orgs/{slug}/applications/{application}/enable/", data={"reason": "x"}),
    Endpoint("get", "/orgs/{slug}/scim/"),
    Endpoint("post", "/orgs/{slug}/scim/on/"),
    Endpoint("post", "/orgs/{slug}/scim/pause/"),
    Endpoint("post", "/orgs/{slug}/scim/resume/"),
    Endpoint("post", "/orgs/{slug}/scim/off/"),
    Endpoint("get", "/orgs/{slug}/scim/settings/"),
    Endpoint(
        "post",
        "/orgs/{slug}/scim/settings/",
        data={"default_role": "admin", "put_without_active_deactivates": "on"},
    ),
    Endpoint("get", "/orgs/{slug}/scim/tokens/"),
    Endpoint("post", "/orgs/{slug}/scim/tokens/new/", data={"overlap": "0"}),
    Endpoint("post", "/orgs/{slug}/scim/tokens/{scim_token}/revoke/"),
    Endpoint("get", "/orgs/{slug}/scim/users/"),
    Endpoint("get", "/orgs/{slug}/scim/groups/"),
    Endpoint("post", "/orgs/{slug}/scim/groups/{scim_group}/role/", data={"role": "admin"}),
    Endpoint("get", "/orgs/{slug}/scim/requests/"),
    Endpoint("get", "/orgs/{slug}/audit/"),
    Endpoint("post", "/orgs/{slug}/audit/export/", data={"format": "csv"}),
    Endpoint("get", "/orgs/{slug}/audit/exports/{audit_export}/"),
    *streams.endpoints(Endpoint),
    Endpoint("post", "/orgs/{slug}/audit/checkpoint/"),
    Endpoint("post", "/orgs/{slug}/audit/verify/"),
    Endpoint("get", "/orgs/{slug}/audit/checks/{audit_check}/"),
    Endpoint("post", "/orgs/{slug}/transfer/", data={"member": "0"}),
    Endpoint("post", "/orgs/{slug}/leave/", admin_only=False),
    *(Endpoint(m, p, data=d) for m, p, d in isolation_webhooks.ROUTES),
    # API.
    Endpoint("get", "/api/v1/organizations/{slug}/", admin_only=False, api=True),
    Endpoint(
        "patch",
        "/api/v1/organizations/{slug}/",
        data={
            "name": "Renamed",
            "display_name": "Renamed Cloud",
            "brand_background": "#000000",
            "brand_text": "#ffffff",
            "logo_image": base64.b64encode(branding_images.png()).decode(),
        },
        api=True,
    ),
    Endpoint("get", "/api/v1/organizations/{slug}/members/", admin_only=False, api=True),
    Endpoint("get", "/api/v1/organizations/{slug}/members/{member}/", admin_only=False, api=True),
    Endpoint(
        "patch", "/api/v1/organizations/{slug}/members/{member}/", data={"role": "admin"}, api=True
    ),
    Endpoint("delete", "/api/v1/organizations/{slug}/members/{member}/", api=True),
    Endpoint("get", "/api/v1/organizations/{slug}/invitations/", api=True),
    Endpoint(
        "post",
        "/api/v1/organizations/{slug}/invitations/",
        data={"email": "x@new.example"},
        api=True,
    ),
    Endpoint("get", "/api/v1/organizations/{slug}/invitations/{invitation}/", api=True),
    Endpoint("delete", "/api/v1/organizations/{slug}/invitations/{invitation}/", api=True),
    Endpoint("post", "/api/v1/organizations/{slug}/invitations/{invitation}/resend/", api=True),
    Endpoint("get", "/api/v1/organizations/{slug}/domains/", api=True),
    Endpoint(
        "post", "/api/v1/organizations/{slug}/domains/", data={"name": "new.example"}, api=True
    ),
    Endpoint("get", "/api/v1/organizations/{slug}/domains/{domain}/", api=True),
    Endpoint("delete", "/api/v1/organizations/{slug}/domains/{domain}/", api=True),
    Endpoint("post", "/api/v1/organizations/{slug}/domains/{domain}/verify/", api=True),
    Endpoint("get", "/api/v1/organizations/{slug}/policy/", admin_only=False, api=True),
    Endpoint("patch", "/api/v1/organizations/{slug}/policy/", data={"require_mfa": True}, api=True),
    Endpoint("post", "/api/v1/organizations/{slug}/audit/verify", api=True),
    Endpoint("get", "/api/v1/organizations/{slug}/audit/verify/{audit_check}", api=True),
]
IDS = [f"{e.method.upper()} {e.path}" for e in ENDPOINTS]


class Objects:
    """One object of each kind in an organization, for the paths to point at."""

    def __init__(self, org, owner, member_user) -> None:
        self.member = Membership.objects.get(organization=org, user=member_user).pk
        token = Invitation.new_token()
        from datetime import timedelta

        from django.utils import timezone

        from organizations.models import hash_token

        self.invitation = Invitation.objects.create(
            organization=org,
            email=f"pending@{org.slug}.example",
            token_hash=hash_token(token),
            invited_by=owner,
            expires_at=timezone.now() + timedelta(days=7),
        ).pk
        self.domain = Domain.objects.create(
            organization=org, name=f"{org.slug}.example", verification_token=Domain.new_token()
        ).pk
        # A draft SAML connection with one certificate (made directly: no SP key pair needed).
        connection = Connection.objects.create(
            organization=org,
            protocol="saml",
            name=f"{org.name} IdP",
            slug=f"{org.slug}-idp",
            idp_entity_id=f"https://idp.{org.slug}.example/metadata",
            idp_sso_url=f"https://idp.{org.slug}.example/sso",
        )
        self.connection = connection.pk
        self.certificate = IdPCertificate.objects.create(
            connection=connection,
            der_base64="MA==",
            fingerprint_sha256=f"{org.slug}-fingerprint",
            not_before=timezone.now() - timedelta(days=1),
            not_after=timezone.now() + timedelta(days=365),
            source="uploaded",
        ).pk
        # An M2M app bound to the organization (provider's Applications tab).
        from provider.management_api import management_api
        from provider.services.applications import create_application

        self.application = create_application(
            actor=None,
            name=f"{org.name} backend",
            kind="m2m",
            organization=org,
            apis={management_api(): ["users:read"]},
        ).application.pk
        # A SCIM directory, paused (so that each switch has something to change), with a
        # token and a group.
        directory = Directory.objects.create(
            organization=org, status=Directory.Status.PAUSED, paused_at=timezone.now()
        )
        self.scim_token = scim_tokens.new_token(directory)[0].pk
        self.scim_group = ScimGroup.objects.create(
            directory=directory,
            organization=org,
            display_name=f"{org.name} admins",
            display_name_key=f"{org.slug} admins",
        ).pk
        # A background export of the audit log, ready to download.
        from config import encryption

        self.audit_export = str(
            AuditExport.objects.create(
                organization=org,
                format="csv",
                status=AuditExport.Status.READY,
                data=encryption.encrypt_bytes(b"bolt.example"),
                expires_at=timezone.now() + timedelta(hours=1),
            ).public_id
        )
        self.log_stream = streams.stream_of(org)
        # A background check of the audit log, done, that found a problem naming an event.
        self.audit_check = str(
            AuditVerification.objects.create(
                organization=org,
                checkpoint={"chain": org.pk},
                checkpoint_size=3,
                status=AuditVerification.Status.DONE,
                result={
                    "chain": org.pk,
                    "ok": False,
                    "checked": 3,
                    "size": 3,
                    "pruned_through": 0,
                    "first_problem": f"position 2: event of {org.slug}.example was changed",
                    "problems": [],
                    "problem_count": 1,
                },
            ).public_id
        )

        self.webhook, self.webhook_delivery = isolation_webhooks.objects_of(org, owner)

    def values(self) -> dict[str, int | str]:
        return {
            "member": self.member,
            "invitation": self.invitation,
            "domain": self.domain,
            "connection": self.connection,
            "certificate": self.certificate,
            "application": self.application,
            "scim_token": self.scim_token,
            "scim_group": self.scim_group,
            "audit_export": self.audit_export,
            "log_stream": self.log_stream,
            "audit_check": self.audit_check,
            "webhook": self.webhook,
            "webhook_delivery": self.webhook_delivery,
        }


@pytest.fixture
def objects(world):
    return {
        "a": Objects(world.a, world.a_owner, world.a_member),
        "b": Objects(world.b, world.b_owner, world.b_member),
    }


def _snapshot() -> tuple:
    """Everything these endpoints could change, to prove a refused call changed nothing."""
    from organizations.models import BrandLogo, Organization, OrganizationPolicy

    return (
        sorted(
            Organization.objects.values_list(
                "pk",
                "name",
                "slug",
                "logo_url",
                "brand_colour",
                "display_name",
                "brand_background",
                "brand_text",
                "logo_id",
            )
        ),
        sorted(
            OrganizationPolicy.objects.values_list(
                "pk",
                "require_mfa",
                "allowed_login_methods",
                "sso_only",
                "session_lifetime_minutes",
                "auto_join_verified_domains",
                "default_role",
            ),
            key=str,
        ),
        sorted(Membership.objects.values_list("pk", "role", "status")),
        sorted(Invitation.objects.values_list("pk", "token_hash", "revoked_at", "send_count")),
        sorted(Domain.objects.values_list("pk", "name", "verified_at", "last_checked_at")),
        sorted(
            Connection.objects.values_list(
                "pk",
                "name",
                "status",
                "idp_entity_id",
                "idp_sso_url",
                "metadata_url",
                "jit_enabled",
                "default_role",
                "role_mapping",
                "mfa_trust",
                "client_id",
                "client_secret_encrypted",
                "sp_next_certificate",
                "updated_at",
            ),
            key=str,
        ),
        sorted(Connection.domains.through.objects.values_list("connection_id", "domain_id")),
        sorted(IdPCertificate.objects.values_list("pk", "connection_id", "fingerprint_sha256")),
        sorted(
            Application.objects.values_list(
                "pk", "name", "secret_digest", "previous_secret_digest", "disabled_at"
            ),
            key=str,
        ),
        sorted(
            Directory.objects.values_list(
                "pk", "status", "paused_at", "default_role", "put_without_active_deactivates"
            ),
            key=str,
        ),
        sorted(Directory.domains.through.objects.values_list("directory_id", "domain_id")),
        sorted(
            DirectoryToken.objects.values_list("pk", "expires_at", "revoked_at"),
            key=str,
        ),
        sorted(ScimGroup.objects.values_list("pk", "role"), key=str),
        sorted(AuditExport.objects.values_list("pk", "status"), key=str),
        sorted(AuditVerification.objects.values_list("pk", "status", "attempts"), key=str),
        streams.snapshot(),
        isolation_webhooks.snapshot(),
        sorted(BrandLogo.objects.values_list("sha256", flat=True)),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_admin_of_a_gets_404_for_org_b(endpoint, world, objects):
    client = signed_in(world.a_admin)
    before = _snapshot()

    # Org B by its own slug: A's admin is not a member there.
    response = endpoint.call(client, slug="bolt", **objects["b"].values())
    assert response.status_code == 404, response.content[:300]
    # B's object under A's slug: the object is looked up within A only.
    if endpoint.object_kind:
        response = endpoint.call(client, slug="acme", **objects["b"].values())
        assert response.status_code == 404, response.content[:300]

    assert _snapshot() == before
    assert b"bolt.example" not in response.content


@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENDPOINTS if e.admin_only],
    ids=[i for e, i in zip(ENDPOINTS, IDS, strict=True) if e.admin_only],
)
def test_member_cannot_do_admin_actions_and_the_refusal_is_audited(endpoint, world, objects):
    client = signed_in(world.a_member)
    before = _snapshot()
    denied_before = AuditEvent.objects.filter(action="org.access_denied").count()

    response = endpoint.call(client, slug="acme", **objects["a"].values())

    assert response.status_code == 403, response.content[:300]
    assert _snapshot() == before
    denied = AuditEvent.objects.filter(action="org.access_denied").order_by("-occurred_at")
    assert denied.count() == denied_before + 1
    latest = denied.first()
    assert latest is not None
    assert latest.organization_id == world.a.pk
    assert latest.actor_id == world.a_member.pk


@pytest.mark.parametrize("path", ["/api/v1/organizations/acme/members/", "/orgs/acme/members/"])
def test_lists_filters_and_pages_never_show_another_org(world, objects, path):
    from tests.factories import UserFactory

    for i in range(60):  # enough for two pages in each organization
        Membership.objects.create(
            organization=world.b, user=UserFactory(email=f"b{i}@bolt.example"), source="admin"
        )
        Membership.objects.create(
            organization=world.a, user=UserFactory(email=f"a{i}@acme.example"), source="admin"
        )
    client = signed_in(world.a_admin)
    for query in (
        {},
        {"q": "bolt"},
        {"q": "b.example"},
        {"page": "2"},
        {"page": "9999"},
        {"q": "@"},
    ):
        response = client.get(path, query)
        assert response.status_code in (200, 404), (query, response.status_code)
        assert b"bolt.example" not in response.content, query
        assert b"@b.example" not in response.content, query
    assert b"a59@acme.example" in client.get(path, {"page": "2"}).content


def test_org_list_shows_only_ones_own(world):
    client = signed_in(world.a_admin)
    slugs = [o["slug"] for o in client.get("/api/v1/organizations/").json()["results"]]
    assert slugs == ["acme"]


def test_an_admin_cannot_make_themselves_owner_nor_touch_owners(world):
    admin = world.membership(world.a, world.a_admin)
    owner = world.membership(world.a, world.a_owner)
    client = signed_in(world.a_admin)

    for member, role in (
        (admin.pk, "owner"),
        (owner.pk, "member"),
        (world.membership(world.a, world.a_member).pk, "owner"),
    ):
        response = client.patch(
            f"/api/v1/organizations/acme/members/{member}/",
            json.dumps({"role": role, "is_staff": True, "is_superuser": True}),
            content_type="application/json",
        )
        assert response.status_code == 403, (member, role)
    assert client.delete(f"/api/v1/organizations/acme/members/{owner.pk}/").status_code == 403
    admin.refresh_from_db()
    owner.refresh_from_db()
    assert admin.role == "admin"
    assert owner.role == "owner"
    assert owner.is_active
    world.a_admin.refresh_from_db()
    assert not world.a_admin.is_staff
    assert not world.a_admin.is_superuser
    assert (
        AuditEvent.objects.filter(action="org.access_denied", organization_id=world.a.pk).count()
        == 4
    )


def test_a_removed_member_loses_access_at_once(world):
    client = signed_in(world.a_member)
    assert client.get("/orgs/acme/").status_code == 200
    services.remove_member(
        actor=world.membership(world.a, world.a_admin),
        org=world.a,
        member_id=world.membership(world.a, world.a_member).pk,
    )
    assert client.get("/orgs/acme/").status_code == 404
    assert client.get("/api/v1/organizations/acme/members/").status_code == 404


def test_probing_another_organization_is_audited(world):
    client = signed_in(world.a_admin)
    assert client.get("/orgs/bolt/members/").status_code == 404
    assert client.get("/api/v1/organizations/bolt/").status_code == 404
    probes = AuditEvent.objects.filter(action="org.access_denied", organization_id=world.b.pk)
    assert probes.count() == 2
    assert {e.actor_id for e in probes} == {world.a_admin.pk}
    # A slug that does not exist leaves nothing to attach an event to, and says the same.
    assert client.get("/orgs/nothing-here/").status_code == 404
