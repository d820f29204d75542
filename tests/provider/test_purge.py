"""The purge (issue 15, item 10): dead tokens, codes and device codes go in batches, by
subselect, with no COUNT(*) and never every row in memory; what can still be used, or must
still be recognised when replayed, stays."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provider.models import AccessToken, DeviceGrant, Grant, IDToken, RefreshToken
from provider.tasks import purge_tokens
from tests.provider.person_tokens import issue, refresh, web_app

SCOPES = ["invoices:read"]
IDLE = timedelta(seconds=settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"])


@pytest.fixture
def app(invoices_api):
    return web_app(name="Ledger Cloud", api=invoices_api, scopes=SCOPES)


def token_rows(tokens):
    access = AccessToken.objects.get(token_checksum=_checksum(tokens["access_token"]))
    refresh_row = RefreshToken.objects.get(token_checksum=_checksum(tokens["refresh_token"]))
    return access, refresh_row


def _checksum(value: str) -> str:
    import hashlib

    return hashlib.sha256(value.encode()).hexdigest()


def grant(app, person, **fields) -> Grant:
    now = timezone.now()
    fields.setdefault("expires", now + timedelta(seconds=60))
    return Grant.objects.create(
        application=app.application,
        user=person,
        code=uuid.uuid4().hex,
        redirect_uri="https://app.example.com/callback",
        scope="openid",
        code_challenge="x" * 43,
        code_challenge_method="S256",
        **fields,
    )


def device_grant(app, **fields) -> DeviceGrant:
    fields.setdefault("expires", timezone.now() + timedelta(minutes=10))
    return DeviceGrant.objects.create(
        client_id=app.application.client_id,
        device_code=uuid.uuid4().hex,
        user_code=uuid.uuid4().hex[:8],
        scope="openid",
        **fields,
    )


def id_token(app, person, *, age: timedelta) -> IDToken:
    row = IDToken.objects.create(
        user=person,
        application=app.application,
        expires=timezone.now() - age + timedelta(minutes=10),
        scope="openid",
    )
    IDToken.objects.filter(pk=row.pk).update(created=timezone.now() - age)
    return row


def test_dead_rows_go_and_usable_or_still_needed_rows_stay(client, app, person, invoices_api):
    now = timezone.now()
    long_ago = now - IDLE - timedelta(hours=1)

    # Access tokens.
    expired_alone, expired_alone_rt = token_rows(issue(app, person, invoices_api, SCOPES))
    RefreshToken.objects.filter(pk=expired_alone_rt.pk).update(revoked=long_ago)
    AccessToken.objects.filter(pk=expired_alone.pk).update(expires=now - timedelta(minutes=1))
    refreshable = issue(app, person, invoices_api, SCOPES)
    expired_with_live_refresh, _ = token_rows(refreshable)
    AccessToken.objects.filter(pk=expired_with_live_refresh.pk).update(
        expires=now - timedelta(minutes=1)
    )
    fresh, fresh_rt = token_rows(issue(app, person, invoices_api, SCOPES))

    # Refresh tokens.
    replayable = issue(app, person, invoices_api, SCOPES)
    _, recently_revoked = token_rows(replayable)
    RefreshToken.objects.filter(pk=recently_revoked.pk).update(revoked=now - timedelta(hours=1))
    _, past_deadline = token_rows(issue(app, person, invoices_api, SCOPES))
    RefreshToken.objects.filter(pk=past_deadline.pk).update(
        family_expires_at=now - timedelta(seconds=1)
    )

    # Codes, device codes, ID tokens.
    expired_code = grant(app, person, expires=now - timedelta(seconds=1))
    used_long_ago = grant(app, person, used_at=now - timedelta(hours=2))
    used_just_now = grant(app, person, used_at=now)
    waiting_code = grant(app, person)
    expired_device = device_grant(app, expires=now - timedelta(seconds=1))
    used_device = device_grant(app, used_at=now)
    waiting_device = device_grant(app)
    old_id_token = id_token(app, person, age=timedelta(days=2))
    recent_id_token = id_token(app, person, age=timedelta(hours=1))

    deleted = purge_tokens()

    assert not AccessToken.objects.filter(pk=expired_alone.pk).exists()
    assert not RefreshToken.objects.filter(pk=expired_alone_rt.pk).exists()
    assert AccessToken.objects.filter(pk=expired_with_live_refresh.pk).exists()
    assert AccessToken.objects.filter(pk=fresh.pk).exists()
    assert RefreshToken.objects.filter(pk=fresh_rt.pk).exists()
    assert RefreshToken.objects.filter(pk=recently_revoked.pk).exists()
    assert not RefreshToken.objects.filter(pk=past_deadline.pk).exists()
    assert set(Grant.objects.values_list("pk", flat=True)) == {used_just_now.pk, waiting_code.pk}
    assert not Grant.objects.filter(pk__in=[expired_code.pk, used_long_ago.pk]).exists()
    assert list(DeviceGrant.objects.values_list("pk", flat=True)) == [waiting_device.pk]
    assert not DeviceGrant.objects.filter(pk__in=[expired_device.pk, used_device.pk]).exists()
    assert list(IDToken.objects.values_list("pk", flat=True)) == [recent_id_token.pk]
    assert not IDToken.objects.filter(pk=old_id_token.pk).exists()
    assert deleted == {
        "refresh_tokens": 2,
        "access_tokens": 1,  # past_deadline's own access token lives out its lifetime
        "grants": 2,
        "device_grants": 2,
        "id_tokens": 1,
    }

    # What stayed still works: the refresh token whose access token expired rotates, and
    # the recently revoked one is still recognised as a replay.
    assert refresh(client, app, refreshable["refresh_token"]).status_code == 200
    replay = refresh(client, app, replayable["refresh_token"])
    assert replay.json()["error"] == "invalid_grant"


def test_batches_are_deleted_by_subselect_without_counting(app, person, invoices_api):
    past = timezone.now() - timedelta(minutes=1)
    for _ in range(7):
        grant(app, person, expires=past)
        access, refresh_row = token_rows(issue(app, person, invoices_api, SCOPES))
        RefreshToken.objects.filter(pk=refresh_row.pk).update(revoked=past - IDLE)
        AccessToken.objects.filter(pk=access.pk).update(expires=past)

    with CaptureQueriesContext(connection) as queries:
        deleted = purge_tokens(batch_size=3)

    sql = [query["sql"] for query in queries.captured_queries]
    assert deleted["grants"] == 7
    assert deleted["access_tokens"] == 7
    assert deleted["refresh_tokens"] == 7
    assert not any("COUNT(" in statement.upper() for statement in sql)
    grant_deletes = [s for s in sql if s.startswith('DELETE FROM "provider_grant"')]
    assert len(grant_deletes) == 3  # 3 + 3 + 1
    assert all("LIMIT 3" in s for s in grant_deletes)  # the batch is a subselect
    access_deletes = [s for s in sql if s.startswith('DELETE FROM "provider_accesstoken"')]
    assert len(access_deletes) == 3
    # The only token rows read are one batch of ids at a time.
    id_reads = [s for s in sql if s.startswith('SELECT "provider_accesstoken"."id" AS "pk" FROM')]
    assert len(id_reads) == 3
    assert all("LIMIT 3" in s for s in id_reads)
    assert not Grant.objects.exists()
    assert not AccessToken.objects.exists()


def test_a_run_cut_short_queues_the_rest(app, person):
    past = timezone.now() - timedelta(minutes=1)
    for _ in range(5):
        grant(app, person, expires=past)

    purge_tokens(batch_size=2, max_batches=1)  # eager here: the follow-up runs at once

    assert not Grant.objects.exists()


def test_the_purge_runs_every_ten_minutes():
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "provider.tasks.purge_tokens"
    ]
    assert entry["schedule"] == 600.0


def test_running_it_twice_deletes_nothing_more(app, person):
    grant(app, person, expires=timezone.now() - timedelta(minutes=1))
    assert purge_tokens()["grants"] == 1
    assert purge_tokens() == dict.fromkeys(
        ("refresh_tokens", "access_tokens", "grants", "device_grants", "id_tokens"), 0
    )
