"""The Log streams tab's lines in the tenant-isolation matrix (tests/organizations/
test_isolation.py): its endpoints, a stream per organization for them to point at, and the
streams' state for the matrix's before-and-after snapshot."""

from __future__ import annotations

from typing import Any

from audit.streams.models import LogStream

FORM = {"name": "SIEM", "kind": "https", "format": "json", "url": "https://siem.example/"}
ACTIONS = ("test", "pause", "resume", "delete")


def endpoints(endpoint: Any) -> list[Any]:
    """Every route of the tab, as the matrix's ``Endpoint`` (passed in: no import cycle)."""
    return [
        endpoint("get", "/orgs/{slug}/streams/"),
        endpoint("get", "/orgs/{slug}/streams/new/"),
        endpoint("post", "/orgs/{slug}/streams/new/", data=FORM),
        endpoint("get", "/orgs/{slug}/streams/{log_stream}/"),
        endpoint("post", "/orgs/{slug}/streams/{log_stream}/", data=FORM | {"name": "Changed"}),
        *[endpoint("post", f"/orgs/{{slug}}/streams/{{log_stream}}/{a}/") for a in ACTIONS],
    ]


def stream_of(org: Any) -> str:
    """A paused stream of ``org`` (so resume has something to change); its public id."""
    stream = LogStream.objects.create(
        organization=org,
        name=f"{org.name} SIEM",
        kind=LogStream.Kind.HTTPS,
        url=f"https://siem.{org.slug}.example/",
        status=LogStream.Status.PAUSED,
    )
    return str(stream.public_id)


def snapshot() -> list[Any]:
    return sorted(
        LogStream.objects.values_list("pk", "name", "status", "url", "format", "position"),
        key=str,
    )
