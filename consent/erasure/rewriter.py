"""Replacing the person's identifiers in what others wrote down: case-insensitively, whole
words and addresses only, names only where a name can be."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from consent.erasure.identifiers import ERASED_DOMAIN, Identifiers

# Keys whose values are names, in audit data (profile changes, an IdP's claims).
NAME_KEYS = frozenset({"display_name", "name", "given_name", "family_name"})


class Rewriter:
    """Replaces the person's identifiers in text and JSON, case-insensitively and only whole:
    erasing "ann@example.com" leaves "joann@example.com" and "o'ann@example.com" alone."""

    def __init__(self, identifiers: Identifiers, pseudonym: str) -> None:
        self.pseudonym = pseudonym
        self.replacement = f"{pseudonym}@{ERASED_DOMAIN}"
        self._everywhere = _pattern(identifiers.everywhere)
        self._linked = _pattern(identifiers.linked)
        self._names = _pattern(identifiers.names)

    def text(self, value: str, *, linked: bool, names: bool = True) -> str:
        """Their proven addresses; in rows about the person (``linked``) also their other
        addresses and, where the text may quote a name (``names``), their names."""
        if not value:
            return value
        result = self._sub(self._everywhere, value)
        if linked:
            result = self._sub(self._linked, result)
            if names:
                result = self._sub(self._names, result)
        return result

    def data(self, value: Any, *, linked: bool, _names: bool = False) -> Any:
        """JSON: addresses anywhere in it, names only under name keys (when ``linked``)."""
        if isinstance(value, str):
            return self.text(value, linked=linked, names=_names)
        if isinstance(value, dict):
            return {
                key: self.data(item, linked=linked, _names=_names or key in NAME_KEYS)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.data(item, linked=linked, _names=_names) for item in value]
        return value

    def _sub(self, pattern: re.Pattern[str] | None, value: str) -> str:
        if pattern is None:
            return value
        return pattern.sub(lambda m: self._replace(m.group(0)), value)

    def _replace(self, found: str) -> str:
        return self.replacement if "@" in found else self.pseudonym


# Characters that may continue an address (or a word) on either side: a match next to one is
# part of something longer, someone else's.
_BEFORE = r"[\w.!#$%&'*+/=?^`{|}~-]"
_AFTER = r"[\w-]|\.\w|@"


def _pattern(values: list[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in values)
    return re.compile(rf"(?<!{_BEFORE})(?:{alternatives})(?!{_AFTER})", re.IGNORECASE)


def network(ip: str | None) -> str | None:
    """The network an IP address belongs to (/24, /48): where, roughly, but no longer who."""
    if not ip:
        return ip
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
