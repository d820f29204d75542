"""Reading the events feed: one page after a cursor, for everyone or for one organization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from events import horizon
from events.dispatch import TEST_EVENT_TYPE
from events.horizon import Cursor
from events.models import Event, PrunedThrough

MAX_LIMIT = 100
DEFAULT_LIMIT = 50
# Rows a type-filtered page may pass over before it answers with what it has: a consumer that
# wants a rare type does not make one request scan the whole table.
SCAN_CAP = 5000


class CursorExpired(Exception):
    """The cursor points before events retention has already deleted."""


@dataclass(frozen=True)
class Page:
    events: list[Event]
    next_cursor: Cursor
    has_more: bool


def read_page(
    *, after: Cursor | None, limit: int, organization_id: int | None, types: frozenset[str]
) -> Page:
    """Events after ``after`` (from the oldest kept one when None), in commit order, up to
    ``limit``; only ``organization_id``'s when it is given; only ``types`` when not empty."""
    start = after or horizon.START
    if after is not None and after != horizon.START:
        pruned = PrunedThrough.objects.filter(pk=1).first()
        if pruned is not None and after < (pruned.txid, pruned.last_id):
            raise CursorExpired()
    # A test event goes to the one endpoint it was sent to, not to the feed's readers.
    events = Event.objects.exclude(type=TEST_EVENT_TYPE)
    if organization_id is not None:
        events = events.for_org(organization_id)
    rows = horizon.after(events, start, horizon.current_horizon())
    if not types:
        page = list(rows[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        return Page(page, horizon.position(page[-1]) if page else start, more)
    return _filtered(rows, start, limit, types)


def _filtered(rows: Any, start: Cursor, limit: int, types: frozenset[str]) -> Page:
    kept: list[Event] = []
    cursor = start
    for scanned, event in enumerate(rows[: SCAN_CAP + 1].iterator(chunk_size=500)):
        if scanned == SCAN_CAP or len(kept) == limit:
            return Page(kept, cursor, True)
        cursor = horizon.position(event)
        if event.type in types:
            kept.append(event)
    return Page(kept, cursor, False)
