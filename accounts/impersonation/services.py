"""The write path of impersonation: ask (and, where a policy says so, wait for approval),
approve or refuse by an emailed link, start, end, and expire.

The staff member is the actor of every audit event and the person its target, so the
impersonation shows in both their trails; events about an organization whose policy asked for
approval carry that organization too, so its admins read them in their own log.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.impersonation import rules
from accounts.impersonation.models import ApprovalLink, Impersonation
from accounts.models import User
from accounts.services import clean_reason, outside_a_request
from audit.actions import Action
from audit.services import record
from config import encryption
from config.refusals import NotFound, Refusal, service
from organizations.models import Organization

Status = Impersonation.Status


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def approval_url(token: str) -> str:
    path = reverse("impersonation:approve", kwargs={"token": token})
    return settings.GATEHOUSE_PUBLIC_URL.rstrip("/") + path


def _summary(imp: Impersonation) -> dict[str, Any]:
    return {"impersonation": str(imp.public_id), "reason": imp.reason, "minutes": imp.minutes}


def _asking_organizations(imp: Impersonation) -> list[Organization]:
    """The organizations whose admins were asked to approve ``imp`` (none without approval)."""
    ids = {
        link.organization_id
        for link in imp.approval_links.all()
        if link.organization_id is not None
    }
    return list(Organization.objects.filter(pk__in=ids).order_by("pk"))


def _record_for_each(
    action: Action, imp: Impersonation, *, actor: Any, data: dict[str, Any], orgs: list[Any]
) -> None:
    """One event per organization concerned (each reads its own log), or one without any."""
    for org in orgs or [None]:
        record(action, actor=actor, target=imp.person, organization=org, data=data)


def _email_to(user: User) -> str:
    from accounts.mfa.services.recovery import verified_addresses

    addresses = verified_addresses(user)
    return addresses[0] if addresses else ""


# --- Asking ---------------------------------------------------------------------------------


@service
def ask(*, staff: User, person: User, reason: str, minutes: Any) -> Impersonation:
    """Ask to impersonate ``person``. Ready to start at once (``APPROVED``) unless one of the
    person's organizations asks for approval: then each approver (the organizations' owners
    and admins, and the person) is emailed a link of their own, good for a day and once."""
    if not rules.may_impersonate(staff):
        raise Refusal("You do not have permission to impersonate people.", status=403)
    reason = clean_reason(reason)
    minutes = rules.check_minutes(minutes)
    person = User.objects.select_for_update().get(pk=person.pk)
    rules.check_person(staff, person)
    orgs = rules.organizations_asking_approval(person)
    now = timezone.now()
    imp = Impersonation.objects.create(
        staff=staff,
        person=person,
        reason=reason,
        minutes=minutes,
        status=Status.AWAITING_APPROVAL if orgs else Status.APPROVED,
        needs_approval=bool(orgs),
        requested_at=now,
        approval_expires_at=now + rules.APPROVAL_WINDOW if orgs else None,
    )
    if not orgs:
        return imp
    asked = 0
    context = {"impersonation": imp, "staff": staff, "person": person}
    with outside_a_request():
        for approver in rules.approvers(person, orgs):
            address = _email_to(approver.user)
            if not address:
                continue
            token = secrets.token_urlsafe(32)
            ApprovalLink.objects.create(
                impersonation=imp,
                token_digest=token_digest(token),
                approver=approver.user,
                organization=approver.organization,
            )
            get_adapter().send_mail(
                "accounts/email/impersonation_approval",
                address,
                {
                    **context,
                    "organization": approver.organization,
                    "for_themselves": approver.organization is None,
                    "approve_url": approval_url(token),
                    "expires_at": imp.approval_expires_at,
                },
            )
            asked += 1
    if not asked:
        raise Refusal(
            "Nobody can approve this: neither the person nor their organization's admins have "
            "a verified email address.",
            status=409,
        )
    data = {**_summary(imp), "approvers_asked": asked}
    _record_for_each(Action.IMPERSONATION_REQUESTED, imp, actor=staff, data=data, orgs=orgs)
    return imp


# --- Approving or refusing --------------------------------------------------------------------


def link_for_token(token: str) -> ApprovalLink:
    """The approval link ``token`` opens, while it can still decide; refused otherwise."""
    link = (
        ApprovalLink.objects.select_related(
            "impersonation__staff", "impersonation__person", "approver", "organization"
        )
        .filter(token_digest=token_digest(token or ""))
        .first()
    )
    if link is None:
        raise NotFound("This approval link is not valid.")
    imp = link.impersonation
    if link.used_at is not None or imp.status != Status.AWAITING_APPROVAL:
        raise Refusal("This request has already been answered.", status=410)
    if imp.approval_expires_at is None or timezone.now() >= imp.approval_expires_at:
        raise Refusal("This approval link has expired.", status=410)
    return link


@service
def decide(*, token: str, approve: bool) -> Impersonation:
    """Approve or refuse by an emailed link, once. A refusal by any approver ends the
    request; the person's approval is enough, otherwise an admin of every organization that
    asks for approval must approve."""
    link = link_for_token(token)
    imp = Impersonation.objects.select_for_update().get(pk=link.impersonation_id)
    link = ApprovalLink.objects.select_for_update().get(pk=link.pk)
    if link.used_at is not None or imp.status != Status.AWAITING_APPROVAL:
        raise Refusal("This request has already been answered.", status=410)
    now = timezone.now()
    link.used_at = now
    link.decision = "approved" if approve else "refused"
    link.save(update_fields=["used_at", "decision"])
    orgs = [link.organization] if link.organization is not None else []
    data = {**_summary(imp), "approver": link.approver.email}
    if not approve:
        imp.status = Status.REFUSED
        imp.decided_at = now
        imp.decided_by_text = link.approver.email[:320]
        imp.save(update_fields=["status", "decided_at", "decided_by_text"])
        record(
            Action.IMPERSONATION_REFUSED,
            actor=link.approver,
            target=imp.person,
            organization=link.organization,
            data=data,
        )
        return imp
    links = list(imp.approval_links.all())
    needed = {lk.organization_id for lk in links if lk.organization_id is not None}
    approved = {lk.organization_id for lk in links if lk.decision == "approved"}
    complete = link.organization is None or needed <= approved
    if complete:
        imp.status = Status.APPROVED
        imp.decided_at = now
        imp.decided_by_text = link.approver.email[:320]
        imp.save(update_fields=["status", "decided_at", "decided_by_text"])
    record(
        Action.IMPERSONATION_APPROVED,
        actor=link.approver,
        target=imp.person,
        organization=orgs[0] if orgs else None,
        data={**data, "complete": complete},
    )
    return imp


# --- Starting and ending ----------------------------------------------------------------------


@service
def start(*, impersonation: Impersonation, staff: User, staff_session_key: str) -> Impersonation:
    """Begin an approved impersonation now, for its minutes, keeping the staff member's own
    session key (encrypted) to give back at the end."""
    imp = (
        Impersonation.objects.select_for_update().select_related("person").get(pk=impersonation.pk)
    )
    if imp.staff_id != staff.pk:
        raise NotFound()
    if not rules.may_impersonate(staff):
        raise Refusal("You do not have permission to impersonate people.", status=403)
    if imp.status != Status.APPROVED:
        raise Refusal(f"This impersonation cannot start: {imp.get_status_display().lower()}.")
    now = timezone.now()
    if imp.needs_approval and (imp.approval_expires_at is None or now >= imp.approval_expires_at):
        raise Refusal("The approval has lapsed: ask again.", status=410)
    person = User.objects.select_for_update().get(pk=imp.person_id)
    rules.check_person(staff, person)
    imp.status = Status.ACTIVE
    imp.started_at = now
    imp.ends_at = now + timedelta(minutes=imp.minutes)
    imp.staff_session_key = encryption.encrypt(staff_session_key)
    imp.save(update_fields=["status", "started_at", "ends_at", "staff_session_key"])
    data = {**_summary(imp), "ends_at": imp.ends_at.isoformat()}
    orgs = _asking_organizations(imp)
    _record_for_each(Action.IMPERSONATION_STARTED, imp, actor=staff, data=data, orgs=orgs)
    return imp


@service
def finish(*, impersonation: Impersonation, expired: bool, provider_sid: str = "") -> str:
    """End an active impersonation (``expired``: its time ran out). Returns the staff
    member's own session key to give back ("" when it was already ended). The tokens apps
    got through the impersonated session end with it; a person whose approval was not asked
    is told now, by email, who signed in as them, why, and from when to when."""
    imp = (
        Impersonation.objects.select_for_update()
        .select_related("staff", "person")
        .get(pk=impersonation.pk)
    )
    if imp.status != Status.ACTIVE:
        return ""
    now = timezone.now()
    imp.status = Status.EXPIRED if expired else Status.ENDED
    imp.ended_at = min(now, imp.ends_at) if expired and imp.ends_at else now
    key = encryption.decrypt(imp.staff_session_key) if imp.staff_session_key else ""
    imp.staff_session_key = ""
    notify = not imp.needs_approval
    imp.person_notified = notify
    imp.save(update_fields=["status", "ended_at", "staff_session_key", "person_notified"])
    if provider_sid:
        from provider.services.sessions import end_provider_session

        end_provider_session(sid=provider_sid, user=imp.person)
    if notify:
        _tell_person(imp)
    action = Action.IMPERSONATION_EXPIRED if expired else Action.IMPERSONATION_ENDED
    data = {
        **_summary(imp),
        "started_at": imp.started_at.isoformat() if imp.started_at else "",
        "ended_at": imp.ended_at.isoformat(),
        "person_notified": notify,
    }
    _record_for_each(action, imp, actor=imp.staff, data=data, orgs=_asking_organizations(imp))
    return key


def _tell_person(imp: Impersonation) -> None:
    from accounts.mfa.services.recovery import tell_every_address

    tell_every_address(
        imp.person,
        "impersonation_notice",
        {
            "impersonation": imp,
            "staff_name": imp.staff.display_name or imp.staff.email,
            "reason": imp.reason,
            "started_at": imp.started_at,
            "ended_at": imp.ended_at,
        },
    )


def expire_overdue(*, batch: int = 200) -> int:
    """End the impersonations whose time ran out while nobody made a request (the beat job).
    The staff member's waiting session is deleted: they sign in again."""
    from importlib import import_module

    store = import_module(settings.SESSION_ENGINE).SessionStore
    due = list(
        Impersonation.objects.filter(status=Status.ACTIVE, ends_at__lte=timezone.now())
        .order_by("ends_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in due:
        key = finish(impersonation=Impersonation(pk=pk), expired=True)
        if key:
            store(key).delete()
    return len(due)
