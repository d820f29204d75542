"""A readable name for a browser and system ("Chrome on macOS") from a User-Agent header.

The header is parsed by ``ua-parser`` (the uap-core rules, shipped by ``ua-parser-builtins``
and refreshed with it), and its family names are shortened to what people say: "Mobile
Safari" is Safari, "Mac OS X" is macOS, an iOS device is the iPhone or iPad it names.

Used to name a new passkey after where it was created, to label sessions, and to say which
browser signed in in the new-device email (accounts/takeover/). A guess for people to
recognise, never for decisions: user agents are easy to fake, and browsers freeze parts of
them (Chrome on macOS always says "Intel Mac OS X 10_15_7").
"""

from __future__ import annotations

import functools

from ua_parser import parse_os, parse_user_agent

# Families the parser names by variant that people know by one name.
_BROWSER_NAMES = {
    "Chrome Mobile": "Chrome",
    "Chrome Mobile iOS": "Chrome",
    "Chrome Mobile WebView": "Chrome",
    "HeadlessChrome": "Chrome",
    "Chromium": "Chrome",
    "Mobile Safari": "Safari",
    "Mobile Safari UI/WKWebView": "Safari",
    "Firefox Mobile": "Firefox",
    "Firefox iOS": "Firefox",
    "Edge Mobile": "Edge",
    "Opera Mobile": "Opera",
    "Samsung Internet": "Samsung Internet",
}
_SYSTEM_NAMES = {
    "Mac OS X": "macOS",
    "Chrome OS": "ChromeOS",
    "Ubuntu": "Linux",
    "Debian": "Linux",
    "Fedora": "Linux",
    "Linux Mint": "Linux",
    "Arch Linux": "Linux",
}


def _browser(user_agent: str) -> str:
    found = parse_user_agent(user_agent)
    if found is None or found.family == "Other":
        return ""
    return _BROWSER_NAMES.get(found.family, found.family)


def _system(user_agent: str) -> str:
    found = parse_os(user_agent)
    if found is None or found.family == "Other":
        return ""
    if found.family in ("iOS", "iPadOS"):
        # iOS names the device rather than the system: that is what people recognise.
        return "iPad" if "iPad" in user_agent else "iPhone"
    return _SYSTEM_NAMES.get(found.family, found.family)


@functools.lru_cache(maxsize=1024)
def describe_user_agent(user_agent: str) -> str:
    """ "Chrome on macOS", "Safari on iPhone", "curl", "Unknown browser on Linux"; "" when the
    header says nothing (empty). Cached: a site sees the same few headers over and over, and
    parsing one costs about half a millisecond."""
    user_agent = (user_agent or "")[:1000]
    if not user_agent.strip():
        return ""
    browser = _browser(user_agent)
    system = _system(user_agent)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"Unknown browser on {system}"
    return "Unknown browser"


def describe_parts(user_agent: str) -> tuple[str, str]:
    """The browser and the system, separately ("Chrome", "macOS"); "" for what is unknown."""
    user_agent = (user_agent or "")[:1000]
    return _browser(user_agent), _system(user_agent)
