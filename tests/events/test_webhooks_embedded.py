"""Webhooks at send time and in the embedded mode.

- A URL is checked again before every delivery: a name that resolved to a public address when
  the endpoint was registered and to a private one later (DNS rebinding) is refused at send,
  and nothing is sent.
- The embedded mode (``make run``: SQLite, eager tasks, no beat and no loop running): a
  sign-up's ``user.created`` reaches a loopback receiver through the one pass that runs when
  the sign-up's transaction commits. Run in a subprocess, as ``make run`` would start it."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from audit.actions import Action
from audit.services import record
from config import outbound
from events import services
from events.models import Delivery, DeliveryAttempt
from tests.events.webhook_world import org_with_owner, run_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_a_name_that_turns_private_after_registration_is_refused_at_send(monkeypatch):
    answers = {"hooks.example.com": [ipaddress.ip_address("93.184.216.34")]}
    monkeypatch.setattr(outbound, "resolve", lambda host, port: answers[host])
    org, owner = org_with_owner()
    created = services.create_endpoint(
        actor=owner, organization=org, url="https://hooks.example.com/in"
    )
    answers["hooks.example.com"] = [ipaddress.ip_address("10.0.0.7")]

    record(Action.ORG_UPDATED, actor=owner.user, organization=org, target=org)
    attempt = run_until(
        lambda: DeliveryAttempt.objects.filter(delivery__endpoint=created.endpoint).first()
    )

    assert attempt.status_code is None
    assert "private" in attempt.error
    delivery = Delivery.objects.get(endpoint=created.endpoint)
    assert delivery.status == Delivery.Status.PENDING  # retried later: DNS may change back
    assert delivery.last_error == attempt.error


EMBEDDED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.test import Client
    from consent.models import Purpose
    from events import services
    from events.models import Delivery
    from tests.factories import UserFactory

    Purpose.objects.all().delete()  # no consent boxes on the sign-up form
    created = services.create_endpoint(
        actor=UserFactory(is_staff=True), organization=None, url=sys.argv[1],
        event_types=["user.created"],
    )
    print("RESULT", json.dumps({"secret": created.secret}), flush=True)
    sys.stdin.readline()  # the test has given the receiver the secret
    response = Client(HTTP_HOST="localhost").post(
        "/accounts/signup/", {"email": "new@example.com", "password1": "violet-Anchor-quarry-81"}
    )
    print("RESULT", json.dumps({
        "status": response.status_code,
        "deliveries": list(Delivery.objects.values_list("status", "event__public_id")),
    }), flush=True)
    """
)


def _result(stream: Any) -> Any:
    """The next line the script marked as its result (the embedded mode prints emails too)."""
    for line in stream:
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise AssertionError("the embedded script ended without a result")


@pytest.mark.django_db
def test_in_the_embedded_mode_a_sign_up_delivers_its_webhook_on_commit(receiver, tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL", "CELERY_BROKER_URL"}
    }
    env.update(
        GATEHOUSE_EMBEDDED="1",
        GATEHOUSE_DATA_DIR=str(tmp_path),
        OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS="true",
        DJANGO_SETTINGS_MODULE="config.settings",
        GATEHOUSE_REQUIRE_SERVICES="0",
    )
    child = subprocess.Popen(
        [sys.executable, "-c", EMBEDDED_SCRIPT, receiver.url("/embedded")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        secret = _result(child.stdout)["secret"]
        receiver.secrets("/embedded", [secret])
        child.stdin.write("go\n")
        child.stdin.flush()
        result = _result(child.stdout)
    finally:
        child.kill()
        child.wait(30)

    assert result["status"] == 302
    [(status, event_id)] = result["deliveries"]
    assert status == "delivered"  # before the sign-up's response was returned
    [hit] = receiver.log("/embedded")
    assert hit["webhook_id"] == event_id
    assert hit["verified_by"] == [0]
    body = json.loads(hit["body"])
    assert body["type"] == "user.created"
    assert body["data"]["object"]["email"] == "new@example.com"
