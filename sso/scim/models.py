"""What a SCIM directory has written: its users and groups as it sent them, the tokens it
calls with, and a short log of its requests.

A ``ScimUser`` is the directory's record of a person. It becomes a Gatehouse account (``user``)
only when the admission rules allow (``sso.scim.accounts``): people outside the directory's
domains, and privileged accounts, stay records without an account.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar, Self

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from organizations.models import Domain, Organization, Role, TenantQuerySet

MAPPABLE_ROLES = [(Role.MEMBER.value, Role.MEMBER.label), (Role.ADMIN.value, Role.ADMIN.label)]


class DirectoryQuerySet(models.QuerySet["Directory"]):
    def for_directory(self, directory: Directory) -> Self:
        return self.filter(directory=directory)


class Directory(models.Model):
    class Status(models.TextChoices):
        OFF = "off", "Off"
        ACTIVE = "active", "On"
        PAUSED = "paused", "Paused"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="scim_directory"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OFF)
    # The verified domains whose people the directory may give accounts to (unverified ones
    # never count, see sso.scim.accounts).
    domains = models.ManyToManyField(Domain, blank=True, related_name="scim_directories")
    default_role = models.CharField(max_length=10, choices=MAPPABLE_ROLES, default=Role.MEMBER)
    # Okta's App Integration Wizard sends whole users by PUT; a PUT without "active" leaves the
    # person active unless the organization says its directory means "inactive" by that.
    put_without_active_deactivates = models.BooleanField(
        'a PUT without "active" deactivates', default=False
    )
    # Kept by the services, so an unfiltered list never counts a million rows.
    user_count = models.PositiveIntegerField(default=0, editable=False)
    group_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "directories"

    def __str__(self) -> str:
        return f"SCIM directory of {self.organization_id} ({self.status})"

    @property
    def actor_text(self) -> str:
        """How the directory is named as the actor of its changes in the audit log."""
        return f"scim:{self.public_id}"


class DirectoryToken(models.Model):
    """A bearer token a directory calls with: ``gh_scim_<prefix>_<secret>``, found by its prefix
    and checked against a keyed digest (``sso.scim.tokens``). Shown once."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_id = models.CharField(max_length=32, editable=False)
    digest = models.CharField(max_length=128, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a newer token replaced this one: it keeps working until then (the overlap).
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"gh_scim_{self.prefix}_…"

    def usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LinkState(models.TextChoices):
    UNLINKED = "unlinked", "No account (inactive or not yet admitted)"
    LINKED = "linked", "Linked to an account"
    OUTSIDE_DOMAINS = "outside_domains", "Address outside the directory's domains"
    PRIVILEGED = "privileged", "Account is an owner or staff: not managed by SCIM"
    CONFLICT = "conflict", "Account already managed by another record"
    DETACHED = "detached", "Removed by an admin in the portal: SCIM no longer manages it"


class ScimUser(models.Model):
    # Indexed by the (directory, ...) indexes below, which serve the lists' order too.
    directory = models.ForeignKey(
        Directory, on_delete=models.CASCADE, related_name="users", db_index=False
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # The SCIM "id": a UUID of its own, never the account's primary key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    user_name = models.CharField(max_length=255)
    # userName as compared (NFC, lower case: userName is not caseExact): the unique key.
    user_name_key = models.CharField(max_length=255)
    work_email = models.CharField(max_length=320, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    active = models.BooleanField(default=True)
    # The resource as the directory sent it, without id, meta or password.
    document = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scim_records",
    )
    link_state = models.CharField(
        max_length=16, choices=LinkState.choices, default=LinkState.UNLINKED
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["directory", "user_name_key"], name="scim_user_name_unique"
            ),
            models.UniqueConstraint(
                fields=["directory", "external_id"],
                condition=Q(external_id__isnull=False),
                name="scim_user_external_id_unique",
            ),
            models.UniqueConstraint(
                fields=["directory", "user"],
                condition=Q(user__isnull=False),
                name="scim_user_account_unique",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "work_email"], name="scim_user_work_email"),
            models.Index(fields=["directory", "id"], name="scim_user_page"),
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(models.Model):
    # Indexed by the (directory, ...) indexes below, which serve the lists' order too.
    directory = models.ForeignKey(
        Directory, on_delete=models.CASCADE, related_name="groups", db_index=False
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    display_name = models.CharField(max_length=255)
    display_name_key = models.CharField(max_length=255)
    # The org role its members get (the strongest over their groups wins); None: no effect.
    role = models.CharField(max_length=10, choices=MAPPABLE_ROLES, null=True, blank=True)
    document = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    members = models.ManyToManyField(ScimUser, through="ScimGroupMember", related_name="groups")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["directory", "display_name_key"], name="scim_group_name_unique"
            ),
            models.UniqueConstraint(
                fields=["directory", "external_id"],
                condition=Q(external_id__isnull=False),
                name="scim_group_external_id_unique",
            ),
        ]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "id"], name="scim_group_page"),
        ]

    def __str__(self) -> str:
        return self.display_name


class ScimGroupMember(models.Model):
    group = models.ForeignKey(ScimGroup, on_delete=models.CASCADE, related_name="memberships")
    scim_user = models.ForeignKey(ScimUser, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(fields=["group", "scim_user"], name="scim_group_member_once"),
        ]

    def __str__(self) -> str:
        return f"{self.scim_user_id} in {self.group_id}"


class ScimRequest(models.Model):
    """One call a directory made and how it ended: what the SCIM tab shows. No bodies and no
    personal data: the resource is named by its SCIM id only."""

    directory = models.ForeignKey(Directory, on_delete=models.CASCADE, related_name="requests")
    at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=8)
    resource_type = models.CharField(max_length=32, blank=True)
    resource_public_id = models.UUIDField(null=True, blank=True)
    operation = models.CharField(max_length=120, blank=True)
    status = models.PositiveSmallIntegerField()
    scim_type = models.CharField(max_length=32, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-at", "-id"]
        indexes: ClassVar[list[Any]] = [
            models.Index(fields=["directory", "-at"], name="scim_request_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.resource_type} {self.status}"
