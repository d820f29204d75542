"""Who has which second factor, and what counts as strong enough."""

from __future__ import annotations

import enum
import functools
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import BackupCodeDevice, User


class Kind(enum.StrEnum):
    """The kinds of factor, as they appear in audit events, emails and authentication records."""

    PASSKEY = "passkey"
    TOTP = "totp"
    BACKUP_CODE = "backup_code"
    EMAIL = "email"
    PASSWORD = "password"  # noqa: S105 - the name of a factor, not a secret


LABELS = {
    Kind.PASSKEY: "Passkey",
    Kind.TOTP: "Authenticator app",
    Kind.BACKUP_CODE: "Backup code",
    Kind.EMAIL: "Email code",
    Kind.PASSWORD: "Password",
}

# How strong a proof each factor is. A passkey resists phishing; an authenticator app or a
# backup code proves possession of a secret the mailbox does not hold; an emailed code only
# proves the mailbox (which is also how passwords are reset); a password alone is the weakest.
STRENGTH = {
    Kind.PASSKEY: 3,
    Kind.TOTP: 2,
    Kind.BACKUP_CODE: 2,
    Kind.EMAIL: 1,
    Kind.PASSWORD: 0,
}

DEVICE_MODELS: dict[Kind, Any] = {
    Kind.PASSKEY: WebAuthnCredential,
    Kind.TOTP: TOTPDevice,
    Kind.EMAIL: EmailDevice,
    Kind.BACKUP_CODE: BackupCodeDevice,
}
# The factors that make an account "have MFA". Backup codes are only a way back in.
MFA_KINDS = (Kind.PASSKEY, Kind.TOTP, Kind.EMAIL)
# What satisfies an "MFA required" flag: a factor that does not depend on the mailbox.
ENROLLMENT_KINDS = (Kind.PASSKEY, Kind.TOTP)


def kind_of(device: Any) -> Kind:
    for kind, model in DEVICE_MODELS.items():
        if isinstance(device, model):
            return kind
    raise ValueError(f"not a Gatehouse factor: {type(device).__name__}")


def _confirmed(kind: Kind) -> Exists:
    return Exists(DEVICE_MODELS[kind].objects.filter(user=OuterRef("pk"), confirmed=True))


def enrolled_kinds(user: Any) -> set[Kind]:
    """The kinds of confirmed factor the user has, in one query."""
    if not getattr(user, "pk", None):
        return set()
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            p=_confirmed(Kind.PASSKEY),
            t=_confirmed(Kind.TOTP),
            e=_confirmed(Kind.EMAIL),
            b=_confirmed(Kind.BACKUP_CODE),
        )
        .values_list("p", "t", "e", "b")
        .first()
    )
    if row is None:
        return set()
    return {
        kind
        for kind, present in zip(
            (Kind.PASSKEY, Kind.TOTP, Kind.EMAIL, Kind.BACKUP_CODE), row, strict=True
        )
        if present
    }


_HAS_MFA_NOTED = "_gatehouse_has_mfa"


def has_mfa(user: Any) -> bool:
    """Whether a login of this user needs a second step. It runs at every login, so it is one
    plain query (three EXISTS), written out: the ORM spends more time building this query
    than the database spends answering it. A password login's lookup asks it already, in its
    own statement (``note_has_mfa``)."""
    noted = getattr(user, _HAS_MFA_NOTED, None)
    if noted is not None:
        return bool(noted)
    if not getattr(user, "pk", None):
        return False
    with connection.cursor() as cursor:
        cursor.execute(_has_mfa_sql(), [user.pk] * len(MFA_KINDS))
        return bool(cursor.fetchone()[0])


def note_has_mfa(user: Any, value: bool) -> None:
    """Keep on this user object (fetched for this login, by accounts.auth_backends) what
    ``has_mfa_expression`` answered, so this login's second-factor stage does not ask again."""
    setattr(user, _HAS_MFA_NOTED, value)


def has_mfa_expression(user_id: str) -> str:
    """``has_mfa``'s question as an SQL expression about the user whose id is in the column
    ``user_id`` (quoted, qualified), for a statement that fetches the user anyway."""
    return _has_mfa_checks(user_id)


@functools.cache
def _has_mfa_sql() -> str:
    return "SELECT " + _has_mfa_checks("%s")


@functools.cache
def _has_mfa_checks(user_id: str) -> str:
    # Only table names from the models' own metadata go into the text; the user id is a
    # query parameter or a column of the statement this is part of.
    checks = (
        f"EXISTS(SELECT 1 FROM {connection.ops.quote_name(table)} "  # noqa: S608
        f"WHERE user_id = {user_id} AND confirmed)"
        for table in (DEVICE_MODELS[kind]._meta.db_table for kind in MFA_KINDS)
    )
    return "(" + " OR ".join(checks) + ")"


def enrollment_required(user: Any) -> bool:
    """Must this user have an authenticator app or a passkey? Set on the user by support, or
    by the policy of an organization they are an active member of."""
    if getattr(user, "mfa_required", False):
        return True
    from organizations.models import Membership

    return (
        Membership.objects.active()
        .filter(user_id=user.pk, organization__policy__require_mfa=True)
        .exists()
    )


def satisfies_enrollment(kinds: set[Kind]) -> bool:
    return bool(kinds & set(ENROLLMENT_KINDS))


def required_stepup_strength(user: Any, kinds: set[Kind] | None = None) -> int:
    """Step-up asks for the user's strongest kind of factor: an account with an authenticator
    app or a passkey is not stepped up by an emailed code (the mailbox is what a takeover of
    the email address would own), and one with only a password by its password."""
    kinds = enrolled_kinds(user) if kinds is None else kinds
    mfa = kinds & set(MFA_KINDS)
    if not mfa:
        return STRENGTH[Kind.PASSWORD]
    # A passkey user may use an authenticator app or a backup code as well: requiring the
    # passkey alone would lock out someone away from the device that holds it.
    return min(max(STRENGTH[k] for k in mfa), STRENGTH[Kind.TOTP])


def trusts_first_factor_mfa(request: Any, login: Any) -> bool:
    """Whether the first factor already included MFA that Gatehouse trusts: an SSO login whose
    connection trusts its IdP's MFA, and whose IdP reported it (asked of sso through
    accounts.extensions)."""
    from accounts.extensions import hooks

    return hooks.first_factor_mfa(request, login)
