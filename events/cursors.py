"""The feed's opaque cursor: base64url of ``v1.<txid>.<id>``, read strictly."""

from __future__ import annotations

import base64
import binascii
import re

from events.horizon import Cursor

_TEXT = re.compile(r"v1\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})")
_MAX = 2**63 - 1


class BadCursor(ValueError):
    pass


def encode(cursor: Cursor) -> str:
    return base64.urlsafe_b64encode(f"v1.{cursor[0]}.{cursor[1]}".encode()).decode().rstrip("=")


def decode(value: str) -> Cursor:
    """The position ``value`` names; ``BadCursor`` for anything this module did not write."""
    if not value or len(value) > 64 or not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise BadCursor("The cursor is not one this feed gave out.")
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("The cursor is not one this feed gave out.") from None
    match = _TEXT.fullmatch(text)
    if match is None:
        raise BadCursor("The cursor is not one this feed gave out.")
    txid, last_id = int(match[1]), int(match[2])
    if txid > _MAX or last_id > _MAX or encode((txid, last_id)) != value:
        raise BadCursor("The cursor is not one this feed gave out.")
    return txid, last_id
