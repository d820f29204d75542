"""Signing-key rotation from the command line and the daily job: the next key is in the JWKS
before it signs anything, tokens signed by the old key keep verifying until it is retired, and
every step is audited."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from jwcrypto import jwk, jws, jwt

from audit.models import AuditEvent
from config.celery import app as celery_app
from provider.key_rotation import jwks_max_age
from provider.key_tasks import rotate_signing_keys
from provider.models import KeyState, SigningKey
from provider.services.keys import longest_token_lifetime

JWKS = "/o/.well-known/jwks.json"


def rotate(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_signing_keys", *args, stdout=out)
    return out.getvalue()


def published(client) -> jwk.JWKSet:
    response = client.get(JWKS)
    assert response.status_code == 200
    return jwk.JWKSet.from_json(response.content)


def kids(client) -> set[str]:
    return {key["kid"] for key in client.get(JWKS).json()["keys"]}


def issue(client, backend, api) -> str:
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
    )
    assert response.status_code == 200, response.content
    return str(response.json()["access_token"])


def _kid(token: str) -> str:
    parsed = jws.JWS()
    parsed.deserialize(token)
    return str(parsed.jose_header["kid"])


def verifies(token: str, keyset: jwk.JWKSet) -> bool:
    try:
        jwt.JWT(jwt=token, key=keyset, algs=["RS256", "ES256"])
    except Exception:  # noqa: BLE001 - any failure to verify is what the test judges
        return False
    return True


def age(**filters) -> None:
    """Move keys back in time, as if the days between rotation steps had passed."""
    past = timezone.now() - longest_token_lifetime() - jwks_max_age() - timedelta(days=91)
    SigningKey.objects.filter(**filters).update(
        created_at=past, activated_at=past, retiring_at=past
    )


def test_the_next_key_is_published_before_it_signs_and_old_tokens_verify_until_retired(
    client, backend, invoices_api
):
    old = SigningKey.objects.get(alg="RS256", state=KeyState.ACTIVE)
    before = issue(client, backend, invoices_api)
    assert _kid(before) == old.kid

    # Day 1: the active key is old, so the next one is published, and signs nothing yet.
    age(pk=old.pk)
    assert "RS256: published" in rotate("--auto", "--alg", "RS256")
    new = SigningKey.objects.get(alg="RS256", state=KeyState.NEXT)
    assert new.kid in kids(client)
    assert _kid(issue(client, backend, invoices_api)) == old.kid

    # The same day again: activating now would beat the verifiers' JWKS caches.
    assert "Nothing is due." in rotate("--auto", "--alg", "RS256")
    with pytest.raises(CommandError, match="less than"):
        rotate("--activate", "--alg", "RS256")

    # Day 2: a JWKS cache lifetime has passed, so the new key signs; the old one is retiring.
    age(pk=new.pk)
    assert "RS256: activated" in rotate("--auto", "--alg", "RS256")
    after = issue(client, backend, invoices_api)
    assert _kid(after) == new.kid
    assert {old.kid, new.kid} <= kids(client)
    keyset = published(client)
    assert verifies(before, keyset)
    assert verifies(after, keyset)
    # Not retired yet: a token it signed may still be alive.
    assert "retired" not in rotate("--auto", "--alg", "RS256")
    assert old.kid in kids(client)

    # Day 3: the longest token lifetime has passed, so the old key leaves the JWKS.
    SigningKey.objects.filter(pk=old.pk).update(
        retiring_at=timezone.now() - longest_token_lifetime() - timedelta(seconds=1)
    )
    assert f"RS256: retired {old.kid}" in rotate("--auto", "--alg", "RS256")
    assert old.kid not in kids(client)
    assert not verifies(before, published(client))
    assert verifies(after, published(client))

    events = list(
        AuditEvent.objects.filter(action__startswith="oauth.signing_key_")
        .order_by("occurred_at", "pk")
        .values_list("action", "data")
    )
    steps = [(action, data["kid"]) for action, data in events if data.get("alg") == "RS256"]
    assert steps[-3:] == [
        ("oauth.signing_key_created", new.kid),
        ("oauth.signing_key_activated", new.kid),
        ("oauth.signing_key_retired", old.kid),
    ]
    assert all(
        "private" not in json.dumps(data) and '"d"' not in json.dumps(data) for _, data in events
    )


def test_manual_steps_and_force(client, signing_keys):
    out = rotate("--publish", "--alg", "ES256")
    assert "ES256: published" in out
    with pytest.raises(CommandError, match="already waiting"):
        rotate("--publish", "--alg", "ES256")
    waiting = SigningKey.objects.get(alg="ES256", state=KeyState.NEXT)
    old = SigningKey.objects.get(alg="ES256", state=KeyState.ACTIVE)

    rotate("--activate", "--alg", "ES256", "--force")
    assert SigningKey.objects.get(alg="ES256", state=KeyState.ACTIVE).pk == waiting.pk
    assert rotate("--retire", "--alg", "ES256").count("retired") == 0
    rotate("--retire", "--alg", "ES256", "--force")
    old.refresh_from_db()
    assert old.state == KeyState.RETIRED
    assert old.kid not in kids(client)
    forced = AuditEvent.objects.filter(action="oauth.signing_key_retired").get()
    assert forced.data["forced"] is True
    assert forced.actor_text == "system"


def test_auto_makes_the_first_keys_of_a_new_installation(client):
    assert not SigningKey.objects.exists()
    out = rotate("--auto")
    assert "RS256: created" in out
    assert "ES256: created" in out
    assert len(kids(client)) == 2


def test_the_daily_job_takes_the_due_step_and_is_scheduled(signing_keys):
    age(alg="ES256")
    assert rotate_signing_keys.delay().get() == [
        f"ES256: published {SigningKey.objects.get(alg='ES256', state='next').kid}"
    ]
    assert rotate_signing_keys.delay().get() == []  # run twice: nothing more is due today
    schedule = settings.CELERY_BEAT_SCHEDULE["rotate-signing-keys"]
    assert schedule["task"] in celery_app.tasks
    assert schedule["schedule"] == 24 * 3600.0
