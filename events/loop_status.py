"""How the pipeline loop is doing, as ``/readyz`` and the webhook admin show it (docs/events.md,
T2 and "How it runs").

The dispatch stage writes a heartbeat on its cursor row (``PipelineCursor`` "dispatch") every
few seconds while the loop runs: ``updated_at``, and ``horizon_lag_ms``, how long the oldest
committed event has waited for the transaction-id horizon. The horizon is cluster-wide, so one
session left idle in a transaction anywhere on the PostgreSQL cluster holds back webhooks, log
streams and audit sealing together; the lag is where an operator sees it. An old heartbeat
means the loop is not running (no beat, no worker, or a worker too busy to start it).

Reading it is one primary-key lookup of a row of a few-row table, so ``/readyz`` can afford it.
Neither state changes whether this process is ready: a lagging or stopped loop delays events
but serves every request, and every web process shares it (config/health.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from events.models import PipelineCursor

# Events held back this long by the horizon: something on the cluster stays in a transaction.
# A healthy cluster's lag is a few milliseconds to a second (transactions in flight).
LAGGING_AFTER = timedelta(seconds=60)
# No heartbeat for this long: the loop is not running. It writes one every 5 s while it runs,
# and beat starts a run every 30 s.
STOPPED_AFTER = timedelta(minutes=2)


class State:
    OK = "ok"
    LAGGING = "lagging"  # running, but events wait for an open transaction (T2)
    STOPPED = "stopped"  # no heartbeat lately
    NOT_STARTED = "not_started"  # the loop has never run against this database
    EMBEDDED = "embedded"  # no loop: one pass runs after each commit that wrote an event
    UNKNOWN = "unknown"  # the database could not be asked


@dataclass(frozen=True)
class LoopStatus:
    state: str
    horizon_lag_ms: int | None = None
    heartbeat_at: datetime | None = None
    heartbeat_age_s: int | None = None

    @property
    def needs_attention(self) -> bool:
        return self.state in (State.LAGGING, State.STOPPED, State.NOT_STARTED)

    def as_json(self) -> dict[str, object]:
        return {
            "state": self.state,
            "horizon_lag_ms": self.horizon_lag_ms,
            "heartbeat_age_s": self.heartbeat_age_s,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
        }

    def sentence(self) -> str:
        """One line for staff: what the figures mean and, when something is wrong, what to
        look at."""
        figures = (
            f"horizon lag {_seconds(self.horizon_lag_ms or 0)}, "
            f"last heartbeat {self.heartbeat_age_s} s ago"
        )
        if self.state == State.OK:
            return f"Pipeline loop running: {figures}."
        if self.state == State.LAGGING:
            return (
                f"Pipeline loop running, but events are held back: {figures}. A transaction "
                "left open somewhere on the PostgreSQL cluster (any database) holds back "
                "webhooks, log streams and audit sealing until it ends; look for sessions "
                "'idle in transaction' in pg_stat_activity."
            )
        if self.state == State.STOPPED:
            return (
                f"Pipeline loop not running: {figures}. No webhook, log stream batch or audit "
                "seal goes out until it runs again; check that Celery beat and a worker run."
            )
        if self.state == State.NOT_STARTED:
            return (
                "Pipeline loop has never run against this database: start Celery beat and a worker."
            )
        if self.state == State.EMBEDDED:
            return "Embedded mode: no pipeline loop; one pass runs after each commit."
        return "Pipeline loop status could not be read."


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def loop_status(now: datetime | None = None) -> LoopStatus:
    """The dispatch heartbeat, read in one query. Raises what the database raises."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return LoopStatus(State.EMBEDDED)
    row = (
        PipelineCursor.objects.filter(stage="dispatch")
        .values_list("horizon_lag_ms", "updated_at")
        .first()
    )
    if row is None:
        return LoopStatus(State.NOT_STARTED)
    lag_ms, heartbeat_at = row
    age = max((now or timezone.now()) - heartbeat_at, timedelta(0))
    if age >= STOPPED_AFTER:
        state = State.STOPPED  # the lag is as old as the heartbeat: it says little now
    elif timedelta(milliseconds=lag_ms) >= LAGGING_AFTER:
        state = State.LAGGING
    else:
        state = State.OK
    return LoopStatus(state, lag_ms, heartbeat_at, int(age.total_seconds()))
