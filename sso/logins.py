"""The rules of a login through an organization's connection (issue 5, item 4).

Two steps. ``admit`` runs once the IdP's response has passed every protocol check and decides,
writing nothing: whose account this is, and whether it may come in. The adapter's hooks then
carry the decision out inside allauth's login (link, create, map the role). A refusal is
audited with the name of the rule that refused and shown on a page; nothing else is written.

The rules:
- An identity is (connection, subject): allauth's SocialAccount(provider=connection.slug,
  uid=subject). Once known, it logs in as its account, whatever address it asserts today.
- A new identity needs an address inside the organization's verified domains; others are
  refused. An account whose address is verified is linked. An account registered with the
  address but never verified is not merged into: it loses its password and sessions, and its
  address is released for the new account (the pre-account-takeover defence).
- The role comes from the IdP's groups at every login (owners are never demoted by it).
  A membership that an admin removed is not brought back by signing in: that login is refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record
from organizations.models import Invitation, Membership, Role
from sso.models import Connection, IdentityConfirmation, MFATrust

logger = logging.getLogger(__name__)
ROLE_STRENGTH = {Role.MEMBER.value: 0, Role.ADMIN.value: 1}
# OIDC "amr" values (RFC 8176) that mean more than one factor was used at the IdP.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fpt", "face", "iris", "retina", "sc", "sms"})
# SAML AuthnContextClassRef values that common IdPs send after multi-factor authentication.
MFA_AUTHN_CONTEXTS = frozenset(
    {
        "http://schemas.microsoft.com/claims/multipleauthn",
        "urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor",
        "https://refeds.org/profile/mfa",
        "http://id.elegnamnden.se/loa/1.0/loa3",
    }
)
ADMISSION_ATTR = "gatehouse_admission"


class LoginRefused(Exception):
    def __init__(self, check: str, message: str) -> None:
        super().__init__(check)
        self.check = check
        self.message = message


@dataclass
class Admission:
    kind: str  # "existing", "link", "release" (then create), "create"
    role: str
    email: str | None = None
    user: User | None = None


def connection_of(sociallogin: Any) -> Connection | None:
    app = getattr(getattr(sociallogin, "provider", None), "app", None)
    return getattr(app, "gatehouse_connection", None)


def verified_domains(connection: Connection) -> set[str]:
    """The verified domains this connection serves: the only addresses it is trusted for (a
    subsidiary's IdP connected for subsidiary.test says nothing about acme.test). Read once per
    connection object (a login asks for each address the IdP sent, and again when admitting)."""
    cached = getattr(connection, "_verified_domains", None)
    if cached is None:
        cached = set(
            connection.domains.filter(
                organization=connection.organization, verified_at__isnull=False
            ).values_list("name", flat=True)
        )
        connection._verified_domains = cached  # type: ignore[attr-defined]
    return cached


def email_in_domains(email: str, domains: set[str]) -> bool:
    return email.rpartition("@")[2].lower() in domains


def asserted_email(connection: Connection, sociallogin: Any) -> str | None:
    """The IdP's address for this person, if it lies inside the org's verified domains."""
    domains = verified_domains(connection)
    for address in sociallogin.email_addresses:
        if address.email and email_in_domains(address.email, domains):
            return str(address.email).lower()
    return None


def _claims(connection: Connection, sociallogin: Any) -> dict:
    data = sociallogin.account.extra_data or {}
    if connection.is_oidc:
        return {**(data.get("userinfo") or {}), **(data.get("id_token") or {})}
    return dict(data)  # SAML: {attribute name: [values]}


def groups_of(connection: Connection, sociallogin: Any) -> list[str]:
    if not connection.groups_attribute:
        return []
    value = _claims(connection, sociallogin).get(connection.groups_attribute)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str | int)]
    return []


def mapped_role(connection: Connection, sociallogin: Any) -> str:
    """The strongest role any of the person's groups maps to; the default role otherwise."""
    mapping = connection.role_mapping or {}
    roles = [
        mapping[g] for g in groups_of(connection, sociallogin) if mapping.get(g) in ROLE_STRENGTH
    ]
    if not roles:
        return connection.default_role
    return max(roles, key=ROLE_STRENGTH.__getitem__)


def idp_reported_mfa(connection: Connection, sociallogin: Any, details: dict | None = None) -> bool:
    if connection.is_oidc:
        amr = _claims(connection, sociallogin).get("amr") or []
        return isinstance(amr, list) and bool(MFA_AMR & {str(v) for v in amr})
    contexts = set((details or {}).get("authn_contexts") or [])
    return bool(MFA_AUTHN_CONTEXTS & contexts)


def invited(connection: Connection, email: str) -> bool:
    """An open invitation to this organization for ``email``: with just-in-time accounts off,
    an invitation is how an admin lets someone new in, and it is accepted after this sign-in."""
    return Invitation.objects.filter(
        organization=connection.organization,
        email__iexact=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).exists()


def admit(request: HttpRequest, connection: Connection, sociallogin: Any) -> Admission:
    """Decide what this login does, or refuse it. Reads only."""
    role = mapped_role(connection, sociallogin)
    account = (
        SocialAccount.objects.filter(provider=connection.slug, uid=sociallogin.account.uid)
        .select_related("user")
        .first()
    )
    if account is not None:
        if is_privileged(account.user, connection):
            # Linked while it was an ordinary account, privileged since (an ownership transfer,
            # made staff): the IdP may not sign it in now.
            raise LoginRefused(
                "privileged_account",
                "This account has privileges that single sign-on cannot take over. Sign in "
                "with its password or passkey.",
            )
        admission = Admission("existing", role, user=account.user)
    else:
        email = asserted_email(connection, sociallogin)
        if email is None:
            raise LoginRefused(
                "email_domain",
                f"Your identity provider did not give an email address in a verified domain of "
                f"{connection.organization.name}.",
            )
        # Whoever proved the address owns it, whether it is their login address or not.
        proven = (
            EmailAddress.objects.filter(email__iexact=email, verified=True)
            .select_related("user")
            .first()
        )
        owner = proven.user if proven else User.objects.filter(email__iexact=email).first()
        if owner is not None and is_privileged(owner, connection):
            # An org admin can point a connection at an IdP they run: linking would let them
            # sign in as the org's owner, or as staff. Those accounts are never linked.
            raise LoginRefused(
                "privileged_account",
                "This account has privileges that single sign-on cannot take over. Sign in "
                "with its password or passkey.",
            )
        if proven is not None:
            admission = Admission("link", role, email=email, user=owner)
        elif owner is not None and not releasable(owner, email):
            raise LoginRefused(
                "account_conflict",
                "An account already uses this address in a way single sign-on cannot settle. "
                "Contact support.",
            )
        elif not connection.jit_enabled and not invited(connection, email):
            raise LoginRefused(
                "jit_disabled",
                f"There is no account for you yet. Ask an admin of {connection.organization.name} "
                f"to invite you.",
            )
        else:
            admission = Admission("release" if owner else "create", role, email=email, user=owner)
    # The account this login would sign in to. (For "release", admission.user is the
    # never-verified account that loses the address: its state says nothing about this person.)
    if admission.kind in ("existing", "link") and admission.user is not None:
        if getattr(admission.user, "is_blocked", False):
            # Refused here, before linking or mapping writes anything for a blocked account.
            raise LoginRefused("account_blocked", "This account is blocked. Contact support.")
        membership = Membership.objects.filter(
            organization=connection.organization, user=admission.user
        ).first()
        if membership is not None and not membership.is_active:
            raise LoginRefused(
                "membership_removed",
                f"Your access to {connection.organization.name} was removed by its admins.",
            )
        # Another organization's sign-in rules, decided now so a refusal writes nothing.
        from sso.enforcement import check

        broken = check(request, admission.user, {"sociallogin": sociallogin})
        if broken is not None:
            raise LoginRefused(
                "sign_in_policy",
                f"{broken['org'].name} asks you to sign in another way.",
            )
        sociallogin.gatehouse_policy_checked = True  # pre_login need not ask again
    setattr(sociallogin, ADMISSION_ATTR, admission)
    return admission


def is_privileged(user: User, connection: Connection) -> bool:
    """Accounts an organization's IdP may never sign in: Gatehouse's staff, and the owners of
    the connection's own organization (its admins can point a connection at an IdP they run).
    Roles in other organizations are not a reason: the organization is authoritative for the
    addresses in its verified domains, as their mail server already is."""
    if user.is_staff or user.is_superuser:
        return True
    return (
        Membership.objects.active()
        .filter(user=user, organization=connection.organization, role=Role.OWNER)
        .exists()
    )


def releasable(user: User, email: str) -> bool:
    """A never-verified account gives its address up to SSO only if it plainly is one: it
    holds this address unverified, has no verified address at all, and is active in no
    organization. Anything else (an account made outside allauth, with no address rows) is
    for support, not for an IdP to settle."""
    addresses = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))
    return (
        any(a.lower() == email and not v for a, v in addresses)
        and not any(v for _, v in addresses)
        and not Membership.objects.active().filter(user=user).exists()
    )


