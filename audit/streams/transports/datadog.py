"""Datadog logs: a JSON array (at most 1000 logs) to the intake of the site the admin chose
from a list. The site is never a free URL, so a Datadog stream takes no address from an org
admin at all; only ``GATEHOUSE_DATADOG_INTAKE_URLS`` (a setting, used by the test suite) can
point a site elsewhere.

Datadog refuses a ``timestamp`` more than 18 hours old (T16): an event older than 17 hours
(a stream catching up after a long outage) goes without one, Datadog dates it on arrival, and
the event's own time stays in ``gatehouse.occurred_at``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django.conf import settings

from audit.streams.transports.common import Batch, Destination, Sent, judged, post, public_host

MAX_LOGS = 1000
OLDEST_TIMESTAMP = timedelta(hours=17)

# The sites Datadog lists, and their log intake (docs.datadoghq.com, "Send logs").
SITES: dict[str, str] = {
    "datadoghq.com": "US1 (datadoghq.com)",
    "us3.datadoghq.com": "US3 (us3.datadoghq.com)",
    "us5.datadoghq.com": "US5 (us5.datadoghq.com)",
    "datadoghq.eu": "EU1 (datadoghq.eu)",
    "ap1.datadoghq.com": "AP1 (ap1.datadoghq.com)",
    "ap2.datadoghq.com": "AP2 (ap2.datadoghq.com)",
    "ddog-gov.com": "US1-FED (ddog-gov.com)",
}


def intake_url(site: str) -> str:
    overrides = settings.GATEHOUSE_DATADOG_INTAKE_URLS
    if site in overrides:
        return str(overrides[site])
    if site not in SITES:
        raise ValueError(f"Unknown Datadog site {site!r}.")
    return f"https://http-intake.logs.{site}/api/v2/logs"


def logs_of(destination: Destination, batch: Batch) -> list[dict[str, object]]:
    now = datetime.now(UTC)
    host = public_host()
    logs: list[dict[str, object]] = []
    for entry in batch.entries:
        log: dict[str, object] = {
            "ddsource": "gatehouse",
            "ddtags": f"source:gatehouse,stream:{destination.stream_id}",
            "hostname": host,
            "service": "gatehouse",
            "message": entry.action,
            "status": "warn" if entry.failed else "info",
            "gatehouse": entry.record,
        }
        if now - entry.occurred_at < OLDEST_TIMESTAMP:
            log["timestamp"] = int(entry.occurred_at.timestamp() * 1000)
        logs.append(log)
    return logs


def send(destination: Destination, batch: Batch) -> Sent:
    if len(batch.entries) > MAX_LOGS:
        return Sent(delivered=False, error=f"A Datadog batch holds at most {MAX_LOGS} logs.")
    try:
        url = intake_url(destination.datadog_site)
    except ValueError as exc:
        return Sent(delivered=False, error=str(exc))
    body = json.dumps(logs_of(destination, batch), separators=(",", ":"), ensure_ascii=False)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Gatehouse-LogStream/1",
        "DD-API-KEY": destination.credential,
    }
    return judged(post(url, body.encode(), headers), destination.credential)
