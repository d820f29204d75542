"""Settings the suite decides before Django reads them. Loaded with ``-p`` (pyproject.toml), so
that it runs before pytest-django does.

The embedded mode (SQLite, eager tasks, local cache) unless the suite is pointed at real
services, as CI is with DATABASE_URL: Gatehouse itself never falls back to that mode on its
own (config/settings.py).

With several pytest-xdist workers on real services, each worker gets Redis databases of its
own for the cache and the broker: tests empty the cache (``cache.clear()`` empties the whole
database) and count queued jobs, so two workers sharing one would see each other's keys.
pytest-django already gives each worker its own test database.
"""

import os
import re

if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("GATEHOUSE_EMBEDDED", "1")


def redis_database_for_worker(url: str, worker: int) -> str:
    """``url`` moved down ``2 * worker`` Redis databases (a worker takes two: cache, broker),
    wrapping within Redis's default 16."""
    match = re.fullmatch(r"(redis://[^/]*)(?:/(\d+))?", url)
    if match is None:
        raise ValueError(f"cannot give each test worker its own Redis database in {url!r}")
    base, number = match.group(1), int(match.group(2) or 0)
    return f"{base}/{(number - 2 * worker) % 16}"


_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
if _worker != "gw0":
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name):
            os.environ[name] = redis_database_for_worker(os.environ[name], int(_worker[2:]))
