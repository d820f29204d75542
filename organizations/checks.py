"""Start-up check of the operator's brand colour (GATEHOUSE_BRAND_COLOUR)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from config.refusals import Refusal
from organizations.branding import colours


@register()
def brand_colour_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    value = getattr(settings, "GATEHOUSE_BRAND_COLOUR", "")
    try:
        colours.check_palette(
            primary=colours.parse(value, "GATEHOUSE_BRAND_COLOUR"), background="", text=""
        )
    except Refusal as refusal:
        return [Error(refusal.message, id="gatehouse.E_BRAND_COLOUR")]
    return []
