"""Creating an organization and changing its name and branding."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from organizations import quotas
from organizations.models import (
    RESERVED_SLUGS,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
)
from organizations.permissions import Perm
from organizations.services.guards import require

TAKEN = "That address is taken. Choose another."


def _clean_slug(slug: str) -> str:
    slug = (slug or "").strip().lower()
    field = Organization._meta.get_field("slug")
    try:
        field.run_validators(slug)
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None
    if not slug:
        raise Refusal("Give the organization an address.")
    if slug in RESERVED_SLUGS:  # taken by Gatehouse's own pages
        raise Refusal("That address is reserved. Choose another.", status=409)
    return slug


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal("Give the organization a name.")
    if len(name) > 120:
        raise Refusal("Keep the name under 120 characters.")
    return name


@service
def create_organization(*, actor: User, name: str, slug: str) -> Organization:
    """A new organization at ``slug``, with its default policy and ``actor`` as its owner."""
    name, slug = _clean_name(name), _clean_slug(slug)
    if Organization.objects.filter(slug=slug).exists():
        raise Refusal(TAKEN, status=409)
    quotas.spend_organization_creation(actor)
    try:
        with transaction.atomic():
            org = Organization.objects.create(name=name, slug=slug)
    except IntegrityError:  # created by someone else at the same moment
        raise Refusal(TAKEN, status=409) from None
    OrganizationPolicy.objects.create(organization=org)
    membership = Membership.objects.create(
        organization=org, user=actor, role=Role.OWNER, source=Membership.Source.CREATED
    )
    record(Action.ORG_CREATED, actor=actor, organization=org, target=org, data={"slug": slug})
    record(
        Action.ORG_MEMBER_JOINED,
        actor=actor,
        organization=org,
        target=actor,
        data={"role": membership.role, "source": membership.source},
    )
    return org


@service
def update_organization(
    *, actor: Membership, org: Organization, name: str, logo_url: str, brand_colour: str
) -> Organization:
    """Save the organization's name, logo and brand colour (its address never changes)."""
    require(actor, org, Perm.MANAGE_SETTINGS, "update settings")
    org.name = _clean_name(name)
    org.logo_url = (logo_url or "").strip()
    org.brand_colour = (brand_colour or "").strip()
    if org.logo_url and not org.logo_url.startswith("https://"):
        raise Refusal("The logo must be an https:// address.")
    try:
        org.full_clean(exclude=["slug"])
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None
    org.save(update_fields=["name", "logo_url", "brand_colour"])
    record(
        Action.ORG_UPDATED,
        actor=actor.user,
        organization=org,
        target=org,
        data={"name": org.name, "logo_url": org.logo_url, "brand_colour": org.brand_colour},
    )
    return org
