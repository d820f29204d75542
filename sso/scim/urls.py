"""``/scim/v2/``: the SCIM service provider's endpoints (filled in by the protocol layer)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
