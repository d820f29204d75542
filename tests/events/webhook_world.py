"""What the webhook tests share: the node receiver (tests/events/receiver/), organizations with
an owner, endpoints, and running the pipeline until something happened."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from events import pipeline
from organizations import services as org_services
from organizations.models import Membership
from tests.conftest import require
from tests.factories import UserFactory

RECEIVER_DIR = Path(__file__).with_name("receiver")


class Receiver:
    """The node receiver: verifies each request with npm standardwebhooks against the secrets
    given for its path, logs it, and answers as scripted."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            ["node", "receiver.mjs"],
            cwd=RECEIVER_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = json.loads(self.process.stdout.readline())["port"]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _call(self, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        method = "POST" if data else "GET"
        request = urllib.request.Request(self.url(path), data=data, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (loopback)
            return json.loads(response.read())

    def secrets(self, path: str, secrets: list[str]) -> None:
        self._call("/_control/secrets", {"path": path, "secrets": secrets})

    def script(self, path: str, *responses: dict[str, Any]) -> None:
        self._call("/_control/script", {"path": path, "responses": list(responses)})

    def release(self) -> None:
        self._call("/_control/release", {})

    def log(self, path: str | None = None) -> list[dict[str, Any]]:
        entries = self._call("/_control/log")
        return [e for e in entries if path is None or e["path"] == path]

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    require(
        shutil.which("node") is not None and (RECEIVER_DIR / "node_modules").is_dir(),
        "node and the receiver's packages (make npm-packages)",
    )
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def loopback(settings):
    """Loopback receivers over plain http (config/outbound.py's test allowance), a short
    deadline, and a compressed retry schedule."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_WEBHOOK_TIMEOUT = 2
    settings.GATEHOUSE_WEBHOOK_SCHEDULE = [1, 1, 1]
    return settings


def org_with_owner(slug: str = "acme") -> tuple[Any, Membership]:
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name=slug.title(), slug=slug)
    return org, Membership.objects.get(organization=org, user=owner)


def run_until(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Pipeline passes (in this process; tasks run eagerly unless a worker is started) until
    ``condition()`` is true; returns its value."""
    limit = time.monotonic() + timeout
    while True:
        pipeline.one_pass()
        value = condition()
        if value:
            return value
        assert time.monotonic() < limit, "the pipeline did not get there in time"
        time.sleep(0.1)
