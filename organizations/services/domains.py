"""An organization's email domains: adding, removing and verifying them by a DNS TXT record,
and joining people to the organizations that verified the domain of their address.

A verified domain belongs to one organization at a time: the database refuses a second one
(a unique constraint on verified names), whatever the order of two verifications.
"""

from __future__ import annotations

import functools

from allauth.account.models import EmailAddress
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Value
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone

from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record
from config.refusals import NotFound, Refusal, service
from organizations import dns
from organizations.models import Domain, Membership, Organization, OrganizationPolicy
from organizations.permissions import Actor, Perm
from organizations.services.guards import audit_actor, require
from organizations.services.members import join

CHECK_FIELDS = ["verified_at", "last_checked_at", "last_check_result"]


def _clean_domain(name: str) -> str:
    name = (name or "").strip().lower().rstrip(".")
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refusal("That is not a domain name.") from None
    try:
        Domain._meta.get_field("name").run_validators(name)
    except ValidationError:
        raise Refusal("That is not a domain name, e.g. example.com.") from None
    return name


@service
def add_domain(*, actor: Actor, org: Organization, name: str) -> Domain:
    """List ``name`` as one of the organization's domains, to be verified by a TXT record."""
    require(actor, org, Perm.MANAGE_DOMAINS, "add domain")
    name = _clean_domain(name)
    if Domain.objects.for_org(org).filter(name=name).exists():
        raise Refusal(f"{name} is already listed.", status=409)
    if Domain.objects.filter(name=name, verified_at__isnull=False).exists():
        raise Refusal(f"{name} is verified by another organization.", status=409)
    try:
        with transaction.atomic():
            domain = Domain.objects.create(
                organization=org, name=name, verification_token=Domain.new_token()
            )
    except IntegrityError:  # added twice at the same moment
        raise Refusal(f"{name} is already listed.", status=409) from None
    record(Action.ORG_DOMAIN_ADDED, actor=audit_actor(actor), organization=org, target=domain)
    return domain


@service
def remove_domain(*, actor: Actor, org: Organization, domain_id: int) -> None:
    """Remove one of the organization's domains; a verified one stops counting at once."""
    require(actor, org, Perm.MANAGE_DOMAINS, "remove domain")
    domain = Domain.objects.for_org(org).filter(pk=domain_id).first()
    if domain is None:
        raise NotFound("That domain does not exist.")
    record(
        Action.ORG_DOMAIN_REMOVED,
        actor=audit_actor(actor),
        organization=org,
        data={"domain": domain.name, "was_verified": domain.is_verified},
    )
    domain.delete()


# --- Verification ---------------------------------------------------------------------------


def verify_domain(*, actor: Actor | None, org: Organization, domain_id: int) -> Domain:
    """Look the TXT record up and record the result. ``actor`` (a member or an app) None is
    the beat job's re-check. A record that is gone un-verifies the domain: it stops counting
    at once.

    The lookup waits on the network, so it runs before the write's transaction, with no row
    locked; called inside a transaction, this refuses to start (a durable service)."""
    domain = _domain_to_check(actor=actor, org=org, domain_id=domain_id)
    found, detail = dns.has_txt_record(domain.record_name, domain.record_value)
    return _record_check(actor=actor, org=org, domain_id=domain.pk, found=found, detail=detail)


@service
def _domain_to_check(*, actor: Actor | None, org: Organization, domain_id: int) -> Domain:
    if actor is not None:
        require(actor, org, Perm.MANAGE_DOMAINS, "verify domain")
    domain = Domain.objects.for_org(org).filter(pk=domain_id).first()
    if domain is None:
        raise NotFound("That domain does not exist.")
    return domain


def _claim(domain: Domain) -> bool:
    """Save ``domain`` as verified, unless another organization verified the name first."""
    if Domain.objects.filter(name=domain.name, verified_at__isnull=False).exists():
        return False
    domain.verified_at = timezone.now()
    try:
        with transaction.atomic():
            domain.save(update_fields=CHECK_FIELDS)
    except IntegrityError:  # another organization verified it at the same moment
        domain.verified_at = None
        return False
    return True


