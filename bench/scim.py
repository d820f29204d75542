"""bench/scim: SCIM's lookups, pages and deactivations with 1,000,000 people against 10,000, and
its creations against the trivial view, side by side in one run (issue 16).

One command (``make bench-scim``):

1. two databases (bench/scim_seed.py): 10,000 people (10 organizations of 1,000) and 1,000,000
   (1,000 of 1,000), each organization with a verified domain and an active directory, each
   person with an account, a verified address, a membership from SCIM and the directory's
   record; loaded once and reused (``--reseed`` loads them again);
2. in each, the directories measured (10, spread over the dataset) get a fresh token, and the
   people the run will deactivate are signed in once (a browser session in Redis);
3. two gunicorn servers, one per database, production settings, each on its own Redis
   database;
4. three latencies, one request at a time, interleaved in blocks (each block on both servers,
   alternating which goes first): ``GET /Users?filter=userName eq "<a random person>"``,
   ``GET /Users?startIndex=<random>&count=100`` and ``PATCH /Users/<id>`` setting ``active`` to
   false on a person no run has touched; each kind's p95 with 1,000,000 people over its p95
   with 10,000 (goal: at most 1.5);
5. creations per second (``POST /Users``, a new person each time, in a directory no latency is
   measured in) on the 1,000,000 server against ``/healthz``'s rate on the same server, driven
   by wrk in alternating blocks;
6. EXPLAIN (ANALYZE, BUFFERS) of what each kind's request asks ``sso_scimuser``, in each
   database, to show which indexes serve them.

Only the answer that proves the work counts (a filter finds its one person, a page holds 100,
a deactivation answers 200 or 204, a creation 201); the first wrong answer stops the run with
what the server said. Writes bench/out/scim.json.

    .venv/bin/python bench/scim.py [--rounds 10] [--block 20] [--rate-seconds 4] [--reseed]

Needs PostgreSQL and Redis on loopback and wrk. The database URL's role must be allowed to
create databases; each dataset's database is owned and migrated by it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from login import PYTHON, bench_env, flush_rate_limits, start_gunicorn, stop  # noqa: E402
from scim_app import PATCH_BODY  # noqa: E402
from scim_seed import DATASETS, dataset_url, ensure_dataset  # noqa: E402

OUT = ROOT / "bench" / "out"
KINDS = ("filter", "page", "patch")
GOAL = 1.5  # p95 with 1,000,000 people over p95 with 10,000, for each kind
SCIM_JSON = "application/scim+json"


class WrongAnswer(Exception):
    pass


@dataclass
class Server:
    label: str
    env: dict[str, str]
    port: int
    world: dict = field(default_factory=dict)
    targets: list[tuple[str, str]] = field(default_factory=list)
    process: subprocess.Popen | None = None


def dataset_env(args: argparse.Namespace, label: str, redis_db: int) -> dict[str, str]:
    url = dataset_url(args.database_url, DATASETS[label])
    redis_url = f"{args.redis_url.rsplit('/', 1)[0]}/{redis_db}"
    env = bench_env(argparse.Namespace(database_url=url, redis_url=redis_url))
    env["OAUTH_CLIENT_SECRET_KEYS"] = "bench:" + secrets.token_urlsafe(40)
    return env


def app(env: dict[str, str], *argv: str, stdin: Any = None) -> Any:
    """bench/scim_app.py in this dataset's settings; its last line of output, as JSON."""
    result = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "scim_app.py"), *argv],
        cwd=ROOT,
        env=env,
        input=None if stdin is None else json.dumps(stdin),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench/scim_app.py {argv[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- One request at a time --------------------------------------------------------------------


def call(
    port: int, method: str, path: str, token: str, body: Any = None
) -> tuple[int, bytes, float]:
    """(status, body, seconds) of one request on a new connection, as the directory sends it."""
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
    payload = None if body is None else json.dumps(body).encode()
    if payload is not None:
        headers["Content-Type"] = SCIM_JSON
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, payload, headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, data, time.perf_counter() - started


def _expect(kind: str, ok: bool, status: int, data: bytes, server: Server) -> None:
    if not ok:
        raise WrongAnswer(
            f"{kind} on {server.label}: {status} {data[:600].decode(errors='replace')}"
        )


def one(kind: str, server: Server, rng: random.Random) -> float:
    """Seconds of one request of ``kind`` on ``server``, after checking its answer."""
    directory = rng.choice(server.world["directories"])
    if kind == "filter":
        name = rng.choice(directory["names"])
        query = urlencode({"filter": f'userName eq "{name}"'})
        status, data, seconds = call(
            server.port, "GET", f"/scim/v2/Users?{query}", directory["token"]
        )
        ok = status == 200 and json.loads(data).get("totalResults") == 1
    elif kind == "page":
        start = rng.randrange(1, directory["user_count"] - 99)
        query = urlencode({"startIndex": start, "count": 100})
        status, data, seconds = call(
            server.port, "GET", f"/scim/v2/Users?{query}", directory["token"]
        )
        ok = status == 200 and len(json.loads(data).get("Resources", [])) == 100
    else:
        token, target = server.targets.pop()
        path = f"/scim/v2/Users/{target}"
        status, data, seconds = call(server.port, "PATCH", path, token, PATCH_BODY)
        ok = status == 204 or (status == 200 and json.loads(data).get("active") is False)
        server.world.setdefault("deactivated", []).append(target)
    _expect(kind, ok, status, data, server)
    return seconds


def latencies(args: argparse.Namespace, servers: list[Server]) -> dict[str, dict[str, list]]:
    """Every kind on every server, block by block, alternating which server goes first."""
    rng = random.Random(args.seed)
    samples: dict[str, dict[str, list]] = {s.label: {k: [] for k in KINDS} for s in servers}
    for server in servers:  # warm-up: each worker's first requests, not measured
        for kind in KINDS:
            for _ in range(args.warmup):
                one(kind, server, rng)
    for round_ in range(args.rounds):
        for k, kind in enumerate(KINDS):
            order = servers if (round_ + k) % 2 == 0 else servers[::-1]
            for server in order:
                samples[server.label][kind] += [one(kind, server, rng) for _ in range(args.block)]
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- Rates, with wrk --------------------------------------------------------------------------


def wrk(args: argparse.Namespace, server: Server, seconds: int, **bench: str) -> dict:
    env = {**os.environ, **{f"BENCH_{k.upper()}": v for k, v in bench.items()}}
    result = subprocess.run(
        ["wrk", "-t", "1", "-c", str(args.connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(ROOT / "bench" / "scim.lua"), f"http://127.0.0.1:{server.port}"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT "))
    figure = json.loads(line.removeprefix("BENCH_RESULT "))
    drain(server)
    if figure["other"] or figure["errors"]:
        raise WrongAnswer(f"{bench['mode']} on {server.label}: {figure}")
    return figure


def drain(server: Server, timeout: float = 60.0) -> None:
    """Waits until the requests wrk left in flight are done (a slow creation holds its worker
    after wrk stops counting), so that the next block starts on idle workers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, seconds = call(server.port, "GET", "/healthz", "")
        if status == 200 and seconds < 0.02:
            return
        time.sleep(0.2)


def rates(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    """Creations/s and healthz/s on ``server``, in alternating blocks of ``rate_seconds``."""
    directory = server.world["creations"]
    if directory is None:
        raise SystemExit(f"{server.label}: no directory is left for the creations")
    run = secrets.token_hex(4)
    modes = {
        "healthz": {"mode": "healthz"},
        "create": {"mode": "create", "token": directory["token"], "domain": directory["domain"]},
    }
    totals = {name: [0, 0.0] for name in modes}
    for bench in modes.values():  # warm-up
        wrk(args, server, 1, run=f"{run}w", **bench)
    for round_ in range(args.rate_rounds):
        order = list(modes) if round_ % 2 == 0 else list(modes)[::-1]
        for name in order:
            figure = wrk(args, server, args.rate_seconds, run=f"{run}r{round_}", **modes[name])
            totals[name][0] += figure["ok"]
            totals[name][1] += figure["duration_us"] / 1e6
    per_second = {name: round(done / spent, 1) for name, (done, spent) in totals.items()}
    return {**per_second, "ratio": round(per_second["create"] / max(per_second["healthz"], 0.1), 4)}


# --- The run ----------------------------------------------------------------------------------


def prepare(args: argparse.Namespace) -> list[Server]:
    servers = []
    for index, label in enumerate(("10k", "1m")):
        url = dataset_url(args.database_url, DATASETS[label])
        env = dataset_env(args, label, args.redis_first_db + index)
        ensure_dataset(url, DATASETS[label], env, reseed=args.reseed)
        flush_rate_limits(env["REDIS_URL"])
        server = Server(label, env, args.port + index)
        needed = (args.rounds * args.block + args.warmup) + 2 * args.directories
        server.world = app(env, "prepare", str(args.directories), str(needed))
        # One fresh person is kept for the EXPLAIN of a deactivation, after the run.
        server.world["explain_target"] = server.world["directories"][0]["targets"].pop()
        server.targets = [
            (d["token"], t) for d in server.world["directories"] for t in d["targets"]
        ]
        random.Random(args.seed).shuffle(server.targets)
        servers.append(server)
    return servers


def summary(samples: dict[str, dict[str, list]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in KINDS:
        small, big = samples["10k"][kind], samples["1m"][kind]
        p95 = {"10k": percentile(small, 95) * 1000, "1m": percentile(big, 95) * 1000}
        figures[kind] = {
            "samples": len(big),
            "p50_ms": {
                "10k": round(percentile(small, 50) * 1000, 2),
                "1m": round(percentile(big, 50) * 1000, 2),
            },
            "p95_ms": {label: round(value, 2) for label, value in p95.items()},
            "ratio_p95_1m_over_10k": round(p95["1m"] / p95["10k"], 3),
        }
    return figures


def print_report(report: dict) -> None:
    print()
    for kind in KINDS:
        figure = report["latency"][kind]
        verdict = "ok" if figure["ratio_p95_1m_over_10k"] <= GOAL else "MISSES"
        print(
            f"{kind:<7} p95 {figure['p95_ms']['10k']:7.2f} ms (10k)  {figure['p95_ms']['1m']:7.2f} "
            f"ms (1M)  ratio {figure['ratio_p95_1m_over_10k']:.3f} (goal <= {GOAL}) {verdict}; "
            f"p50 {figure['p50_ms']['10k']} / {figure['p50_ms']['1m']} ms"
        )
    rate = report["rates_1m"]
    print(
        f"creations {rate['create']}/s, healthz {rate['healthz']}/s on the 1M server: "
        f"ratio {rate['ratio']}"
    )
    print(f"sessions after deactivation: {report['sessions_after_deactivation']}")
    for label, plans in report["explain"].items():
        for kind, explained in plans.items():
            scans = "; ".join(" + ".join(item["scans"]) for item in explained["plans"])
            print(f"{kind:<7} ({label}) reads sso_scimuser by: {scans or 'no statement'}")
            for item in explained["full_scans"]:
                timing = [ln.strip() for ln in item["plan"].splitlines() if "Execution" in ln]
                print(f"  WARNING: a full scan in {kind} ({label}), {timing[0] if timing else ''}:")
                print(f"    {item['sql'][-300:]}")
    for kind, explained in report["explain"]["1m"].items():
        print(f"\n--- EXPLAIN (ANALYZE, BUFFERS) {kind} (1M): HTTP {explained['status']}, "
              f"{explained['statements']} statements in the request")  # fmt: skip
        for item in explained["plans"]:
            print(item["sql"])
            print(item["plan"])


def scans(plan: str) -> list[str]:
    """The scan nodes of a plan, e.g. "Index Scan using scim_user_name_unique"."""
    nodes = []
    for line in plan.splitlines():
        node = line.strip().removeprefix("->").strip().split("  (")[0]
        if "Scan" in node:
            nodes.append(node.removesuffix(" on sso_scimuser"))
    return nodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/gatehouse_bench_scim",
        help="the base name: the datasets are <name>_10k and <name>_1m",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--redis-first-db", type=int, default=10, help="and the next one")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--directories", type=int, default=10, help="measured per dataset")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rate-rounds", type=int, default=4)
    parser.add_argument("--rate-seconds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="one per core")
    parser.add_argument("--connections", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--port", type=int, default=8095, help="and the next one")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    servers = prepare(args)
    # Production settings serve hashed static files from the manifest collectstatic writes.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=servers[0].env,
        check=True,
    )
    try:
        for server in servers:
            gunicorn = argparse.Namespace(workers=args.workers, threads=1, port=server.port)
            server.process = start_gunicorn(gunicorn, server.env)
        samples = latencies(args, servers)
        rate = rates(args, servers[1])
    except WrongAnswer as wrong:
        raise SystemExit(f"a wrong answer stopped the run: {wrong}") from None
    finally:
        for server in servers:
            if server.process is not None:
                stop(server.process)
    report = {
        "cores": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "latency": summary(samples),
        "goal_p95_ratio": GOAL,
        "rates_1m": rate,
        "sessions_after_deactivation": {
            s.label: app(s.env, "sessions", stdin=s.world.get("deactivated", [])) for s in servers
        },
        "explain": {s.label: app(s.env, "explain", stdin=s.world) for s in servers},
    }
    for plans in report["explain"].values():
        for explained in plans.values():
            for item in explained["plans"]:
                item["scans"] = scans(item["plan"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scim.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)


if __name__ == "__main__":
    main()
