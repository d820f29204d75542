"""Weak passwords: zxcvbn's estimate refuses them wherever a password is set, with its own
feedback as the message; the meter's endpoint gives the same estimate as the person types."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.accounts.test_password import follow_to_form, reset_link

STRONG = "violet-Anchor-quarry-81"
STRENGTH = "/accounts/password/strength/"


def sign_up(client: Client, password: str):
    return client.post("/accounts/signup/", {"email": "ada@example.com", "password1": password})


def test_a_weak_password_is_refused_at_sign_up_with_the_estimators_feedback(client):
    # Passes Django's own validators (long enough, not in its list, not numeric).
    response = sign_up(client, "Password2024")

    assert response.status_code == 200
    assert b"This password is too easy to guess." in response.content
    assert b"This is similar to a commonly used password." in response.content
    assert not User.objects.exists()
    assert not mail.outbox


def test_a_strong_password_passes(client):
    assert sign_up(client, STRONG).status_code == 302
    assert User.objects.filter(email="ada@example.com").exists()


def test_a_password_that_names_the_address_is_weaker(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "marigold.featherstone@example.com", "password1": "MarigoldFeatherstone"},
    )

    assert response.status_code == 200
    assert not User.objects.exists()


def test_a_weak_password_is_refused_at_reset_too(client, user):
    form_path = follow_to_form(client, reset_link(client, user.email))

    response = client.post(form_path, {"password1": "Password2024", "password2": "Password2024"})

    assert response.status_code == 200
    assert b"This password is too easy to guess." in response.content
    user.refresh_from_db()
    assert not user.check_password("Password2024")


@pytest.mark.parametrize("password", ["", "x" * 129, "\u00e9" * 5000, "a" * 1_000_000])
def test_empty_and_overlong_passwords_are_form_errors_not_crashes(client, password):
    response = sign_up(client, password)

    assert response.status_code == 200
    assert not User.objects.exists()


def test_the_meter_gets_the_validators_estimate():
    client = Client()
    weak = client.post(STRENGTH, {"password": "Password2024", "email": "ada@example.com"}).json()
    strong = client.post(STRENGTH, {"password": STRONG}).json()

    assert weak["score"] < 3
    assert weak["rules"] == {"length": True, "strength": False, "not_breached": True}
    assert weak["warning"] == "This is similar to a commonly used password."
    assert weak["acceptable"] is False
    assert strong["score"] == 4
    assert strong["acceptable"] is True
    assert strong["label"] == "Very strong"


def test_the_meter_ticks_rules_one_by_one():
    client = Client()
    short = client.post(STRENGTH, {"password": "zq"}).json()
    breached = client.post(STRENGTH, {"password": "translator"}).json()

    assert short["rules"]["length"] is False
    assert breached["rules"] == {"length": True, "strength": False, "not_breached": False}


@pytest.mark.parametrize("password", ["", "y" * 129, "a" * 1_000_000])
def test_the_meter_answers_empty_and_overlong_input(password):
    result = Client().post(STRENGTH, {"password": password})

    assert result.status_code == 200
    assert result.json()["acceptable"] is False
    assert result.json()["score"] == 0


def test_the_meter_takes_posts_only_with_a_csrf_token():
    assert Client().get(STRENGTH, {"password": STRONG}).status_code == 405
    assert Client(enforce_csrf_checks=True).post(STRENGTH, {"password": STRONG}).status_code == 403


def test_the_meter_is_rate_limited(settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "password_strength": "2/m/ip"}
    client = Client(REMOTE_ADDR="198.51.100.4")
    answers = [client.post(STRENGTH, {"password": STRONG}).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
