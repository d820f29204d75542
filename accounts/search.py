"""Finding people at a million accounts: every branch here is answered by an index.

- an address (anything with an ``@``): the person whose account address is that address, or who
  has it among their addresses (allauth's table), whatever the case: ``lower(email) = ...`` on
  the unique index of accounts_user and on accounts' index of account_emailaddress;
- a public id (a UUID): that person;
- anything else: accounts whose address or display name begins with it (``LIKE 'pat%'`` on the
  ``varchar_pattern_ops`` index of the stored, lower-cased address, and on the index of
  ``lower(display_name)``, migration 0011).

No substring search: ``LIKE '%at%'`` reads every row. The admins of every model that points at a
person (consent events, tokens, requests...) search through ``user_ids_matching``.
"""

from __future__ import annotations

import uuid
from typing import Any

from allauth.account.models import EmailAddress
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import User, address_is

# Longest address a person can have; longer input matches nobody (and is never sent as-is).
MAX_TERM = 254


def is_address(term: str) -> bool:
    return "@" in term


def as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


def user_ids_matching(term: str) -> QuerySet[Any]:
    """Primary keys of the people ``term`` names (see the module's rules), as a subquery."""
    term = term.strip()[:MAX_TERM]
    if not term:
        return User.objects.none().values("pk")
    if is_address(term):
        by_account = User.objects.filter(address_is(term)).values("pk")
        by_address = EmailAddress.objects.filter(address_is(term)).values("user_id")
        return by_account.union(by_address)
    public_id = as_uuid(term)
    if public_id is not None:
        return User.objects.filter(public_id=public_id).values("pk")
    prefix = term.lower()
    return (
        User.objects.alias(name_key=Lower("display_name"))
        .filter(Q(email__startswith=prefix) | Q(name_key__startswith=prefix))
        .values("pk")
    )


def users_matching(users: QuerySet[User], term: str) -> QuerySet[User]:
    """``users`` narrowed to those ``term`` names."""
    return users.filter(pk__in=user_ids_matching(term))
