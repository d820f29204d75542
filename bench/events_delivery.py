"""Parts 2 and 3 of bench/events.py: webhook deliveries per second to 10 endpoints on one
loopback receiver against ``/healthz``'s rate, then the delay from an event's commit to each
of its deliveries at half the rate the burst reached."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import events_workers  # noqa: E402
from login import PYTHON, start_gunicorn, stop  # noqa: E402

# Commits ``count`` organization.updated events, ``rate`` a second (0: as fast as it can), one
# transaction each, through the audit writer as every change in Gatehouse is; prints each
# event's webhook-id with the wall-clock time its transaction committed.
PRODUCER_SCRIPT = """
import json, sys, time, uuid, django
django.setup()
from django.db import transaction
from audit.actions import Action
from audit.services import record
from events.models import Event
from organizations.models import Organization

count, rate = int(sys.argv[1]), float(sys.argv[2])
org, _ = Organization.objects.get_or_create(slug="bench-events", defaults={"name": "Bench"})
committed = []
start = time.monotonic()
for i in range(count):
    if rate:
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
    with transaction.atomic():
        event = record(Action.ORG_UPDATED, organization=org, target=org, data={"n": i})
    committed.append((str(event.pk), time.time()))
ids = dict(
    Event.objects.filter(audit_event_id__in=[pk for pk, _ in committed])
    .values_list("audit_event_id", "public_id")
)
print(json.dumps({ids[uuid.UUID(pk)]: at for pk, at in committed}))
"""


def produce(env: dict[str, str], count: int, rate: float) -> dict[str, float]:
    result = subprocess.run(
        [PYTHON, "-c", PRODUCER_SCRIPT, str(count), str(rate)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def wait_for(ids: dict[str, float], endpoints: int, timeout: float) -> list[dict]:
    """The receiver's entries for ``ids`` once each has reached every endpoint (or the time
    is up): one per webhook-id and endpoint, the first arrival."""
    until = time.monotonic() + timeout
    while True:
        first: dict[tuple[str, str], dict] = {}
        for entry in events_workers.arrivals():
            key = (entry["webhook_id"], entry["path"])
            if entry["webhook_id"] in ids and key not in first:
                first[key] = entry
        if len(first) >= len(ids) * endpoints or time.monotonic() > until:
            return list(first.values())
        time.sleep(1)


def healthz_rate(args: argparse.Namespace, seconds: int) -> float:
    result = subprocess.run(
        ["wrk", "-t", "1", "-c", str(args.connections), "-d", f"{seconds}s", "--latency",
         f"http://127.0.0.1:{args.port_on}/healthz"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("Requests/sec:"))
    return float(line.split()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(args: argparse.Namespace, env: dict[str, str]) -> dict:
    events_workers.prepare(args, env, subscribed=["organization.updated"])
    server = start_gunicorn(argparse.Namespace(**{**vars(args), "port": args.port_on}), env)
    try:
        healthz = [healthz_rate(args, 5)]
        with events_workers.running(args, env) as stats:
            ids = produce(env, args.burst, 0)
            got = wait_for(ids, args.endpoints, timeout=600)
        first_commit = min(ids.values())
        last_arrival = max(entry["at"] for entry in got) / 1000
        per_second = len(got) / (last_arrival - first_commit)
        healthz.append(healthz_rate(args, 5))
        rate = max(1.0, per_second / args.endpoints / 2)  # events/s: half the maximum
        with events_workers.running(args, env):
            paced = produce(env, int(rate * args.delay_seconds), rate)
            arrived = wait_for(paced, args.endpoints, timeout=300)
    finally:
        stop(server)
        events_workers.stop_receiver()
    delays = [entry["at"] - paced[entry["webhook_id"]] * 1000 for entry in arrived]
    unverified = sum(1 for entry in got + arrived if not entry["verified_by"])
    healthz_mean = statistics.mean(healthz)
    return {
        "deliveries": {
            "endpoints": args.endpoints,
            "burst_events": len(ids),
            "burst_deliveries": len(got),
            "burst_missing": len(ids) * args.endpoints - len(got),
            "per_second": round(per_second, 1),
            "healthz_per_second": round(healthz_mean, 1),
            "ratio": round(per_second / healthz_mean, 4),
            "unverified": unverified,
            "sealed_during_burst": stats.get("sealed"),
            "delay": {
                "rate": round(rate, 1),
                "events": len(paced),
                "deliveries": len(arrived),
                "missing": len(paced) * args.endpoints - len(arrived),
                "p50_ms": round(percentile(delays, 0.50), 1),
                "p99_ms": round(percentile(delays, 0.99), 1),
                "max_ms": round(max(delays), 1),
            },
        }
    }
