"""Logos as stored, and the operator's branding (an organization's is saved with its settings,
``organizations.services.organizations.update_organization``).

Logos are content-addressed (``BrandLogo.sha256``): the same image uploaded twice is one row,
and the logo route's URL changes whenever the image does, so it can be cached for a year.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction

from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service
from organizations.branding import colours
from organizations.branding.images import clean_logo
from organizations.branding.names import clean_display_name
from organizations.models import BrandLogo, OperatorBranding

OPERATOR_CACHE_KEY = "gatehouse:operator-branding:v1"


def store_logo(data: bytes) -> BrandLogo:
    """The re-encoded logo's row, created if no identical image is stored yet."""
    logo = clean_logo(data)
    found = BrandLogo.objects.filter(sha256=logo.sha256).first()
    if found:
        return found
    try:
        with transaction.atomic():
            return BrandLogo.objects.create(
                sha256=logo.sha256, data=logo.png, width=logo.width, height=logo.height
            )
    except IntegrityError:  # the same image stored at the same moment
        return BrandLogo.objects.get(sha256=logo.sha256)


@service
def update_operator_branding(
    *,
    actor: Any,
    product_name: str,
    brand_colour: str,
    brand_background: str,
    brand_text: str,
    logo: bytes | None = None,
    remove_logo: bool = False,
    reason: str = "",
) -> OperatorBranding:
    """The operator's branding, changed by staff in the admin; the default of every page and
    email that no organization brands."""
    if not getattr(actor, "is_staff", False):
        raise Refusal("Only staff change the operator's branding.", status=403)
    branding, _ = OperatorBranding.objects.select_for_update().get_or_create(pk=1)
    branding.product_name = clean_display_name(product_name)
    branding.brand_colour = colours.parse(brand_colour, "Brand colour")
    branding.brand_background = colours.parse(brand_background, "Background colour")
    branding.brand_text = colours.parse(brand_text, "Text colour")
    colours.check_palette(
        primary=branding.brand_colour,
        background=branding.brand_background,
        text=branding.brand_text,
    )
    if logo:
        branding.logo = store_logo(logo)
    elif remove_logo:
        branding.logo = None
    branding.save()
    record(
        Action.OPERATOR_BRANDING_UPDATED,
        actor=actor,
        target=branding,
        data={
            "product_name": branding.product_name,
            "brand_colour": branding.brand_colour,
            "brand_background": branding.brand_background,
            "brand_text": branding.brand_text,
            "logo": branding.logo.sha256 if branding.logo else None,
            "reason": reason,
        },
    )
    transaction.on_commit(lambda: cache.delete(OPERATOR_CACHE_KEY))
    return branding