def admission_of(request: HttpRequest, connection: Connection, sociallogin: Any) -> Admission:
    admission = getattr(sociallogin, ADMISSION_ATTR, None)
    return admission if admission is not None else admit(request, connection, sociallogin)


# --- Carried out inside allauth's login (sso.adapter) -----------------------------------------


def drop_unproven_claims(email: str) -> int:
    """Other accounts' never-verified rows for an address SSO is about to give to a new account
    (a pending email change, say). Left in place, allauth would take the address for taken
    and send the person to confirm it instead of creating their account."""
    return EmailAddress.objects.filter(email__iexact=email, verified=False).delete()[0]


def release_unverified_account(connection: Connection, user: User) -> None:
    """Someone registered this address and never proved it. They do not get the SSO identity:
    their password goes, their sessions end, the account is blocked and its address freed."""
    from accounts.services import end_sessions
    from accounts.user_sessions import UserSession

    released = f"released-{user.public_id.hex}@invalid"
    EmailAddress.objects.filter(user=user).delete()
    user.set_unusable_password()
    user.email = released
    user.is_blocked = True
    user.blocked_reason = (
        f"Never verified; its address signed in through {connection.organization.name}'s SSO."
    )
    user.blocked_at = timezone.now()
    user.save(update_fields=["password", "email", "is_blocked", "blocked_reason", "blocked_at"])
    ended = end_sessions(list(UserSession.objects.filter(user=user)))
    record(
        Action.SSO_UNVERIFIED_ACCOUNT_RELEASED,
        actor=None,
        actor_text=f"sso:{connection.slug}",
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug, "sessions_ended": ended},
    )


