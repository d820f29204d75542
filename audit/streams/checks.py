"""Whether a stream's settings are acceptable, and why not: one refusal per problem, named by
the form field it belongs to (``Refusal.code``), so the portal shows it on that field.

Addresses are vetted here (config/outbound.py resolves the name), which asks DNS: the services
call this before their transaction opens, never inside it. An org admin's address is never
allowed a private network, whatever the operator's settings say.

A credential goes only where it was given: a change of destination needs the credential again
(``credential_for_move``), so whoever may edit a stream cannot point it at a host of their own
and collect the saved token.
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

# Where a stream sends, by kind: a change to any of these is a new destination.
DESTINATION_FIELDS = ("url", "host", "port", "datadog_site")
# The kinds whose credential the admin types (and Gatehouse sends as it is).
TYPED_CREDENTIAL = {Kind.SPLUNK_HEC: "HEC token", Kind.DATADOG: "Datadog API key"}


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
    what = TYPED_CREDENTIAL.get(Kind(chosen.kind))
    if creating and what and not clean.credential:
        raise _no(f"Paste the {what}.", "credential")
    if len(clean.credential) > 500:
        raise _no("That credential is too long.", "credential")
    return clean


def moved_fields(stream: LogStream, clean: StreamSettings) -> list[str]:
    """The destination fields ``clean`` changes on ``stream`` (empty: it sends where it did)."""
    return [name for name in DESTINATION_FIELDS if getattr(stream, name) != getattr(clean, name)]


def credential_for_move(stream: LogStream, clean: StreamSettings) -> None:
    """Refuse a change of destination that comes without the credential: the saved one was
    given for the old destination and is never sent to a new one (found in review). Kinds
    without a typed credential pass: HTTPS gets a new signing secret, syslog has none."""
    what = TYPED_CREDENTIAL.get(Kind(stream.kind))
    if what and not clean.credential and moved_fields(stream, clean):
        raise _no(
            f"The destination changed: paste the {what} again. The saved one is sent only "
            "where it was first given.",
            "credential",
        )
