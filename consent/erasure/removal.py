"""Step 3 of the job: what happens to each kind of row that holds the person's data.

Their own rows are deleted, app by app; the account becomes a tombstone that audit and consent
rows keep pointing at; consent events stay as evidence without where they came from. Everything
here runs in the job's last transaction (consent.erasure.job).
"""

from __future__ import annotations

import uuid

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.db.models import Q
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnUserHandle

from accounts.mfa.policy import DEVICE_MODELS
from accounts.models import (
    ApprovalLink,
    Impersonation,
    ImportedIdentity,
    KnownSign,
    MFAReset,
    OutboundEmail,
    SignInRisk,
    User,
)
from accounts.profiling.services import erase_answers
from audit.actions import Action
from audit.services import record
from consent import evidence
from consent.addresses import any_address
from consent.erasure.identifiers import ERASED_DOMAIN, Identifiers
from consent.models import ConsentState, ExportArchive
from organizations.models import Invitation, Membership

# Who the audit log says acted, for what the job does.
JOB_ACTOR = "erasure job"

# What erasure does with each kind of row that the export covers or leaves out on purpose
# (consent.export.sections.SECTIONS and NOT_EXPORTED): a test fails when a model is in one list
# and not here. docs/consent-and-privacy.md explains the choices.
WHAT_HAPPENS: dict[str, str] = {
    "accounts.User": "kept as a tombstone: random address, no name, no password, inactive, "
    "no staff powers, new public id; audit and consent rows still point at it",
    "accounts.User_groups": "cleared",
    "accounts.User_user_permissions": "cleared",
    "account.EmailAddress": "deleted",
    "accounts.ProfileAnswer": "deleted",
    "organizations.Membership": "deleted, with org.member_erased in the organization's log",
    "organizations.Invitation": "open ones to their addresses deleted; used or revoked ones "
    "get an erased address; ones they sent stay, pointing at the tombstone",
    "usersessions.UserSession": "ended (the session store entry goes too) and deleted",
    "accounts.SignInRisk": "deleted",
    "accounts.KnownSign": "deleted",
    "socialaccount.SocialAccount": "deleted, with its tokens and SSO confirmations",
    "consent.ConsentEvent": "kept as evidence without IP address or browser, then deleted "
    "after GATEHOUSE_CONSENT_EVIDENCE_DAYS",
    "consent.ConsentState": "deleted",
    "consent.DataSubjectRequest": "kept as proof the request was honoured; archives deleted",
    "accounts.OutboundEmail": "deleted when sent to their addresses; others that name them "
    "are rewritten",
    "audit.AuditEvent": "kept, with their addresses and name replaced by the pseudonym",
    "admin.LogEntry": "kept, with their addresses (and name, on their own record) replaced",
    "django_otp_webauthn.WebAuthnUserHandle": "deleted",
    "accounts.MFAReset": "theirs deleted (the audit log keeps the facts, pseudonymised); ones "
    "they scheduled as staff stay, pointing at the tombstone",
    "sso.Connection": "kept: who configured it now points at the tombstone",
    "sso.Directory": "kept: who turned it on now points at the tombstone",
    "audit.AuditExport": "kept until it expires: who asked for it now points at the tombstone",
    "audit.AuditVerification": "kept: who asked for the check now points at the tombstone",
    "sso.DirectoryToken": "kept: who made it now points at the tombstone",
    "sso.ScimUser": "kept as the organization's own directory record, no longer linked to the "
    "account and marked detached, so the directory makes no new account from it",
    "consent.PolicyVersion": "kept: who drafted it now points at the tombstone",
    "provider.Application": "kept: who registered it now points at the tombstone",
    "accounts.ImportedIdentity": "deleted (a later import of an old file would bring the "
    "person back as a new account: operators drop erased people from their files)",
    "accounts.Impersonation": "support's sessions as them deleted, with their approval links "
    "(the audit log keeps the facts, pseudonymised); ones they made as staff stay, pointing at "
    "the tombstone",
    "accounts.ApprovalLink": "links sent to them to approve deleted",
    **{
        f"provider.{name}": "deleted: every token stops working at once"
        for name in ("AccessToken", "RefreshToken", "IDToken", "Grant", "DeviceGrant")
    },
    "provider.Authorization": "deleted (the apps lose access; the consent ledger records "
    "each withdrawal when the job starts)",
    "provider.ProviderSession": "deleted",
    **{model._meta.label: "deleted" for model in DEVICE_MODELS.values()},
}


def tombstone(user: User, pseudonym: str) -> None:
    """Turn the account into what stays of it: no address, name, password or powers."""
    user.email = f"{pseudonym}@{ERASED_DOMAIN}"
    user.display_name = ""
    user.blocked_reason = ""
    user.set_unusable_password()  # every session's auth hash stops matching too
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.mfa_required = False
    user.last_login = None
    user.public_id = uuid.uuid4()
    user.erased_at = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def delete_their_rows(user: User, identifiers: Identifiers, pseudonym: str) -> dict[str, int]:
    """Delete (or, where evidence must stay, strip) the person's rows. Returns how many of
    each kind, for the audit event that closes the erasure."""
    return {
        **_organizations(user, identifiers, pseudonym),
        **_accounts(user, identifiers),
        **_consent(user, pseudonym),
        **_provider(user),
        **_events(user, identifiers),
    }


