"""Branding of the sign-in pages and emails: an organization's, or the operator's by default.

- ``images``: a logo upload decoded, checked and re-encoded (Pillow);
- ``colours``: hex colours and the WCAG contrast rules they must meet;
- ``brand``: which brand a request shows (``?org=``, the session, an OIDC ``organization``);
- ``views``: the logo route, ``/branding/logos/<sha256>.png``.
"""
