"""A software WebAuthn authenticator built from python-fido2's data types (test helper)."""
from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256, websafe_decode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

F = AuthenticatorData.FLAG


class SoftAuthenticator:
    def __init__(self, origin: str, *, user_verified: bool = True):
        self.origin = origin
        self.user_verified = user_verified
        self.credentials = {}  # credential id -> (private key, rp id, user handle)
        self.counter = 0

    def _flags(self, *extra):
        flags = F.UP | (F.UV if self.user_verified else 0)
        for f in extra:
            flags |= f
        return flags

    def create(self, options: dict, *, origin: str | None = None) -> dict:
        rp_id = options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        cred_id = os.urandom(32)
        user_handle = websafe_decode(options["user"]["id"])
        self.credentials[cred_id] = (key, rp_id, user_handle)
        auth_data = AuthenticatorData.create(
            sha256(rp_id.encode()), self._flags(F.AT), self.counter,
            AttestedCredentialData.create(b"\0" * 16, cred_id, ES256.from_cryptography_key(key.public_key())),
        )
        client_data = CollectedClientData.create(
            type="webauthn.create", challenge=websafe_decode(options["challenge"]), origin=origin or self.origin
        )
        return dict(RegistrationResponse(
            raw_id=cred_id,
            response=AuthenticatorAttestationResponse(
                client_data=client_data,
                attestation_object=AttestationObject.create("none", auth_data, {}),
            ),
            client_extension_results={"credProps": {"rk": True}},
        ))

    def get(self, options: dict, *, origin: str | None = None, credential_id: bytes | None = None) -> dict:
        allowed = [websafe_decode(c["id"]) for c in options.get("allowCredentials") or []]
        cred_id = credential_id or next(c for c in self.credentials if not allowed or c in allowed)
        key, rp_id, user_handle = self.credentials[cred_id]
        assert rp_id == options["rpId"]
        self.counter += 1
        auth_data = AuthenticatorData.create(sha256(rp_id.encode()), self._flags(), self.counter)
        client_data = CollectedClientData.create(
            type="webauthn.get", challenge=websafe_decode(options["challenge"]), origin=origin or self.origin
        )
        signature = key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return dict(AuthenticationResponse(
            raw_id=cred_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data, authenticator_data=auth_data,
                signature=signature, user_handle=user_handle,
            ),
        ))
