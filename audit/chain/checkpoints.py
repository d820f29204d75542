"""Checkpoints: signed statements of how long a chain is and what its newest hash is.

Whoever keeps a checkpoint (an organization's admin downloads it from the audit page, an
auditor keeps them all) can later ask Gatehouse to prove that its log still leads to that head.
Checkpoints are signed with Ed25519. The key's private half is stored encrypted
(config/encryption.py); its public half is published in the JWKS at
``/audit/.well-known/jwks.json`` and stays there after the key retires (yearly, from beat),
because a checkpoint must verify for as long as anyone keeps it. ``kid`` is the key's RFC 7638
thumbprint.

The signed text (the *note*) has four lines: the log's origin (``<public host>/audit/<org
slug>``, ``gatehouse`` for the Gatehouse-wide chain), the size, the head hash in base64, and
the signing time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actions import Action
from audit.chain.models import GATEHOUSE_WIDE, AuditChain, AuditCheckpoint, CheckpointKey
from audit.services import record
from config import encryption
from config.refusals import service

ALGORITHM = "Ed25519"
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
KEY_LIFETIME = timedelta(days=365)


class CheckpointInvalid(ValueError):
    """A checkpoint that cannot be trusted: malformed, signed by an unknown key, or with a
    signature that does not match. The message says which, for the person who sent it."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: CheckpointKey) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64url(bytes(key.public_key)),
        "kid": key.kid,
        "alg": "EdDSA",
        "use": "sig",
    }


def _thumbprint(public: bytes) -> str:
    members = {"crv": "Ed25519", "kty": "OKP", "x": _b64url(public)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _new_key(status: str) -> CheckpointKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return CheckpointKey.objects.create(
        kid=_thumbprint(public),
        algorithm=ALGORITHM,
        private_key_encrypted=encryption.encrypt(pem),
        public_key=public,
        status=status,
    )


def active_key() -> CheckpointKey:
    key = CheckpointKey.objects.filter(status=CheckpointKey.Status.ACTIVE).first()
    if key is not None:
        return key
    try:
        with transaction.atomic():  # a savepoint: losing the race must not spoil the caller
            return _new_key(CheckpointKey.Status.ACTIVE)
    except IntegrityError:  # another first signer made it at the same moment
        return CheckpointKey.objects.get(status=CheckpointKey.Status.ACTIVE)


@lru_cache(maxsize=8)
def _private_key(kid: str, encrypted: str) -> Any:
    return serialization.load_pem_private_key(encryption.decrypt(encrypted).encode(), None)


@service
def rotate(*, actor_text: str = "system") -> CheckpointKey:
    """Retire the active key and make a new one. Checkpoints signed before keep verifying."""
    CheckpointKey.objects.select_for_update().filter(status=CheckpointKey.Status.ACTIVE).update(
        status=CheckpointKey.Status.RETIRED, retired_at=timezone.now()
    )
    key = _new_key(CheckpointKey.Status.ACTIVE)
    record(
        Action.AUDIT_CHECKPOINT_KEY_ROTATED,
        actor_text=actor_text,
        target=key,
        data={"kid": key.kid},
    )
    return key


def rotate_if_due(now: datetime | None = None) -> bool:
    """Rotate the active key once it is a year old (beat asks daily). Returns whether it did."""
    now = now or timezone.now()
    key = CheckpointKey.objects.filter(status=CheckpointKey.Status.ACTIVE).first()
    if key is None or key.created_at > now - KEY_LIFETIME:
        return False
    rotate()
    return True


def jwks() -> dict[str, Any]:
    """Every checkpoint key, active and retired: what a verifier needs."""
    return {"keys": [public_jwk(key) for key in CheckpointKey.objects.order_by("created_at")]}


# --- Signing -------------------------------------------------------------------------------------


def origin(chain: int) -> str:
    """The name a chain's checkpoints carry: Gatehouse's host and the organization's slug."""
    from organizations.models import Organization

    host = urlsplit(settings.GATEHOUSE_PUBLIC_URL).netloc or "gatehouse"
    if chain == GATEHOUSE_WIDE:
        return f"{host}/audit/gatehouse"
    slug = Organization.objects.filter(pk=chain).values_list("slug", flat=True).first()
    return f"{host}/audit/{slug or f'organization-{chain}'}"


def note_for(origin_name: str, size: int, head: bytes, signed_at: datetime) -> str:
    head_b64 = base64.b64encode(bytes(head)).decode()
    return f"{origin_name}\n{size}\n{head_b64}\n{signed_at.isoformat()}\n"


def _sign(chain: AuditChain, now: datetime) -> AuditCheckpoint:
    existing = AuditCheckpoint.objects.filter(chain=chain.chain, size=chain.size).first()
    if existing is not None:
        return existing
    key = active_key()
    note = note_for(origin(chain.chain), chain.size, bytes(chain.head_hash), now)
    signature = _private_key(key.kid, key.private_key_encrypted).sign(note.encode())
    return AuditCheckpoint.objects.create(
        chain=chain.chain,
        size=chain.size,
        head_hash=bytes(chain.head_hash),
        signed_at=now,
        key=key,
        note=note,
        signature=signature,
    )


@service
def sign(chain_id: int, *, actor: Any = None, actor_text: str = "") -> AuditCheckpoint | None:
    """A checkpoint of ``chain_id`` as it stands (the one already signed if it has not grown).
    None while the chain has no sealed event. Signing on someone's request is audited; beat's
    regular signing is not, or every checkpoint would grow the chain for the next one."""
    chain = AuditChain.objects.select_for_update().filter(chain=chain_id).first()
    if chain is None or chain.size == 0:
        return None
    checkpoint = _sign(chain, timezone.now())
    if actor is not None or actor_text:
        record(
            Action.AUDIT_CHECKPOINT_SIGNED,
            actor=actor,
            actor_text=actor_text,
            organization=chain_id or None,
            data={"size": checkpoint.size},
        )
    return checkpoint


def sign_due() -> int:
    """Sign a checkpoint of every chain that grew since its last one. Returns how many."""
    signed = 0
    for chain in AuditChain.objects.filter(size__gt=0).order_by("chain").iterator():
        newest = newest_checkpoint(chain.chain)
        if newest is None or newest.size < chain.size:
            sign(chain.chain)
            signed += 1
    return signed


def newest_checkpoint(chain_id: int) -> AuditCheckpoint | None:
    return (
        AuditCheckpoint.objects.filter(chain=chain_id)
        .select_related("key")
        .order_by("-size")
        .first()
    )


def as_json(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """The checkpoint as downloaded: everything a verifier needs besides the JWKS."""
    return {
        "origin": checkpoint.note.split("\n", 1)[0],
        "chain": checkpoint.chain,
        "size": checkpoint.size,
        "head_hash": base64.b64encode(bytes(checkpoint.head_hash)).decode(),
        "signed_at": checkpoint.signed_at.isoformat(),
        "kid": checkpoint.key.kid,
        "signature": base64.b64encode(bytes(checkpoint.signature)).decode(),
        "note": checkpoint.note,
    }


# --- Reading a checkpoint someone kept ------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a validly signed checkpoint vouches for."""

    chain: int
    size: int
    head_hash: bytes
    origin: str
    signed_at: str
    kid: str


def read(raw: Any) -> Claim:
    """Check a checkpoint (its JSON text or the parsed object): its shape, its key (one of
    Gatehouse's, active or retired) and its signature over the note. What the claim holds is
    read from the signed note, never from the unsigned fields beside it."""
    if isinstance(raw, bytes | str):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CheckpointInvalid("The checkpoint is not valid JSON.") from exc
    if not isinstance(raw, dict):
        raise CheckpointInvalid("A checkpoint is a JSON object.")
    fields = {name: raw.get(name) for name in ("chain", "kid", "signature", "note")}
    chain = fields["chain"]
    if not isinstance(chain, int) or isinstance(chain, bool) or not 0 <= chain < 2**63:
        raise CheckpointInvalid("The checkpoint has no chain number.")
    if not all(isinstance(fields[name], str) for name in ("kid", "signature", "note")):
        raise CheckpointInvalid("The checkpoint needs kid, signature and note as text.")
    kid, signature_b64, note = str(fields["kid"]), str(fields["signature"]), str(fields["note"])
    # A kid is a base64url thumbprint; anything else (a NUL, say) never reaches the database.
    key = CheckpointKey.objects.filter(kid=kid).first() if _KID.fullmatch(kid) else None
    if key is None:
        raise CheckpointInvalid("The checkpoint was signed by a key Gatehouse does not know.")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public = Ed25519PublicKey.from_public_bytes(bytes(key.public_key))
        public.verify(signature, note.encode())
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise CheckpointInvalid("The checkpoint's signature does not match its note.") from exc
    lines = note.split("\n")
    try:
        if len(lines) != 5 or lines[4] != "":
            raise ValueError("four lines")
        size = int(lines[1])
        head = base64.b64decode(lines[2], validate=True)
        if size < 1 or len(head) != 32:
            raise ValueError("size or head")
    except (ValueError, binascii.Error) as exc:
        raise CheckpointInvalid("The checkpoint's note is not one Gatehouse signs.") from exc
    # The origin names the organization by its slug, which may have changed since: the
    # chain's hashes (each bound to the chain's number), not its name, decide whether the log
    # matches the checkpoint.
    return Claim(chain, size, head, lines[0], lines[3], key.kid)
