"""Is a password known from a breach?

Offline, always: the 30,000 most common passwords of the breach corpus zxcvbn ships (its
``passwords`` list, from leaked password dumps), compared without case. No network.

Online, when the operator turns it on (``PWNED_PASSWORDS_CHECK``): the k-anonymity range API of
Pwned Passwords. Only the first five hex digits of the password's SHA-1 leave Gatehouse; the
answer lists every suffix with that prefix (padded with fake ones, ``Add-Padding``), and the
match is made here. A call that fails or is slow lets the password through (fail open) with a
log line that names neither the password nor its hash.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from zxcvbn.matching import RANKED_DICTIONARIES

from config import outbound

logger = logging.getLogger(__name__)

MAX_RANGE_BYTES = 2 * 1024 * 1024  # a padded range answer is about 30 KB


def in_offline_corpus(password: str) -> bool:
    return password.lower() in RANKED_DICTIONARIES["passwords"]


def pwned_count(password: str) -> int | None:
    """How often the range API has seen ``password`` (0: never), or None when the check is off
    or did not complete."""
    if not settings.GATEHOUSE_PWNED_PASSWORDS_CHECK:
        return None
    digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    url = settings.GATEHOUSE_PWNED_PASSWORDS_URL.rstrip("/") + "/" + prefix
    try:
        response = outbound.request(
            "GET",
            url,
            timeout=settings.GATEHOUSE_PWNED_PASSWORDS_TIMEOUT_MS / 1000,
            max_bytes=MAX_RANGE_BYTES,
            headers={"Add-Padding": "true"},
            operator_owned=True,
        )
    except outbound.OutboundError as exc:
        logger.warning("Pwned Passwords range check skipped (password allowed): %s", exc)
        return None
    if response.status != 200 or response.truncated:
        logger.warning(
            "Pwned Passwords range check skipped (password allowed): HTTP %s", response.status
        )
        return None
    return _count_in_range(response.body, suffix)


def _count_in_range(body: bytes, suffix: str) -> int:
    for line in body.decode("ascii", errors="replace").splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate.upper() == suffix:
            try:
                return int(count)  # padding lines have a count of 0
            except ValueError:
                return 0
    return 0
