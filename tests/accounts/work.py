"""What one request does, reduced to what it costs: the statements it sends the database, the
password hashes it runs, its calls on the cache, the emails it writes and the tasks it queues,
and what the visitor sees of the answer.

The enumeration tests compare this between a taken address and a free one: timing itself is
never asserted (too noisy for a test), but two paths that do the same work take the same time,
and bench/enumeration.py checks that they do.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.hashers import GatehouseArgon2Hasher
from accounts.models import OutboundEmail

CACHE_METHODS: tuple[str, ...] = ("get", "set", "add", "delete", "incr", "decr", "touch", "has_key")
CACHE_METHODS += ("get_many", "set_many", "delete_many", "get_or_set")


@dataclass
class Work:
    statements: Counter[str]  # "SELECT accounts_user", "INSERT audit_auditevent", "SAVEPOINT"...
    password_hashes: int
    cache_calls: Counter[str]
    emails_written: int
    email_tasks_queued: int
    calls: Counter[str]  # emails rendered, consent receipts signed
    answer: tuple[int, str, tuple[str, ...]]  # status, redirect, cookies set

    def without(self, **extra: Counter[str]) -> Work:
        """This work less some named statements or cache calls (a known extra on one path)."""
        return Work(
            statements=self.statements - extra.get("statements", Counter()),
            password_hashes=self.password_hashes,
            cache_calls=self.cache_calls - extra.get("cache_calls", Counter()),
            emails_written=self.emails_written,
            email_tasks_queued=self.email_tasks_queued,
            calls=self.calls,
            answer=self.answer,
        )


def statement(sql: str) -> str:
    """A statement as its kind and table: what it costs, not its values."""
    sql = sql.strip()
    for control in ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"):
        if sql.upper().startswith(control + " "):
            return control
    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql, flags=re.IGNORECASE)
    return f"{verb} {table.group(1)}" if table else verb


_WRITE_PART = re.compile(r'\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


def writes(sql: str) -> list[str]:
    """The writes one statement makes, named as ``statement`` names them: one for a plain
    INSERT, UPDATE or DELETE, one per part for a statement whose WITH parts write (a login's
    rows: accounts/login_writes.py), none for a read."""
    kind = statement(sql)
    verb = kind.split(" ", 1)[0]
    if verb in ("INSERT", "UPDATE", "DELETE"):
        return [kind]
    if verb != "WITH":
        return []
    return [f"{m.group(1).split()[0].upper()} {m.group(2)}" for m in _WRITE_PART.finditer(sql)]


def _costly_calls() -> list[tuple[Any, str]]:
    """CPU work worth counting besides the hash: rendering an email, signing a receipt."""
    from accounts.adapter import AccountAdapter
    from consent import receipts

    return [(AccountAdapter, "render_mail"), (receipts, "sign")]


class WorkMeter:
    """Counts password hashes, cache calls and queued email tasks while it is installed; the
    email tasks run after the request they were queued by."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from accounts.tasks import send_email

        self.hashes = 0
        self.cache_calls: Counter[str] = Counter()
        self.tasks: list[tuple[Any, ...]] = []
        self.calls: Counter[str] = Counter()
        self._send_email = send_email.delay
        for name in ("encode", "verify"):
            monkeypatch.setattr(
                GatehouseArgon2Hasher,
                name,
                self._counting_hash(getattr(GatehouseArgon2Hasher, name)),
            )
        backend = caches["default"]  # this thread's cache object: sessions and limits use it
        for name in CACHE_METHODS:
            if hasattr(backend, name):
                monkeypatch.setattr(
                    backend, name, self._counting_cache(name, getattr(backend, name))
                )
        monkeypatch.setattr(send_email, "delay", self._held_task)
        # Embedded mode runs a pass of the events pipeline when a transaction with events
        # commits (the rolled-back decoy's never does); in production the pipeline's loop does
        # that work in a worker, not in the request, so it is not counted here either.
        import events.pipeline

        monkeypatch.setattr(events.pipeline, "run_once_on_commit", lambda: None)
        for owner, name in _costly_calls():
            monkeypatch.setattr(owner, name, self._counting_call(name, getattr(owner, name)))

    def _counting_hash(self, real: Any) -> Any:
        def run(hasher: Any, *args: Any, **kwargs: Any) -> Any:
            self.hashes += 1
            return real(hasher, *args, **kwargs)

        return run

    def _counting_cache(self, name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.cache_calls[name] += 1
            return real(*args, **kwargs)

        return call

    def _counting_call(self, name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return real(*args, **kwargs)

        return call

    def _held_task(self, *args: Any) -> None:
        # Tasks run eagerly in tests, inside the request: their work is the worker's, not the
        # request's, so they run once the request has been measured.
        self.tasks.append(args)

    def post(self, path: str, data: dict[str, str], client: Client | None = None) -> Work:
        """POST ``data`` as a visitor with no session, and measure what it cost."""
        client = client or Client(REMOTE_ADDR="203.0.113.7")
        self.hashes, self.tasks = 0, []
        self.cache_calls.clear()
        self.calls.clear()
        emails_before = OutboundEmail.objects.count()
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, data)
        emails = OutboundEmail.objects.count() - emails_before
        for args in self.tasks:
            self._send_email(*args)
        return Work(
            statements=Counter(statement(q["sql"]) for q in queries.captured_queries),
            password_hashes=self.hashes,
            cache_calls=Counter(self.cache_calls),
            emails_written=emails,
            email_tasks_queued=len(self.tasks),
            calls=Counter(self.calls),
            answer=(
                response.status_code,
                response.get("Location", ""),
                tuple(sorted(response.cookies)),
            ),
        )


class TransactionLog:
    """Which transaction each write of a block went into: the number of commits before it
    when it ran inside one, None when it committed on its own (autocommit). Works the same on
    SQLite and PostgreSQL (which sends no BEGIN a test could see)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes: list[tuple[str, int | None]] = []
        self._commits = 0
        real_commit = connection.commit

        def counting_commit() -> None:
            real_commit()
            self._commits += 1

        monkeypatch.setattr(connection, "commit", counting_commit)

    def _note(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        for kind in writes(sql):
            self.writes.append((kind, self._commits if connection.in_atomic_block else None))
        return execute(sql, params, many, context)

    def __enter__(self) -> TransactionLog:
        self._wrapper = connection.execute_wrapper(self._note)
        self._wrapper.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._wrapper.__exit__(exc_type, exc, traceback)

    def transactions_of(self, *kinds: str) -> set[int | None]:
        """The transactions the writes of ``kinds`` ("INSERT audit_auditevent") went into;
        each of them must have been written."""
        assert set(kinds) <= {kind for kind, _ in self.writes}, self.writes
        return {txn for kind, txn in self.writes if kind in kinds}
