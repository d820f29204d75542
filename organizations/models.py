"""Organizations (B2B tenants), their members, invitations, verified domains and policy.

Every tenant-owned row carries ``organization``; querysets of tenant-owned models have
``for_org(org)``, and views and API endpoints fetch through it (DESIGN.md, tenancy).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any, ClassVar, Self

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
# Slugs that would shadow the portal's own pages or confuse people.
RESERVED_SLUGS = frozenset({"new", "admin", "api", "static", "account", "accounts", "sso", "www"})
BRAND_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use a colour like #4f46e5.")


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class TenantQuerySet(models.QuerySet):
    def for_org(self, org: Organization) -> Self:
        return self.filter(organization=org)


class Organization(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(SLUG_PATTERN, "Use lower-case letters, digits and dashes.")],
    )
    logo_url = models.URLField(
        "logo URL", max_length=500, blank=True, help_text="An https:// image shown on its pages."
    )
    brand_colour = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    # Sign-in branding (organizations/branding/): the name its people know, an uploaded logo
    # served by Gatehouse, and the page's backdrop and the text on it. Empty: the operator's.
    display_name = models.CharField(max_length=60, blank=True)
    brand_background = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    brand_text = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    logo = models.ForeignKey(
        "BrandLogo", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        # The admin's list in name order, in keyset pages (config/admin_scale.py).
        indexes: ClassVar[list[Any]] = [models.Index(fields=["name", "id"], name="org_name_id")]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(TenantQuerySet):
    def active(self) -> Self:
        return self.filter(status=Membership.Status.ACTIVE)


class Membership(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REMOVED = "removed", "Removed"

    class Source(models.TextChoices):
        CREATED = "created", "Created the organization"
        INVITATION = "invitation", "Invitation"
        DOMAIN = "domain", "Verified domain"
        SSO = "sso", "Single sign-on"
        SCIM = "scim", "SCIM provisioning"
        ADMIN = "admin", "Added by support"
        IMPORT = "import", "Imported from another system"

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=12, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Set by the deprovisioning job once everything granted through the organization is gone.
    deprovisioned_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            # One row per person and organization: leaving and coming back reuses it.
            models.UniqueConstraint(fields=["organization", "user"], name="org_membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role}, {self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    # Only a hash of the emailed token is kept: a database leak hands out no invitations.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # The client id of the app that sent it through the management API (no person did).
    invited_by_client = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveIntegerField(default=0)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        # The admin's list, newest first, and its search by address (config/admin_scale.py).
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["created_at", "id"], name="org_invitation_created"),
            models.Index(Lower("email"), name="org_invitation_email"),
        ]
        constraints: ClassVar[list[Any]] = [
            # At most one open invitation per address and organization.
            models.UniqueConstraint(
                "organization",
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="org_invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.organization}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


DOMAIN_PATTERN = (
    r"^(?=.{4,253}$)(?!-)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
)


class Domain(models.Model):
    """An email domain an organization claims, proven by a DNS TXT record."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=253, validators=[RegexValidator(DOMAIN_PATTERN)])
    verification_token = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_result = models.CharField(max_length=200, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering: ClassVar[list[str]] = ["name"]
        # The admin finds an organization by one of its domains (config/admin_scale.py).
        indexes: ClassVar[list[Any]] = [models.Index(fields=["name"], name="org_domain_name")]
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["organization", "name"], name="org_domain_unique"),
            # A domain counts for one organization at most.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(verified_at__isnull=False),
                name="org_domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(16)

    @property
    def record_name(self) -> str:
        return f"{settings.GATEHOUSE_DOMAIN_RECORD_PREFIX}.{self.name}"

    @property
    def record_value(self) -> str:
        return f"gatehouse-domain-verification={self.verification_token}"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class LoginMethod(models.TextChoices):
    PASSWORD = "password", "Password"
    CODE = "code", "Emailed code"
    PASSKEY = "passkey", "Passkey"
    SSO = "sso", "Single sign-on"
    SOCIAL = "social", "Social login (Google, GitHub...)"


def all_login_methods() -> list[str]:
    return [m.value for m in LoginMethod]


class OrganizationPolicy(models.Model):
    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="policy"
    )
    require_mfa = models.BooleanField(
        "require two-step verification",
        default=False,
        help_text="Members must set up an authenticator app or a passkey at their next login.",
    )
    risk_step_up = models.BooleanField(
        "ask for a second factor on risky sign-ins",
        default=False,
        help_text=(
            "A sign-in from a new device or network, or after many wrong passwords, needs a "
            "second factor (an emailed code for members without one)."
        ),
    )
    allowed_login_methods = models.JSONField(default=all_login_methods)
    sso_only = models.BooleanField(
        "SSO only", default=False, help_text="Members sign in through the organization's SSO."
    )
    session_lifetime_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Sessions working in this organization end after this long (empty: default).",
    )
    auto_join_verified_domains = models.BooleanField(
        default=False,
        help_text="People whose verified email is in a verified domain join with the default role.",
    )
    default_role = models.CharField(
        max_length=10,
        choices=[(Role.MEMBER.value, Role.MEMBER.label), (Role.ADMIN.value, Role.ADMIN.label)],
        default=Role.MEMBER,
    )
    audit_retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=365,
        help_text="Audit events older than this are deleted every night (empty: kept for ever).",
    )
    impersonation_needs_approval = models.BooleanField(
        "support must ask before signing in as a member",
        default=False,
        help_text=(
            "Before support staff may see Gatehouse as one of your members, an admin of the "
            "organization (or the member) approves it by an emailed link."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"policy of {self.organization}"


class BrandLogo(models.Model):
    """A logo as Gatehouse re-encoded it (organizations/branding/images.py): a PNG kept in the
    database, so that every stateless web process can serve it, and addressed by the SHA-256
    of its bytes (the logo route's URL changes whenever the image does)."""

    sha256 = models.CharField(max_length=64, unique=True, editable=False)
    data = models.BinaryField(editable=False)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return f"logo {self.sha256[:12]} ({self.width}x{self.height})"


class OperatorBranding(models.Model):
    """The operator's own branding (one row, pk 1): the default of every page and email that
    no organization brands. Empty fields fall back to the settings (GATEHOUSE_PRODUCT_NAME,
    GATEHOUSE_BRAND_COLOUR) and then to Gatehouse's own look."""

    product_name = models.CharField(max_length=60, blank=True)
    brand_colour = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    brand_background = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    brand_text = models.CharField(max_length=7, blank=True, validators=[BRAND_COLOUR])
    logo = models.ForeignKey(
        BrandLogo, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "operator branding"
        verbose_name_plural = "operator branding"

    def __str__(self) -> str:
        return "Operator branding"
