"""The horizon (docs/events.md, T1): a transaction that began writing first and commits last is
never skipped by a reader that already passed a later-committed one."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from audit.actions import Action
from audit.services import record
from events import horizon
from events.models import Event
from tests.conftest import require
from tests.events.helpers import wait_for_horizon
from tests.factories import UserFactory


def read(cursor: horizon.Cursor) -> list[Event]:
    return list(horizon.after(Event.objects.all(), cursor, horizon.current_horizon()))


@pytest.mark.django_db(transaction=True)
def test_an_early_transaction_that_commits_late_is_not_skipped():
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    early_user, late_user = UserFactory(), UserFactory()
    wrote, release, done = threading.Event(), threading.Event(), threading.Event()

    def early_writer() -> None:
        try:
            with transaction.atomic():
                record(Action.USER_BLOCKED, actor=early_user, target=early_user)
                wrote.set()
                release.wait(30)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=early_writer)
    thread.start()
    try:
        assert wrote.wait(30)
        # The later transaction takes a newer id and commits first.
        record(Action.USER_BLOCKED, actor=late_user, target=late_user)
        late = Event.objects.get(subject_id=str(late_user.pk))
        # Committed, and the highest id so far, yet not handed out: the early transaction
        # below it is still open.
        assert read(horizon.START) == []
    finally:
        release.set()
        thread.join(30)
    assert done.is_set()

    wait_for_horizon()
    early = Event.objects.get(subject_id=str(early_user.pk))
    assert early.txid is not None
    assert late.txid is not None
    assert early.txid < late.txid
    rows = read(horizon.START)
    assert [row.pk for row in rows] == [early.pk, late.pk]
    # A cursor taken anywhere before the late row still reaches the early one first.
    assert [row.pk for row in read(horizon.position(rows[0]))] == [late.pk]


@pytest.mark.django_db(transaction=True)
def test_transactions_one_after_another_come_in_commit_order():
    """On both databases: by (txid, id) under the horizon on PostgreSQL, by id on SQLite."""
    users = [UserFactory() for _ in range(3)]
    for user in users:
        record(Action.USER_BLOCKED, actor=user, target=user)
    wait_for_horizon()
    rows = read(horizon.START)
    assert [row.subject_id for row in rows] == [str(user.pk) for user in users]
    assert [row.pk for row in read(horizon.position(rows[0]))] == [r.pk for r in rows[1:]]
    assert read(horizon.position(rows[-1])) == []
