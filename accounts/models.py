"""People who sign in to Gatehouse, and the email they are sent."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

# Addresses are compared without regard to case as LOWER(email) = LOWER(%s): the form that the
# unique index on accounts_user.email and accounts' index on allauth's address table answer.
# Django's iexact compares UPPER()s, which no index serves (a full scan at a million people).
models.EmailField.register_lookup(Lower)


def address_is(address: str, field: str = "email") -> Q:
    """``field`` (an email field, or a path to one) equals ``address`` whatever the case."""
    return Q(**{f"{field}__lower": Lower(Value(address))})


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        # Email is the login and is unique regardless of letter case.
        return self.get(address_is(username or ""))

    def _create(self, email: str, password: str | None, **fields: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(email, password, **fields)

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self._create(email, password, **fields)


# django-otp's untyped Device.user leaves the stubs unable to name the reverse manager.
class User(AbstractBaseUser, PermissionsMixin):  # type: ignore[django-manager-missing]
    """A person. B2C users have no organization; B2B members get memberships (issue 4).

    ``public_id`` is the identifier APIs and tokens expose; the integer primary key stays inside.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Wider than Django's 128: hashes imported from other systems (Keycloak's 64-byte PBKDF2
    # keys, Firebase's scrypt with its parameters) are longer until the first sign-in.
    password = models.CharField("password", max_length=255)
    email = models.EmailField("email address", max_length=254, unique=True)
    display_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text="Can sign in to the Django admin (support staff)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    is_blocked = models.BooleanField(default=False)
    blocked_reason = models.TextField(blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True)
    # Set when the person's account was erased at their request (consent.erasure): the row
    # stays as a tombstone so that audit events and consent evidence still point somewhere.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    mfa_required = models.BooleanField(
        "MFA required",
        default=False,
        help_text="The user must enroll an authenticator app or a passkey at the next login "
        "before doing anything else.",
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        # The admin's user list, newest first, in keyset pages (config/admin_scale.py). The
        # prefix index on lower(display_name) is PostgreSQL's only (migration 0011).
        indexes = [models.Index(fields=["date_joined", "id"], name="accounts_user_joined")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.display_name or self.email

    def get_short_name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]