def apply_membership(connection: Connection, user: User, role: str, *, created: bool) -> Membership:
    """The person's membership with the role their groups map to (owners keep theirs)."""
    org = connection.organization
    membership, new = Membership.objects.select_for_update().get_or_create(
        organization=org,
        user=user,
        defaults={"role": role, "source": Membership.Source.SSO},
    )
    if new:
        record(
            Action.ORG_MEMBER_JOINED,
            actor=user,
            organization=org,
            target=user,
            data={"role": role, "source": Membership.Source.SSO, "connection": connection.slug},
        )
    elif membership.role != role and membership.role != Role.OWNER:
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        record(
            Action.SSO_ROLE_MAPPED,
            actor=None,
            actor_text=f"sso:{connection.slug}",
            organization=org,
            target=user,
            data={"from": before, "to": role, "connection": connection.slug},
        )
    return membership


def record_link(connection: Connection, user: User) -> None:
    record(
        Action.SSO_IDENTITY_LINKED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug},
    )


def record_created(connection: Connection, user: User) -> None:
    record(
        Action.SSO_USER_CREATED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug},
    )


def record_success(connection: Connection, user: User, *, idp_mfa: bool) -> None:
    record(
        Action.SSO_LOGIN_SUCCEEDED,
        actor=user,
        organization=connection.organization,
        target=user,
        data={"connection": connection.slug, "protocol": connection.protocol, "idp_mfa": idp_mfa},
    )


def refuse_login(
    request: HttpRequest, connection: Connection, check: str, reason: str = "", *, status: int = 403
) -> HttpResponse:
    """Refuse, on the record. Called before allauth has written anything for this login, so
    the audit event is the only row the request leaves behind."""
    _record_failure(connection, check, reason)
    logger.info("SSO sign-in refused on %s: %s", connection.slug, check)
    return render(
        request,
        "sso/login_failed.html",
        {"connection": connection, "check": check, "reason": reason},
        status=status,
    )


