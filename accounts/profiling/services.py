"""The write path for profile answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone

from accounts.profiling.models import ProfileAnswer, ProfileField
from audit.actions import Action
from audit.services import record
from config.encryption import decrypt, encrypt
from config.refusals import service


# Joins a caller's transaction (the sign-up's), or is its own.
@service(durable=False)
def save_answers(
    *,
    user: Any,
    fields: Iterable[ProfileField],
    values: Mapping[str, str],
    skip_blank: bool,
    actor: Any = None,
) -> list[str]:
    """Keep the person's answers to ``fields`` (``values`` by key, "" for none). A blank
    answer clears a stored value; with ``skip_blank`` (where the person was asked) it also
    records the skip, so the field is not asked again. The audit event names the keys that
    changed, never the values. Returns those keys."""
    fields = list(fields)
    existing = {a.field_id: a for a in ProfileAnswer.objects.filter(user=user, field__in=fields)}
    changed: list[str] = []
    skipped: list[str] = []
    for field in fields:
        value = (values.get(field.key) or "").strip()
        answer = existing.get(field.pk)
        before = decrypt(answer.value_encrypted) if answer is not None else ""
        if answer is None:
            # A blank never asked before is a skip only where the person was asked.
            skip = not value and skip_blank and not field.required
            if not value and not skip:
                continue
            # get_or_create: a second submit of the same page racing this one finds its row
            # (the unique constraint) instead of failing.
            _, created = ProfileAnswer.objects.get_or_create(
                user=user,
                field=field,
                defaults={"value_encrypted": encrypt(value), "skipped": skip},
            )
            if not created:
                continue
        else:
            # Clearing an optional value is a skip too; a required one cleared is asked again.
            skip = not value and not field.required
            if value == before and skip == answer.skipped:
                continue
            answer.value_encrypted = encrypt(value)
            answer.skipped = skip
            answer.updated_at = timezone.now()
            answer.save(update_fields=["value_encrypted", "skipped", "updated_at"])
        (changed if value or before else skipped).append(field.key)
    if changed or skipped:
        data: dict[str, Any] = {"fields": changed}
        if skipped:
            data["skipped"] = skipped
        record(Action.PROFILE_UPDATED, actor=actor or user, target=user, data=data)
    return changed


def erase_answers(user: Any) -> int:
    """For the erasure job (in its transaction): every answer goes."""
    return ProfileAnswer.objects.filter(user=user).delete()[0]


# Joins the caller's transaction: the admin saves a form (with its change log entry) in one
# transaction of its own.
@service(durable=False)
def save_field(*, field: ProfileField, actor: Any, changed: list[str]) -> ProfileField:
    """Save a profile field as staff declared or edited it (the admin), on the audit record:
    making a field required, say, changes what everyone is asked."""
    created = field.pk is None
    field.save()
    if created or changed:
        record(
            Action.PROFILE_FIELD_CHANGED,
            actor=actor,
            target=field,
            data={"field": field.key, "created": created, "changed": sorted(changed)},
        )
    return field
