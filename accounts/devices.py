"""A readable name for a browser and system ("Chrome on macOS") from a User-Agent header.

Used to name a new passkey after where it was created (no package installed here maps an
authenticator's AAGUID to its maker's name: django-otp-webauthn stores the AAGUID and points
to an outside list) and to label sessions. A guess for people to recognise, never for
decisions: user agents are easy to fake, and browsers freeze parts of them (Chrome on macOS
always says "Intel Mac OS X 10_15_7").
"""

from __future__ import annotations

# Most specific first: Edge, Opera and Samsung Internet also say "Chrome", Chrome also says
# "Safari", and every iOS browser is Safari underneath with its own token.
_BROWSERS = (
    (("Edg/", "EdgA/", "EdgiOS/"), "Edge"),
    (("OPR/", "Opera"), "Opera"),
    (("SamsungBrowser/",), "Samsung Internet"),
    (("Firefox/", "FxiOS/"), "Firefox"),
    (("Chrome/", "CriOS/", "Chromium/"), "Chrome"),
    (("Safari/",), "Safari"),
)
# iPhone and iPad before macOS (iPadOS may claim a Mac), Android before Linux.
_SYSTEMS = (
    (("iPhone",), "iPhone"),
    (("iPad",), "iPad"),
    (("Android",), "Android"),
    (("Windows",), "Windows"),
    (("CrOS",), "ChromeOS"),
    (("Macintosh", "Mac OS X"), "macOS"),
    (("Linux",), "Linux"),
)


def _first(user_agent: str, table: tuple[tuple[tuple[str, ...], str], ...]) -> str:
    for tokens, name in table:
        if any(token in user_agent for token in tokens):
            return name
    return ""


def describe_user_agent(user_agent: str) -> str:
    """ "Chrome on macOS", "Safari on iPhone", "Firefox", "Unknown browser on Linux"; "" when
    the header says nothing (empty)."""
    user_agent = user_agent or ""
    if not user_agent.strip():
        return ""
    browser = _first(user_agent, _BROWSERS)
    system = _first(user_agent, _SYSTEMS)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"Unknown browser on {system}"
    return "Unknown browser"