def refuse_concurrent_login(request: HttpRequest, connection: Connection) -> HttpResponse:
    """Another sign-in of the same person created the account (or linked the identity) while
    this one was on its way: this one writes nothing, and trying again signs in."""
    return refuse_login(
        request,
        connection,
        "concurrent_login",
        "You signed in twice at the same moment. Try again: the first sign-in set your account up.",
        status=409,
    )


def _record_failure(connection: Connection, check: str, reason: str) -> None:
    record(
        Action.SSO_LOGIN_FAILED,
        actor=None,
        actor_text=f"sso:{connection.slug}",
        organization=connection.organization,
        target=connection,
        outcome=Outcome.FAILURE,
        data={"connection": connection.slug, "check": check, "reason": reason[:300]},
    )


# What "Test connection" lists, in the order a sign-in meets them: each step and the check
# names (sso.saml.response, sso.saml.views, sso.oidc.views, admit) that fail it.
ACCOUNT_RULES = (
    "Gatehouse's account rules (domain, new accounts, removed members)",
    {
        "email_domain",
        "jit_disabled",
        "membership_removed",
        "account_blocked",
        "concurrent_login",
        "privileged_account",
        "account_conflict",
        "sign_in_policy",
    },
)
SAML_STEPS = (
    (
        "The response is well-formed SAML 2.0",
        {
            "malformed_response",
            "invalid_response",
            "invalid_xml_format",
            "unsupported_saml_version",
            "missing_id",
            "missing_status",
            "missing_status_code",
            "status_code_is_not_success",
            "wrong_number_of_assertions",
            "not_authenticated",
            "acs_session_missing",
            "configuration",
        },
    ),
    (
        "Signed by one of the IdP's certificates, with SHA-256",
        {
            "invalid_signature",
            "no_signed_assertion",
            "no_signed_message",
            "no_signature_found",
            "wrong_signed_element",
            "id_not_found_in_signed_element",
            "duplicated_id_in_signed_elements",
            "invalid_signed_element",
            "duplicated_reference_in_signed_elements",
            "unexpected_signed_elements",
            "wrong_number_of_signatures_in_response",
            "wrong_number_of_signatures_in_assertion",
            "wrong_number_of_signatures",
            "deprecated_signature_method",
            "deprecated_digest_method",
            "no_encrypted_assertion",
            "keyinfo_not_found_in_encrypted_data",
        },
    ),
    (
        "Meant for this connection (issuer, audience, destination, recipient)",
        {
            "wrong_issuer",
            "issuer_multiple_in_response",
            "issuer_not_found_in_assertion",
            "wrong_audience",
            "audience_missing",
            "wrong_destination",
            "empty_destination",
            "wrong_subjectconfirmation",
        },
    ),
    (
        "Within its validity period",
        {
            "assertion_expired",
            "assertion_too_early",
            "response_expired",
            "session_expired",
            "missing_conditions",
            "not_on_or_after_required",
        },
    ),
    (
        "Answers a sign-in started here (or IdP-initiated sign-in is allowed)",
        {"in_response_to", "wrong_inresponseto", "idp_initiated_disabled"},
    ),
    ("Not seen before (replay protection)", {"replayed", "replay_cache_down"}),
    (
        "Names the person once (NameID; email and name attributes neither repeated nor "
        "multi-valued)",
        {"subject", "no_nameid", "empty_nameid", "identity_attribute_repeated"},
    ),
    ACCOUNT_RULES,
)
OIDC_STEPS = (
    ("The IdP's discovery document is readable", {"discovery", "idp_unreachable", "configuration"}),
    ("The person signed in at the IdP", {"cancelled", "idp_error", "state"}),
    ("The code was exchanged for an ID token", {"token_exchange", "id_token_missing"}),
    (
        "The ID token is signed with the configured algorithm and an IdP key",
        {"signature", "signing_key", "jwks", "algorithm", "id_token_format", "id_token"},
    ),
    ("Issued by this IdP for this client", {"issuer", "audience"}),
    ("Within its validity period", {"expired", "not_yet_valid"}),
    ("The nonce matches this sign-in", {"nonce"}),
    ("Names the person; userinfo agrees", {"subject", "claims", "userinfo", "userinfo_subject"}),
    ACCOUNT_RULES,
)


