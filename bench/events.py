"""bench/events: what events out costs a sign-in, and how fast webhooks leave (issue 17).

One command (``make bench-events``), on PostgreSQL and Redis, in one run:

1. **Logins with events on ÷ off.** Two gunicorn servers on one database: one writes the outbox
   row with every login (``GATEHOUSE_EVENTS_ENABLED=1``) while the events worker runs beside it
   (the pipeline loop sealing the audit chain and dispatching to 10 webhook endpoints subscribed
   to ``session.started``, the delivery worker sending to a loopback receiver); the other writes
   none and nothing else runs. wrk drives full password logins in blocks, alternating which
   server goes first; each pair gives a ratio, and the median is the figure (goal >= 0.95). The
   worker and the receiver take their CPU from the same two cores the servers use.
2. **Deliveries per second** (bench/events_delivery.py): 10 endpoints on one loopback receiver;
   a burst of events committed at once, and the rate at which their 10 deliveries each reach
   the receiver, over ``/healthz``'s rate measured with wrk in the same run.
3. **Commit to delivery**: events committed at half that rate; the p50, p99 and max delay from
   each event's commit to its arrival (goal: p99 under 2 s).

Writes bench/out/events.json.

    .venv/bin/python bench/events.py [--pairs 8] [--block 15] [--skip-deliveries | --skip-logins]

Needs PostgreSQL and Redis on loopback, wrk, and node (the receiver).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import cpu  # noqa: E402
import login  # noqa: E402
from login import bench_env, csrf_pair, start_gunicorn, stop  # noqa: E402

OUT = ROOT / "bench" / "out"
LOGIN_GOAL = 0.95
DELAY_GOAL_MS = 2000.0


def server_args(args: argparse.Namespace, port: int) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "port": port})


def login_block(
    args: argparse.Namespace, port: int, csrf: tuple[str, str], groups: dict[str, int]
) -> tuple[float, dict[str, float]]:
    """Successful logins per second over one block against the server on ``port``, and the
    CPU milliseconds each login cost, by process group (bench/cpu.py)."""
    login.flush_rate_limits(args.redis_url)
    database = args.database_url.rsplit("/", 1)[-1]
    before = cpu.snapshot(groups, database)
    result = login.wrk(server_args(args, port), args.block, csrf)
    spent = cpu.used(before, cpu.snapshot(groups, database))
    if result["other"] or result["errors"]:
        raise SystemExit(
            f"port {port}: {result['other']} failed logins, {result['errors']} socket errors"
        )
    per_login = {k: round(1000 * v / result["ok"], 2) for k, v in spent.items()}
    return result["ok"] / (result["duration_us"] / 1e6), per_login


# The processes a login costs CPU in, with events on or off; "other" (wrk, and whatever else
# the shared machine runs) is left out.
OWN_CPU = ("server", "postgres", "postgres_cluster", "loop", "worker")


def cpu_cost(per_login: dict[str, float]) -> float:
    """CPU milliseconds a login cost in Gatehouse's own processes. With the cores saturated,
    logins/s on ÷ off is this figure off ÷ on; unlike the rate, it does not move when another
    job on the machine takes CPU during one block and not the other."""
    return sum(per_login.get(group, 0.0) for group in OWN_CPU)


def logins_on_and_off(args: argparse.Namespace, env: dict[str, str], subscribed: str) -> dict:
    """Part 1: interleaved login blocks against the server with events on and the one with
    them off; the events worker runs only while the "on" server is loaded. The endpoints are
    subscribed to ``subscribed``: ``session.started`` sends 10 webhooks per login from the same
    two cores, ``organization.updated`` none (the outbox, the chain and dispatch alone)."""
    import events_workers

    on_env = {**env, "GATEHOUSE_EVENTS_ENABLED": "1"}
    off_env = {**env, "GATEHOUSE_EVENTS_ENABLED": "0"}
    events_workers.prepare(args, on_env, subscribed=[subscribed])
    servers = [
        start_gunicorn(server_args(args, args.port_on), on_env),
        start_gunicorn(server_args(args, args.port_off), off_env),
    ]
    pairs: list[dict] = []
    try:
        csrf = {port: csrf_pair(port) for port in (args.port_on, args.port_off)}
        for port in (args.port_on, args.port_off):  # warm-up
            login.flush_rate_limits(args.redis_url)
            login.wrk(server_args(args, port), 3, csrf[port])
        for index in range(args.pairs):
            rates: dict[str, float] = {}
            order = ("on", "off") if index % 2 == 0 else ("off", "on")
            cpu_ms: dict[str, dict[str, float]] = {}
            for side in order:
                if side == "on":
                    with events_workers.running(args, on_env) as stats:
                        groups = {"server": servers[0].pid, **stats["groups"]}
                        rates["on"], cpu_ms["on"] = login_block(
                            args, args.port_on, csrf[args.port_on], groups
                        )
                    rates["sealed"] = stats.get("sealed", 0)
                    rates["delivered"] = stats.get("delivered", 0)
                else:
                    rates["off"], cpu_ms["off"] = login_block(
                        args, args.port_off, csrf[args.port_off], {"server": servers[1].pid}
                    )
            rates["ratio"] = rates["on"] / rates["off"]
            rates["cpu_ratio"] = cpu_cost(cpu_ms["off"]) / cpu_cost(cpu_ms["on"])
            pairs.append(
                {
                    "first": order[0],
                    **{k: round(v, 3) for k, v in rates.items()},
                    "cpu_ms_per_login": cpu_ms,
                }
            )
            print(f"pair {index + 1}: {pairs[-1]}", flush=True)
    finally:
        for server in servers:
            stop(server)
    median = statistics.median(pair["ratio"] for pair in pairs)
    return {
        "webhooks_subscribed_to": subscribed,
        "pairs": pairs,
        "median_ratio": round(median, 3),
        "median_cpu_ratio": round(statistics.median(pair["cpu_ratio"] for pair in pairs), 3),
        "goal": LOGIN_GOAL,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/gatehouse_bench_events"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="one per core")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    # The machine's own speed drifts by a third within a run (the same server's CPU per login
    # went from 42 ms to 30 ms and back): many short pairs give a steadier median than a few
    # long ones.
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--block", type=int, default=15, help="seconds per login block")
    parser.add_argument("--port-on", type=int, default=8081)
    parser.add_argument("--port-off", type=int, default=8082)
    parser.add_argument("--endpoints", type=int, default=10)
    parser.add_argument("--burst", type=int, default=1000, help="events in the delivery burst")
    parser.add_argument("--delay-seconds", type=int, default=20)
    parser.add_argument("--skip-deliveries", action="store_true")
    parser.add_argument("--skip-logins", action="store_true")
    parser.add_argument(
        "--skip-webhook-logins", action="store_true", help="only the goal's login figure"
    )
    args = parser.parse_args()
    for tool in ("wrk", "node"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed")

    # Connections kept for the whole run: a backend that ends mid-block takes its CPU figure
    # with it (bench/cpu.py reads the live processes).
    env = {**bench_env(args), "DATABASE_CONN_MAX_AGE": "3600"}
    login.ensure_database(args, env)
    login.seed_users(args, env)
    report: dict = {"cores": os.cpu_count(), "gunicorn_workers": args.workers}
    # The goal's figure: events and the audit chain on (outbox row in the login's statement,
    # sealing, dispatch), no webhook per login. Then the same with 10 webhooks per login.
    if not args.skip_logins:
        report["logins"] = logins_on_and_off(args, env, "organization.updated")
        if not args.skip_webhook_logins:
            report["logins_with_webhooks"] = logins_on_and_off(args, env, "session.started")
    if not args.skip_deliveries:
        import events_delivery

        report.update(events_delivery.measure(args, {**env, "GATEHOUSE_EVENTS_ENABLED": "1"}))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "events.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    for key in ("logins", "logins_with_webhooks"):
        if key not in report:
            continue
        logins = report[key]
        print(
            f"\nlogins/s with events on ÷ off, webhooks for {logins['webhooks_subscribed_to']}: "
            f"median {logins['median_ratio']} over {len(logins['pairs'])} pairs "
            f"(goal >= {LOGIN_GOAL}); CPU per login off ÷ on: median "
            f"{logins['median_cpu_ratio']}"
        )
    if "deliveries" in report:
        d = report["deliveries"]
        print(
            f"deliveries/s {d['per_second']} ÷ /healthz {d['healthz_per_second']}/s = "
            f"{d['ratio']}; commit to delivery at {d['delay']['rate']}/s events: p50 "
            f"{d['delay']['p50_ms']} ms, p99 {d['delay']['p99_ms']} ms, max "
            f"{d['delay']['max_ms']} ms (goal p99 < {DELAY_GOAL_MS:.0f} ms)"
        )


if __name__ == "__main__":
    main()
