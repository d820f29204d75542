"""Credential stuffing switches the login form to a proof-of-work challenge (ALTCHA) instead of
locking accounts: many failing addresses from one network, or a rise of failures across the
system over their baseline. The challenge goes away when the signal subsides; unsolved and
replayed solutions are refused before any password is checked."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from accounts.models import SignInRisk
from accounts.takeover import challenge, stuffing
from audit.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD

ATTACKER_NET = "203.0.113."


def stuff(count: int, *, net: str = ATTACKER_NET) -> None:
    """Failed logins from one network, each for another address."""
    for n in range(count):
        client = Client(REMOTE_ADDR=f"{net}{n % 200 + 1}")
        response = client.post(
            "/accounts/login/", {"login": f"victim{n}@example.com", "password": "Leaked-1"}
        )
        assert response.status_code == 200


def challenge_json(page: str) -> dict:
    import html
    import json

    match = re.search(r'challengejson="([^"]+)"', page)
    assert match, "no challenge on the page"
    return json.loads(html.unescape(match.group(1)))


@pytest.fixture
def quick_signals(settings):
    settings.GATEHOUSE_STUFFING = {
        **settings.GATEHOUSE_STUFFING,
        "network_addresses": 5,
        "global_failures": 10_000,  # only the network signal in these tests
    }
    settings.GATEHOUSE_FAILED_LOGIN_LIMITS = {"email": (5, 300)}  # no per-address lock


def test_many_addresses_from_one_network_bring_the_challenge(quick_signals):
    assert "altcha-widget" not in Client().get("/accounts/login/").content.decode()

    stuff(5)

    attacker = Client(REMOTE_ADDR=f"{ATTACKER_NET}99").get("/accounts/login/").content.decode()
    assert "<altcha-widget" in attacker
    assert "/static/altcha/altcha" in attacker  # served locally, a module file
    bystander = Client(REMOTE_ADDR="198.51.100.9").get("/accounts/login/").content.decode()
    assert "altcha-widget" not in bystander
    [event] = AuditEvent.objects.filter(action="login.stuffing_detected")
    assert event.data == {"signals": ["network"], "network": "203.0.113.0/24"}
    # The code request form asks for it too.
    code_page = Client(REMOTE_ADDR=f"{ATTACKER_NET}7").get("/accounts/login/code/")
    assert "<altcha-widget" in code_page.content.decode()


def test_ipv6_clients_are_grouped_by_their_64(quick_signals):
    for n in range(5):
        Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}").post(
            "/accounts/login/", {"login": f"v{n}@example.com", "password": "x"}
        )
    page = Client(REMOTE_ADDR="2001:db8:1:2:ffff::1").get("/accounts/login/")
    assert "<altcha-widget" in page.content.decode()
    other = Client(REMOTE_ADDR="2001:db8:1:3::1").get("/accounts/login/")
    assert "altcha-widget" not in other.content.decode()


def test_a_login_without_the_solved_challenge_is_refused(quick_signals, user):
    stuff(5)
    client = Client(REMOTE_ADDR=f"{ATTACKER_NET}50")

    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Wait for the check" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="login.challenge_failed", data__reason="missing"
    ).exists()
    # Refused before the password was checked: no failed or successful login recorded for it.
    assert not AuditEvent.objects.filter(action="login.failed", actor_text=user.email).exists()

    forged = client.post(
        "/accounts/login/",
        {"login": user.email, "password": DEFAULT_PASSWORD, "altcha": "eyJub3QiOiAiaXQifQ=="},
    )
    assert "_auth_user_id" not in client.session
    assert "did not pass" in forged.content.decode()


def test_a_solved_challenge_signs_in_once_and_a_replay_is_refused(quick_signals, user):
    stuff(5)
    client = Client(REMOTE_ADDR=f"{ATTACKER_NET}50")
    payload = challenge.solve(challenge_json(client.get("/accounts/login/").content.decode()))

    response = client.post(
        "/accounts/login/",
        {"login": user.email, "password": DEFAULT_PASSWORD, "altcha": payload},
    )

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    [row] = SignInRisk.objects.filter(user=user)
    assert row.challenged is True

    replayer = Client(REMOTE_ADDR=f"{ATTACKER_NET}51")
    replay = replayer.post(
        "/accounts/login/",
        {"login": user.email, "password": DEFAULT_PASSWORD, "altcha": payload},
    )
    assert replay.status_code == 200
    assert "_auth_user_id" not in replayer.session
    assert "already used" in replay.content.decode()
    assert AuditEvent.objects.filter(
        action="login.challenge_failed", data__reason="replayed"
    ).exists()


def test_the_challenge_goes_away_when_the_signal_subsides(settings):
    settings.GATEHOUSE_STUFFING = {
        **settings.GATEHOUSE_STUFFING,
        "network_addresses": 3,
        "network_window": 1,
        "global_failures": 10_000,
    }
    for n in range(3):
        stuffing.record_failure(ip=f"{ATTACKER_NET}{n + 1}", login=f"v{n}@example.com")
    client = Client(REMOTE_ADDR=f"{ATTACKER_NET}9")
    assert "<altcha-widget" in client.get("/accounts/login/").content.decode()

    time.sleep(1.5)  # the window (1 s) passes with no further failures

    assert "altcha-widget" not in client.get("/accounts/login/").content.decode()
    assert not stuffing.challenge_in_force(f"{ATTACKER_NET}9")


def test_a_rise_across_the_system_brings_the_challenge_everywhere(settings):
    settings.GATEHOUSE_STUFFING = {
        **settings.GATEHOUSE_STUFFING,
        "network_addresses": 1000,
        "global_failures": 6,
        "global_factor": 3,
    }
    for n in range(6):  # six networks, one failure each: no network signal
        stuffing.record_failure(ip=f"198.51.{n}.1", login=f"v{n}@example.com")

    page = Client(REMOTE_ADDR="192.0.2.1").get("/accounts/login/").content.decode()
    assert "<altcha-widget" in page
    assert stuffing.signal_names("192.0.2.1") == ["global"]


def test_failures_at_the_usual_rate_do_not_count_as_a_rise(settings, monkeypatch):
    settings.GATEHOUSE_STUFFING = {
        **settings.GATEHOUSE_STUFFING,
        "network_addresses": 1000,
        "global_failures": 40,
        "global_factor": 3,
        "global_window": 300,
        "baseline_window": 3600,
    }
    now = time.time()
    # A baseline of 30 failures per five minutes over the past hour...
    for minutes_ago in range(10, 60, 5):
        monkeypatch.setattr(stuffing.time, "time", lambda m=minutes_ago: now - m * 60)
        for n in range(30):
            stuffing.record_failure(ip=f"198.51.{n}.1", login=f"v{n}@example.com")
    assert not stuffing.challenge_in_force("192.0.2.1")  # (each bucket below the rise)
    # ... then the same rate now: no rise, no challenge.
    monkeypatch.setattr(stuffing.time, "time", lambda: now)
    for n in range(30):
        stuffing.record_failure(ip=f"198.51.{n}.1", login=f"v{n}@example.com")
    assert not stuffing.challenge_in_force("192.0.2.1")
    # Four times the usual rate (and over the minimum of 40) is a rise.
    for n in range(90):
        stuffing.record_failure(ip=f"198.51.{n}.1", login=f"w{n}@example.com")
    assert stuffing.challenge_in_force("192.0.2.1")
