"""Receipts: every consent event yields a JWS that anyone verifies with the published JWKS,
checked here by two independent JOSE libraries (PyJWT and joserfc); any change to a receipt,
or a receipt signed any other way, fails."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import cast

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from consent import keys, receipts, services
from consent.models import ConsentEvent, ReceiptKey
from tests.factories import UserFactory


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fetch_jwks() -> dict:
    response = Client().get("/consent/.well-known/jwks.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jwk-set+json"
    return response.json()


def joserfc_claims(token: str, jwks: dict) -> dict:
    """What an outside verifier does: the key set, ES256 only."""
    key_set = KeySet.import_key_set(cast(KeySetSerialization, jwks))
    result = jws.deserialize_compact(token, key_set, algorithms=["ES256"])
    return json.loads(result.payload)


@pytest.fixture
def event(published):
    person = UserFactory(email="ada@example.com", display_name="Ada Lovelace")
    granted, _ = services.record_consent(
        user=person,
        purpose=published["terms"].document.purposes.get(),
        decision="granted",
        method="settings",
    )
    return granted


def test_a_receipt_verifies_with_the_published_keys_in_two_libraries(event):
    jwks = fetch_jwks()
    claims = receipts.verify(event.receipt, jwks)
    assert claims == joserfc_claims(event.receipt, jwks)
    assert claims["jti"] == str(event.public_id)
    assert claims["sub"] == str(event.user.public_id)
    consent = claims["consent"]
    assert consent["decision"] == "granted"
    assert consent["method"] == "settings"
    assert consent["purpose"]["key"] == "terms"
    # The hash names the exact text served at the version's .txt address.
    text = Client().get(consent["policy_version"]["text_url"].split("testserver")[-1])
    assert hashlib.sha256(text.content).hexdigest() == consent["policy_version"]["content_sha256"]
    assert jwt.get_unverified_header(event.receipt)["typ"] == "consent-receipt+jwt"


def test_a_receipt_says_nothing_personal(purposes):
    person = UserFactory(email="ada@example.com", display_name="Ada Lovelace")
    client = Client(HTTP_USER_AGENT="UniqueAgent/9.9", REMOTE_ADDR="203.0.113.9")
    client.force_login(person)
    response = client.post(
        "/account/privacy/decide/",
        {"purpose": purposes["marketing_email"].public_id, "decision": "granted"},
    )
    assert response.status_code == 302
    event = ConsentEvent.objects.get(user=person)
    assert event.ip == "203.0.113.9"
    assert event.user_agent == "UniqueAgent/9.9"
    payload = base64.urlsafe_b64decode(event.receipt.split(".")[1] + "==").decode()
    for personal in ("ada@example.com", "Ada", "Lovelace", "203.0.113.9", "UniqueAgent"):
        assert personal not in payload


def tampered_variants(token: str) -> dict[str, str]:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["consent"]["decision"] = "withdrawn"
    other_payload = b64(json.dumps(claims).encode())
    raw_sig = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw_sig[5] ^= 0x01
    head = json.loads(base64.urlsafe_b64decode(header + "=="))
    none_header = b64(json.dumps({**head, "alg": "none"}).encode())
    stranger = ec.generate_private_key(ec.SECP256R1())
    public_x = keys.ReceiptKey.objects.get().public_jwk["x"]
    return {
        "payload edited": f"{header}.{other_payload}.{signature}",
        "signature edited": f"{header}.{payload}.{b64(bytes(raw_sig))}",
        "alg none": f"{none_header}.{payload}.",
        # HS256 keyed with the public key's bytes: the classic algorithm confusion.
        "hs256 with the kid": jwt.encode(
            claims, public_x.encode(), algorithm="HS256", headers={"kid": head["kid"]}
        ),
        "signed by another key, same kid": jwt.encode(
            claims, stranger, algorithm="ES256", headers={"kid": head["kid"]}
        ),
        "signed by a key not in the set": jwt.encode(
            claims, stranger, algorithm="ES256", headers={"kid": "someone-else"}
        ),
    }


@pytest.mark.parametrize(
    "variant",
    [
        "payload edited",
        "signature edited",
        "alg none",
        "hs256 with the kid",
        "signed by another key, same kid",
        "signed by a key not in the set",
    ],
)
def test_a_tampered_or_forged_receipt_fails_in_both_libraries(event, variant):
    jwks = fetch_jwks()
    forged = tampered_variants(event.receipt)[variant]
    with pytest.raises(receipts.InvalidReceipt):
        receipts.verify(forged, jwks)
    with pytest.raises((JoseError, ValueError)):
        joserfc_claims(forged, jwks)


def test_receipts_signed_before_a_rotation_still_verify(event, purposes):
    old_kid = jwt.get_unverified_header(event.receipt)["kid"]
    keys.rotate()
    later, _ = services.record_consent(
        user=event.user, purpose=purposes["marketing_email"], decision="granted", method="api"
    )
    new_kid = jwt.get_unverified_header(later.receipt)["kid"]
    assert new_kid != old_kid
    jwks = fetch_jwks()
    assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
    for token in (event.receipt, later.receipt):
        receipts.verify(token, jwks)
        joserfc_claims(token, jwks)
    assert ReceiptKey.objects.filter(status="active").count() == 1


def test_the_jwks_holds_public_keys_only(event):
    for key in fetch_jwks()["keys"]:
        assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    stored = ReceiptKey.objects.get()
    assert "PRIVATE" not in stored.private_key_encrypted  # encrypted at rest


def test_the_kid_is_the_rfc7638_thumbprint(event):
    jwk = ReceiptKey.objects.get().public_jwk
    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    assert jwk["kid"] == b64(hashlib.sha256(members.encode()).digest())


def test_the_receipt_is_stored_as_issued(event):
    assert ConsentEvent.objects.get(pk=event.pk).receipt == event.receipt
