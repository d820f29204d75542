"""Where a token request's time goes: ``bench/oauth.py --profile N``.

Runs in one process, on the database and settings ``bench/oauth.py`` seeded, the requests wrk
sends, through Django's test client (one client, reused):

1. the SQL statements of one request of each kind, each with the Gatehouse (or library) code
   that sent it;
2. milliseconds per request (wall and CPU), best of three blocks of N;
3. a CPU profile of N requests of one kind (``--profile-kind``, refresh by default), by
   cumulative and by own time.

A map of where to look, not a throughput figure (that is ``bench/oauth.py`` without
``--profile``).
"""

from __future__ import annotations

import base64
import cProfile
import json
import os
import pstats
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Requests:
    """The requests wrk sends, one kind at a time."""

    def __init__(self, world: dict[str, Any], refresh_prefix: str, introspect_prefix: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_HOST="127.0.0.1")
        self.world = world
        self.auth = {
            name: "Basic " + base64.b64encode(":".join(world[name]).encode()).decode()
            for name in ("m2m", "web", "rs")
        }
        self.refresh_prefix = refresh_prefix
        self.introspect_prefix = introspect_prefix
        self.spent = 0

    def post(self, path: str, body: str, auth: str) -> Any:
        return self.client.post(
            path,
            body,
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=auth,
        )

    def cc(self) -> None:
        resource = self.world["resources"]["opaque"]
        response = self.post(
            "/o/token/", f"grant_type=client_credentials&resource={resource}", self.auth["m2m"]
        )
        assert response.status_code == 200, response.content

    def refresh(self) -> None:
        self.spent += 1
        response = self.post(
            "/o/token/",
            f"grant_type=refresh_token&refresh_token={self.refresh_prefix}{self.spent}",
            self.auth["web"],
        )
        assert response.status_code == 200, response.content

    def introspect(self) -> None:
        n = 1 + self.spent % 10_000
        response = self.post(
            "/o/introspect/", f"token={self.introspect_prefix}{n}", self.auth["rs"]
        )
        assert response.status_code == 200, response.content
        assert response.json()["active"], response.content


def _origin() -> str:
    """The innermost frame of Gatehouse's code (else of a library) that sent a statement."""
    frames = traceback.extract_stack()[:-3]
    ours = [
        f
        for f in frames
        if str(ROOT) in f.filename and "/.venv/" not in f.filename and "bench/" not in f.filename
    ]
    frame = (ours or [f for f in frames if "django/db" not in f.filename])[-1]
    where = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
    return f"{where}:{frame.lineno} {frame.name}"


def statements(run: Any) -> list[tuple[str, str]]:
    from django.db import connection

    sent: list[tuple[str, str]] = []

    def note(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((_origin(), " ".join(sql.split())[:150]))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        run()
    return sent


def per_request_ms(run: Any, count: int) -> tuple[float, float]:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            run()
        best_wall = min(best_wall, (time.perf_counter() - wall) / count * 1000)
        best_cpu = min(best_cpu, (time.process_time() - cpu) / count * 1000)
    return best_wall, best_cpu


def main() -> None:
    import django

    count = int(sys.argv[1])
    world = json.loads(sys.argv[2])
    django.setup()
    requests = Requests(world, sys.argv[3], sys.argv[4])
    kinds = {"client credentials": requests.cc, "refresh": requests.refresh}
    kinds["introspection"] = requests.introspect
    for run in kinds.values():  # warm: imports, caches, the first connection
        run()
    for name, run in kinds.items():
        sent = statements(run)
        print(f"\n{name}: {len(sent)} statements")
        for origin, sql in sent:
            print(f"  {origin}\n      {sql}")
    print()
    for name, run in kinds.items():
        wall, cpu = per_request_ms(run, count)
        print(f"{name:<20} {wall:6.2f} ms per request ({cpu:.2f} ms CPU), best of 3 x {count}")
    profiled = kinds[sys.argv[5].replace("-", " ") if len(sys.argv) > 5 else "refresh"]
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    for _ in range(count):
        profiled()
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("cumulative").print_stats(
        r"provider/|accounts/|audit/|config/|oauthlib/|oauth2_provider/", 40
    )
    stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    main()
