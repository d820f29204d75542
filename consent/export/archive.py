"""Packaging an export: the sections as JSON files in a zip, with a README, the signed receipts
and a manifest of SHA-256 sums; and its encryption at rest (web and worker nodes share no disk,
so the archive lives encrypted in the database until it is downloaded)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts.models import User
from config import encryption
from consent.export.sections import SECTIONS
from consent.models import ConsentEvent

FORMAT_VERSION = 1

README = """\
Your data from {product}
{underline}

This archive holds a copy of what {product} keeps about your account, made on {generated_at}.

manifest.json          When this copy was made, your account's identifier, and the SHA-256 of
                       every other file here, so you can check nothing was changed.
user.json              Your profile: address, name, when you joined and last signed in, and
                       whether the account is blocked (with the reason staff recorded).
email_addresses.json   The email addresses on your account.
memberships.json       The organizations you belong to (or belonged to), with your role.
invitations.json       Invitations to join an organization that were sent to your addresses.
sessions.json          Where you are (or were) signed in: IP address, browser, and when.
mfa_devices.json       Your second factors, by kind and name. Their secrets are never exported.
linked_identities.json Accounts at other sign-in providers linked to yours.
consent.json           What you agreed to or withdrew, when, and which policy version.
receipts/              One signed receipt per consent decision. Check them with the public
                       keys at {public_url}/consent/.well-known/jwks.json.
data_requests.json     Your data export and account erasure requests.
outbound_email.json    Emails we sent to your addresses (subjects and dates, not contents).
audit_events.json      The security log of your account. Where someone other than you acted
                       (staff, an organization admin, or a stranger trying your address), it
                       says so without naming them or keeping their IP address or browser.
"""


def _json(value: Any) -> bytes:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False).encode()


def build_zip(user: User, *, generated_at: Any = None) -> bytes:
    """The export of ``user`` as zip bytes (unencrypted)."""
    generated_at = generated_at or timezone.now()
    product = getattr(settings, "GATEHOUSE_PRODUCT_NAME", "Gatehouse")
    title = f"Your data from {product}"
    files: dict[str, bytes] = {
        "README.txt": README.format(
            product=product,
            underline="=" * len(title),
            generated_at=generated_at.isoformat(),
            public_url=settings.GATEHOUSE_PUBLIC_URL,
        ).encode()
    }
    for section in SECTIONS:
        files[f"{section.name}.json"] = _json(section.export(user))
    for public_id, receipt in (
        ConsentEvent.objects.filter(user=user).order_by("id").values_list("public_id", "receipt")
    ):
        files[f"receipts/{public_id}.jwt"] = receipt.encode()
    manifest = {
        "format": "gatehouse-export",
        "format_version": FORMAT_VERSION,
        "generated_at": generated_at,
        "subject": user.public_id,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    stamp = timezone.localtime(generated_at).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in {"manifest.json": _json(manifest), **files}.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def encrypt_archive(data: bytes) -> bytes:
    return encryption.encrypt_bytes(data)


def decrypt_archive(token: bytes | memoryview) -> bytes:
    return encryption.decrypt_bytes(bytes(token))