def checklist(connection: Connection, failed: str) -> list[dict[str, str]]:
    """Each step with "passed", "failed" or "not reached". A check name no step knows is
    shown as an extra failed step, after the ones that passed."""
    steps = SAML_STEPS if connection.is_saml else OIDC_STEPS
    if failed and not any(failed in names for _, names in steps):
        return [{"label": f"Check “{failed}”", "state": "failed"}]
    states, state = [], "passed"
    for label, names in steps:
        if failed in names:
            states.append({"label": label, "state": "failed"})
            state = "not reached"
            continue
        states.append({"label": label, "state": state})
    return states


def test_result(
    request: HttpRequest,
    connection: Connection,
    *,
    login: Any = None,
    check: str = "",
    reason: str = "",
    details: dict | None = None,
) -> HttpResponse:
    """The "Test connection" page: what the IdP sent and what Gatehouse would do with it.
    No session, no account, no membership is created."""
    details = dict(details or {})
    outcome: dict[str, Any] = {}
    if login is not None and not check:
        try:
            admission = admit(request, connection, login)
            outcome = {
                "decision": admission.kind,
                "role": admission.role,
                "email": admission.email or getattr(admission.user, "email", ""),
            }
        except LoginRefused as refusal:
            check, reason = refusal.check, refusal.message
        outcome["subject"] = login.account.uid
        outcome["emails"] = [a.email for a in login.email_addresses]
        outcome["groups"] = groups_of(connection, login)
        outcome["idp_mfa"] = idp_reported_mfa(connection, login, details)
        details.setdefault("attributes", _claims(connection, login))
    record(
        Action.SSO_CONNECTION_TESTED,
        actor=request.user,
        organization=connection.organization,
        target=connection,
        outcome=Outcome.FAILURE if check else Outcome.SUCCESS,
        data={"connection": connection.slug, "check": check or "passed", "reason": reason[:300]},
    )
    return render(
        request,
        "sso/test_result.html",
        {
            "connection": connection,
            "org": connection.organization,
            "ok": not check,
            "check": check,
            "reason": reason,
            "outcome": outcome,
            "steps": checklist(connection, check),
            "attributes": {
                name: ", ".join(map(str, value)) if isinstance(value, list) else value
                for name, value in (details.get("attributes") or {}).items()
            },
        },
    )


def end_sso_session(request: HttpRequest, connection: Connection) -> None:
    """Single logout from the IdP: this browser's session ends, on the record."""
    from allauth.account.adapter import get_adapter

    user = request.user
    if user.is_authenticated:
        record(
            Action.SSO_LOGOUT,
            actor=user,
            organization=connection.organization,
            target=user,
            data={"connection": connection.slug},
        )
    get_adapter(request).logout(request)


def trusts_idp_mfa(request: HttpRequest, login: Any) -> bool:
    """For the second-factor stage: this SSO login already had MFA that the org trusts."""
    sociallogin = (getattr(login, "signal_kwargs", None) or {}).get("sociallogin")
    if sociallogin is None:
        return False
    connection = connection_of(sociallogin)
    if connection is None or connection.mfa_trust != MFATrust.IDP:
        return False
    admission = getattr(sociallogin, ADMISSION_ATTR, None)
    if admission is not None and admission.kind != "existing":
        return False
    # Only an identity that has already completed a sign-in, the account's own second factor
    # included, may vouch for its IdP's MFA (see IdentityConfirmation).
    account_id = getattr(sociallogin.account, "pk", None)
    if (
        account_id is None
        or not IdentityConfirmation.objects.filter(account_id=account_id).exists()
    ):
        return False
    return bool((sociallogin.state or {}).get("gatehouse_idp_mfa"))


def confirm_identity(sociallogin: Any, user: Any) -> None:
    from accounts.mfa import policy

    account_id = getattr(sociallogin.account, "pk", None)
    # Only a sign-in that passed the account's own second factor confirms the identity: one
    # made while the account had none proves nothing about a factor added later.
    if account_id is not None and policy.has_mfa(user):
        # One INSERT ... ON CONFLICT DO NOTHING: this runs at every SSO sign-in.
        IdentityConfirmation.objects.bulk_create(
            [IdentityConfirmation(account_id=account_id)], ignore_conflicts=True
        )
