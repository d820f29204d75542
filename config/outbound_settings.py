"""Settings of outbound calls (config/outbound.py). Imported by name into config/settings.py."""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_list

# Outbound calls (config.outbound). Private networks an operator's own endpoints (webhooks and
# streams the operator registers) may reach, as CIDRs; never granted to a URL an org admin
# typed. Empty by default; link-local ranges (cloud metadata) are refused in production.
try:
    GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = [
        ipaddress.ip_network(cidr) for cidr in env_list("OUTBOUND_ALLOWED_NETWORKS", [])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"OUTBOUND_ALLOWED_NETWORKS must list CIDRs: {exc}") from exc
# Tests only: plain http and loopback addresses for every outbound call, so the suite reaches
# its IdPs and receivers on 127.0.0.1. Production refuses to start with it (gatehouse.E010).
OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = env_bool("OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS", False)
