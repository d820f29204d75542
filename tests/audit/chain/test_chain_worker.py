"""A long chain checked by a real Celery worker on PostgreSQL: the verify endpoint answers 202,
the worker (another process, as the application role) walks the chain in batches, and polling
the check gives its result: the chain verifies, or the first event someone with the database
superuser's access changed is named, as the inline check names it."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.utils import timezone

from audit.actions import Action
from audit.chain import checkpoints
from audit.chain.models import AuditChain, AuditVerification
from audit.chain.verify import BATCH
from audit.models import AuditEvent
from tests.api.oauth_world import backend
from tests.audit.chain.helpers import position_of, seal_committed, superuser
from tests.audit.helpers import event
from tests.conftest import require
from tests.organizations.conftest import OrgWorld

pytestmark = pytest.mark.django_db(transaction=True)

# More than one batch of the walk, so that the worker beats and reports progress on the way.
EVENTS = BATCH + 200


@pytest.fixture
def long_chain(settings):
    """Organization A with a chain longer than the (lowered) threshold, sealed, and a
    checkpoint of it."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    settings.GATEHOUSE_AUDIT_VERIFY_SYNC_MAX = 100  # the web process decides; the worker runs
    world = OrgWorld()
    # Dated as they are written: an event older than those sealed before it is "written late".
    events = [
        event(world.a, at=timezone.now(), action="login.failed", outcome="failure")
        for _ in range(EVENTS)
    ]
    app = backend(organization=world.a, scopes=["audit:read"])
    seal_committed()
    checkpoint = checkpoints.sign(world.a.pk)
    assert checkpoint is not None
    return world, app, events, checkpoints.as_json(checkpoint)


def _poll(caller, location: str, timeout: float = 120.0) -> dict:
    limit = time.monotonic() + timeout
    while True:
        response = caller.get(location)
        assert response.status_code == 200, response.content
        body = response.json()
        if body["status"] not in ("queued", "running"):
            assert "Retry-After" not in response
            return body
        assert response["Retry-After"] == "5"
        assert time.monotonic() < limit, f"the worker did not finish the check: {body}"
        time.sleep(0.2)


def test_a_real_worker_checks_a_long_chain_and_reports_it_verifies(celery_worker, long_chain):
    world, app, _events, checkpoint = long_chain
    caller = app.caller()
    response = caller.send("POST", "/api/v1/organizations/acme/audit/verify", checkpoint)

    assert response.status_code == 202, response.content
    assert response.json()["status"] in ("queued", "running", "done")
    size = AuditChain.objects.get(chain=world.a.pk).size
    assert response.json()["to_check"] == size > EVENTS
    body = _poll(caller, response["Location"])

    assert body["status"] == "done", body
    assert body["result"]["ok"] is True, body
    assert body["result"]["checked"] == body["checked"] == size
    assert body["result"]["size"] == size
    check = AuditVerification.objects.get(public_id=body["id"])
    assert check.attempts == 1
    assert check.claimed_at is None
    event = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_VERIFIED)
    assert event.actor_text == f"client {app.client_id}"
    assert event.data == {
        "size": checkpoint["size"],
        "ok": True,
        "problems": 0,
        "check": body["id"],
    }


def test_a_real_worker_names_the_first_event_changed(celery_worker, long_chain):
    world, app, events, checkpoint = long_chain
    first, later = events[BATCH + 50], events[BATCH + 150]  # in the walk's second batch
    with superuser() as db:
        db.execute(
            "UPDATE audit_auditevent SET outcome = 'success' WHERE id = ANY(%s)",
            [[first.pk, later.pk]],
        )
    caller = app.caller()
    response = caller.send("POST", "/api/v1/organizations/acme/audit/verify", checkpoint)
    assert response.status_code == 202, response.content
    body = _poll(caller, response["Location"])

    assert body["status"] == "done", body
    result = body["result"]
    assert result["ok"] is False
    assert result["first_problem"] == f"position {position_of(first)}: event {first.pk} was changed"
    assert [(p["position"], p["event_id"]) for p in result["problems"]] == [
        (position_of(first), str(first.pk)),
        (position_of(later), str(later.pk)),
    ]
    assert result["problem_count"] == 2
    event = AuditEvent.objects.for_org(world.a).get(action=Action.AUDIT_VERIFIED)
    assert (event.data["ok"], event.data["problems"]) == (False, 2)
