"""Splunk's HTTP Event Collector: event objects one after another (not a JSON array, T24),
``Authorization: Splunk <token>``, and a channel per stream (required when the collector
acknowledges indexing; Gatehouse counts a 200 with code 0 as delivered)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import urlsplit, urlunsplit

from audit.streams.transports.common import Batch, Destination, Sent, judged, post, public_host

EVENT_PATH = "/services/collector/event"


def collector_url(url: str) -> str:
    """The admin may give the collector's base URL or its event endpoint."""
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        return urlunsplit(parts._replace(path=EVENT_PATH))
    return url


def body_of(batch: Batch) -> bytes:
    host = public_host()
    events = []
    for entry in batch.entries:
        events.append(
            json.dumps(
                {
                    "time": round(entry.occurred_at.timestamp(), 3),
                    "host": host,
                    "source": "gatehouse",
                    "sourcetype": "gatehouse:audit",
                    "event": entry.record,
                },
                separators=(",", ":"),
                ensure_ascii=False,
            )
        )
    return "\n".join(events).encode()


def channel(destination: Destination) -> str:
    """A GUID per stream, stable across sends."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"gatehouse-stream:{destination.stream_id}"))


def send(destination: Destination, batch: Batch) -> Sent:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Gatehouse-LogStream/1",
        "Authorization": f"Splunk {destination.credential}",
        "X-Splunk-Request-Channel": channel(destination),
    }
    return judged(
        post(collector_url(destination.url), body_of(batch), headers), destination.credential
    )
