"""Looking up the TXT record that proves an organization owns a domain (dnspython)."""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings


def _resolver() -> dns.resolver.Resolver:
    servers = settings.GATEHOUSE_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        hosts, ports = [], set()
        for server in servers:
            host, _, port = server.rpartition(":") if server.count(":") == 1 else (server, "", "")
            hosts.append(host or server)
            ports.add(int(port) if port else 53)
        resolver.nameservers = hosts
        resolver.port = ports.pop() if len(ports) == 1 else 53
    resolver.lifetime = settings.GATEHOUSE_DNS_TIMEOUT
    resolver.timeout = settings.GATEHOUSE_DNS_TIMEOUT
    resolver.cache = None  # a record just added or removed must be seen as it is now
    return resolver


def has_txt_record(name: str, expected: str) -> tuple[bool, str]:
    """Whether ``name`` has a TXT record whose text is ``expected``, and what was found."""
    try:
        answer = _resolver().resolve(name, "TXT")
    except dns.resolver.NXDOMAIN:
        return False, f"no DNS name {name}"
    except dns.resolver.NoAnswer:
        return False, f"no TXT record at {name}"
    except dns.resolver.NoNameservers:
        return False, "the domain's name servers did not answer"
    except dns.exception.Timeout:
        return False, "the DNS lookup timed out"
    except dns.exception.DNSException as exc:
        return False, f"DNS error: {type(exc).__name__}"
    texts = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
    if expected in texts:
        return True, "record found"
    return False, f"TXT record at {name} does not match"
