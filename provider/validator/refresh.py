"""The refresh grant: the token read once with everything its checks need, and the rotation
written in one statement.

Checks, in order (each a refusal, ``invalid_grant``):
- a refresh token already revoked was spent (or ended): presenting it again revokes the rest
  of its family (``revoke_refresh_family``), whichever client presents it. No grace period:
  Gatehouse pins ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` to 0;
- it belongs to the client that authenticated;
- it still has its access token (one revoked alone leaves the refresh token an orphan), and
  it is used within the idle limit after that access token's expiry;
- its family is within its absolute deadline;
- the person may still act (not blocked, not deactivated);
- for a token for an API: the client still has access to that API, with every permission
  the token carries.

The rotation (``rotate``): the old refresh token is marked revoked only if it still is live
and still holds the access token read above; its access token is deleted; the new ID token
(if any), access token, refresh token and the issuance's audit event are inserted. On
PostgreSQL that is one statement, atomic without a transaction around it; if the guard
matches nothing (a concurrent request spent the token, or a revocation committed since it
was read) nothing is written, the family is revoked, and the request is refused.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone
from oauth2_provider.models import refresh_token_expire_timedelta
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from accounts import login_writes
from audit.actions import Action
from audit.services import build as build_event
from provider.models import AccessToken, ApiAccess, IDToken, RefreshToken
from provider.services.revocation import revoke_refresh_family
from provider.validator.common import (
    AUTH_CONTEXT_FIELDS,
    OIDC_SCOPE_NAMES,
    RefusedWhileSaving,
    issuance,
    may_act,
    requested_resources,
    stamp_of,
)
from provider.validator.compiled import CompiledRead, Param


class RefreshRules(OAuth2Validator):
    def validate_refresh_token(
        self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not isinstance(refresh_token, str) or not refresh_token:
            return False
        rt = _read(refresh_token, client)
        if rt is None:
            return False
        if rt.revoked is not None:
            revoke_refresh_family(family=rt.token_family, client_id=client.client_id)
            return False
        now = timezone.now()
        access = rt.access_token
        idle = refresh_token_expire_timedelta()
        if (
            rt.application_id != client.pk
            or access is None
            or (idle and access.expires + idle <= now)
            or (rt.family_expires_at is not None and rt.family_expires_at <= now)
            or not may_act(rt.user)
        ):
            return False
        if rt.api_id is not None:
            # The operator may since have taken the API, or some of its permissions, away.
            granted = set(access.scope.split()) - OIDC_SCOPE_NAMES
            allowed = getattr(rt, "access_scopes", None)
            if allowed is None or not granted <= set(allowed):
                return False
        named = requested_resources(request)
        if named and named != list(rt.resource or []):
            raise errors.CustomOAuth2Error(
                error="invalid_target",
                description="The refresh token was issued for another resource.",
                request=request,
            )
        request.user = rt.user
        request.refresh_token = refresh_token
        request.refresh_token_instance = rt
        request.resource = list(rt.resource or [])
        request.api = rt.api
        request.family = rt.token_family
        request.family_expires_at = rt.family_expires_at
        request.auth_context = {field: getattr(rt, field) for field in AUTH_CONTEXT_FIELDS}
        return True

    def get_original_scopes(
        self, refresh_token: str, request: Any, *args: Any, **kwargs: Any
    ) -> str:
        return str(request.refresh_token_instance.access_token.scope)

    def rotate(self, token: dict[str, Any], request: Any) -> None:
        """Spend the refresh token read by ``validate_refresh_token`` and save its successors
        (module docstring); ``RefusedWhileSaving`` when it was no longer there to spend."""
        previous: RefreshToken = request.refresh_token_instance
        client, api = request.client, getattr(request, "api", None)
        stamp = stamp_of(request)
        now = timezone.now()
        id_token = getattr(request, "pending_id_token", None)
        access = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=now + timedelta(seconds=int(token["expires_in"])),
            id_token=id_token,
            application=client,
            source_refresh_token=previous,
            resource=request.resource,
            family=previous.token_family,
            jti=getattr(request, "jti", "") or "",
            **stamp,
        )
        self._set_token_value(access, token["access_token"])
        refresh = RefreshToken(
            user=request.user,
            application=client,
            access_token=access,
            token_family=previous.token_family,
            family_expires_at=previous.family_expires_at,
            resource=request.resource,
            **stamp,
        )
        self._set_token_value(refresh, token["refresh_token"])
        event = build_event(
            Action.OAUTH_TOKEN_ISSUED,
            actor=request.user,
            organization=client.organization_id,
            data=issuance(client, request, token, api),
        )
        if not _write(previous, now, id_token, access, refresh, event):
            revoke_refresh_family(family=previous.token_family, client_id=client.client_id)
            raise RefusedWhileSaving(request=request)
        request.refresh_token_instance = None


def _refresh_token_query(checksum: str, client_pk: int) -> QuerySet[RefreshToken]:
    access_scopes = ApiAccess.objects.filter(application_id=client_pk, api_id=OuterRef("api_id"))
    return (
        RefreshToken.objects.filter(token_checksum=checksum)
        .select_related("access_token", "user", "api")
        .annotate(access_scopes=Subquery(access_scopes.values("scopes")[:1]))
        # Rows may share a checksum (unique with ``revoked``): the live one first.
        .order_by(F("revoked").desc(nulls_first=True))
    )


_REFRESH_TOKEN = CompiledRead(_refresh_token_query, Param("checksum"), Param("client_pk", int))


def _read(value: str, client: Any) -> RefreshToken | None:
    """The refresh token, its access token, person and API, and what the client may still
    have of that API (``access_scopes``, None without access), in one statement."""
    checksum = hashlib.sha256(value.encode()).hexdigest()
    return _REFRESH_TOKEN.first(checksum=checksum, client_pk=client.pk)  # type: ignore[no-any-return]


def _write(
    previous: RefreshToken,
    now: Any,
    id_token: IDToken | None,
    access: AccessToken,
    refresh: RefreshToken,
    event: Any,
) -> bool:
    if connection.vendor != "postgresql":
        return _write_in_steps(previous, now, id_token, access, refresh, event)
    sql, params = _one_statement(previous, now, id_token, access, refresh, event)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        written = cursor.fetchone()
    if written is None:
        return False
    access.pk, refresh.pk = written[0], written[1]
    if id_token is not None:
        id_token.pk = written[2]
    for row in (id_token, access, refresh, event):
        if row is not None:
            row._state.adding = False
            row._state.db = connection.alias
    return True


def _one_statement(
    previous: RefreshToken,
    now: Any,
    id_token: IDToken | None,
    access: AccessToken,
    refresh: RefreshToken,
    event: Any,
) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    rt_table, at_table = quote(RefreshToken._meta.db_table), quote(AccessToken._meta.db_table)
    # UPDATE and DELETE read only their own parameters: the statement text is constant.
    parts = [
        (
            f"spent AS (UPDATE {rt_table} SET revoked = %s, updated = %s, access_token_id = NULL "  # noqa: S608
            "WHERE id = %s AND revoked IS NULL AND access_token_id = %s RETURNING id)",
            [now, now, previous.pk, previous.access_token_id],
        ),
        (
            f"ended AS (DELETE FROM {at_table} WHERE id = %s AND EXISTS (SELECT 1 FROM spent))",  # noqa: S608
            [previous.access_token_id],
        ),
    ]
    # The new refresh token carries its access token's person, client, API, resource and
    # sign-in context: read back from the access token's row, not sent twice. (psycopg parses
    # a statement once per process only up to 50 parameters.)
    shared = ("user_id", "application_id", "resource", *_CONTEXT_COLUMNS)
    access_links = {"source_refresh_token_id": "spent.id"}
    access_source = "spent"
    if id_token is not None:
        parts.append(
            _part(
                "id_token",
                id_token,
                "spent",
                {},
                returning=("id", "user_id", "application_id", "sid"),
            )
        )
        access_links.update(
            {
                "id_token_id": "id_token.id",
                "user_id": "id_token.user_id",
                "application_id": "id_token.application_id",
                "sid": "id_token.sid",
            }
        )
        access_source = "spent, id_token"
    parts.append(_part("access", access, access_source, access_links, returning=("id", *shared)))
    refresh_links = {"access_token_id": "access.id", **{c: f"access.{c}" for c in shared}}
    parts.append(_part("refresh", refresh, "access", refresh_links, returning=("id",)))
    parts.append(_part("event", event, "refresh", {}, returning=()))
    ids = "access.id, refresh.id, " + ("id_token.id" if id_token is not None else "NULL")
    sources = "access, refresh" + (", id_token" if id_token is not None else "")
    # Only constant names and the parts' own text (themselves built from model metadata).
    sql = "WITH " + ", ".join(sql for sql, _ in parts) + f" SELECT {ids} FROM {sources}"  # noqa: S608
    return sql, [param for _, part_params in parts for param in part_params]


# Columns of AuthContext (provider.models.tokens) that every token of a grant shares.
_CONTEXT_COLUMNS = ("sid", "auth_time", "amr", "acr", "organization_id", "api_id", "act_sub")


def _part(
    name: str, row: Any, source: str, links: dict[str, str], *, returning: tuple[str, ...]
) -> tuple[str, list[Any]]:
    sql, params = login_writes.insert_select(row, source=source, links=links)
    if returning:
        sql += " RETURNING " + ", ".join(returning)
    return f"{name} AS ({sql})", params


def _write_in_steps(
    previous: RefreshToken,
    now: Any,
    id_token: IDToken | None,
    access: AccessToken,
    refresh: RefreshToken,
    event: Any,
) -> bool:
    """The same writes as separate statements in one transaction (SQLite, the embedded mode)."""
    if previous.access_token_id is None:
        return False  # validate_refresh_token refuses an orphan; never spend one here
    with transaction.atomic():
        spent = RefreshToken.objects.filter(
            pk=previous.pk, revoked__isnull=True, access_token_id=previous.access_token_id
        ).update(revoked=now, updated=now, access_token=None)
        if not spent:
            return False
        AccessToken.objects.filter(pk=previous.access_token_id)._raw_delete(connection.alias)
        if id_token is not None:
            id_token.save(force_insert=True)
            access.id_token = id_token
        access.save(force_insert=True)
        refresh.access_token = access
        refresh.save(force_insert=True)
        event.save()
    return True
