"""The provider in the Django admin: applications, APIs and signing keys for staff, with every
change made by a service (checked and audited) and no secret or token value anywhere.

DOT registers its own admins for the swapped models (oauth2_provider/admin.py), which edit the
client secret and redirect URIs around Gatehouse's rules and show token suffixes: they are
unregistered here (oauth2_provider comes before provider in INSTALLED_APPS, so its admin module
has run by now) and replaced.

- Applications: registered through ``create_application`` on a page of their own that shows a
  confidential app's secret once; edited through ``update_application`` (redirect URIs checked
  again for the app's kind); "rotate secret", "disable" and "enable" ask for a reason.
- APIs: created through ``create_api``; name, permissions, lifetime and introspectors edited
  through ``update_api``.
- Signing keys: read-only; "publish next", "activate" and "retire" call provider.services.keys.
- Tokens, grants and device grants: read-only, without their values or checksums.
"""

from django.contrib import admin

from provider.models import AccessToken, Application, DeviceGrant, Grant, IDToken, RefreshToken

for _model in (Application, AccessToken, RefreshToken, Grant, IDToken, DeviceGrant):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)

# Registered only now, once DOT's admins are gone.
from provider.admin import apis, applications, keys, tokens  # noqa: E402

__all__ = ["apis", "applications", "keys", "tokens"]
