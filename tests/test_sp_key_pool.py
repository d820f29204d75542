"""The suite's stand-in for SP key generation (tests/conftest.py) must not hide what Gatehouse
itself does: a fresh 3072-bit key for every connection and every rotation."""

from __future__ import annotations

import itertools

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sso import certificates
from tests.conftest import SpKeyPool


def public_numbers(key_pem: str) -> rsa.RSAPublicNumbers:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key.public_key().public_numbers()


def common_name(cert_pem: str) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def test_gatehouse_makes_a_new_3072_bit_key_for_every_call(sp_key_pool: SpKeyPool) -> None:
    first_cert, first_key = sp_key_pool.original("Gatehouse acme")
    _, second_key = sp_key_pool.original("Gatehouse acme")

    assert public_numbers(first_key) != public_numbers(second_key)
    assert public_numbers(first_key).n.bit_length() == certificates.SP_KEY_BITS == 3072
    assert common_name(first_cert) == "Gatehouse acme"


def test_the_certificate_carries_the_key_it_certifies(sp_key_pool: SpKeyPool) -> None:
    cert_pem, key_pem = sp_key_pool.original("Gatehouse acme")
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    cert_key = cert.public_key()

    assert isinstance(cert_key, rsa.RSAPublicKey)
    assert cert_key.public_numbers() == public_numbers(key_pem)
    assert cert.not_valid_after_utc > cert.not_valid_before_utc


def test_the_pool_never_hands_out_the_same_key_twice_in_a_row(sp_key_pool: SpKeyPool) -> None:
    assert certificates.new_sp_key_pair is sp_key_pool

    pairs = [certificates.new_sp_key_pair(f"Gatehouse c{n}") for n in range(sp_key_pool.size + 2)]

    keys = [public_numbers(key) for _, key in pairs]
    assert all(a != b for a, b in itertools.pairwise(keys))
    assert [common_name(cert) for cert, _ in pairs] == [
        f"Gatehouse c{n}" for n in range(sp_key_pool.size + 2)
    ]
    assert all(key.n.bit_length() == 3072 for key in keys)
