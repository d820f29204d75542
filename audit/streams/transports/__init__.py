"""The four ways a log stream delivers a batch: generic HTTPS, Splunk HEC, Datadog logs and
syslog over TLS. Each takes the stream's destination and the batch's records and answers with
a ``Sent``: it never raises for a failure of the destination, so the caller decides what a
failure does to the stream's cursor (nothing: the cursor moves only on success)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from audit.streams.transports import datadog, https, splunk_hec, syslog_tls
from audit.streams.transports.common import Batch, Destination, Entry, Sent

Transport = Callable[[Destination, Batch], Sent]

TRANSPORTS: dict[str, Transport] = {
    "https": https.send,
    "splunk_hec": splunk_hec.send,
    "datadog": datadog.send,
    "syslog_tls": syslog_tls.send,
}


def send(destination: Destination, batch: Batch) -> Sent:
    """Deliver ``batch`` with the transport of the destination's kind."""
    return TRANSPORTS[destination.kind](destination, batch)


__all__: Sequence[Any] = ["TRANSPORTS", "Batch", "Destination", "Entry", "Sent", "send"]
