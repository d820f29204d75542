"""What the Webhooks tab's tests share: the two-organization world, signed-in admins, the
tab's addresses, and reading the secret off the one page that shows it."""

from __future__ import annotations

import re

from events import services
from events.models import WebhookEndpoint
from tests.organizations.conftest import OrgWorld, signed_in

HOOK = "http://127.0.0.1:9/hook"


def base(slug: str = "acme") -> str:
    return f"/orgs/{slug}/webhooks/"


def at(endpoint: WebhookEndpoint, tail: str = "", slug: str = "acme") -> str:
    return f"{base(slug)}{endpoint.public_id}/{tail}"


def shown_secret(response) -> str:
    match = re.search(rb'<code id="webhook-secret"[^>]*>(whsec_[^<]+)</code>', response.content)
    assert match, response.content[:500]
    return match.group(1).decode()


def endpoint_of(world: OrgWorld, org, url: str = HOOK, **kw) -> WebhookEndpoint:
    """An endpoint made by the organization's owner through the services."""
    owner = world.a_owner if org == world.a else world.b_owner
    return services.create_endpoint(
        actor=world.membership(org, owner), organization=org, url=url, **kw
    ).endpoint


__all__ = ["HOOK", "OrgWorld", "at", "base", "endpoint_of", "shown_secret", "signed_in"]
