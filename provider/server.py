"""oauthlib's OpenID server with an ID token for the device flow.

oauthlib 4 answers the device grant (RFC 8628) as plain OAuth: an access token and nothing
about who approved it. A TV or command-line app that asked for ``openid`` needs to know whose
account it is now using, as a browser app would from the authorization code, so Gatehouse
adds the ID token there too: signed like every other, with the authentication context the
person had when they approved on /device (``provider.device``), and no ``nonce`` (the device
authorization request has none). Named by ``OIDC_SERVER_CLASS`` (config/provider_settings.py).
"""

from __future__ import annotations

import json
from typing import Any

from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from oauthlib.oauth2.rfc8628.grant_types.device_code import DeviceCodeGrant
from oauthlib.openid import Server as OpenIDServer
from oauthlib.openid.connect.core.grant_types.base import GrantTypeBase

from config.provider_settings import DEVICE_CODE_GRANT


class _DeviceIDToken(GrantTypeBase):
    """oauthlib's OpenID ID-token builder (``add_id_token``), over the device grant."""

    def __init__(self, grant: DeviceCodeGrant) -> None:
        self.proxy_target = grant


class OpenIDDeviceCodeGrant(DeviceCodeGrant):
    def __init__(self, request_validator: Any = None, **kwargs: Any) -> None:
        super().__init__(request_validator, **kwargs)
        self._id_token = _DeviceIDToken(self)

    def create_token_response(self, request: Any, token_handler: Any) -> tuple[dict, str, int]:
        """oauthlib's answer, with the ID token added before the tokens are saved (the
        validator links the saved ID token to the access token, as for a code)."""
        headers = self._get_default_headers()
        try:
            self.validate_token_request(request)
        except OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        token = token_handler.create_token(request, self.refresh_token)
        if "openid" in (request.scopes or ()):
            token = self._id_token.add_id_token(token, token_handler, request)
        self.request_validator.save_token(token, request)
        return headers, json.dumps(token), 200


class Server(OpenIDServer):
    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.device_code_grant = OpenIDDeviceCodeGrant(request_validator, **kwargs)
        self._grant_types[DEVICE_CODE_GRANT] = self.device_code_grant
