"""Which fields a person is due to be asked, and what they answered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from accounts.profiling.models import ProfileAnswer, ProfileField
from audit.actions import Action
from audit.models import AuditEvent
from config.encryption import decrypt

When = ProfileField.When


def active_fields(when: str | None = None) -> list[ProfileField]:
    fields = ProfileField.objects.filter(active=True)
    if when is not None:
        fields = fields.filter(ask_when=when)
    return list(fields)


def _settled_ids(user: Any) -> set[int]:
    """Fields the person answered or skipped: never asked again."""
    settled = ProfileAnswer.objects.filter(user=user).filter(
        Q(skipped=True) | ~Q(value_encrypted="")
    )
    return set(settled.values_list("field_id", flat=True))


def due_for_scopes(user: Any, scopes: list[str]) -> list[ProfileField]:
    """Fields asked when an app asks for one of ``scopes`` that the person has not settled."""
    candidates = [f for f in active_fields(When.SCOPE) if f.scope in scopes]
    if not candidates:
        return []
    settled = _settled_ids(user)
    return [f for f in candidates if f.pk not in settled]


def sign_ins(user: Any) -> int:
    """How many times the person has signed in (their audit trail's successful logins)."""
    return AuditEvent.objects.filter(
        action=Action.LOGIN_SUCCEEDED, target_type="user", target_id=str(user.pk)
    ).count()


def unsettled(user: Any, ids: list[int]) -> list[ProfileField]:
    """Of the fields ``ids``, the active ones the person has not answered or skipped."""
    settled = _settled_ids(user)
    return [f for f in ProfileField.objects.filter(pk__in=ids, active=True) if f.pk not in settled]


def due_after_sign_ins(user: Any) -> list[ProfileField]:
    """Fields whose sign-in count the person has passed (their last login written) and has
    not settled."""
    candidates = active_fields(When.SIGN_INS)
    if not candidates:
        return []
    settled = _settled_ids(user)
    candidates = [f for f in candidates if f.pk not in settled]
    if not candidates:
        return []
    count = sign_ins(user)
    # "After N sign-ins": on the way in from the Nth, or the first after it.
    return [f for f in candidates if count >= f.after_sign_ins]


@dataclass(frozen=True)
class Answer:
    field: ProfileField
    value: str
    skipped: bool


def answers(user: Any) -> dict[int, Answer]:
    """The person's answers by field id, decrypted."""
    return {
        a.field_id: Answer(a.field, decrypt(a.value_encrypted), a.skipped)
        for a in ProfileAnswer.objects.filter(user=user).select_related("field")
    }


def values_by_key(user: Any) -> dict[str, str]:
    """The person's answered values by field key (skipped and empty ones left out)."""
    return {a.field.key: a.value for a in answers(user).values() if a.value}
