"""X.509 certificates for SAML: reading the IdP's, making Gatehouse's own per connection."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SP_KEY_BITS = 3072
SP_CERT_YEARS = 10
_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


class BadCertificate(ValueError):
    pass


@dataclass(frozen=True)
class CertificateInfo:
    der_base64: str
    fingerprint_sha256: str
    subject: str
    not_before: dt.datetime
    not_after: dt.datetime


def read_certificate(text: str) -> CertificateInfo:
    """A certificate given as PEM or as the bare base64 that metadata carries."""
    text = (text or "").strip()
    match = _PEM_BODY.search(text)
    body = re.sub(r"\s+", "", match.group(1) if match else text)
    if not body or len(body) > 20_000:
        raise BadCertificate("That is not a certificate.")
    try:
        der = base64.b64decode(body, validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise BadCertificate("That is not a certificate: paste it in PEM or base64 form.") from exc
    fingerprint = cert.fingerprint(hashes.SHA256()).hex().upper()
    return CertificateInfo(
        der_base64=base64.b64encode(der).decode(),
        fingerprint_sha256=":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)),
        subject=cert.subject.rfc4514_string()[:500],
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def new_sp_key_pair(common_name: str) -> tuple[str, str]:
    """(certificate PEM, private key PEM): a self-signed RSA key pair for one connection."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=SP_KEY_BITS)
    return self_signed_pair(key, common_name)


def self_signed_pair(key: rsa.RSAPrivateKey, common_name: str) -> tuple[str, str]:
    """(certificate PEM, private key PEM) for ``key``, certified by itself for
    ``SP_CERT_YEARS``."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * SP_CERT_YEARS))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem
