"""The chain's encoding (docs/events.md 1.4 and 4.9): how an audit event becomes bytes.

The sealer and the verifier both hash what they read back from the database, never what was
about to be written: PostgreSQL's jsonb rewrites numbers and key order (T10). Every function
here is total: whatever a row holds, it encodes, so sealing never stops on stored data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from datetime import UTC, datetime
from typing import Any

# The personal fields, committed to with a per-event salt (erasure's ERASABLE_FIELDS), in the
# order their commitments are stored.
COMMITTED_FIELDS = ("actor_text", "target_text", "ip", "user_agent", "data")
DIGEST_SIZE = 32
_NONE = b"\xff\xff\xff\xff"  # stands for a NULL where a length would be


def encode_json(value: Any) -> str:
    """``value`` as canonical JSON text: sorted keys, no spaces, UTF-8 as is."""
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError):
        # Not JSON PostgreSQL would have stored (NaN, odd keys: SQLite keeps any text); still
        # encoded the same way every time, so sealing and verifying agree.
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=repr)


def field_bytes(field: str, value: Any) -> bytes:
    """A personal field's value as committed to: UTF-8 text, ``data`` as canonical JSON."""
    if value is None:
        return b"\x01"
    text = encode_json(value) if field == "data" else str(value)
    return b"\x00" + text.encode("utf-8", "surrogatepass")


def commitments(salt: bytes, event: Any) -> list[bytes]:
    """HMAC-SHA256 of each personal field of ``event`` under ``salt``."""
    return [_commit(salt, field, getattr(event, field)) for field in COMMITTED_FIELDS]


def _commit(salt: bytes, field: str, value: Any) -> bytes:
    return hmac.new(bytes(salt), field.encode() + field_bytes(field, value), "sha256").digest()


def _part(value: Any) -> bytes:
    if value is None:
        return _NONE
    data = str(value).encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(data)) + data


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds: how an event's time enters its hash."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(chain: int, event: Any, committed: list[bytes]) -> bytes:
    """SHA-256 of the event's record: what it is, when, by and to whom (by key), and the
    commitments to its personal fields."""
    record = b"gatehouse-audit/1"
    for value in (
        chain,
        event.id,
        timestamp(event.occurred_at),
        event.action,
        event.outcome,
        event.actor_id,
        event.organization_id,
        event.target_type,
        event.target_id,
        event.request_id,
    ):
        record += _part(value)
    for commitment in committed:
        record += struct.pack(">I", len(commitment)) + commitment
    return hashlib.sha256(record).digest()


def genesis(chain: int) -> bytes:
    """The chain hash before its first event."""
    return hashlib.sha256(b"gatehouse-genesis/1" + struct.pack(">q", chain)).digest()


def link(previous: bytes, position: int, event_digest: bytes) -> bytes:
    """The chain hash at ``position``, from the one before it and the event there."""
    return hashlib.sha256(
        b"gatehouse-chain/1" + bytes(previous) + struct.pack(">Q", position) + event_digest
    ).digest()


def split(blob: bytes) -> list[bytes]:
    """Stored commitments (``AuditSeal.commitments``) back into one digest per field."""
    blob = bytes(blob)
    return [blob[i : i + DIGEST_SIZE] for i in range(0, len(blob), DIGEST_SIZE)]


def chain_of(event: Any) -> int:
    """The chain an event belongs to: its organization's id, 0 for Gatehouse-wide events."""
    return int(event.organization_id or 0)
