"""The writes of social login: staff's provider rows, and linking or unlinking an identity.

Each service owns its transaction and writes its audit event in it. allauth itself writes the
identity when a person links one from /account/ or signs up (social.receivers puts those on
record in the same request); the link held back until the person proves the account is
finished here.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialAccount, SocialLogin
from django.db import IntegrityError, transaction

from audit.actions import Action, Outcome
from audit.services import record
from config import encryption
from config.refusals import Refusal, service
from social.models import SocialProvider

REFUSED_EXISTING_ACCOUNT = "existing_account"  # proves the account first, then links
REFUSED_UNVERIFIED_EMAIL = "unverified_email"  # never links


# The admin's change and delete views run inside a transaction of their own: these join it.
@service(durable=False)
def save_provider(
    *,
    actor: Any,
    row: SocialProvider,
    client_secret: str = "",
    apple_private_key: str = "",
    changed: list[str] | None = None,
) -> SocialProvider:
    """Create or change a provider row; a non-empty secret replaces the stored one."""
    created = row.pk is None
    if client_secret:
        row.client_secret_encrypted = encryption.encrypt(client_secret)
    if apple_private_key:
        row.apple_private_key_encrypted = encryption.encrypt(apple_private_key)
    row.save()
    fields = sorted(set(changed or []))
    if client_secret:
        fields.append("client_secret")
    if apple_private_key:
        fields.append("apple_private_key")
    record(
        Action.SOCIAL_PROVIDER_CHANGED,
        actor=actor,
        target=row,
        data={"provider": row.slug, "kind": row.kind, "created": created, "fields": fields},
    )
    return row


@service(durable=False)
def delete_provider(*, actor: Any, row: SocialProvider) -> None:
    slug, kind = row.slug, row.kind
    record(
        Action.SOCIAL_PROVIDER_CHANGED,
        actor=actor,
        target=row,
        data={"provider": slug, "kind": kind, "deleted": True},
    )
    row.delete()


@service
def record_link_refused(*, row: SocialProvider, owner: Any, reason: str) -> None:
    """A new social identity asserted the address of an existing account: nothing linked.
    On record with the account as target; nothing of it reaches the person signing in."""
    record(
        Action.SOCIAL_LINK_REFUSED,
        actor=None,
        actor_text=f"social:{row.slug}",
        target=owner,
        outcome=Outcome.FAILURE,
        data={"provider": row.slug, "reason": reason},
    )


@service
def link_identity(
    *, request: Any, user: Any, sociallogin: SocialLogin, row: SocialProvider
) -> None:
    """Link the identity a person brought from a social sign-in to ``user``, the account they
    then signed in to. Refused when the identity belongs to an account already."""
    account = sociallogin.account
    taken = SocialAccount.objects.filter(provider=account.provider, uid=account.uid)
    if taken.exclude(user=user).exists():
        raise Refusal(
            f"This {row.name} identity is linked to another account already.",
            status=409,
            action=Action.SOCIAL_LINK_REFUSED,
            actor=user,
            target=user,
            details={"provider": row.slug, "reason": "linked_elsewhere"},
        )
    if taken.filter(user=user).exists():
        return  # linked already: calling twice is harmless
    try:
        with transaction.atomic():
            account.user = user
            account.pk = None
            account.save()
    except IntegrityError:
        raise Refusal(
            f"This {row.name} identity is linked to another account already.", status=409
        ) from None
    record(
        Action.SOCIAL_IDENTITY_LINKED,
        actor=user,
        target=user,
        data={"provider": row.slug, "after": "signed_in_to_existing_account"},
    )
