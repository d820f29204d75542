"""Whether a stream's settings are acceptable, and why not: one refusal per problem, named by
the form field it belongs to (``Refusal.code``), so the portal shows it on that field.

Addresses are vetted here (config/outbound.py resolves the name), which asks DNS: the services
call this before their transaction opens, never inside it. An org admin's address is never
allowed a private network, whatever the operator's settings say.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field, replace

from audit.actions import Action
from audit.streams.models import LogStream
from audit.streams.transports.datadog import SITES
from config import outbound
from config.refusals import Refusal

Kind = LogStream.Kind


@dataclass(frozen=True)
class StreamSettings:
    """What an admin chose for a stream. ``credential`` empty on a change keeps the one kept."""

    name: str
    kind: str
    format: str = LogStream.Format.JSON
    url: str = ""
    host: str = ""
    port: int | None = None
    datadog_site: str = ""
    ca_pem: str = ""
    actions: list[str] = field(default_factory=list)
    credential: str = field(default="", repr=False)


def _no(message: str, where: str) -> Refusal:
    return Refusal(message, code=where)


def _vet_url(url: str) -> str:
    try:
        outbound.vet_url(url)
    except outbound.OutboundError as exc:
        raise _no(str(exc), "url") from None
    return url.strip()


def _vet_syslog(host: str, port: int | None) -> tuple[str, int]:
    host = host.strip().lower()
    if not host or "/" in host or ":" in host or " " in host:
        raise _no("Give the syslog server's host name, without a port or scheme.", "host")
    if port is None or not 1 <= port <= 65535:
        raise _no("The port is a number from 1 to 65535 (syslog over TLS uses 6514).", "port")
    try:
        outbound.vet_host(host, port)
    except outbound.OutboundError as exc:
        raise _no(str(exc), "host") from None
    return host, port


def _vet_ca(pem: str) -> str:
    pem = pem.strip()
    if not pem:
        return ""
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise _no("Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE-----).", "ca_pem")
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise _no("That CA certificate could not be read.", "ca_pem") from None
    return pem + "\n"


def checked(chosen: StreamSettings, *, creating: bool) -> StreamSettings:
    """``chosen`` cleaned, with only the fields its kind uses, or a refusal on the first
    field that is wrong."""
    name = chosen.name.strip()
    if not name or len(name) > 100:
        raise _no("Give the stream a name (at most 100 characters).", "name")
    if chosen.kind not in Kind.values:
        raise _no("Choose where the stream sends.", "kind")
    if chosen.format not in LogStream.Format.values:
        raise _no("Choose JSON or OCSF.", "format")
    unknown = [a for a in chosen.actions if a not in Action.values]
    if unknown:
        raise _no(f"Unknown action: {unknown[0]}.", "actions")
    clean = StreamSettings(
        name=name,
        kind=chosen.kind,
        format=chosen.format,
        actions=sorted(set(chosen.actions)),
        credential=chosen.credential.strip(),
    )
    if chosen.kind in (Kind.HTTPS, Kind.SPLUNK_HEC):
        clean = replace(clean, url=_vet_url(chosen.url))
    elif chosen.kind == Kind.DATADOG:
        if chosen.datadog_site not in SITES:
            raise _no("Choose your Datadog site from the list.", "datadog_site")
        clean = replace(clean, datadog_site=chosen.datadog_site)
    else:
        host, port = _vet_syslog(chosen.host, chosen.port)
        clean = replace(clean, host=host, port=port, ca_pem=_vet_ca(chosen.ca_pem))
    needs_credential = chosen.kind in (Kind.SPLUNK_HEC, Kind.DATADOG)
    if creating and needs_credential and not clean.credential:
        what = "HEC token" if chosen.kind == Kind.SPLUNK_HEC else "Datadog API key"
        raise _no(f"Paste the {what}.", "credential")
    if len(clean.credential) > 500:
        raise _no("That credential is too long.", "credential")
    return clean