class OutboundEmail(models.Model):
    """One email on its way out: the row a Celery task sends from.

    The request that causes an email writes this row in its own transaction and queues the task
    on commit, so a rolled-back request sends nothing and a retried task sends at most once per
    success. The task claims the row before it talks to the server and records the outcome
    after, holding no lock while it waits for the network. The body is erased once sent: it may
    carry a one-time code or a reset link.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        # Claimed by a task that is handing it to the server (since ``attempted_at``).
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        # Never sent on purpose: an "account exists" email inside its cooldown, written only so
        # that a sign-up with a taken address costs what a new one does (accounts/enumeration.py);
        # its task erases the body.
        HELD_BACK = "held_back", "Held back"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    template = models.CharField(max_length=200)
    # Blank once sent (or failed for good) when ``forget_recipient`` is set: the email telling
    # someone their account was erased must not leave their address behind.
    to = models.EmailField(max_length=254, blank=True)
    forget_recipient = models.BooleanField(default=False)
    from_email = models.CharField(max_length=254)
    subject = models.CharField(max_length=998)
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # The admin's delivery list finds an address's email by index (config/admin_scale.py).
        indexes = [models.Index(Lower("to"), name="accounts_outbound_to")]

    def __str__(self) -> str:
        return f"{self.template} to {self.to} ({self.status})"


# Backup codes: ten random codes of ten Crockford base-32 characters (50 bits each), shown once
# as XXXXX-XXXXX. Only a salted scrypt hash of each is kept: a database leak must not hand out
# working second factors. (django-otp's own static-token plugin stores them in plain text.)
BACKUP_CODE_COUNT = 10
BACKUP_CODE_LENGTH = 10
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Crockford base 32 reads I and L as 1 and O as 0, so a code copied by hand still works.
_CROCKFORD_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def normalize_backup_code(code: str) -> str:
    """What a person typed, reduced to the characters a code is made of."""
    cleaned = "".join(ch for ch in str(code).upper() if ch not in " -\t")
    return cleaned.translate(_CROCKFORD_ALIASES)


def format_backup_code(code: str) -> str:
    half = BACKUP_CODE_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """A user's set of backup codes, as one django-otp device (at most one per user).

    It is a recovery factor: it passes the second step of a login, but on its own it does not
    make an account "have MFA" (accounts.mfa.policy.has_mfa).
    """

    salt = models.CharField(max_length=32, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user"], name="accounts_backupcodedevice_one_per_user")
        ]

    def get_throttle_factor(self) -> int:
        return 1

    def hash_code(self, code: str) -> str:
        normalized = normalize_backup_code(code)
        # scrypt at n=2**14 costs tens of milliseconds: slow enough that a stolen table is not
        # brute-forced cheaply (50 bits per code), fast enough to hash ten at generation.
        return hashlib.scrypt(
            normalized.encode(), salt=bytes.fromhex(self.salt), n=2**14, r=8, p=1, dklen=32
        ).hex()

    def remaining(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()

    def verify_token(self, token: object) -> bool:
        """Use up one unused code. Safe under concurrency: the code is spent by a conditional
        UPDATE, so of two requests with the same code exactly one succeeds."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        normalized = normalize_backup_code(str(token))
        if len(normalized) != BACKUP_CODE_LENGTH or not set(normalized) <= set(_CROCKFORD):
            self.throttle_increment()
            return False
        spent = self.codes.filter(
            code_hash=self.hash_code(normalized), used_at__isnull=True
        ).update(used_at=timezone.now())
        if spent != 1:
            self.throttle_increment()
            return False
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save(
            update_fields=[
                "throttling_failure_timestamp",
                "throttling_failure_count",
                "last_used_at",
            ]
        )
        return True

    @staticmethod
    def new_salt() -> str:
        return secrets.token_hex(16)

    @staticmethod
    def new_code() -> str:
        return "".join(secrets.choice(_CROCKFORD) for _ in range(BACKUP_CODE_LENGTH))


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64, editable=False)
    used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "code_hash"], name="accounts_backupcode_unique_per_device"
            )
        ]

    def __str__(self) -> str:
        return f"backup code {self.pk} ({'used' if self.used_at else 'unused'})"


class MFAReset(models.Model):
    """A scheduled removal of every second factor of a person who lost them all.

    Asked for by support (with a reason) or by the person at the second step of a login; it
    takes effect ``MFA_RESET_WAIT_HOURS`` later (accounts.mfa.services.recovery), and until
    then the person, told on every verified address, may call it off. At most one is pending
    per person.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CANCELLED = "cancelled", "Cancelled"
        APPLIED = "applied", "Applied"

    class Via(models.TextChoices):
        SUPPORT = "support", "Support (admin)"
        SELF = "self", "The person, at sign-in"
        API = "api", "Management API"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="mfa_resets")
    via = models.CharField(max_length=16, choices=Via.choices)
    requested_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_how = models.CharField(max_length=32, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "two-step verification reset"
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(status="pending"),
                name="accounts_mfareset_one_pending",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status="pending"), name="accounts_mfareset_due"
            ),
        ]

    def __str__(self) -> str:
        return f"Reset of {self.user} due {self.due_at:%Y-%m-%d %H:%M} UTC ({self.status})"


# Models that live beside their code: what imports from other systems remember
# (accounts/imports/), support's impersonations with their approval links
# (accounts/impersonation/), progressive profiling's (accounts/profiling/), and known devices
# and networks with each sign-in's risk signals (accounts/takeover/).
from accounts.impersonation.models import ApprovalLink, Impersonation  # noqa: E402, F401
from accounts.imports.models import ImportedIdentity  # noqa: E402, F401
from accounts.profiling.models import ProfileAnswer, ProfileField  # noqa: E402, F401
from accounts.takeover.models import KnownSign, SignInRisk  # noqa: E402, F401
