"""The device authorization grant (RFC 8628): codes, the token endpoint's polling rules, and
the person's approval on /device.

DOT 3.4.1's device flow does not run on oauthlib 4 (its views pass oauthlib's new ``scope``
to a dataclass that has none, and it never implements ``validate_device_code``), stores both
codes in clear and lets an approved device code be redeemed again and again. Gatehouse keeps
DOT's model (swapped, codes hashed) and does the rest here:

- the device code is claimed by one conditional UPDATE, so it yields tokens once;
- polling faster than the interval answers ``slow_down``;
- user codes are 8 letters from a 20-letter alphabet without vowels (about 34 bits, RFC 8628
  6.1), entered on a page that counts wrong guesses per person and per address.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from oauthlib.oauth2.rfc8628.grant_types.device_code import DeviceCodeGrant

from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from provider.models import Application, DeviceGrant
from provider.services.authorizations import grant_authorization

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
DEVICE_CODE_SECONDS = 600
POLL_INTERVAL = 5
AUTH_CONTEXT_FIELDS = ("sid", "auth_time", "amr", "acr", "organization_id")


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def shown(user_code: str) -> str:
    """How a person reads and types it: two groups of four."""
    return f"{user_code[:4]}-{user_code[4:]}"


def normalise(typed: str) -> str:
    """What a person typed, as stored: capitals, no dashes or spaces; '' if it cannot be one."""
    code = "".join(ch for ch in (typed or "").upper() if ch.isalnum())
    if len(code) != USER_CODE_LENGTH or any(ch not in USER_CODE_ALPHABET for ch in code):
        return ""
    return code


def pending(user_code: str) -> DeviceGrant | None:
    """The waiting request with this user code, if it is still waiting."""
    code = normalise(user_code)
    if not code:
        return None
    grant = (
        DeviceGrant.objects.filter(
            user_code=code, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
        )
        .select_related("api")
        .first()
    )
    return grant


class DeviceCodeValidation:
    """The validator's part of the device flow (mixed into ``GatehouseValidator``)."""

    def validate_device_code(self, client_id: str, code: str, request: Any) -> str | None:
        """The status of ``code`` for this client, as oauthlib 4 asks for it; None is an
        unknown code (``invalid_grant``). An approved code is claimed here, once."""
        if not isinstance(code, str) or not code:
            return None
        grant = (
            DeviceGrant.objects.filter(device_code=code, client_id=client_id)
            .select_related("user", "api")
            .first()
        )
        if grant is None or grant.used_at is not None:
            return None
        now = timezone.now()
        if grant.expires <= now:
            return DeviceCodeGrant.DEVICE_CODE_EXPIRED
        if grant.status == DeviceGrant.DENIED:
            return DeviceCodeGrant.DEVICE_CODE_DENIED
        if grant.status == DeviceGrant.AUTHORIZATION_PENDING:
            # One UPDATE both records this poll and tells whether the last was long enough ago.
            on_time = DeviceGrant.objects.filter(
                pk=grant.pk, last_checked__lte=now - timedelta(seconds=grant.interval)
            ).update(last_checked=now)
            if not on_time:
                DeviceGrant.objects.filter(pk=grant.pk).update(last_checked=now)
                return DeviceCodeGrant.DEVICE_CODE_SLOW_DOWN
            return DeviceCodeGrant.DEVICE_CODE_PENDING
        if grant.status != DeviceGrant.AUTHORIZED:
            return None
        from provider.validator.common import may_act  # the validator package imports this one

        if grant.user is None or not may_act(grant.user):
            # Blocked, deactivated or erased since approving: the device gets nothing.
            return DeviceCodeGrant.DEVICE_CODE_DENIED
        claimed = DeviceGrant.objects.filter(
            pk=grant.pk, status=DeviceGrant.AUTHORIZED, used_at__isnull=True
        ).update(used_at=now, last_checked=now)
        if not claimed:
            return None
        request.user = grant.user
        request.scopes = grant.scope.split()
        request.api = grant.api
        request.resource = [grant.api.identifier] if grant.api is not None else []
        request.family = uuid.uuid4()
        request.device_grant = grant
        request.auth_context = {field: getattr(grant, field) for field in AUTH_CONTEXT_FIELDS}
        return DeviceCodeGrant.DEVICE_CODE_AUTHORIZED


@service
def create_device_request(
    *, client: Any, scopes: list[str], api: Any
) -> tuple[DeviceGrant, str, str]:
    """A new waiting request: the stored row and its device and user codes in clear (the
    row keeps only their hashes). Retries on the rare user-code collision."""
    device_code = secrets.token_urlsafe(32)
    for _ in range(5):
        user_code = new_user_code()
        if not DeviceGrant.objects.filter(
            user_code=user_code, status=DeviceGrant.AUTHORIZATION_PENDING
        ).exists():
            break
    grant = DeviceGrant.objects.create(
        client_id=client.client_id,
        device_code=device_code,
        user_code=user_code,
        scope=" ".join(scopes),
        interval=POLL_INTERVAL,
        expires=timezone.now() + timedelta(seconds=DEVICE_CODE_SECONDS),
        api=api,
    )
    return grant, device_code, user_code


@service(durable=False)
def deny_approved_devices(*, user: Any) -> int:
    """Approved device requests not yet redeemed end with the person's other tokens (block,
    sign-out everywhere, password reset, erasure): the device's next poll is
    ``access_denied``."""
    return DeviceGrant.objects.filter(
        user=user, status=DeviceGrant.AUTHORIZED, used_at__isnull=True
    ).update(status=DeviceGrant.DENIED)


@service
def decide(*, grant: DeviceGrant, user: Any, approve: bool, auth_context: dict[str, Any]) -> bool:
    """The signed-in person approves (or denies) the waiting request; approving a
    third-party app is remembered as its ``Authorization``, with the consent-ledger entry.
    False when it was no longer waiting (decided in another tab, or expired)."""
    fields: dict[str, Any] = {"status": DeviceGrant.AUTHORIZED if approve else DeviceGrant.DENIED}
    if approve:
        fields |= {"user": user, **auth_context}
    changed = DeviceGrant.objects.filter(
        pk=grant.pk, status=DeviceGrant.AUTHORIZATION_PENDING, expires__gt=timezone.now()
    ).update(**fields)
    if not changed:
        return False
    application = Application.objects.filter(client_id=grant.client_id).first()
    if approve and application is not None and not application.first_party:
        # The /device confirmation is this app's consent screen: remembered, and in the
        # consent ledger, as an Allow at /o/authorize/ is (and removable on /account/apps/).
        grant_authorization(
            user=user,
            application=application,
            scopes=grant.scope.split(),
        )
    record(
        Action.OAUTH_DEVICE_APPROVED if approve else Action.OAUTH_DEVICE_DENIED,
        actor=user,
        data={"client_id": grant.client_id, "scopes": grant.scope},
    )
    return True


def refuse_guessing(*, user: Any, ip: str | None) -> None:
    """Wrong user codes count against the person and the address: 10 in 10 minutes."""
    from accounts.ratelimits import Limit, spend

    for key in (f"device-code:user:{user.pk}", f"device-code:ip:{ip or '-'}"):
        spent = spend(key, Limit(10, 600))
        if not spent.allowed:
            raise Refusal(
                "Too many wrong codes. Wait a few minutes and try again.",
                status=429,
                retry_after=spent.retry_after,
            )
