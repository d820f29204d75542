"""A test's rolled-back transaction behaves as production's autocommit (tests/autocommit.py):
commit hooks run at once outside any service, when the outermost service commits, never when
it rolls back; row locks need a transaction of Gatehouse's."""

from __future__ import annotations

import contextlib
import logging

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from accounts.models import User
from config.refusals import Refusal, service
from tests.autocommit import only_the_test_case_is_open
from tests.conftest import require

ran: list[str] = []


@pytest.fixture(autouse=True)
def _fresh_log():
    ran.clear()
    yield
    ran.clear()


def hook(name: str):
    return lambda: ran.append(name)


def make_user(email: str) -> None:
    User.objects.create(email=email)


@service
def committing(name: str = "committed") -> None:
    make_user(f"{name}@hooks.test")
    transaction.on_commit(hook(name))
    # Still inside the transaction: nothing has run yet.
    assert ran == []


@service
def refusing() -> None:
    make_user("refused@hooks.test")
    transaction.on_commit(hook("refused"))
    raise Refusal("No.")


@service(durable=False)
def joining(name: str) -> None:
    transaction.on_commit(hook(name))


def test_the_test_case_transaction_is_the_only_one_open():
    assert connection.in_atomic_block
    assert only_the_test_case_is_open(connection)
    with transaction.atomic():
        assert not only_the_test_case_is_open(connection)


def test_a_hook_registered_outside_any_service_runs_at_once():
    transaction.on_commit(hook("now"))
    assert ran == ["now"]


def test_the_hooks_of_a_committed_service_run_when_it_returns():
    committing()
    assert ran == ["committed"]
    assert User.objects.filter(email="committed@hooks.test").exists()


def test_the_hooks_of_a_refused_service_never_run():
    with pytest.raises(Refusal):
        refusing()
    assert ran == []
    assert not User.objects.filter(email="refused@hooks.test").exists()
    # And a later service is not held up by them.
    committing()
    assert ran == ["committed"]


class Boom(Exception):
    pass


def fail_after_registering(name: str) -> None:
    with transaction.atomic():
        transaction.on_commit(hook(name))
        raise Boom


def test_a_plain_atomic_block_that_fails_drops_its_hooks():
    with pytest.raises(Boom):
        fail_after_registering("dropped")
    assert ran == []


def test_hooks_of_a_joined_service_wait_for_the_outermost_block():
    with transaction.atomic():
        joining("inner")
        assert ran == []
        transaction.on_commit(hook("outer"))
    assert ran == ["inner", "outer"]


def test_a_durable_service_inside_another_transaction_fails_as_in_production():
    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        committing()
    assert ran == []


def test_a_rolled_back_savepoint_drops_only_its_own_hooks():
    with transaction.atomic():
        transaction.on_commit(hook("before"))
        with contextlib.suppress(Boom):
            fail_after_registering("savepoint")
        with transaction.atomic():
            transaction.on_commit(hook("kept savepoint"))
        transaction.on_commit(hook("after"))
    assert ran == ["before", "kept savepoint", "after"]


def test_a_failed_block_without_savepoint_rolls_the_whole_transaction_back():
    with transaction.atomic():
        transaction.on_commit(hook("outer"))
        with contextlib.suppress(Boom), transaction.atomic(savepoint=False):
            transaction.on_commit(hook("inner"))
            raise Boom
    assert ran == []


def test_a_hook_that_registers_another_runs_both():
    def first():
        ran.append("first")
        transaction.on_commit(hook("second"))

    with transaction.atomic():
        transaction.on_commit(first)
    assert ran == ["first", "second"]


def test_a_hook_that_calls_a_service_runs_that_services_hooks():
    with transaction.atomic():
        transaction.on_commit(committing)
    assert ran == ["committed"]


def test_a_robust_hooks_error_is_logged_and_the_next_hook_runs(caplog):
    def broken():
        raise RuntimeError("mail server down")

    with caplog.at_level(logging.ERROR, logger="django.db.backends"), transaction.atomic():
        transaction.on_commit(broken, robust=True)
        transaction.on_commit(hook("next"))
    assert ran == ["next"]
    assert "mail server down" in caplog.text


def test_a_failing_hook_reaches_the_caller_as_after_a_real_commit():
    def broken():
        raise RuntimeError("boom")

    def write_then_fail_after_commit():
        with transaction.atomic():
            transaction.on_commit(broken)
            make_user("kept@hooks.test")

    with pytest.raises(RuntimeError, match="boom"):
        write_then_fail_after_commit()
    # The block had committed (here: released its savepoint) before the hook ran.
    assert User.objects.filter(email="kept@hooks.test").exists()


def test_a_row_lock_outside_any_service_fails_as_in_production():
    make_user("locked@hooks.test")
    locked = User.objects.select_for_update().filter(email="locked@hooks.test")
    require(connection.features.has_select_for_update, "PostgreSQL (SQLite has no row locks)")
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        list(locked)
    with transaction.atomic():
        assert [u.email for u in locked] == ["locked@hooks.test"]


@pytest.mark.django_db(transaction=True)
def test_in_a_transactional_test_django_runs_hooks_on_the_real_commit():
    assert not connection.in_atomic_block
    committing()
    assert ran == ["committed"]
    transaction.on_commit(hook("autocommit"))
    assert ran == ["committed", "autocommit"]
    with pytest.raises(Refusal):
        refusing()
    assert ran == ["committed", "autocommit"]
