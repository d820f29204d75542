"""Sessions in Redis (config/sessions.py): Django's behaviour, in fewer round trips."""

from __future__ import annotations

from collections import Counter

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, UpdateError
from django.core.cache import caches

from config.sessions import SessionStore, new_session_key
from tests.conftest import require


@pytest.fixture
def redis_sessions():
    require(settings.SESSION_ENGINE == "config.sessions", "sessions in Redis (REDIS_URL)")


@pytest.fixture
def cache_calls(monkeypatch) -> Counter[str]:
    calls: Counter[str] = Counter()
    backend = caches[settings.SESSION_CACHE_ALIAS]
    for name in ("get", "set", "add", "delete", "has_key"):
        real = getattr(backend, name)

        def counted(*args, _name=name, _real=real, **kwargs):
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(backend, name, counted)
    return calls


def test_new_keys_are_32_characters_drawn_from_djangos_alphabet():
    keys = {new_session_key() for _ in range(2000)}

    assert len(keys) == 2000
    assert all(len(key) == 32 and set(key) <= set(VALID_KEY_CHARS) for key in keys)
    # Every character of the alphabet turns up in every position over 2,000 keys (the
    # chance that one of them does not, for a uniform draw, is about 1e-22).
    for position in range(32):
        assert {key[position] for key in keys} == set(VALID_KEY_CHARS)


def test_saving_an_existing_session_is_one_command(redis_sessions, cache_calls):
    session = SessionStore()
    session["step"] = 1
    session.create()
    cache_calls.clear()

    session["step"] = 2
    session.save()

    assert cache_calls == Counter(set=1)
    assert SessionStore(session.session_key).load() == {"step": 2}


def test_a_session_ended_during_the_request_is_not_brought_back(redis_sessions):
    """As Django's cache sessions: saving a session that was deleted meanwhile (signed out
    elsewhere, blocked) raises UpdateError, which the middleware answers with a 400."""
    session = SessionStore()
    session["_auth_user_id"] = "1"
    session.create()
    SessionStore(session.session_key).delete()

    session["step"] = 2
    with pytest.raises(UpdateError):
        session.save()

    assert SessionStore(session.session_key).load() == {}


def test_a_new_session_is_created_once_under_a_fresh_key(redis_sessions, cache_calls):
    session = SessionStore()
    session["step"] = 1

    session.save()

    assert cache_calls == Counter(add=1)
    assert SessionStore(session.session_key).load() == {"step": 1}
