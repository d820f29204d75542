"""What a stream reads: its organization's sealed audit events, by chain position.

Positions are gap-free and follow commit order (audit/chain/sealer.py), so ``position > p``
after a stream's cursor ``p`` can never miss an event that commits later: an event gets its
position only once it is sealed, after everything before it.
"""

from __future__ import annotations

from audit.chain.models import AuditChain, AuditSeal
from audit.models import AuditEvent
from audit.streams.formats import Item

MAX_EVENTS = 500


def sealed_size(org_id: int) -> int:
    """The last position of the organization's chain (0: nothing sealed yet)."""
    size = AuditChain.objects.filter(chain=org_id).values_list("size", flat=True).first()
    return int(size or 0)


def removed(position: int, items: list[Item], through: int) -> list[tuple[int, int]]:
    """The ranges of positions after ``position``, up to ``through``, that ``items`` lack:
    their events were removed (by retention) before the stream sent them."""
    have = sorted(i.position for i in items if i.position is not None and i.position <= through)
    gaps, expected = [], position + 1
    for at in [*have, through + 1]:
        if at > expected:
            gaps.append((expected, at - 1))
        expected = at + 1
    return gaps


def read_after(org_id: int, position: int, limit: int | None = None) -> list[Item]:
    """The organization's sealed events after ``position``, oldest first, at most ``limit``
    (``MAX_EVENTS`` unless told)."""
    seals = list(
        AuditSeal.objects.filter(chain=org_id, position__gt=position)
        .order_by("position")
        .values_list("position", "event_id", "chain_hash")[: limit or MAX_EVENTS]
    )
    events = AuditEvent.objects.in_bulk([event_id for _, event_id, _ in seals])
    items: list[Item] = []
    for at, event_id, chain_hash in seals:
        event = events.get(event_id)
        if event is not None:  # retention removes the seal with its event
            items.append(Item(event=event, position=at, chain_hash=bytes(chain_hash).hex()))
    return items
