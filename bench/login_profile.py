"""Where a password login's CPU goes, beside the hash: ``bench/login.py --profile N``.

Runs in one process, with the settings and database ``bench/login.py`` prepared (production
settings, PostgreSQL, Redis), the same POST that wrk sends, through Django's test client:

1. the round trips of one login: each SQL statement (with the code that sent it) and the
   number of Redis commands;
2. CPU milliseconds per login, against one Argon2id verification in the same process: the
   difference is Gatehouse's own work (Django, allauth, sessions, rate limits, audit, queries);
3. a CPU profile (cProfile on process time) of N logins, by cumulative and by own time.

Not a throughput figure (that is ``make bench``): a map of where to look.

``BENCH_PROFILE_STUB_HASH=1`` replaces the password check with a constant answer in this
process (never in ``make bench``), so that the CPU per login is Gatehouse's own work alone, a
steadier figure to compare two versions by than the difference of two noisy ones.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Password-for-logins-1"


class Logins:
    """Logins of the seeded users, each as a new visitor from its own address."""

    def __init__(self, users: int) -> None:
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1")
        self.users = users
        self.count = 0

    def one(self) -> None:
        from http.cookies import SimpleCookie
        from urllib.parse import urlencode

        self.count += 1
        n = self.count % self.users
        self.client.cookies = SimpleCookie()
        # A returning browser's device cookie, as wrk sends it (bench/login.py; none with
        # --new-devices: every login then comes from a new device).
        device = os.environ.get("BENCH_DEVICE_COOKIE", "")
        if device:
            self.client.cookies["gatehouse_device"] = device
        # Form-encoded, as wrk (and a browser) sends it.
        response = self.client.post(
            "/accounts/login/",
            urlencode({"login": f"user{n}@bench.test", "password": PASSWORD}),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_FORWARDED_FOR=f"10.200.{n // 256 % 256}.{n % 256}",
            HTTP_USER_AGENT="gatehouse-bench/1",
        )
        if response.status_code != 302 or response["Location"] != "/account/":
            raise SystemExit(f"login failed: {response.status_code}")


def _caller(stack: list[traceback.FrameSummary]) -> str:
    """The innermost frame outside Django (Gatehouse's code, allauth's, a library's)."""
    for frame in reversed(stack):
        path = Path(frame.filename)
        if "/site-packages/django/" in frame.filename or path.is_relative_to(ROOT / "bench"):
            continue
        where = (
            path.relative_to(ROOT)
            if path.is_relative_to(ROOT) and not path.is_relative_to(ROOT / ".venv")
            else frame.filename.rsplit("site-packages/", 1)[-1]
        )
        return f"{where}:{frame.lineno} {frame.name}"
    return "?"


def round_trips(logins: Logins) -> None:
    import redis
    from django.db import connection

    statements: list[tuple[str, str]] = []
    commands: list[str] = []
    execute = redis.Redis.execute_command

    def counted(self: redis.Redis, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return execute(self, *args, **options)

    def recorded(run: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append((sql, _caller(traceback.extract_stack()[:-1])))
        return run(sql, params, many, context)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]
    try:
        with connection.execute_wrapper(recorded):
            logins.one()
    finally:
        redis.Redis.execute_command = execute  # type: ignore[method-assign]
    # BEGIN and COMMIT are not statements Django sends through a cursor: not listed.
    print(f"one login: {len(statements)} SQL statements, {len(commands)} Redis commands")
    for sql, caller in statements:
        print(f"  {' '.join(sql.split()[:4])[:60]:<62} {caller}")
    print(f"  Redis: {' '.join(commands)}\n")


def stub_hash() -> None:
    """Every password check answers "right" at once (``BENCH_PROFILE_STUB_HASH=1``)."""
    from accounts.hashers import GatehouseArgon2Hasher

    GatehouseArgon2Hasher.verify = lambda self, password, encoded: True  # type: ignore[method-assign]
    GatehouseArgon2Hasher.must_update = lambda self, encoded: False  # type: ignore[method-assign]
    print("password checks stubbed out: the CPU per login below is Gatehouse's own work\n")


def cpu_split(logins: Logins, n: int) -> None:
    from accounts.hashers import GatehouseArgon2Hasher

    hasher = GatehouseArgon2Hasher()
    encoded = hasher.encode(PASSWORD, hasher.salt())
    cpu = time.process_time()
    for _ in range(n):
        logins.one()
    per_login = (time.process_time() - cpu) / n * 1000
    cpu = time.process_time()
    for _ in range(n):
        hasher.verify(PASSWORD, encoded)
    per_hash = (time.process_time() - cpu) / n * 1000
    print(
        f"CPU per login {per_login:.2f} ms, per Argon2id verification {per_hash:.2f} ms: "
        f"{per_login - per_hash:.2f} ms of Gatehouse's own work per login (in this process; "
        f"PostgreSQL's and Redis's CPU come on top)\n"
    )


def profile(logins: Logins, n: int) -> None:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(n):
        logins.one()
    profiler.disable()
    stats = pstats.Stats(profiler)
    if os.environ.get("BENCH_PROFILE_OUT"):
        stats.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    stats.sort_stats("cumulative").print_stats(70)
    stats.sort_stats("tottime").print_stats(25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logins", type=int)
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    if os.environ.get("BENCH_PROFILE_STUB_HASH") == "1":
        stub_hash()
    logins = Logins(args.users)
    for _ in range(10):  # warm-up: connections, caches, first requests
        logins.one()
    round_trips(logins)
    cpu_split(logins, args.logins)
    profile(logins, args.logins)


if __name__ == "__main__":
    main()
