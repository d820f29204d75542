"""Which scopes exist and which an application may ask for.

The OpenID scopes come from settings; every API adds its own permissions. Which API a request
is for, and whether the app may have those permissions of it, is the validator's business
(``provider.validator``); this backend only answers DOT's questions about names.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings

from provider.models import Api, ApiAccess, ApplicationKind


class GatehouseScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = dict(oauth2_settings.SCOPES)
        for api_scopes in Api.objects.values_list("scopes", flat=True):
            for name, description in (api_scopes or {}).items():
                scopes.setdefault(name, description)
        return scopes

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            return list(self.get_all_scopes())
        available = list(application.allowed_scopes or [])
        if application.kind != ApplicationKind.M2M and "openid" not in available:
            available.insert(0, "openid")
        for scopes in ApiAccess.objects.filter(application=application).values_list(
            "scopes", flat=True
        ):
            available.extend(scopes)
        return list(dict.fromkeys(available))

    def get_default_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is not None and application.kind == ApplicationKind.M2M:
            return []
        return ["openid"]
