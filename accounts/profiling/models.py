"""The operator's profile fields and each person's answers."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from config.encryption import EncryptedTextField

# The OpenID scopes a field's value can be released under (and whose request can ask for it).
FIELD_SCOPES = (
    ("profile", "profile"),
    ("phone", "phone"),
    ("profile_fields", "profile_fields"),
)

# Claims of OpenID Connect and of Gatehouse that a custom field's key must not shadow.
RESERVED_CLAIMS = frozenset(
    [
        "sub",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "phone_number_verified",
        "address",
        "updated_at",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "sid",
        "jti",
        "org_id",
        "org_slug",
        "org_roles",
        "scope",
        "client_id",
    ]
)


class ProfileField(models.Model):
    """One thing Gatehouse may ask people about themselves, and when."""

    class Kind(models.TextChoices):
        NAME = "name", "Name"
        PHONE = "phone", "Phone number"
        COMPANY = "company", "Company"
        TEXT = "text", "Text"
        CHOICE = "choice", "Single choice from a list"
        YES_NO = "yes_no", "Yes or no"
        DATE = "date", "Date"

    class When(models.TextChoices):
        SIGNUP = "signup", "At sign-up"
        SIGN_INS = "sign_ins", "After a number of sign-ins"
        SCOPE = "scope", "When an app asks for the field's scope"

    key = models.SlugField(
        max_length=40,
        unique=True,
        validators=[
            RegexValidator(
                r"^[a-z][a-z0-9_]*$", "Lower-case letters, digits and underscores, from a letter."
            )
        ],
        help_text="Stable name of the field: the claim apps receive for custom fields. It "
        "cannot change once people have answered.",
    )
    label = models.CharField(max_length=100)
    help_text = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    options = models.TextField(
        blank=True, help_text="For a single choice: one option per line (at most 50)."
    )
    required = models.BooleanField(
        default=False, help_text="People cannot skip it when they are asked."
    )
    ask_when = models.CharField("ask", max_length=10, choices=When.choices)
    after_sign_ins = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(10_000)],
        help_text="With “after a number of sign-ins”: asked once the person has signed in "
        "this many times (1: right after the first sign-in).",
    )
    scope = models.CharField(
        max_length=20,
        choices=FIELD_SCOPES,
        default="profile_fields",
        help_text="The OpenID scope that releases the value to apps (name: profile, phone: "
        "phone) and, with “when an app asks”, the scope that makes Gatehouse ask.",
    )
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.label

    def option_list(self) -> list[str]:
        return [line.strip() for line in self.options.splitlines() if line.strip()]

    def clean(self) -> None:
        super().clean()
        # The standard claims have their standard scopes.
        if self.kind == self.Kind.NAME:
            self.scope = "profile"
        elif self.kind == self.Kind.PHONE:
            self.scope = "phone"
        errors: dict[str, str] = {}
        if self.key in RESERVED_CLAIMS:
            errors["key"] = "This name is a standard claim: choose another."
        options = self.option_list()
        if self.kind == self.Kind.CHOICE:
            if not options:
                errors["options"] = "A single choice needs at least one option."
            elif len(options) > 50 or any(len(o) > 100 for o in options):
                errors["options"] = "At most 50 options of up to 100 characters each."
            elif len(set(options)) != len(options):
                errors["options"] = "Each option must appear once."
        if self.ask_when == self.When.SIGN_INS and self.after_sign_ins < 1:
            errors["after_sign_ins"] = "Say after how many sign-ins (1 or more)."
        if errors:
            raise ValidationError(errors)

    @property
    def claim(self) -> str:
        """The claim name apps receive the value under."""
        if self.kind == self.Kind.NAME:
            return "name"
        if self.kind == self.Kind.PHONE:
            return "phone_number"
        return self.key


class ProfileAnswer(models.Model):
    """A person's answer to one field, or their choice to skip it (then never asked again).
    The value is personal data: encrypted at rest (``reencrypt_secrets`` rotates it)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_answers"
    )
    field = models.ForeignKey(ProfileField, on_delete=models.CASCADE, related_name="answers")
    value_encrypted = EncryptedTextField(blank=True, editable=False)
    skipped = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "field"], name="accounts_profileanswer_once")
        ]

    def __str__(self) -> str:
        return f"answer to {self.field_id} by {self.user_id}"
