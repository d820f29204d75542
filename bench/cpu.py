"""Where the CPU went during a measured block: seconds of CPU by process group, read from
/proc (Linux), so that a ratio between two configurations can be explained and not only
stated.

A group is PostgreSQL's backends serving the bench's database ("postgres"; the cluster's own
processes such as the WAL writer are "postgres_cluster", and backends of other databases on a
shared cluster count as "other"), one of the bench's own process groups (a gunicorn server,
the pipeline loop, the Celery worker: each is started in a session of its own, so its pid is
its group id), wrk, or the rest of the machine."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> list[tuple[str, str, int, float]]:
    """(command name, command line, process group, CPU seconds used by it and its reaped
    children)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            text = (proc / "stat").read_text()
            line = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while being read
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        found.append((name, line, int(fields[2]), ticks / TICKS))
    return found


def snapshot(groups: dict[str, int], database: str) -> dict[str, float]:
    """CPU seconds so far by group: ``groups`` names process group ids to follow, and
    ``database`` is the one whose backends count as "postgres"."""
    by_pgid = {pgid: name for name, pgid in groups.items()}
    totals: dict[str, float] = defaultdict(float)
    for command, line, pgid, seconds in _processes():
        if command == "postgres":
            # A backend's title is "postgres: <cluster>: <user> <database> <client> <state>".
            words = line.split()
            if database in words:
                totals["postgres"] += seconds
            elif "(" not in line and "[" not in line:
                totals["postgres_cluster"] += seconds
            else:
                totals["other"] += seconds
        elif pgid in by_pgid:
            totals[by_pgid[pgid]] += seconds
        elif command == "wrk":
            totals["wrk"] += seconds
        else:
            totals["other"] += seconds
    return dict(totals)


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds by group between two snapshots (a group that started in between counts
    from zero; "other" can go down when a process outside the groups ends)."""
    return {k: round(after[k] - before.get(k, 0.0), 2) for k in after}
