"""Each pytest-xdist worker on real services gets Redis databases of its own
(tests/embedded_mode.py)."""

from __future__ import annotations

import pytest

from tests.embedded_mode import redis_database_for_worker


def test_the_first_worker_keeps_the_given_databases():
    assert redis_database_for_worker("redis://127.0.0.1:6379/15", 0) == "redis://127.0.0.1:6379/15"


def test_each_further_worker_takes_the_next_two_databases_down():
    cache, broker = "redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/14"

    taken = [
        redis_database_for_worker(url, worker) for worker in range(4) for url in (cache, broker)
    ]

    assert taken[2:4] == ["redis://127.0.0.1:6379/13", "redis://127.0.0.1:6379/12"]
    assert len(set(taken)) == len(taken), "no two workers share a database"


def test_numbers_wrap_within_redis_sixteen_databases():
    assert redis_database_for_worker("redis://localhost/1", 1) == "redis://localhost/15"
    assert redis_database_for_worker("redis://localhost", 1) == "redis://localhost/14"


def test_an_address_it_cannot_read_is_an_error_not_a_shared_database():
    with pytest.raises(ValueError, match="own Redis database"):
        redis_database_for_worker("rediss://user@host/3?ssl=1", 1)
