"""An organization's policy: second factors, sign-in methods, session lifetime, auto-join."""

from __future__ import annotations

from typing import Any

from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from organizations.models import LoginMethod, Organization, OrganizationPolicy, Role
from organizations.permissions import Actor, Perm
from organizations.services.guards import audit_actor, require

POLICY_FIELDS = frozenset(
    {
        "require_mfa",
        "risk_step_up",
        "allowed_login_methods",
        "sso_only",
        "session_lifetime_minutes",
        "auto_join_verified_domains",
        "default_role",
        "audit_retention_days",
        "impersonation_needs_approval",
    }
)
# A session lifetime is between 5 minutes and 90 days.
SHORTEST_SESSION, LONGEST_SESSION = 5, 60 * 24 * 90
# Audit events are kept 30 days to 10 years (or for ever); the database refuses less than 30.
SHORTEST_AUDIT_RETENTION, LONGEST_AUDIT_RETENTION = 30, 3650


def _cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` with the login methods normalised, or a refusal naming what is wrong."""
    unknown = set(changes) - POLICY_FIELDS
    if unknown:
        raise Refusal(f"Unknown policy settings: {', '.join(sorted(unknown))}.")
    methods = changes.get("allowed_login_methods")
    if methods is not None:
        valid = {m.value for m in LoginMethod}
        if not isinstance(methods, list) or not methods or not set(methods) <= valid:
            raise Refusal("Choose at least one of: password, code, passkey, sso.")
        changes = {**changes, "allowed_login_methods": sorted(set(methods))}
    lifetime = changes.get("session_lifetime_minutes")
    if lifetime is not None and not (SHORTEST_SESSION <= int(lifetime) <= LONGEST_SESSION):
        raise Refusal("A session lifetime is between 5 minutes and 90 days.")
    retention = changes.get("audit_retention_days")
    if retention is not None and not (
        SHORTEST_AUDIT_RETENTION <= int(retention) <= LONGEST_AUDIT_RETENTION
    ):
        raise Refusal("Audit events are kept between 30 days and 10 years (or for ever).")
    if changes.get("default_role") not in (None, Role.MEMBER, Role.ADMIN):
        raise Refusal("New members join as members or admins.")
    return changes


@service
def update_policy(*, actor: Actor, org: Organization, **changes: Any) -> OrganizationPolicy:
    """Save the given policy settings; the audit event lists only those that changed."""
    require(actor, org, Perm.MANAGE_POLICY, "update policy")
    policy = OrganizationPolicy.objects.select_for_update().get(organization=org)
    changes = _cleaned(changes)
    before = {name: getattr(policy, name) for name in changes}
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.save()
    diff = {k: v for k, v in changes.items() if before[k] != v}
    if diff:
        record(Action.ORG_POLICY_UPDATED, actor=audit_actor(actor), organization=org, data=diff)
    return policy
