"""scim2-tester's checks (discovery, CRUD, PATCH add/remove/replace on every writable
attribute, misc) against the live ``/scim/v2/`` endpoint over real HTTP, with zero ERROR or
CRITICAL results. The tester builds its picture of the service from what Gatehouse publishes
on /Schemas and /ResourceTypes, so it checks exactly what Gatehouse claims to support."""

from __future__ import annotations

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from sso.scim.models import ScimGroup, ScimUser
from tests.scim.conftest import make_directory

FAILED = {Status.ERROR, Status.CRITICAL}


@pytest.fixture
def tester_client(transactional_db, live_server):
    world = make_directory("acme", "acme.test")
    http = httpx2.Client(
        base_url=live_server.url + "/scim/v2",
        headers={"Authorization": f"Bearer {world.token}"},
        timeout=30,
    )
    yield world, SyncSCIMClient(http)
    http.close()


def _failures(results) -> str:
    return "\n".join(
        f"[{r.status.name}] {r.resource_type or ''} {r.title}: {r.reason}"
        for r in results
        if r.status in FAILED
    )


def _run(client, **kwargs):
    results = check_server(client, **kwargs)
    assert results, "scim2-tester ran no check"
    failures = _failures(results)
    assert not failures, f"scim2-tester failures:\n{failures}"
    return results


def test_discovery_and_unknown_paths_pass_the_tester(tester_client):
    _, client = tester_client
    results = _run(client, include_tags={"discovery", "misc"})
    titles = {r.title for r in results if r.status == Status.SUCCESS}
    assert "random_url" in titles


def test_full_tester_run_has_no_errors_and_cleans_up_after_itself(tester_client):
    world, client = tester_client
    results = _run(client)
    succeeded = [r for r in results if r.status == Status.SUCCESS]
    checked = {r.resource_type for r in succeeded}
    assert {"User", "Group"} <= checked
    tags = set().union(*(r.tags for r in succeeded))
    assert {"crud:create", "crud:update", "crud:delete", "patch:add", "patch:replace"} <= tags
    # Everything the tester created it deleted again, through the endpoint.
    assert not ScimUser.objects.filter(directory=world.directory).exists()
    assert not ScimGroup.objects.filter(directory=world.directory).exists()
