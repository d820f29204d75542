"""The write path for webhooks: endpoints, their secrets, resends and test events.

Who may call (``actor``):
- an organization's owner or admin (their ``Membership``, with ``Perm.MANAGE_INTEGRATIONS``):
  that organization's endpoints only;
- staff (a ``User`` with ``is_staff``; the admin checks its own model permissions): any
  endpoint, the operator's included;
- an app with a management API token (``ClientActor``; the API checked ``webhooks:write``):
  the endpoints of the organization it is bound to, or, unbound, any.

Each write is a ``@service`` and records a ``webhook.*`` audit event naming the endpoint by its
id and the URL by its host only (a receiver's URL may carry a token of its own). Secrets are
returned once and never recorded. A URL is checked before the transaction opens (the check
resolves the name: nothing remote inside a transaction), and again before every delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config import outbound
from config.refusals import NotFound, Refusal, service
from events import signing
from events.dispatch import TEST_EVENT_TYPE
from events.models import Delivery, Event, WebhookEndpoint, WebhookSecret
from events.registry import EVENT_TYPES
from organizations import permissions
from organizations.models import Membership, Organization
from organizations.permissions import Perm

MAX_OVERLAP_HOURS = 168
MAX_DESCRIPTION = 500
MAX_URL = 2048
NOT_ALLOWED = "You are not allowed to manage webhooks here."


@dataclass(frozen=True)
class WithSecret:
    """An endpoint and its new signing secret: shown to its owner this once."""

    endpoint: WebhookEndpoint
    secret: str


# --- Who may act -------------------------------------------------------------------------------


def _is_staff(actor: Any) -> bool:
    return isinstance(actor, User) and actor.is_active and actor.is_staff


def may_manage(actor: Any, organization_id: int | None) -> bool:
    """Whether ``actor`` may manage the endpoints of ``organization_id`` (None: the
    operator's)."""
    if _is_staff(actor):
        return True
    if isinstance(actor, Membership):
        return (
            organization_id is not None
            and actor.organization_id == organization_id
            and permissions.allowed(actor, Perm.MANAGE_INTEGRATIONS)
        )
    if permissions.is_app(actor):
        return actor.organization_id is None or actor.organization_id == organization_id
    return False


def audit_actor(actor: Any) -> Any:
    return actor.user if isinstance(actor, Membership) else actor


def _check(actor: Any, endpoint: WebhookEndpoint) -> None:
    """Refuse an actor who may not see the endpoint as if it did not exist (404)."""
    if not may_manage(actor, endpoint.organization_id):
        raise NotFound("No such webhook endpoint.")


def _locked(actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    _check(actor, endpoint)
    row = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
    if row is None:
        raise NotFound("No such webhook endpoint.")
    return row


def _audit(action: Action, actor: Any, endpoint: WebhookEndpoint, **data: Any) -> None:
    record(
        action,
        actor=audit_actor(actor),
        organization=endpoint.organization_id,
        target=endpoint,
        data={"endpoint": endpoint.public_id, **data},
    )


# --- Checking input ----------------------------------------------------------------------------


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def check_url(url: str, *, operator_owned: bool) -> str:
    """The URL, trimmed, if Gatehouse may send to it now; a clear refusal otherwise. An org's
    URL never gets a private address; the operator's may use OUTBOUND_ALLOWED_NETWORKS."""
    url = (url or "").strip()
    if not url:
        raise Refusal("Give the endpoint's URL.")
    if len(url) > MAX_URL:
        raise Refusal(f"Keep the URL under {MAX_URL} characters.")
    try:
        outbound.vet_url(url, operator_owned=operator_owned)
    except outbound.OutboundError as exc:
        raise Refusal(str(exc)) from None
    return url


def clean_event_types(event_types: Any) -> list[str]:
    """Known event type names, each once, sorted; an empty list means every type."""
    if event_types is None:
        return []
    if not isinstance(event_types, list | tuple) or not all(
        isinstance(name, str) for name in event_types
    ):
        raise Refusal("Event types are a list of names.")
    unknown = sorted(name for name in event_types if name not in EVENT_TYPES)
    if unknown:
        raise Refusal(f"Unknown event type: {unknown[0][:64]}.")
    return sorted(set(event_types))


def clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Refusal(f"Keep the description under {MAX_DESCRIPTION} characters.")
    return description


# --- Endpoints ---------------------------------------------------------------------------------


def create_endpoint(
    *,
    actor: Any,
    organization: Organization | None,
    url: str,
    description: str = "",
    event_types: list[str] | None = None,
) -> WithSecret:
    """Register an endpoint (``organization`` None: the operator's) and its first secret,
    returned this once."""
    org_id = organization.pk if organization is not None else None
    if not may_manage(actor, org_id):
        raise Refusal(NOT_ALLOWED, status=403)
    url = check_url(url, operator_owned=org_id is None)
    return _create(
        actor=actor,
        organization=organization,
        url=url,
        description=clean_description(description),
        event_types=clean_event_types(event_types),
    )


@service
def _create(
    *,
    actor: Any,
    organization: Organization | None,
    url: str,
    description: str,
    event_types: list[str],
) -> WithSecret:
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        url=url,
        description=description,
        event_types=event_types,
        created_by_text=(
            str(audit_actor(actor)) if not permissions.is_app(actor) else actor.audit_text
        )[:320],
    )
    secret = signing.new_secret()
    signing.store_secret(endpoint, secret)
    _audit(
        Action.WEBHOOK_ENDPOINT_CREATED,
        actor,
        endpoint,
        host=host_of(url),
        event_types=event_types,
    )
    return WithSecret(endpoint, secret)


_UNSET: Any = object()


def update_endpoint(
    *,
    actor: Any,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    description: str | None = None,
    event_types: list[str] | None = _UNSET,
) -> WebhookEndpoint:
    """Change what was given (None: keep). An empty list of types means every type."""
    _check(actor, endpoint)
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = check_url(url, operator_owned=endpoint.operator_owned)
    if description is not None:
        changes["description"] = clean_description(description)
    if event_types is not _UNSET:
        changes["event_types"] = clean_event_types(event_types)
    return _update(actor=actor, endpoint=endpoint, changes=changes)


@service
def _update(*, actor: Any, endpoint: WebhookEndpoint, changes: dict[str, Any]) -> WebhookEndpoint:
    row = _locked(actor, endpoint)
    changed = sorted(name for name, value in changes.items() if getattr(row, name) != value)
    if not changed:
        return row
    before_host = host_of(row.url)
    for name in changed:
        setattr(row, name, changes[name])
    row.updated_at = timezone.now()
    row.save()
    data: dict[str, Any] = {"fields": changed}
    if "url" in changed:
        data["host"] = {"from": before_host, "to": host_of(row.url)}
    if "event_types" in changed:
        data["event_types"] = row.event_types
    _audit(Action.WEBHOOK_ENDPOINT_UPDATED, actor, row, **data)
    return row


@service
def rotate_secret(*, actor: Any, endpoint: WebhookEndpoint, overlap_hours: int = 24) -> str:
    """A new signing secret, returned this once. The current one keeps signing (beside the
    new) for ``overlap_hours`` (0 to 168), so receivers can switch without losing a message;
    any older one stops now."""
    if isinstance(overlap_hours, bool) or not isinstance(overlap_hours, int):
        raise Refusal("The overlap is a whole number of hours.")
    if not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise Refusal(f"The overlap is between 0 and {MAX_OVERLAP_HOURS} hours.")
    row = _locked(actor, endpoint)
    now = timezone.now()
    live = WebhookSecret.objects.filter(endpoint=row).exclude(expires_at__lte=now)
    current = live.filter(expires_at__isnull=True).order_by("-created_at", "-id").first()
    if current is not None:
        live.exclude(pk=current.pk).update(expires_at=now)
        current.expires_at = now + timedelta(hours=overlap_hours)
        current.save(update_fields=["expires_at"])
    secret = signing.new_secret()
    signing.store_secret(row, secret)
    _audit(Action.WEBHOOK_SECRET_ROTATED, actor, row, overlap_hours=overlap_hours)
    return secret


@service
def disable(*, actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending to the endpoint: nothing new is dispatched to it and what waits is kept
    (pending deliveries resume when it is turned on again)."""
    row = _locked(actor, endpoint)
    if row.status == WebhookEndpoint.Status.DISABLED:
        return row
    row.status = WebhookEndpoint.Status.DISABLED
    row.disabled_reason = WebhookEndpoint.DisabledReason.BY_OWNER
    row.updated_at = timezone.now()
    row.save(update_fields=["status", "disabled_reason", "updated_at"])
    _audit(Action.WEBHOOK_ENDPOINT_DISABLED, actor, row, reason=row.disabled_reason)
    return row


@service
def enable(*, actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Send to the endpoint again, with a clean slate for the failure clock."""
    row = _locked(actor, endpoint)
    if row.status == WebhookEndpoint.Status.ENABLED:
        return row
    row.status = WebhookEndpoint.Status.ENABLED
    row.disabled_reason = WebhookEndpoint.DisabledReason.NONE
    row.failing_since = None
    row.updated_at = timezone.now()
    row.save(update_fields=["status", "disabled_reason", "failing_since", "updated_at"])
    _audit(Action.WEBHOOK_ENDPOINT_ENABLED, actor, row)
    return row


@service
def delete(*, actor: Any, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint with its secrets and delivery log."""
    row = _locked(actor, endpoint)
    _audit(Action.WEBHOOK_ENDPOINT_DELETED, actor, row, host=host_of(row.url))
    row.delete()


# --- Deliveries --------------------------------------------------------------------------------


@service
def resend(*, actor: Any, delivery: Delivery) -> Delivery:
    """Send a delivery's event to its endpoint again: a new delivery, due now, with the same
    ``webhook-id`` so that the receiver can tell it has seen it."""
    endpoint = _locked(actor, delivery.endpoint)
    if endpoint.status != WebhookEndpoint.Status.ENABLED:
        raise Refusal("Turn the endpoint on before sending to it again.", status=409)
    original = Delivery.objects.filter(pk=delivery.pk, endpoint=endpoint).first()
    if original is None:
        raise NotFound("No such delivery.")
    again = Delivery.objects.create(
        endpoint=endpoint, event_id=original.event_id, resend_of=original
    )
    _audit(
        Action.WEBHOOK_RESENT,
        actor,
        endpoint,
        delivery=original.public_id,
        resend=again.public_id,
    )
    _soon()
    return again


@service
def send_test(*, actor: Any, endpoint: WebhookEndpoint) -> Delivery:
    """Send a ``webhook.test`` event to this endpoint alone (the pipeline never dispatches
    that type to others)."""
    row = _locked(actor, endpoint)
    if row.status != WebhookEndpoint.Status.ENABLED:
        raise Refusal("Turn the endpoint on before testing it.", status=409)
    event = Event.objects.create(
        type=TEST_EVENT_TYPE,
        organization_id=row.organization_id,
        subject_type="webhookendpoint",
        subject_id=row.public_id,
        data={"endpoint": row.public_id, "message": "A test event from Gatehouse."},
    )
    delivery = Delivery.objects.create(endpoint=row, event=event)
    _audit(Action.WEBHOOK_TESTED, actor, row, delivery=delivery.public_id)
    _soon()
    return delivery


def _soon() -> None:
    """In embedded mode (eager tasks, no loop running) run one pass once this commits."""
    from events.pipeline import run_once_on_commit

    run_once_on_commit()


def selected(actor: Any) -> Any:
    """The endpoints ``actor`` may see (for lists)."""
    endpoints = WebhookEndpoint.objects.all()
    if _is_staff(actor):
        return endpoints
    if isinstance(actor, Membership):
        if not permissions.allowed(actor, Perm.MANAGE_INTEGRATIONS):
            return endpoints.none()
        return endpoints.for_org(actor.organization_id)
    if permissions.is_app(actor):
        bound = actor.organization_id
        return endpoints if bound is None else endpoints.for_org(bound)
    return endpoints.none()