def _organizations(user: User, identifiers: Identifiers, pseudonym: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for membership in Membership.objects.filter(user=user).select_related("organization"):
        membership.user = user  # the tombstone, so the event names the pseudonym
        if membership.status == Membership.Status.ACTIVE:
            record(
                Action.ORG_MEMBER_ERASED,
                actor_text=JOB_ACTOR,
                target=membership,
                organization=membership.organization,
                data={"role": membership.role, "user": pseudonym},
            )
    counts["memberships"] = Membership.objects.filter(user=user).delete()[0]
    # The organization's directory keeps its record of them (its own data), unlinked; detached,
    # so the directory's next update does not make them an account again.
    counts["directory_records_unlinked"] = (
        apps.get_model("sso", "ScimUser")
        .objects.filter(user=user)
        .update(user=None, link_state="detached")
    )
    # Only addresses they proved they held: an address someone added without proving it may be
    # a stranger's, whose invitations are not the person's to erase.
    invitations = Invitation.objects.filter(
        any_address("email", identifiers.everywhere) | Q(accepted_by=user)
    )
    counts["open_invitations"] = invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).delete()[0]
    closed = 0
    for invitation in invitations:
        # Each gets its own address: the open-invitation constraint is per (org, address).
        Invitation.objects.filter(pk=invitation.pk).update(
            email=f"{pseudonym}-{invitation.pk}@{ERASED_DOMAIN}"
        )
        closed += 1
    counts["closed_invitations"] = closed
    return counts


def _accounts(user: User, identifiers: Identifiers) -> dict[str, int]:
    counts: dict[str, int] = {}
    # Emails to proven addresses only, as for invitations.
    counts["outbound_emails"] = OutboundEmail.objects.filter(
        any_address("to", identifiers.everywhere)
    ).delete()[0]
    counts["email_addresses"] = EmailAddress.objects.filter(user=user).delete()[0]
    counts["profile_answers"] = erase_answers(user)
    counts["linked_identities"] = SocialAccount.objects.filter(user=user).delete()[0]
    counts["mfa_devices"] = sum(
        model.objects.filter(user=user).delete()[0] for model in DEVICE_MODELS.values()
    )
    WebAuthnUserHandle.objects.filter(user=user).delete()
    counts["mfa_resets"] = MFAReset.objects.filter(user=user).delete()[0]
    for session in UserSession.objects.filter(user=user):
        session.end()  # any that appeared since the job started
    counts["sessions"] = UserSession.objects.filter(user=user).delete()[0]
    # Sign-in risk rows (with addresses and browsers) and known devices (accounts/takeover/).
    counts["sign_ins"] = SignInRisk.objects.filter(user=user).delete()[0]
    KnownSign.objects.filter(user=user).delete()
    # What imports and support's impersonations kept about them (accounts/imports/,
    # accounts/impersonation/); their sessions have been ended above.
    counts["imported_identities"] = ImportedIdentity.objects.filter(user=user).delete()[0]
    ApprovalLink.objects.filter(approver=user).delete()
    deleted = Impersonation.objects.filter(person=user).delete()[1]
    counts["impersonations"] = deleted.get(Impersonation._meta.label, 0)
    return counts


def _events(user: User, identifiers: Identifiers) -> dict[str, int]:
    """Outbox rows about the person (docs/events.md 4.3): not evidence, so their payloads are
    blanked rather than pseudonymised. The rows stay, so a feed reader's order is unchanged."""
    from events.models import Event

    about_them = Q(subject_type="user", subject_id=str(user.pk)) | any_address(
        "data__object__email", identifiers.everywhere
    )
    for kind, key in identifiers.targets:
        about_them |= Q(subject_type=kind, subject_id=key)
    rows = Event.objects.filter(about_them).exclude(data={"erased": True})
    return {"events_blanked": rows.update(data={"erased": True})}


def _provider(user: User) -> dict[str, int]:
    """Everything the OpenID provider holds for the person: tokens first (refresh tokens point
    at access tokens), then grants, authorizations and sessions. Looked up by name: provider
    sits above consent."""
    counts: dict[str, int] = {}
    for name in (
        "RefreshToken",
        "AccessToken",
        "IDToken",
        "Grant",
        "DeviceGrant",
        "Authorization",
        "ProviderSession",
    ):
        model = apps.get_model("provider", name)
        counts[f"oauth_{name.lower()}s"] = model.objects.filter(user=user).delete()[0]
    return counts


def _consent(user: User, pseudonym: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    counts["consent_states"] = ConsentState.objects.filter(user=user).delete()[0]
    # Consent events stay as evidence, without where they came from (through the database's
    # function for it: the application may not update them).
    counts["consent_events_kept"] = evidence.clear_origins(user=user, pseudonym=pseudonym)
    counts["export_archives"] = ExportArchive.objects.filter(request__user=user).delete()[0]
    return counts
