"""Who may impersonate whom, for how long, and who must approve first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from accounts.models import User
from config.refusals import Refusal
from organizations.models import Membership, Organization, Role

PERMISSION = "accounts.impersonate_user"
# An impersonation lasts at most an hour; staff pick less when they can.
MAX_MINUTES = 60
DEFAULT_MINUTES = 30
MINUTE_CHOICES = (5, 15, 30, 45, 60)
# How long the approvers have to answer.
APPROVAL_WINDOW = timedelta(hours=24)


def may_impersonate(staff: Any) -> bool:
    """Staff with the permission (held by chosen staff, through a group or directly)."""
    return bool(
        getattr(staff, "is_authenticated", False)
        and staff.is_active
        and staff.is_staff
        and not staff.is_blocked
        and staff.has_perm(PERMISSION)
    )


def check_person(staff: User, person: User) -> None:
    """Refuse a person nobody may be impersonated as: staff and superusers (whose sessions
    open the admin), oneself, and accounts that are blocked, deactivated or erased."""
    if person.pk == staff.pk:
        raise Refusal("You cannot impersonate yourself.", status=400)
    if person.is_staff or person.is_superuser:
        raise Refusal("Staff accounts cannot be impersonated.", status=403)
    if person.erased_at is not None:
        raise Refusal("This account has been erased.", status=404)
    if person.is_blocked or not person.is_active:
        raise Refusal("Blocked or deactivated accounts cannot be impersonated.", status=403)


def check_minutes(minutes: Any) -> int:
    try:
        value = int(minutes)
    except (TypeError, ValueError):
        raise Refusal("Choose how long, in minutes.") from None
    if not 1 <= value <= MAX_MINUTES:
        raise Refusal(f"An impersonation lasts between 1 and {MAX_MINUTES} minutes.")
    return value


def organizations_asking_approval(person: User) -> list[Organization]:
    """The organizations the person is an active member of whose policy asks for approval."""
    return list(
        Organization.objects.filter(
            memberships__user=person,
            memberships__status=Membership.Status.ACTIVE,
            policy__impersonation_needs_approval=True,
        )
        .distinct()
        .order_by("pk")
    )


@dataclass(frozen=True)
class Approver:
    user: User
    organization: Organization | None  # None: the person, for themselves


def approvers(person: User, organizations: list[Organization]) -> list[Approver]:
    """Whom to ask: the owners and admins of each organization (never staff, nor a blocked
    account), and the person."""
    asked = [Approver(person, None)]
    admins = (
        Membership.objects.active()
        .filter(organization__in=organizations, role__in=(Role.OWNER, Role.ADMIN))
        .exclude(user=person)
        .filter(user__is_staff=False, user__is_blocked=False, user__erased_at__isnull=True)
        .select_related("user", "organization")
        .order_by("organization_id", "pk")
    )
    asked.extend(Approver(m.user, m.organization) for m in admins)
    return asked
