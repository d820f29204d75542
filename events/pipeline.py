"""The pipeline loop: one task that moves events out (docs/events.md 4.4).

``run(seconds)`` repeats a pass over ``STAGES`` until its time is up. Each stage is a function
that does one bounded batch and returns how many rows it handled; it runs only while this
process holds the stage's PostgreSQL advisory lock, so however many copies of the task run
(beat starts one every 30 s, a run lasts about 50 s), each stage has one writer. A killed
worker's connection closes and its locks go with it.

The stages of webhooks are built in: **dispatch** (new events into deliveries), **queue** (due
deliveries to the broker) and **reclaim** (claims a dead worker left). Other features add
theirs with ``add_stage`` (the audit chain's sealer, the log streams' queue).

Embedded mode (SQLite, eager tasks, no beat): ``run_once_on_commit`` runs one pass when the
transaction that wrote an event commits.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

logger = logging.getLogger(__name__)

Stage = Callable[[], int]


@dataclass(frozen=True)
class Step:
    name: str
    run: Stage
    batch: int  # a stage that handled this many rows has more waiting: no pause after it
    every: float = 0.0  # seconds between runs in one loop (0: every pass)


STAGES: list[Step] = []


def add_stage(
    name: str, run: Stage, *, batch: int, before: str | None = None, every: float = 0.0
) -> None:
    """Add a stage to every pass (once per name), at the end or before the stage named. A
    stage whose work is not urgent runs at most once every ``every`` seconds of a loop, unless
    its last batch was full (it has more waiting)."""
    if any(step.name == name for step in STAGES):
        return
    step = Step(name, run, batch, every)
    names = [s.name for s in STAGES]
    STAGES.insert(names.index(before) if before in names else len(STAGES), step)


def _lock_key(name: str) -> int:
    digest = hashlib.sha256(f"gatehouse.pipeline.{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class _Locks:
    """The stages' advisory locks held by this process (session locks, on its connection)."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.last_run: dict[str, float] = {}  # when this loop last ran each stage (monotonic)
        self.full: set[str] = set()  # stages whose last batch was full: more is waiting

    def due(self, step: Step) -> bool:
        last = self.last_run.get(step.name)
        return last is None or step.name in self.full or time.monotonic() - last >= step.every

    def take(self, name: str) -> bool:
        if connection.vendor != "postgresql" or name in self.held:
            return True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_lock_key(name)])
            got = bool(cursor.fetchone()[0])
        if got:
            self.held.add(name)
        return got

    def release(self) -> None:
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for name in sorted(self.held):
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_key(name)])
        self.held.clear()


def one_pass(locks: _Locks | None = None) -> tuple[int, bool]:
    """Each stage once (those whose lock this process holds or can take). Returns the rows
    handled and whether some stage had a full batch (more is waiting)."""
    own = locks is None
    locks = locks or _Locks()
    handled, full = 0, False
    try:
        for step in list(STAGES):
            if not locks.due(step) or not locks.take(step.name):
                continue
            locks.last_run[step.name] = time.monotonic()
            try:
                done = step.run()
            except Exception:
                # One stage's trouble (a dead broker, a deadlock) must not stop the others.
                logger.exception("pipeline stage %s failed", step.name)
                continue
            handled += done
            if done >= step.batch:
                locks.full.add(step.name)
                full = True
            else:
                locks.full.discard(step.name)
    finally:
        if own:
            locks.release()
    return handled, full


# Pauses between passes: a stage that filled its batch has more waiting; a pass that found
# something comes back soon, which keeps an event's delay low; idle passes back off. A pass
# costs about twenty queries whatever it finds (an idle one only reads), so under a steady
# trickle of sign-ins the pause, not the work, sets what the loop takes from the web servers:
# half a second keeps it under 5 % of a sign-in's throughput while commit to delivery stays
# well under 2 s (docs/events.md, "Benchmark").
BUSY_PAUSE, WORKING_PAUSE, LONGEST_IDLE_PAUSE = 0.1, 0.5, 1.0


def next_pause(previous: float, handled: int, full: bool) -> float:
    if full:
        return BUSY_PAUSE
    if handled:
        return WORKING_PAUSE
    return min(max(previous, WORKING_PAUSE) * 2, LONGEST_IDLE_PAUSE)


def run(seconds: float) -> int:
    """Passes for about ``seconds``, paced by ``next_pause``."""
    locks = _Locks()
    until = time.monotonic() + seconds
    total, pause = 0, WORKING_PAUSE
    try:
        while True:
            handled, full = one_pass(locks)
            total += handled
            if time.monotonic() >= until:
                return total
            pause = next_pause(pause, handled, full)
            time.sleep(pause)
    finally:
        locks.release()


def _pass_on_commit() -> None:
    try:
        one_pass()
    except Exception:
        logger.exception("the embedded pipeline pass failed")


def run_once_on_commit() -> None:
    """Embedded mode only (tasks run eagerly, no loop running): one pass once the current
    transaction commits, at most one per transaction."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    if any(hook[1] is _pass_on_commit for hook in connection.run_on_commit):
        return
    transaction.on_commit(_pass_on_commit, robust=True)


def _webhook_stages() -> None:
    from events import dispatch

    add_stage("dispatch", dispatch.dispatch, batch=dispatch.DISPATCH_BATCH)
    add_stage("queue", dispatch.queue_due, batch=dispatch.QUEUE_BATCH)
    # A claim expires after GATEHOUSE_EVENTS_CLAIM_SECONDS: looking every few seconds is enough.
    add_stage("reclaim", dispatch.reclaim, batch=dispatch.QUEUE_BATCH, every=5.0)


_webhook_stages()
