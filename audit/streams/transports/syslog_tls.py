"""Syslog over TLS (RFC 5425): RFC 5424 messages, each framed by its octet count.

A message is ``<PRI>1 TIMESTAMP HOSTNAME gatehouse - MSGID - BOM{json}``: facility 13 (log
audit), severity 6 (informational) or 4 (warning) for a failure, the audit action as MSGID (at
most 32 printable ASCII characters, T15), no structured data (an SD-ID needs an IANA enterprise
number), and the record as UTF-8 JSON after a byte order mark, as RFC 5424 asks.

Syslog has no acknowledgment (T25): Gatehouse counts a batch delivered only after every byte
was written and the TLS session closed cleanly (``unwrap``, close_notify both ways), and the
records carry their chain position so the receiving side can drop repeats. The whole session
runs under one deadline (``config.outbound.tls_session``), the one an HTTPS send has.
"""

from __future__ import annotations

import json
import ssl

from audit.streams.transports import common
from audit.streams.transports.common import Batch, Destination, Entry, Sent
from audit.streams.transports.common import public_host as _public_host
from config import outbound

FACILITY_LOG_AUDIT = 13
SEVERITY_INFO, SEVERITY_WARNING = 6, 4
MSGID_MAX = 32


def msgid(action: str) -> str:
    """The action as an RFC 5424 MSGID: printable US-ASCII without spaces, at most 32."""
    cleaned = "".join(ch for ch in action if 33 <= ord(ch) <= 126)
    return cleaned[:MSGID_MAX] or "-"


def message(entry: Entry, hostname: str) -> bytes:
    pri = FACILITY_LOG_AUDIT * 8 + (SEVERITY_WARNING if entry.failed else SEVERITY_INFO)
    stamp = entry.occurred_at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    head = f"<{pri}>1 {stamp} {hostname[:255]} gatehouse - {msgid(entry.action)} - "
    payload = json.dumps(entry.record, separators=(",", ":"), ensure_ascii=False)
    return head.encode("ascii") + b"\xef\xbb\xbf" + payload.encode()


def frame(msg: bytes) -> bytes:
    """RFC 5425 octet counting: ``MSG-LEN SP SYSLOG-MSG``."""
    return str(len(msg)).encode("ascii") + b" " + msg


def tls_context(ca_pem: str) -> ssl.SSLContext:
    """Certificates checked against the system's CAs, or only against the stream's own CA
    when the admin gave one; TLS 1.2 or newer."""
    context = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def send(destination: Destination, batch: Batch) -> Sent:
    """Write the batch in one TLS session and close it cleanly, all within one deadline
    (``common.TIMEOUT_SECONDS`` for connecting, the handshake, writing and the close
    together, as an HTTPS send has): a server that answers each step slowly cannot hold a
    worker, or the web worker behind the test button, for longer. A session the deadline
    cut is not delivered, and the whole batch goes again."""
    hostname = _public_host()
    data = b"".join(frame(message(entry, hostname)) for entry in batch.entries)
    try:
        context = tls_context(destination.ca_pem)
    except ssl.SSLError:
        return Sent(delivered=False, error="The CA certificate could not be read.")
    try:
        with outbound.tls_session(
            destination.host, destination.port, context=context, timeout=common.TIMEOUT_SECONDS
        ) as tls:
            tls.sendall(data)
            # close_notify, and wait for the server's: only then did the bytes arrive whole.
            tls.unwrap()
    except outbound.OutboundError as exc:
        return Sent(delivered=False, error=str(exc))
    return Sent(delivered=True)
