"""Brand colours and the contrast they must keep (WCAG 2.2, "contrast (minimum)", AA).

The primary colour fills buttons whose label is white, and in the light scheme it is the
colour of links on the white card: both need 4.5:1 against white. The page's backdrop and
the text drawn on it (header and footer) need 4.5:1 against each other. A colour that fails
is refused with its ratio and a nearby colour that passes.
"""

from __future__ import annotations

import re

from config.refusals import Refusal

HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
AA_NORMAL_TEXT = 4.5
ON_PRIMARY = "#ffffff"
# Gatehouse's own backdrop and text, used when only one of the pair is set.
DEFAULT_BACKGROUND = "#f4f5f7"
DEFAULT_TEXT = "#111827"


def parse(value: str, label: str) -> str:
    """``value`` as sent (``#rrggbb``, either case), or empty; a clear refusal otherwise."""
    value = (value or "").strip()
    if not value:
        return ""
    if not HEX.match(value):
        raise Refusal(f"{label}: use a colour like #4f46e5.")
    return value


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _towards(colour: str, target: str, share: float) -> str:
    mixed = [
        round(int(colour[i : i + 2], 16) * (1 - share) + int(target[i : i + 2], 16) * share)
        for i in (1, 3, 5)
    ]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def nearest_passing(colour: str, against: str, towards: str) -> str:
    """The first colour on the way from ``colour`` to ``towards`` with AA contrast against
    ``against``: the suggestion a refusal offers."""
    for step in range(1, 101):
        candidate = _towards(colour, towards, step / 100)
        if contrast(candidate, against) >= AA_NORMAL_TEXT:
            return candidate
    return towards


def check_palette(*, primary: str, background: str, text: str) -> None:
    """Refuse a palette whose text would be hard to read, saying why and what would do."""
    if primary and contrast(primary, ON_PRIMARY) < AA_NORMAL_TEXT:
        ratio = contrast(primary, ON_PRIMARY)
        raise Refusal(
            f"The brand colour {primary} is too light for white text on buttons "
            f"(contrast {ratio:.1f}:1, at least 4.5:1 needed). "
            f"Try a darker shade such as {nearest_passing(primary, ON_PRIMARY, '#000000')}."
        )
    if background or text:
        bg, fg = background or DEFAULT_BACKGROUND, text or DEFAULT_TEXT
        ratio = contrast(bg, fg)
        if ratio < AA_NORMAL_TEXT:
            dark_bg = luminance(bg) < luminance("#777777")
            suggestion = nearest_passing(fg, bg, "#ffffff" if dark_bg else "#000000")
            raise Refusal(
                f"The text colour {fg} is hard to read on the background {bg} "
                f"(contrast {ratio:.1f}:1, at least 4.5:1 needed). Try {suggestion} for the text."
            )
