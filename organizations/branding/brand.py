"""Which brand a request shows, and how a sign-in stays branded from its first page to its last.

A sign-in is for an organization when it starts at ``/accounts/...?org=<slug>`` or at an OIDC
authorization request naming one (``organization=<slug or public id>``). That organization is
kept in the session (``SIGN_IN_ORG_SESSION_KEY``), so the sign-up, code, password reset,
email confirmation and consent steps of the same sign-in (whose links carry no ``?org=``), and
the emails they send, carry its brand. An empty or unknown ``?org=``, an authorization request
that names no organization, and signing out (the session is flushed) end it. Signed-in pages
other than consent show the operator's brand.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from organizations.branding import colours
from organizations.models import BrandLogo, OperatorBranding, Organization
from organizations.services.branding import OPERATOR_CACHE_KEY

SIGN_IN_ORG_SESSION_KEY = "gatehouse_sign_in_org"
# Signed-out flows and the consent steps of a sign-in.
SIGN_IN_PREFIXES = ("/accounts/", "/sso/")
CONSENT_PATHS = ("/o/authorize/", "/account/privacy/accept/")


@dataclass(frozen=True)
class Brand:
    name: str
    logo_path: str
    primary: str
    background: str
    text: str
    org_slug: str = ""

    @property
    def style(self) -> str:
        """CSS custom properties for the page (static/gatehouse/gatehouse.css, "Branding");
        every value is a validated #rrggbb."""
        pairs = [("--brand-primary", self.primary)]
        if self.background or self.text:
            pairs += [
                ("--brand-bg", self.background or colours.DEFAULT_BACKGROUND),
                ("--brand-on-bg", self.text or colours.DEFAULT_TEXT),
            ]
        return "; ".join(f"{name}: {value}" for name, value in pairs if value)

    @property
    def css_classes(self) -> str:
        classes = ["branded-primary" if self.primary else ""]
        classes.append("branded-backdrop" if self.background or self.text else "")
        return " ".join(c for c in classes if c)

    @property
    def initial(self) -> str:
        return self.name[:1].upper()


def logo_path(logo: BrandLogo | None) -> str:
    return reverse("orgs:brand-logo", args=[logo.sha256]) if logo else ""


def operator_brand() -> Brand:
    """The operator's brand: the admin's singleton, then the settings, then Gatehouse's own.
    Cached in the shared cache (cleared when staff save it)."""
    cached = cache.get(OPERATOR_CACHE_KEY)
    if isinstance(cached, Brand):
        return cached
    row = (
        OperatorBranding.objects.select_related("logo")
        .only("product_name", "brand_colour", "brand_background", "brand_text", "logo__sha256")
        .filter(pk=1)
        .first()
    )
    brand = Brand(
        name=(row and row.product_name) or settings.GATEHOUSE_PRODUCT_NAME,
        logo_path=logo_path(row.logo if row else None),
        primary=(row and row.brand_colour) or settings.GATEHOUSE_BRAND_COLOUR,
        background=(row and row.brand_background) or "",
        text=(row and row.brand_text) or "",
    )
    cache.set(OPERATOR_CACHE_KEY, brand, 300)
    return brand


def org_brand(org: Organization, default: Brand) -> Brand:
    """``org``'s brand; what it leaves empty comes from the operator's. A backdrop and its text
    are a pair, checked together: they come from one side only."""
    own_pair = bool(org.brand_background or org.brand_text)
    return Brand(
        name=org.display_name or org.name,
        logo_path=logo_path(org.logo),
        primary=org.brand_colour or default.primary,
        background=org.brand_background if own_pair else default.background,
        text=org.brand_text if own_pair else default.text,
        org_slug=org.slug,
    )


def _org_by_slug(slug: str) -> Organization | None:
    slug = (slug or "").strip().lower()
    if not slug or len(slug) > 50:
        return None
    return Organization.objects.filter(slug=slug).first()


def remember_sign_in_org(request: HttpRequest) -> None:
    """Start, keep or end the organization's sign-in for this request (see the module's
    docstring). Writes the session only when the answer changes."""
    if request.method != "GET" or not hasattr(request, "session"):
        return
    path = request.path
    org: Organization | None
    if path.startswith("/o/authorize/"):
        from provider.org_signin import organization_named

        org = organization_named(request.GET.get("organization", ""))
    elif path.startswith(SIGN_IN_PREFIXES) and "org" in request.GET:
        org = _org_by_slug(request.GET.get("org", ""))
    else:
        return
    current = request.session.get(SIGN_IN_ORG_SESSION_KEY)
    if org is None and current is not None:
        del request.session[SIGN_IN_ORG_SESSION_KEY]
    elif org is not None and current != org.pk:
        request.session[SIGN_IN_ORG_SESSION_KEY] = org.pk


def is_sign_in_page(request: HttpRequest) -> bool:
    path = request.path
    if path.startswith(CONSENT_PATHS):
        return True
    user = getattr(request, "user", None)
    signed_in = bool(user is not None and user.is_authenticated)
    return path.startswith(SIGN_IN_PREFIXES) and (
        not signed_in or path.startswith(("/accounts/login/", "/accounts/confirm-email/"))
    )


def sign_in_org(request: HttpRequest) -> Organization | None:
    """The organization this request's sign-in is for, if any."""
    session = getattr(request, "session", None)
    org_id = session.get(SIGN_IN_ORG_SESSION_KEY) if session is not None else None
    if not isinstance(org_id, int):
        return None
    return Organization.objects.select_related("logo").defer("logo__data").filter(pk=org_id).first()


def email_brand(request: HttpRequest | None) -> Brand:
    """The brand of an email sent while handling ``request``: its sign-in's organization, or
    the operator's; the logo as an absolute URL to Gatehouse's logo route."""
    default = operator_brand()
    org = sign_in_org(request) if request is not None else None
    brand = org_brand(org, default) if org else default
    if brand.logo_path and request is not None:
        brand = Brand(
            **{**brand.__dict__, "logo_path": request.build_absolute_uri(brand.logo_path)}
        )
    return brand
