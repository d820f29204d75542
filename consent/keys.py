"""The keys consent receipts are signed with: ES256 (P-256), one active at a time.

The first key is made when the first receipt is signed. Its private half is stored encrypted
(``config.encryption``); its public half goes into the JWKS at
``/consent/.well-known/jwks.json`` and stays there after the key is retired, because a receipt
must verify for as long as anyone keeps it. ``kid`` is the key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwt.algorithms import ECAlgorithm

from audit.actions import Action
from audit.services import record
from config import encryption
from config.refusals import service
from consent.models import ReceiptKey

ALGORITHM = "ES256"


def _thumbprint(jwk: dict[str, Any]) -> str:
    import base64
    import hashlib

    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def _new_key(status: str) -> ReceiptKey:
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    kid = _thumbprint(jwk)
    jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return ReceiptKey.objects.create(
        kid=kid,
        algorithm=ALGORITHM,
        private_key_encrypted=encryption.encrypt(pem),
        public_jwk=jwk,
        status=status,
    )


def active_key() -> ReceiptKey:
    key = ReceiptKey.objects.filter(status=ReceiptKey.Status.ACTIVE).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():  # a savepoint: losing the race must not spoil the caller
            return _new_key(ReceiptKey.Status.ACTIVE)
    except IntegrityError:  # another first signer made it at the same moment
        return ReceiptKey.objects.get(status=ReceiptKey.Status.ACTIVE)


@lru_cache(maxsize=8)
def _private_key(kid: str, encrypted: str) -> Any:
    return serialization.load_pem_private_key(encryption.decrypt(encrypted).encode(), None)


def private_key(key: ReceiptKey) -> Any:
    return _private_key(key.kid, key.private_key_encrypted)


@service
def rotate(*, actor_text: str = "system") -> ReceiptKey:
    """Retire the active key and make a new one, on the audit record as done by
    ``actor_text``. Receipts already issued keep verifying."""
    ReceiptKey.objects.select_for_update().filter(status=ReceiptKey.Status.ACTIVE).update(
        status=ReceiptKey.Status.RETIRED, retired_at=timezone.now()
    )
    key = _new_key(ReceiptKey.Status.ACTIVE)
    record(
        Action.CONSENT_RECEIPT_KEY_ROTATED, actor_text=actor_text, target=key, data={"kid": key.kid}
    )
    return key


def jwks() -> dict[str, Any]:
    """Every receipt key, active and retired: what a verifier needs."""
    return {"keys": [key.public_jwk for key in ReceiptKey.objects.order_by("created_at")]}