@service
def _record_check(
    *, actor: Actor | None, org: Organization, domain_id: int, found: bool, detail: str
) -> Domain:
    """Save what the lookup found, under the domain's row lock."""
    domain = Domain.objects.for_org(org).select_for_update().filter(pk=domain_id).first()
    if domain is None:  # removed while the lookup ran
        raise NotFound("That domain does not exist.")
    domain.last_checked_at = timezone.now()
    domain.last_check_result = detail[:200]
    user = audit_actor(actor)
    if found and not domain.is_verified:
        if _claim(domain):
            record(Action.ORG_DOMAIN_VERIFIED, actor=user, organization=org, target=domain)
            return domain
        found = False
        domain.last_check_result = "verified by another organization"
    if not found:
        # A verified domain whose record is gone is lost; any other is a failed check.
        action = Action.ORG_DOMAIN_LOST if domain.is_verified else Action.ORG_DOMAIN_CHECK_FAILED
        domain.verified_at = None
        record(
            action,
            actor=user,
            organization=org,
            target=domain,
            outcome=Outcome.FAILURE,
            data={"detail": domain.last_check_result},
        )
    domain.save(update_fields=CHECK_FIELDS)
    return domain


# --- Joining by domain ------------------------------------------------------------------------


# Called at every login, inside the login's transaction when it has one: no savepoint (two
# round trips for nothing); it never refuses anything, so there is nothing to roll back alone.
@transaction.atomic(savepoint=False)
def auto_join_by_domain(*, user: User, emails: list[str] | None = None) -> list[Membership]:
    """Join the organizations that verified the domain of one of the user's *verified*
    addresses (``emails``, or all of them) and turned auto-join on. Unverified addresses never
    count, and someone once removed is not brought back. One query when nothing matches."""
    if emails is not None and not _any_auto_join_domain(emails):
        return []
    addresses = EmailAddress.objects.filter(user=user, verified=True)
    if emails is not None:
        matching = Q(pk__in=[])
        for email in emails:
            matching |= Q(email__iexact=email)
        addresses = addresses.filter(matching)
    orgs = (
        Organization.objects.filter(
            domains__verified_at__isnull=False,
            policy__auto_join_verified_domains=True,
        )
        .annotate(
            matches=Exists(
                addresses.annotate(
                    domain=Lower(Substr("email", StrIndex("email", Value("@")) + 1))
                ).filter(domain=OuterRef("domains__name"))
            )
        )
        .filter(matches=True)
        .exclude(memberships__user=user)
        .select_related("policy")
        .distinct()
    )
    return [
        join(
            org=org,
            user=user,
            role=org.policy.default_role,
            source=Membership.Source.DOMAIN,
            actor=user,
        )
        for org in orgs
    ]


def _any_auto_join_domain(emails: list[str]) -> bool:
    """Whether any organization auto-joins the domain of one of ``emails``: the common case
    at login is no. It runs at every login, so it is one plain statement, written out: the ORM
    spends more time building this query (two joins) than the database spends answering it."""
    domains = sorted({email.rsplit("@", 1)[-1].lower() for email in emails if "@" in email})
    if not domains:
        return False
    with connection.cursor() as cursor:
        cursor.execute(_auto_join_sql(len(domains)), domains)
        return cursor.fetchone() is not None


@functools.cache
def _auto_join_sql(domains: int) -> str:
    # Only table names from the models' own metadata go into the text; the domains are query
    # parameters. A verified domain whose organization's policy has auto-join on.
    quote = connection.ops.quote_name
    domain, policy = quote(Domain._meta.db_table), quote(OrganizationPolicy._meta.db_table)
    names = ", ".join(["%s"] * domains)
    return (
        f"SELECT 1 FROM {domain} JOIN {policy} "  # noqa: S608
        f"ON {policy}.organization_id = {domain}.organization_id "
        f"WHERE {domain}.name IN ({names}) AND {domain}.verified_at IS NOT NULL "
        f"AND {policy}.auto_join_verified_domains LIMIT 1"
    )
