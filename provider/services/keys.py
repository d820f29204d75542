"""Signing-key lifecycle: publish the next key, promote it, retire the old one.

Verifiers cache the JWKS (``OIDC_JWKS_MAX_AGE_SECONDS``), so a new key is published as
``next`` first and only signs once every cache has seen it; the key it replaces stays
published as ``retiring`` until the longest-lived token it signed has expired.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwk

from audit.actions import Action
from audit.services import record
from config.encryption import encrypt
from config.refusals import Refusal, service
from provider import keys
from provider.models import KeyState, SigningKey

ALGORITHMS = ("RS256", "ES256")


def longest_token_lifetime() -> timedelta:
    """How long a token signed now may still be presented: the longest access-token lifetime
    of any API, the ID-token lifetime and the logout-token lifetime, whichever is longest."""
    from provider.models import Api

    provider = settings.OAUTH2_PROVIDER
    seconds = max(
        [
            int(provider["ID_TOKEN_EXPIRE_SECONDS"]),
            int(provider["ACCESS_TOKEN_EXPIRE_SECONDS"]),
            *Api.objects.values_list("access_token_lifetime", flat=True),
        ]
    )
    return timedelta(seconds=seconds)


def _new_row(alg: str, state: str) -> SigningKey:
    private = keys.generate(alg)
    kid = private.thumbprint()
    public = private.export_public(as_dict=True) | {"kid": kid, "alg": alg, "use": "sig"}
    now = timezone.now()
    return SigningKey.objects.create(
        kid=kid,
        alg=alg,
        private_jwk=encrypt(private.export_private()),
        public_jwk=public,
        state=state,
        activated_at=now if state == KeyState.ACTIVE else None,
    )


@service
def ensure_signing_keys(*, actor: Any = None) -> list[SigningKey]:
    """An active key for each algorithm that has none (first start). Such a key signs at once:
    no verifier can hold a cached key set without it, because there was no key before."""
    created = []
    for alg in ALGORITHMS:
        if not SigningKey.objects.filter(alg=alg, state=KeyState.ACTIVE).exists():
            row = _new_row(alg, KeyState.ACTIVE)
            record(
                Action.OAUTH_SIGNING_KEY_CREATED,
                actor=actor,
                actor_text="" if actor else "system",
                target=row,
                data={"kid": row.kid, "alg": alg, "state": row.state},
            )
            created.append(row)
    return created


@service
def publish_next_key(*, actor: Any, alg: str, reason: str = "") -> SigningKey:
    """Step 1 of a rotation: a new key in the JWKS that signs nothing yet."""
    if alg not in ALGORITHMS:
        raise Refusal("Keys are RS256 or ES256.")
    if SigningKey.objects.filter(alg=alg, state=KeyState.NEXT).exists():
        raise Refusal(f"An {alg} key is already waiting to be activated.", status=409)
    row = _new_row(alg, KeyState.NEXT)
    record(
        Action.OAUTH_SIGNING_KEY_CREATED,
        actor=actor,
        actor_text="" if actor else "system",
        target=row,
        data={"kid": row.kid, "alg": alg, "state": row.state, **_why(reason)},
    )
    return row


def _why(reason: str) -> dict[str, str]:
    return {"reason": reason} if reason else {}


@service
def activate_next_key(*, actor: Any, alg: str, force: bool = False, reason: str = "") -> SigningKey:
    """Step 2: the waiting key signs from now on; the old one stays published (retiring).
    Refused until the waiting key has been published for a JWKS cache lifetime, unless
    ``force`` (a compromised key: verifiers with a stale cache will fail until they refetch)."""
    row = (
        SigningKey.objects.select_for_update()
        .filter(alg=alg, state=KeyState.NEXT)
        .order_by("created_at")
        .first()
    )
    if row is None:
        raise Refusal(f"No {alg} key is waiting: publish one first.", status=409)
    max_age = timedelta(seconds=int(settings.OAUTH2_PROVIDER["OIDC_JWKS_MAX_AGE_SECONDS"]))
    now = timezone.now()
    if not force and row.created_at > now - max_age:
        raise Refusal(
            f"The {alg} key was published less than {max_age} ago; clients may not have it yet.",
            status=409,
        )
    SigningKey.objects.filter(alg=alg, state=KeyState.ACTIVE).update(
        state=KeyState.RETIRING, retiring_at=now
    )
    row.state = KeyState.ACTIVE
    row.activated_at = now
    row.save(update_fields=["state", "activated_at"])
    # This process signs with the new key at once; others within keys.ACTIVE_KEY_SECONDS.
    transaction.on_commit(keys.forget_cached_keys)
    record(
        Action.OAUTH_SIGNING_KEY_ACTIVATED,
        actor=actor,
        actor_text="" if actor else "system",
        target=row,
        data={"kid": row.kid, "alg": alg, "forced": force, **_why(reason)},
    )
    return row


@service
def retire_keys(
    *, actor: Any = None, force_kid: str = "", reason: str = "", alg: str = ""
) -> list[str]:
    """Step 3: drop retiring keys whose tokens have all expired (or one named key at once),
    of every algorithm or of ``alg``."""
    now = timezone.now()
    rows = SigningKey.objects.select_for_update().filter(state=KeyState.RETIRING)
    if alg:
        rows = rows.filter(alg=alg)
    if force_kid:
        rows = rows.filter(kid=force_kid)
    else:
        rows = rows.filter(retiring_at__lte=now - longest_token_lifetime())
    retired = []
    for row in rows:
        row.state = KeyState.RETIRED
        row.retired_at = now
        row.save(update_fields=["state", "retired_at"])
        record(
            Action.OAUTH_SIGNING_KEY_RETIRED,
            actor=actor,
            actor_text="" if actor else "system",
            target=row,
            data={"kid": row.kid, "alg": row.alg, "forced": bool(force_kid), **_why(reason)},
        )
        retired.append(row.kid)
    return retired


def public_jwk(row: SigningKey) -> jwk.JWK:
    return jwk.JWK(**row.public_jwk)
