"""The display name a brand shows on sign-in pages and in emails: short, one line, printable."""

from __future__ import annotations

import unicodedata

from config.refusals import Refusal

MAX_DISPLAY_NAME = 60
# Letters, digits, spaces and this punctuation: enough for "Acme & Co. (EU)", nothing that
# could pass for markup or hide text (control and bidirectional formatting characters).
PUNCTUATION = frozenset(" .,&'-+!:/()#@\u2019")  # \u2019: the typographic apostrophe


def clean_display_name(value: str) -> str:
    """``value`` with runs of spaces collapsed, or a refusal naming the problem. Empty means
    "use the organization's name"."""
    name = " ".join((value or "").split())
    if len(name) > MAX_DISPLAY_NAME:
        raise Refusal(f"Keep the display name under {MAX_DISPLAY_NAME} characters.")
    for char in name:
        if char in PUNCTUATION:
            continue
        category = unicodedata.category(char)
        if category[0] not in ("L", "N") and category != "Mn":
            raise Refusal(
                "The display name may use letters, digits, spaces and . , & ' - + ! : / ( ) # @ "
                f"only (not {char!r})."
            )
    return name
