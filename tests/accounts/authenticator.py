"""A software WebAuthn authenticator for tests, assembled from python-fido2's data types.

It makes the same registration and assertion responses a browser passes on from a security
key or a platform authenticator (ES256 keys, "none" attestation), so the server-side checks of
py_webauthn run for real. Tests can get it wrong on purpose: another origin, no user
verification, someone else's credential.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256, websafe_decode
from fido2.webauthn import (
    AttestationObject,
    AttestedCredentialData,
    AuthenticationExtensionsClientOutputs,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

FLAG = AuthenticatorData.FLAG


class SoftAuthenticator:
    def __init__(self, origin: str, *, user_verified: bool = True) -> None:
        self.origin = origin
        self.user_verified = user_verified
        # credential id -> (private key, relying party id, user handle)
        self.credentials: dict[bytes, tuple[Any, str, bytes]] = {}
        self.counter = 0

    def _flags(self, *extra: FLAG) -> FLAG:
        flags = FLAG.UP | (FLAG.UV if self.user_verified else FLAG(0))
        for flag in extra:
            flags |= flag
        return flags

    def create(self, options: dict, *, origin: str | None = None) -> dict:
        """Answer a registration's options (navigator.credentials.create)."""
        rp_id = options["rp"]["id"]
        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = os.urandom(32)
        self.credentials[credential_id] = (key, rp_id, websafe_decode(options["user"]["id"]))
        auth_data = AuthenticatorData.create(
            sha256(rp_id.encode()),
            self._flags(FLAG.AT),
            self.counter,
            AttestedCredentialData.create(
                b"\0" * 16, credential_id, ES256.from_cryptography_key(key.public_key())
            ),
        )
        client_data = CollectedClientData.create(
            type="webauthn.create",
            challenge=websafe_decode(options["challenge"]),
            origin=origin or self.origin,
        )
        return dict(
            RegistrationResponse(
                raw_id=credential_id,
                response=AuthenticatorAttestationResponse(
                    client_data=client_data,
                    attestation_object=AttestationObject.create("none", auth_data, {}),
                ),
                client_extension_results=AuthenticationExtensionsClientOutputs(
                    {"credProps": {"rk": True}}
                ),
            )
        )

    def get(
        self, options: dict, *, origin: str | None = None, credential_id: bytes | None = None
    ) -> dict:
        """Answer an authentication's options (navigator.credentials.get)."""
        allowed = [websafe_decode(c["id"]) for c in options.get("allowCredentials") or []]
        credential_id = credential_id or next(
            c for c in self.credentials if not allowed or c in allowed
        )
        key, rp_id, user_handle = self.credentials[credential_id]
        self.counter += 1
        auth_data = AuthenticatorData.create(sha256(rp_id.encode()), self._flags(), self.counter)
        client_data = CollectedClientData.create(
            type="webauthn.get",
            challenge=websafe_decode(options["challenge"]),
            origin=origin or self.origin,
        )
        signature = key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        return dict(
            AuthenticationResponse(
                raw_id=credential_id,
                response=AuthenticatorAssertionResponse(
                    client_data=client_data,
                    authenticator_data=auth_data,
                    signature=signature,
                    user_handle=user_handle,
                ),
            )
        )
