"""What runs beside Gatehouse when events are on, for bench/events.py: the node receiver that
verifies every webhook (tests/events/receiver), the operator's endpoints pointing at it, the
pipeline loop (sealing, dispatch, queueing) and a Celery worker sending the deliveries."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
RECEIVER = ROOT / "tests" / "events" / "receiver" / "receiver.mjs"
_receiver: dict = {}

ENDPOINTS_SCRIPT = """
import json, sys, django
django.setup()
from accounts.models import User
from events import services
from events.models import WebhookEndpoint

port, count, types = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
staff, _ = User.objects.get_or_create(
    email="bench-staff@bench.test", defaults={"is_staff": True, "is_superuser": True}
)
WebhookEndpoint.objects.filter(organization=None, description="bench").delete()
secrets = {}
for i in range(count):
    made = services.create_endpoint(
        actor=staff, organization=None, url=f"https://localhost:{port}/hook/{i}",
        description="bench", event_types=types,
    )
    secrets[f"/hook/{i}"] = made.secret
print(json.dumps(secrets))
"""

COUNTS_SCRIPT = """
import json, django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SELECT count(*) FROM events_delivery WHERE status = 'delivered'")
    delivered = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM events_delivery WHERE status IN ('pending', 'sending')")
    waiting = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM audit_auditseal")
    sealed = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM audit_auditevent")
    unsealed = cursor.fetchone()[0] - sealed
print(json.dumps(
    {"delivered": delivered, "waiting": waiting, "sealed": sealed, "unsealed": unsealed}
))
"""

PIPELINE_SCRIPT = """
import django
django.setup()
from events import pipeline
pipeline.run(24 * 3600)
"""


CERT = ROOT / "bench" / "out" / "cert.pem"  # written by tls_context
KEY = ROOT / "bench" / "out" / "key.pem"


def bench_env(env: dict[str, str]) -> dict[str, str]:
    """Production settings, as an operator would run its own receiver on a private network:
    the operator's endpoints may reach the loopback networks it allows, over TLS, with the
    receiver's certificate trusted."""
    return {
        **env,
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8,::1/128",
        "SSL_CERT_FILE": str(CERT),
    }


def _certificate() -> None:
    """A throwaway self-signed certificate for ``localhost`` (the tests' own helper)."""
    sys.path.insert(0, str(ROOT))
    from tests.config.outbound_servers import tls_context

    CERT.parent.mkdir(parents=True, exist_ok=True)
    tls_context(CERT.parent, "localhost")


def _control(path: str, body: dict | None = None) -> object:
    import ssl

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"https://localhost:{_receiver['port']}{path}",
        data=data,
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(CERT))
    with urllib.request.urlopen(request, timeout=60, context=context) as response:  # noqa: S310
        return json.loads(response.read())


def start_receiver() -> int:
    if _receiver:
        return _receiver["port"]
    _certificate()
    process = subprocess.Popen(
        ["node", str(RECEIVER)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={
            **os.environ,
            "RECEIVER_TLS_CERT": str(CERT),
            "RECEIVER_TLS_KEY": str(KEY),
            "RECEIVER_HOST": "::",  # localhost is 127.0.0.1 and ::1: answer on both
        },
    )
    line = process.stdout.readline() if process.stdout else ""
    _receiver.update(process=process, port=json.loads(line)["port"])
    return _receiver["port"]


def stop_receiver() -> None:
    if _receiver:
        os.killpg(_receiver["process"].pid, signal.SIGTERM)
        _receiver.clear()


def arrivals() -> list[dict]:
    """What the receiver got so far: path, webhook-id, arrival (ms), which secrets verified."""
    return [
        {k: entry[k] for k in ("path", "webhook_id", "at", "verified_by")}
        for entry in _control("/_control/log")  # type: ignore[union-attr]
    ]


def prepare(args: object, env: dict[str, str], *, subscribed: list[str]) -> None:
    """The receiver up, and ``args.endpoints`` operator endpoints at it subscribed to
    ``subscribed``, their secrets given to the receiver so it verifies every request."""
    port = start_receiver()
    result = subprocess.run(
        [PYTHON, "-c", ENDPOINTS_SCRIPT, str(port), str(args.endpoints), json.dumps(subscribed)],
        cwd=ROOT,
        env=bench_env(env),
        check=True,
        capture_output=True,
        text=True,
    )
    for path, secret in json.loads(result.stdout.strip().splitlines()[-1]).items():
        _control("/_control/secrets", {"path": path, "secrets": [secret]})


def counts(env: dict[str, str]) -> dict[str, int]:
    result = subprocess.run(
        [PYTHON, "-c", COUNTS_SCRIPT],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _start(command: list[str], env: dict[str, str], log: str) -> subprocess.Popen:
    out = open(ROOT / "bench" / "out" / log, "a")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        command, cwd=ROOT, env=bench_env(env), stdout=out, stderr=out, start_new_session=True
    )


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(args: object, env: dict[str, str], *, drain: float = 120.0) -> Iterator[dict]:
    """The pipeline loop and a delivery worker (two processes, as Celery's default on two
    cores) while the block inside runs; afterwards the stats dict holds what they sealed and
    delivered during it, and the backlog is drained (untimed) before they stop."""
    before = counts(env)
    processes = [
        _start([PYTHON, "-c", PIPELINE_SCRIPT], env, "events-pipeline.log"),
        _start(
            [
                str(Path(PYTHON).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env,
            "events-worker.log",
        ),
    ]
    time.sleep(3)  # both connected before the block starts
    # The "off" server's sign-ins left audit events nobody sealed (with events on for good
    # there is no such backlog): the block starts once the loop has caught up, so that it
    # measures the steady cost of events on, not of catching up on the other configuration.
    until = time.monotonic() + 120
    while counts(env)["unsealed"] > 0 and time.monotonic() < until:
        time.sleep(1)
    before = counts(env)
    stats: dict = {"groups": {"loop": processes[0].pid, "worker": processes[1].pid}}
    try:
        yield stats
        after = counts(env)
        stats.update({k: after[k] - before[k] for k in ("delivered", "sealed")})
        until = time.monotonic() + drain
        while after["waiting"] and time.monotonic() < until:
            time.sleep(2)
            after = counts(env)
        stats["left_waiting"] = after["waiting"]
    finally:
        for process in processes:
            _stop(process)
