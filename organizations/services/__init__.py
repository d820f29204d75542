"""The write path for organizations: every change to an organization, its members,
invitations, domains and policy, one module per concept.

Each service takes the acting membership (or user) and the organization explicitly, checks
permission through ``organizations.permissions`` (``guards.require``), runs in its own durable
transaction (``config.refusals.service``) with its audit event, and defers email and Celery
jobs with ``transaction.on_commit``. Refusals raise ``config.refusals.Refusal``, on record when
they carry an audit action. The pieces services share (``guards.require``, ``members.join``,
``invitations.withdraw_invitations``) join their caller's transaction.

The names other apps call are re-exported here, so ``organizations.services.require`` and
friends stay one import away; code inside this app imports the concept's module.
"""

from organizations.services.acceptance import (
    accept_invitation,
    check_invitation,
    find_invitation,
    sign_up_from_invitation,
)
from organizations.services.active import (
    ACTIVE_ORG_SESSION_KEY,
    forget_active_org,
    switch_active_org,
)
from organizations.services.domains import (
    add_domain,
    auto_join_by_domain,
    remove_domain,
    verify_domain,
)
from organizations.services.guards import record_probe, require
from organizations.services.invitations import invite, resend_invitation, revoke_invitation
from organizations.services.members import (
    change_role,
    finish_deprovisioning,
    leave,
    remove_member,
    remove_member_by_staff,
    transfer_ownership,
)
from organizations.services.organizations import create_organization, update_organization
from organizations.services.policy import update_policy

__all__ = [
    "ACTIVE_ORG_SESSION_KEY",
    "accept_invitation",
    "add_domain",
    "auto_join_by_domain",
    "change_role",
    "check_invitation",
    "create_organization",
    "find_invitation",
    "finish_deprovisioning",
    "forget_active_org",
    "invite",
    "leave",
    "record_probe",
    "remove_domain",
    "remove_member",
    "remove_member_by_staff",
    "require",
    "resend_invitation",
    "revoke_invitation",
    "sign_up_from_invitation",
    "switch_active_org",
    "transfer_ownership",
    "update_organization",
    "update_policy",
    "verify_domain",
]
