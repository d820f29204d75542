"""Background work for the provider: back-channel logout and the purge of dead tokens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import requests
from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from provider import logout_tokens
from provider.models import AccessToken, Application, DeviceGrant, Grant, IDToken, RefreshToken
from sso.fetch import FetchError, check_url, public_session

logger = logging.getLogger(__name__)

# --- Back-channel logout ----------------------------------------------------------------------

LOGOUT_TIMEOUT_SECONDS = 5
LOGOUT_MAX_RETRIES = 5


class LogoutNotDelivered(Exception):
    """The app did not take the logout token this time (network, timeout, 5xx): try again."""


def queue_backchannel_logout(application_id: int, sub: str, sid: str) -> None:
    """Queue one logout token (after a commit). A broker that is down costs the app its
    notice, never the revocation that has already committed."""
    try:
        send_backchannel_logout.delay(application_id, sub, sid)
    except (BrokerError, OSError):
        logger.warning("could not queue a back-channel logout for application %s", application_id)


@shared_task(
    acks_late=True,
    autoretry_for=(LogoutNotDelivered,),
    retry_backoff=2,
    retry_backoff_max=120,
    # Celery's default full jitter may retry at once (a countdown of 0 to 2 s): an app that
    # just failed gets 2, 4, 8... seconds, which the back-off test relies on too.
    retry_jitter=False,
    max_retries=LOGOUT_MAX_RETRIES,
)
def send_backchannel_logout(application_id: int, sub: str, sid: str) -> str:
    """POST a logout token to the app's back-channel logout URI (OIDC Back-Channel Logout
    1.0, 2.5). Each attempt signs a fresh token, since one lives two minutes and a retry may
    come later. Safe to run twice: an app treats a second logout of an ended session as done.

    The URI was accepted at registration, but it is checked again here, and the connection is
    made through ``sso.fetch``'s public-only transport: https, public addresses only (also
    after DNS answers change), no redirects, no environment proxy."""
    application = Application.objects.filter(pk=application_id).first()
    if application is None or not application.backchannel_logout_uri:
        return "no receiver"
    if application.disabled_at is not None:
        return "app disabled"
    url = application.backchannel_logout_uri
    try:
        check_url(url)
    except FetchError as exc:
        logger.warning("back-channel logout of %s refused: %s", application.client_id, exc)
        return "refused"
    token = logout_tokens.build(application, sub=sub, sid=sid)
    try:
        with public_session() as session:
            response = session.post(
                url,
                data={"logout_token": token},
                headers={"User-Agent": "Gatehouse", "Cache-Control": "no-store"},
                timeout=LOGOUT_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        raise LogoutNotDelivered(f"{type(exc).__name__}") from exc
    if response.status_code in (200, 204):
        return "delivered"
    if response.status_code >= 500 or response.status_code == 429:
        raise LogoutNotDelivered(f"HTTP {response.status_code}")
    # 400 means the app refused this token (2.8); sending it again will not change that.
    logger.warning(
        "back-channel logout of %s answered %s", application.client_id, response.status_code
    )
    return f"refused by app ({response.status_code})"


# --- Purge ------------------------------------------------------------------------------------

PURGE_BATCH_SIZE = 1000
# Batches of one kind per run; a kind that still has a full batch left queues another run.
PURGE_MAX_BATCHES = 200
# ID tokens stay a day for RP-initiated logout's id_token_hint (DOT needs the row).
ID_TOKEN_KEPT = timedelta(days=1)
# A used code's row, for replay detection: longer than any access token it led to lives.
USED_CODE_KEPT = timedelta(hours=1)


def _refresh_idle() -> timedelta:
    return timedelta(seconds=int(settings.OAUTH2_PROVIDER["REFRESH_TOKEN_EXPIRE_SECONDS"]))


def dead_refresh_tokens(now: Any) -> QuerySet[RefreshToken]:
    """Refresh tokens nobody can use again: revoked longer ago than the idle window (until
    then a replay must still find the row, so that DOT's reuse protection revokes the family),
    past their family's absolute deadline, or left without an access token (rotated away or
    revoked) and idle for the whole window."""
    idle = _refresh_idle()
    return RefreshToken.objects.filter(
        Q(revoked__lt=now - idle)
        | Q(family_expires_at__lt=now)
        | Q(revoked__isnull=True, access_token__isnull=True, updated__lt=now - idle)
    )


def dead_access_tokens(now: Any) -> QuerySet[AccessToken]:
    """Expired access tokens with no refresh token that is still usable through them: DOT
    measures a refresh token's idle limit from its access token's expiry, so that row stays
    while the refresh token may still be presented."""
    live_refresh = RefreshToken.objects.filter(access_token=OuterRef("pk"), revoked__isnull=True)
    return AccessToken.objects.filter(expires__lt=now).filter(
        ~Exists(live_refresh) | Q(expires__lt=now - _refresh_idle())
    )


def dead_grants(now: Any) -> QuerySet[Grant]:
    """Codes expired unused, or used more than ``USED_CODE_KEPT`` ago: until then a replayed
    code still finds its row and revokes every token it issued (``validate_code``)."""
    return Grant.objects.filter(
        Q(used_at__isnull=True, expires__lt=now) | Q(used_at__lt=now - USED_CODE_KEPT)
    )


def dead_device_grants(now: Any) -> QuerySet[DeviceGrant]:
    return DeviceGrant.objects.filter(Q(expires__lt=now) | Q(used_at__isnull=False))


def dead_id_tokens(now: Any) -> QuerySet[IDToken]:
    """ID tokens past the id_token_hint window that no access token points at (an access
    token's ``id_token`` cascades, so those go with their access token)."""
    return IDToken.objects.filter(created__lt=now - ID_TOKEN_KEPT).filter(
        ~Exists(AccessToken.objects.filter(id_token=OuterRef("pk")))
    )


def _delete_batch_by_subselect(dead: QuerySet[Any], batch_size: int) -> int:
    """One ``DELETE ... WHERE id IN (SELECT id ... LIMIT n)``: for tables no other row points
    at, nothing is read into Python."""
    model = dead.model
    batch = dead.order_by("pk").values("pk")[:batch_size]
    with transaction.atomic():
        return int(model.objects.filter(pk__in=batch)._raw_delete(model.objects.db))


def _delete_tokens_batch(
    dead: QuerySet[Any], batch_size: int, unhook: Callable[[list[int]], None]
) -> int:
    """For tokens other rows point at (DOT's ``SET_NULL`` between access and refresh tokens):
    lock one batch of ids (``SKIP LOCKED``: a token being rotated now is left for next time),
    unhook what points at them, delete them. The batch's ids are the only rows read."""
    model = dead.model
    with transaction.atomic():
        ids = list(
            dead.order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return 0
        unhook(ids)
        return int(model.objects.filter(pk__in=ids)._raw_delete(model.objects.db))


def _unhook_refresh_tokens(ids: list[int]) -> None:
    AccessToken.objects.filter(source_refresh_token_id__in=ids).update(source_refresh_token=None)


def _unhook_access_tokens(ids: list[int]) -> None:
    RefreshToken.objects.filter(access_token_id__in=ids).update(access_token=None)


PURGES: tuple[
    tuple[str, Callable[[Any], QuerySet[Any]], Callable[[list[int]], None] | None], ...
] = (
    # Refresh tokens before access tokens: deleting them frees access tokens they held.
    ("refresh_tokens", dead_refresh_tokens, _unhook_refresh_tokens),
    ("access_tokens", dead_access_tokens, _unhook_access_tokens),
    ("grants", dead_grants, None),
    ("device_grants", dead_device_grants, None),
    ("id_tokens", dead_id_tokens, None),
)


@shared_task(acks_late=True)
def purge_tokens(
    batch_size: int = PURGE_BATCH_SIZE, max_batches: int = PURGE_MAX_BATCHES
) -> dict[str, int]:
    """Delete dead tokens, grants and device codes in batches of ``batch_size`` (beat, every
    ten minutes). No ``COUNT(*)`` and never every row in memory (DOT's ``cleartokens`` does
    both). A kind that still returns full batches after ``max_batches`` queues another run.
    Safe to run twice at once: the batches of two runs skip each other's locked rows."""
    now = timezone.now()
    deleted: dict[str, int] = {}
    unfinished = False
    for name, dead, unhook in PURGES:
        total = 0
        for _ in range(max_batches):
            queryset = dead(now)
            if unhook is None:
                count = _delete_batch_by_subselect(queryset, batch_size)
            else:
                count = _delete_tokens_batch(queryset, batch_size, unhook)
            total += count
            if count < batch_size:
                break
        else:
            unfinished = True
        deleted[name] = total
    if unfinished:
        transaction.on_commit(
            lambda: purge_tokens.apply_async(args=(batch_size, max_batches), countdown=5),
            robust=True,
        )
    logger.info("purged %s", deleted)
    return deleted
