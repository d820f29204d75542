"""A person's email addresses, and finding them in rows and text: what export and erasure share.

Which addresses count is the privacy decision here. An address someone added but never verified
proves nothing: matching on it would hand anyone who typed a stranger's address that stranger's
invitations, emails and failed logins (export), or erase them (erasure).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from allauth.account.models import EmailAddress
from django.db.models import Q

from accounts.models import User

# An address as it appears in free text, logs and JSON: loose on purpose (an address quoted in
# an error message or a subject line counts), but never across spaces, quotes or brackets.
EMAIL_PATTERN = re.compile(r"[^\s@<>\"',;:()\[\]]+@[^\s@<>\"',;:()\[\]]+\.[A-Za-z0-9-]{2,}")


def proven_addresses(user: User) -> list[str]:
    """The addresses the person has proven they hold (the login address first, if verified)."""
    verified = list(
        EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    )
    proven = {address.lower() for address in verified}
    found = [user.email] if (user.email or "").lower() in proven else []
    return _unique_ignoring_case([*found, *verified])


def account_addresses(user: User) -> list[str]:
    """The login address (held by no other account, and where account email goes) and every
    verified one: where the person is told about their account's deletion."""
    verified = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    return _unique_ignoring_case([user.email, *verified])


def any_address(field: str, addresses: Iterable[str]) -> Q:
    """Rows whose ``field`` is one of ``addresses``, in any case (nothing for no addresses)."""
    query = Q(pk__in=[])
    for address in addresses:
        if "@" in address:
            query |= Q(**{f"{field}__iexact": address})
    return query


def addresses_in(value: Any) -> Iterable[str]:
    """Every address quoted in ``value``: a string, or JSON of dicts and lists."""
    if isinstance(value, str):
        yield from EMAIL_PATTERN.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from addresses_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from addresses_in(item)


def _unique_ignoring_case(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())
