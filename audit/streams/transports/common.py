"""What every transport shares: the destination (decrypted only for the send), the batch, the
answer, and how an HTTP answer reads as success or failure."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from config import outbound

TIMEOUT_SECONDS = 15.0
MAX_ANSWER_BYTES = 1024
LONGEST_RETRY_AFTER = 6 * 3600


@dataclass(frozen=True)
class Destination:
    """Where a stream sends, with its credential in clear for the length of one send.
    ``repr`` leaves the credential out, so it cannot reach a log by accident."""

    kind: str
    stream_id: str  # the stream's public id: Splunk's channel, the Datadog tag
    organization_id: int
    url: str = ""
    host: str = ""
    port: int = 0
    datadog_site: str = ""
    ca_pem: str = ""
    credential: str = field(default="", repr=False)


@dataclass(frozen=True)
class Entry:
    """One formatted record (JSON or OCSF) with what the transports need beside it: when the
    event happened, its action and whether it failed."""

    record: dict[str, Any]
    occurred_at: datetime
    action: str
    failed: bool = False


@dataclass(frozen=True)
class Batch:
    """The entries of one send, in chain order, and the id that names the batch the same way
    on every retry (``<org>-<first position>-<last position>``, or ``test-<event id>``)."""

    entries: list[Entry]
    batch_id: str

    @property
    def records(self) -> list[dict[str, Any]]:
        return [entry.record for entry in self.entries]


@dataclass(frozen=True)
class Sent:
    """How a send went: ``delivered`` or not, the answer's status code if there was one, a
    short error fit to show an admin (never a secret), and how long the destination asked us
    to wait (Retry-After, seconds)."""

    delivered: bool
    status: int | None = None
    error: str = ""
    retry_after: float | None = None

    def summary(self) -> str:
        if self.delivered:
            return f"Delivered (HTTP {self.status})." if self.status else "Delivered."
        code = f"HTTP {self.status}: " if self.status else ""
        return f"{code}{self.error}"[:300]


def public_host() -> str:
    """The name Gatehouse gives as the host of the events (HEC ``host``, Datadog
    ``hostname``, syslog HOSTNAME)."""
    return urlsplit(settings.GATEHOUSE_PUBLIC_URL).hostname or "gatehouse"


def retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds (delta or HTTP date), capped at six hours."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to str.isdigit, not to int()
        return float(min(int(value), LONGEST_RETRY_AFTER))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), float(LONGEST_RETRY_AFTER)))


def post(url: str, body: bytes, headers: dict[str, str]) -> Sent | outbound.Response:
    """POST through the SSRF-safe outbound module; a refusal or failure comes back as a
    ``Sent`` that was not delivered."""
    try:
        return outbound.post(
            url, body, headers, timeout=TIMEOUT_SECONDS, max_bytes=MAX_ANSWER_BYTES
        )
    except outbound.OutboundError as exc:
        return Sent(delivered=False, error=str(exc))


def judged(answer: Sent | outbound.Response, credential: str = "") -> Sent:
    """A 2xx is delivered; anything else (a redirect included: it is never followed) is a
    failure, with the destination's Retry-After kept. The answer's first bytes become the
    error the portal shows, without the stream's credential should the destination echo it."""
    if isinstance(answer, Sent):
        return answer
    if 200 <= answer.status < 300:
        return Sent(delivered=True, status=answer.status)
    excerpt = answer.body[:200].decode("utf-8", "replace").strip()
    if credential:
        excerpt = excerpt.replace(credential, "[credential]")
    return Sent(
        delivered=False,
        status=answer.status,
        error=excerpt or answer.reason or "Refused.",
        retry_after=retry_after(answer.headers.get("Retry-After")),
    )
