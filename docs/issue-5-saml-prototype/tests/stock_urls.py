"""The project's URLs minus Gatehouse's SAML views: allauth's stock behaviour, for comparison."""
from config.urls import urlpatterns as _all

urlpatterns = [p for p in _all if "accounts/saml/" not in str(getattr(p, "pattern", ""))]
