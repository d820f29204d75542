"""Production's autocommit, inside a test's rolled-back transaction.

Most tests run inside one transaction that is rolled back afterwards (pytest-django's ``db``,
Django's ``TestCase``): far cheaper than emptying every table after each test. In production
requests are not wrapped in a transaction: code outside a service runs in autocommit, and each
service owns its transaction (config/refusals.py ``service``). ``install()`` makes the test
transaction behave like that autocommit where Gatehouse could tell the difference:

* Commit hooks (``transaction.on_commit``, how Gatehouse defers emails and jobs). A hook
  registered while only the test case's transaction is open (a view, a task or the test
  itself, outside any service) runs at once. A hook registered inside a transaction of
  Gatehouse's own (``@service``, ``atomic()``) waits until the outermost such block exits: if
  it exits cleanly the hook runs then, in the order registered; if it rolls back the hook is
  dropped. A savepoint nested inside that rolls back drops its own hooks only (Django does
  that already). Without this no deferred email would ever be sent in a test. (So
  ``django_capture_on_commit_callbacks`` has nothing left to capture: assert the effects.)
* Row locks. ``select_for_update()`` outside any transaction of Gatehouse's raises, as it
  does in production (on PostgreSQL; SQLite has no row locks), instead of quietly locking
  inside the test's transaction.

Django marks the test case's atomic blocks with ``_from_testcase``; a block without the mark
is one of Gatehouse's. In transactional tests (``transaction=True``, the live server) no block
carries the mark, and Django's own behaviour applies unchanged.

One difference remains: a statement that fails outside any atomic block (a trigger's refusal,
say) aborts the test's whole transaction on PostgreSQL, where in production it would fail
alone. A test that expects such a failure wraps the statement in ``transaction.atomic()`` or
runs as a transactional test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.sql.compiler import SQLCompiler

logger = logging.getLogger("django.db.backends")

_original_on_commit = BaseDatabaseWrapper.on_commit
_original_exit = transaction.Atomic.__exit__
_original_as_sql = SQLCompiler.as_sql


def only_the_test_case_is_open(connection: BaseDatabaseWrapper, below: int = 0) -> bool:
    """Whether the open atomic blocks (less the ``below`` innermost ones) are all the test
    case's own: Gatehouse code running there runs as if in autocommit."""
    blocks = connection.atomic_blocks[: len(connection.atomic_blocks) - below]
    return bool(blocks) and all(getattr(block, "_from_testcase", False) for block in blocks)


def _call(func: Callable[[], Any], robust: bool) -> None:
    """Run one hook as Django runs it after a commit: a robust hook's error is logged."""
    if not robust:
        func()
        return
    try:
        func()
    except Exception as error:
        logger.error(
            "Error calling %s in on_commit() (%s).", func.__qualname__, error, exc_info=True
        )


def _on_commit(self: BaseDatabaseWrapper, func: Callable[[], Any], robust: bool = False) -> None:
    if not only_the_test_case_is_open(self):
        _original_on_commit(self, func, robust)
        return
    if not callable(func):
        raise TypeError("on_commit()'s callback must be a callable.")
    _call(func, robust)


def _exit(
    self: transaction.Atomic,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    connection = transaction.get_connection(self.using)
    outermost = (
        not getattr(self, "_from_testcase", False)
        and bool(connection.atomic_blocks)
        and connection.atomic_blocks[-1] is self
        and only_the_test_case_is_open(connection, below=1)
    )
    if not outermost:
        _original_exit(self, exc_type, exc_value, traceback)
        return
    # Read before Django resets it: a block that exits with an error, or whose inner block
    # without a savepoint failed, rolls back as a whole in production.
    rolled_back = exc_type is not None or connection.needs_rollback
    try:
        _original_exit(self, exc_type, exc_value, traceback)
    except BaseException:
        connection.run_on_commit = []
        raise
    # Every hook still waiting belongs to this block: hooks registered outside any of
    # Gatehouse's blocks ran at once, and earlier blocks ran or dropped theirs.
    pending, connection.run_on_commit = connection.run_on_commit, []
    if rolled_back:
        return
    for _savepoints, func, robust in pending:
        _call(func, robust)


def _as_sql(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
    if (
        self.query.select_for_update
        and self.connection.features.has_select_for_update
        and only_the_test_case_is_open(self.connection)
    ):
        raise transaction.TransactionManagementError(
            "select_for_update cannot be used outside of a transaction."
        )
    return _original_as_sql(self, *args, **kwargs)


_installed = False


def install() -> None:
    """Patch Django for the rest of the process; idempotent. Outside a test case's transaction
    the patched methods behave exactly as Django's own."""
    global _installed
    if _installed:
        return
    BaseDatabaseWrapper.on_commit = _on_commit  # type: ignore[method-assign]
    transaction.Atomic.__exit__ = _exit  # type: ignore[method-assign]
    SQLCompiler.as_sql = _as_sql  # type: ignore[method-assign]
    _installed = True
