"""Creating an organization and changing its name and branding, by a member or an app."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from organizations import permissions, quotas
from organizations.branding import colours
from organizations.branding.names import clean_display_name
from organizations.models import (
    RESERVED_SLUGS,
    Membership,
    Organization,
    OrganizationPolicy,
    Role,
)
from organizations.permissions import Actor, AppActor, Perm
from organizations.services.branding import store_logo
from organizations.services.guards import audit_actor, require
from organizations.services.invitations import send_invitation

TAKEN = "That address is taken. Choose another."
BRANDING_FIELDS = ("display_name", "brand_colour", "brand_background", "brand_text")


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
    if _is_uuid(slug):
        # Apps name an organization by slug or by public id (organization=): one that looks
        # like an id would be read as one.
        raise Refusal("That address looks like an organization ID. Choose another.")
    return slug


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise Refusal("Give the organization a name.")
    if len(name) > 120:
        raise Refusal("Keep the name under 120 characters.")
    return name


@service
def create_organization(
    *, actor: User | AppActor, name: str, slug: str, owner_email: str = ""
) -> Organization:
    """A new organization at ``slug``, with its default policy. A person who creates one is its
    owner; an app (one bound to no organization) creates it with no member. ``owner_email`` is
    invited as an owner: for an app, the organization's first owner."""
    if permissions.is_app(actor) and actor.organization_id is not None:
        raise Refusal(
            "An app bound to an organization cannot create organizations.",
            status=403,
            action=Action.ORG_ACCESS_DENIED,
            actor=actor,
            details={"attempted": "create organization"},
        )
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
    record(Action.ORG_CREATED, actor=actor, organization=org, target=org, data={"slug": slug})
    inviter: Actor = _first_owner(org, actor) if isinstance(actor, User) else actor
    if owner_email:
        send_invitation(actor=inviter, org=org, email=owner_email, role=Role.OWNER)
    return org


def _first_owner(org: Organization, user: User) -> Membership:
    membership = Membership.objects.create(
        organization=org, user=user, role=Role.OWNER, source=Membership.Source.CREATED
    )
    record(
        Action.ORG_MEMBER_JOINED,
        actor=user,
        organization=org,
        target=user,
        data={"role": membership.role, "source": membership.source},
    )
    return membership


@service
def update_organization(
    *,
    actor: Actor,
    org: Organization,
    name: str,
    logo_url: str,
    brand_colour: str,
    display_name: str | None = None,
    brand_background: str | None = None,
    brand_text: str | None = None,
    logo: bytes | None = None,
    remove_logo: bool = False,
) -> Organization:
    """Save the organization's name, logo address and branding (its address never changes).
    ``None`` keeps a branding field as it is; ``logo`` is an uploaded image (checked and
    re-encoded, ``organizations.branding.images``), ``remove_logo`` drops the logo. Colours
    must keep AA contrast (``organizations.branding.colours``); the refusal says why and
    suggests a colour."""
    require(actor, org, Perm.MANAGE_SETTINGS, "update settings")
    org.name = _clean_name(name)
    org.logo_url = (logo_url or "").strip()
    org.brand_colour = colours.parse(brand_colour, "Brand colour")
    if display_name is not None:
        org.display_name = clean_display_name(display_name)
    if brand_background is not None:
        org.brand_background = colours.parse(brand_background, "Background colour")
    if brand_text is not None:
        org.brand_text = colours.parse(brand_text, "Text colour")
    if org.logo_url and not org.logo_url.startswith("https://"):
        raise Refusal("The logo must be an https:// address.")
    try:
        org.full_clean(exclude=["slug", "logo"])
    except ValidationError as exc:
        raise Refusal(" ".join(exc.messages)) from None
    colours.check_palette(
        primary=org.brand_colour, background=org.brand_background, text=org.brand_text
    )
    if logo:
        org.logo = store_logo(logo)
    elif remove_logo:
        org.logo = None
    org.save(update_fields=[*BRANDING_FIELDS, "name", "logo_url", "logo"])
    record(
        Action.ORG_UPDATED,
        actor=audit_actor(actor),
        organization=org,
        target=org,
        data={
            "name": org.name,
            "logo_url": org.logo_url,
            **{field: getattr(org, field) for field in BRANDING_FIELDS},
            "logo": org.logo.sha256 if org.logo else None,
        },
    )
    return org
