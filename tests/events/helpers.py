"""What the events tests share: waiting for the horizon, and reading the whole feed."""

from __future__ import annotations

import time
from typing import Any

from django.db.models import Max

from events import horizon
from events.models import Event


def wait_for_horizon(timeout: float = 30.0) -> None:
    """Wait until every committed outbox row is below the horizon. The horizon is
    cluster-wide (docs/events.md, T2): another session's open transaction on the shared test
    cluster holds it back for as long as it stays open."""
    newest = Event.objects.aggregate(newest=Max("txid"))["newest"]
    limit = time.monotonic() + timeout
    while newest is not None and horizon.ordered_by_commit():
        current = horizon.current_horizon()
        if current is not None and current > newest:
            return
        assert time.monotonic() < limit, "the horizon did not pass the newest committed event"
        time.sleep(0.05)


def read_all(client: Any, *, limit: int = 3, after: str | None = None) -> tuple[list[str], str]:
    """Every event the feed gives ``client`` from ``after`` on, page by page: their ids and the
    last cursor."""
    ids: list[str] = []
    while True:
        query = f"?limit={limit}" + (f"&after={after}" if after else "")
        response = client.get(f"/api/v1/events{query}")
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [event["id"] for event in body["data"]]
        after = body["next_cursor"]
        if not body["has_more"]:
            return ids, after
