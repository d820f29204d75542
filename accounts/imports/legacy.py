"""Lazy migration: the old system checks a password Gatehouse has no hash for.

People imported with ``"password": {"format": "legacy"}`` carry ``legacy$<their old id>`` as
their hash. At their first sign-in Django's ``check_password`` asks the ``legacy`` hasher,
which asks the operator's endpoint here; on a yes Django re-hashes the password with Argon2id
and saves it, so the old system is never asked about that person again.

The call (``LEGACY_PASSWORD_CHECK_URL``, an operator-owned https URL reached through
config.outbound, so private networks only inside ``OUTBOUND_ALLOWED_NETWORKS``)::

    POST <url>
    Authorization: Bearer <LEGACY_PASSWORD_CHECK_TOKEN>
    Content-Type: application/json

    {"subject": "<the id given at import>", "password": "<what the person typed>"}

Only a 200 whose JSON body has ``"valid": true`` is a yes. Everything else (a no, any other
status, a body that is not that JSON, a timeout, a refused URL, no URL set) is a no: the
person sees the same "wrong password" as anyone, and a log line says why, never with the
password. Sign-in's rate limits run before any password check, so they bound these calls too.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings

from config import outbound

logger = logging.getLogger("gatehouse.imports.legacy")
MAX_ANSWER_BYTES = 4096


def check_with_old_system(subject: str, password: str) -> bool:
    """Whether the old system says ``password`` is ``subject``'s. Fails closed."""
    url = settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_URL
    if not url:
        logger.warning(
            "legacy password check for %s: LEGACY_PASSWORD_CHECK_URL is not set", subject
        )
        return False
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_TOKEN
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"subject": subject, "password": password}).encode()
    try:
        answer = outbound.post(
            url,
            body,
            headers,
            timeout=settings.GATEHOUSE_LEGACY_PASSWORD_CHECK_TIMEOUT_MS / 1000,
            max_bytes=MAX_ANSWER_BYTES,
            operator_owned=True,
        )
    except outbound.OutboundError as exc:
        logger.warning("legacy password check for %s failed: %s", subject, exc)
        return False
    if answer.status != 200 or answer.truncated:
        logger.warning(
            "legacy password check for %s: the old system answered %s", subject, answer.status
        )
        return False
    try:
        valid = json.loads(answer.body).get("valid") is True
    except (ValueError, AttributeError):
        logger.warning("legacy password check for %s: the answer is not the expected JSON", subject)
        return False
    if valid:
        logger.info(
            "legacy password check for %s: accepted; Gatehouse keeps the password now", subject
        )
    return valid
