"""Failed-login counters: how they group clients and how attempts are counted."""

from __future__ import annotations

from accounts import ratelimits


def test_ipv4_mapped_ipv6_clients_are_counted_as_their_ipv4_address():
    assert ratelimits._client_bucket("::ffff:198.51.100.7") == "198.51.100.7"
    assert ratelimits._client_bucket("::ffff:198.51.100.7") != ratelimits._client_bucket(
        "::ffff:203.0.113.9"
    )


def test_ipv6_clients_are_counted_per_64_prefix():
    assert ratelimits._client_bucket("2001:db8:1:2::1") == ratelimits._client_bucket(
        "2001:db8:1:2:ffff::9"
    )
    assert ratelimits._client_bucket("2001:db8:1:2::1") != ratelimits._client_bucket(
        "2001:db8:1:3::1"
    )


def test_attempts_in_flight_count_so_parallel_guesses_cannot_overshoot():
    # Six guesses arrive together; none has finished hashing. Only five may go ahead.
    attempts = [
        ratelimits.consume_attempt(ip=f"198.51.100.{n}", email="ada@example.com") for n in range(6)
    ]
    assert [a.allowed for a in attempts] == [True] * 5 + [False]


def test_a_correct_password_takes_its_attempt_back():
    for _ in range(20):
        attempt = ratelimits.consume_attempt(ip="198.51.100.1", email="ada@example.com")
        assert attempt.allowed
        attempt.rollback()


def test_failures_from_one_mapped_address_do_not_lock_out_another():
    for n in range(10):
        ratelimits.consume_attempt(ip="::ffff:198.51.100.7", email=f"guess{n}@example.com")

    assert not ratelimits.consume_attempt(ip="::ffff:198.51.100.7", email="a@example.com").allowed
    assert ratelimits.consume_attempt(ip="::ffff:203.0.113.9", email="a@example.com").allowed


def test_clearing_an_email_ends_its_lockout():
    for n in range(5):
        ratelimits.consume_attempt(ip=f"198.51.100.{n}", email="ada@example.com")
    assert not ratelimits.consume_attempt(ip="198.51.100.99", email="ada@example.com").allowed

    ratelimits.clear_email("ADA@example.com")

    assert ratelimits.consume_attempt(ip="198.51.100.99", email="ada@example.com").allowed


def test_a_refused_attempt_knows_how_long_until_its_limits_reset(settings):
    settings.GATEHOUSE_FAILED_LOGIN_LIMITS = {"ip": (10, 60), "email": (2, 600)}
    for _ in range(2):
        assert ratelimits.consume_attempt(ip="198.51.100.1", email="ada@example.com").allowed

    refused = ratelimits.consume_attempt(ip="198.51.100.1", email="ada@example.com")

    assert not refused.allowed
    assert 590 <= refused.retry_after <= 600  # the email's window, not the address's
    assert ratelimits.consume_attempt(ip="198.51.100.1", email="bob@example.com").retry_after == 0
