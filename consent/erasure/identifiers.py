"""What names the person: their addresses, proven or not, their names, and which audit
targets are theirs. Collected once when the job starts and stored encrypted on the request,
because the rows they come from are deleted at the end and a crash in between must not lose
them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.db import models
from django.db.models import Q

from accounts.mfa.policy import DEVICE_MODELS
from accounts.models import User
from audit.actions import Action
from audit.models import AuditEvent
from config import encryption
from consent.addresses import account_addresses, addresses_in, any_address
from consent.models import DataSubjectRequest
from organizations.models import Membership

ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never be anyone's real address


@dataclass
class Identifiers:
    """What names the person. ``everywhere``: addresses they proved they held (replaced in every
    row of every log). ``linked``: other addresses of theirs (added, never proven: possibly a
    stranger's) and ``names``: their names, current and former; both replaced only in rows about
    them or their things, and names only where a record quotes a name (free text and name
    fields, never other values: a person called "Admin" must not rewrite role changes).
    ``targets`` are (model name, id) pairs of audit targets that are theirs."""

    everywhere: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)

    def dumps(self) -> bytes:
        payload = {
            "everywhere": self.everywhere,
            "linked": self.linked,
            "names": self.names,
            "targets": [list(t) for t in self.targets],
        }
        return encryption.encrypt_bytes(json.dumps(payload).encode())

    @classmethod
    def loads(cls, token: bytes | memoryview) -> Identifiers:
        payload = json.loads(encryption.decrypt_bytes(bytes(token)))
        return cls(
            everywhere=payload["everywhere"],
            linked=payload["linked"],
            names=payload["names"],
            targets=[(t[0], t[1]) for t in payload["targets"]],
        )


def _claims_of(extra_data: Any) -> dict[str, Any]:
    """An IdP's claims about the person: OIDC keeps them under "userinfo" and "id_token"."""
    if not isinstance(extra_data, dict):
        return {}
    claims = dict(extra_data)
    for part in ("userinfo", "id_token"):
        if isinstance(extra_data.get(part), dict):
            claims.update(extra_data[part])
    return claims


def _names_in(value: Any) -> Iterable[str]:
    """Display names quoted by a ``profile.updated`` event: {"display_name": {"from", "to"}}."""
    if isinstance(value, dict):
        change = value.get("display_name")
        if isinstance(change, dict):
            yield from (v for v in (change.get("from"), change.get("to")) if isinstance(v, str))


def owned_target_models() -> list[type[models.Model]]:
    """The kinds of a person's things that audit events target, besides their account: each
    has a ``user``. On PostgreSQL the database takes an erasure's record only with targets of
    these kinds that are the person's (audit migration 0028 lists the same tables)."""
    return [
        EmailAddress,
        Membership,
        SocialAccount,
        UserSession,
        DataSubjectRequest,
        *DEVICE_MODELS.values(),
    ]


def _their_targets(user: User) -> list[tuple[str, str]]:
    targets = [("user", str(user.pk))]
    for model in owned_target_models():
        name = model._meta.model_name or ""
        owned: Any = model._default_manager.filter(user=user)
        targets.extend((name, str(pk)) for pk in owned.values_list("pk", flat=True))
    return targets


# Events in which the person's own address changed hands: the data names that address.
_ADDRESS_EVENTS = {
    Action.EMAIL_ADDED.value: "linked",
    Action.EMAIL_REMOVED.value: "linked",
    Action.EMAIL_VERIFIED.value: "everywhere",  # an address they proved they held
    Action.EMAIL_CHANGED.value: "everywhere",  # primary changes go between proven addresses
}


def collect(user: User) -> Identifiers:
    """Everything that names the person, from their live rows and their own audit trail. Only
    what is theirs: an address in an invitation they sent, or a manager's in an IdP's claims,
    is someone else's; and an old address of theirs that another account holds now is that
    account's."""
    everywhere = account_addresses(user)
    linked: list[str] = list(
        EmailAddress.objects.filter(user=user, verified=False).values_list("email", flat=True)
    )
    names = [user.display_name]
    _add_identity_claims(user, linked, names)
    _add_audit_trail(user, everywhere, linked, names)
    held = _held_by_others(user, everywhere + linked)
    everywhere = [a for a in everywhere if a.casefold() not in held]
    proven = {a.casefold() for a in everywhere}
    return Identifiers(
        everywhere=_unique(everywhere),
        linked=_unique(a for a in linked if a.casefold() not in held | proven),
        names=_unique(n.strip() for n in names if n and n.strip()),
        targets=_their_targets(user),
    )


def _add_identity_claims(user: User, linked: list[str], names: list[str]) -> None:
    """What the IdPs of the person's linked identities say their address and name are."""
    for account in SocialAccount.objects.filter(user=user):
        claims = _claims_of(account.extra_data)
        if isinstance(claims.get("email"), str):
            linked.append(claims["email"])
        if isinstance(claims.get("name"), str):
            names.append(claims["name"])
        given, family = claims.get("given_name"), claims.get("family_name")
        if isinstance(given, str) and isinstance(family, str):
            names.append(f"{given} {family}")


def _add_audit_trail(
    user: User, everywhere: list[str], linked: list[str], names: list[str]
) -> None:
    """Former addresses and names, from the person's own address and profile changes."""
    events = AuditEvent.objects.filter(
        Q(actor_id=user.pk) & (Q(action__in=_ADDRESS_EVENTS) | Q(action=Action.PROFILE_UPDATED))
    ).values_list("action", "data")
    for action, data in events.iterator(chunk_size=500):
        if action in _ADDRESS_EVENTS:
            found = list(addresses_in(data))
            (everywhere if _ADDRESS_EVENTS[action] == "everywhere" else linked).extend(found)
        names.extend(_names_in(data))


def _held_by_others(user: User, addresses: list[str]) -> set[str]:
    """The addresses in ``addresses`` that another account has now, casefolded."""
    if not addresses:
        return set()
    others = set(
        User.objects.exclude(pk=user.pk)
        .filter(any_address("email", addresses))
        .values_list("email", flat=True)
    ) | set(
        EmailAddress.objects.exclude(user=user)
        .filter(any_address("email", addresses))
        .values_list("email", flat=True)
    )
    return {a.casefold() for a in others}


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value:
            seen.setdefault(value.casefold(), value)
    # Longest first, so that "ann@example.com" is replaced before a name like "ann" could be.
    return sorted(seen.values(), key=len, reverse=True)
