"""Gatehouse's main pages pass axe-core (no serious or critical violation) and fit a phone.

axe-core is the npm package pinned in tests/e2e/axe/ (``make test`` installs it with ``npm ci``
when node is there); it is injected into each page with Playwright and run there. Every page
is checked at a desktop width and at 390 px, the width of a common phone, where the document
must not be wider than the screen.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from pprint import pformat

import pytest
from django.apps import apps
from django.test import RequestFactory, override_settings
from django.utils import timezone

from audit.models import AuditVerification
from events import services as webhook_services
from events.models import Delivery, DeliveryAttempt, Event
from organizations import services as org_services
from organizations.models import Membership
from sso import services as sso_services
from tests.conftest import require
from tests.consent.conftest import publish
from tests.consent.world import accept_required
from tests.e2e.test_mfa_browser import base_url, browser, sign_in_with_password  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT
from tests.factories import UserFactory

AXE_DIR = Path(__file__).resolve().parent / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
# Serious and critical are the impacts that lock someone out (no name on a button, a list a
# screen reader cannot read as one, text without contrast); moderate and minor are reported in
# the failure message when a test fails for another reason, but do not fail it.
BLOCKING = {"serious", "critical"}
# Rules that fail whatever their impact: a flash message once broke both on every page.
ALWAYS = {"list", "listitem", "aria-allowed-role"}

_default_purposes = importlib.import_module("consent.migrations.0003_default_purposes")


def axe_ready() -> tuple[bool, str]:
    if shutil.which("node") is None:
        return False, "node and npm, to install axe-core (tests/e2e/axe)"
    if not AXE_SCRIPT.is_file():
        return False, f"npm package axe-core: run `npm ci` in {AXE_DIR} (make test does)"
    return True, ""


def audit_page(page) -> list[dict]:
    """Run axe on the page as it is now; the serious and critical violations, one per rule."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [node["target"] for node in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING or v["id"] in ALWAYS
    ]


# Elements that reach past the screen's edge: cut off (inside a box that scrolls sideways, or
# hidden by overflow) or widening the page. Visually hidden text (1 px, clipped) does not count.
# Closed <details> are opened first: what they hold must fit too.
CUT_OFF_JS = """() => {
const clipped = (e) => {
  for (let a = e.parentElement; a; a = a.parentElement) {
    if (a.getBoundingClientRect().width <= 1 && getComputedStyle(a).overflow !== 'visible') {
      return true;
    }
  }
  return false;
};
document.querySelectorAll('details').forEach((d) => { d.open = true; });
return [...document.querySelectorAll('body *')].filter((e) => {
  const box = e.getBoundingClientRect();
  return box.width > 1 && (box.right > window.innerWidth + 1 || box.left < -1) && !clipped(e);
}).slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
  + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '')
  + ' ' + (e.textContent || '').trim().slice(0, 30));
}"""


def overflow(page) -> int:
    """How many CSS pixels the document is wider than the viewport (0: it fits)."""
    return int(
        page.evaluate(
            "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def world() -> tuple:
    """An organization with an unverified domain (its TXT record shown), a member, an SSO
    connections in setup (SAML and OIDC) and audit events; its owner has accepted the terms."""
    _default_purposes.seed(apps, None)
    publish("terms")
    publish("privacy")
    owner = UserFactory(email="ada.lovelace-longname@analytical-engines.example")
    accept_required(owner)
    org = org_services.create_organization(
        actor=owner, name="Analytical Engines International", slug="engines"
    )
    acting = Membership.objects.get(organization=org, user=owner)
    org_services.add_domain(actor=acting, org=org, name="analytical-engines.example")
    member = UserFactory(email="charles.babbage@analytical-engines.example")
    Membership.objects.create(organization=org, user=member, role="member")
    request = RequestFactory().get("/", HTTP_HOST="localhost")
    saml = sso_services.create_connection(
        actor=acting,
        org=org,
        site_url=request.build_absolute_uri("/"),
        protocol="saml",
        name="Engines Okta",
    )
    oidc = sso_services.create_connection(
        actor=acting,
        org=org,
        site_url=request.build_absolute_uri("/"),
        protocol="oidc",
        name="Engines Entra",
    )
    with override_settings(OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS=True):
        endpoint = webhook_services.create_endpoint(
            actor=acting,
            organization=org,
            url="http://127.0.0.1:9/analytical-engines/receivers/gatehouse-webhooks-endpoint",
            description="The engines' CRM",
            event_types=["membership.created", "user.created"],
        ).endpoint
    event = Event.objects.create(type="user.created", organization_id=org.pk)
    delivery = Delivery.objects.create(
        endpoint=endpoint, event=event, status="failed", attempts=1, last_status=503
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, status_code=503, latency_ms=41, error="HTTP 503", response_excerpt="down"
    )
    _background_check(org)
    return owner, org, saml, oidc


def _background_check(org) -> None:
    """A background check of the audit log that found problems: listed on the audit page,
    with a page of its own and a table of what it found."""
    event_id = "0b9a3c1e-5d2f-4a6b-8c7d-9e0f1a2b3c4d"
    problems = [
        {
            "message": f"position {n}: event {event_id} was changed (actor_text, data)",
            "position": n,
            "event_id": event_id,
        }
        for n in (41, 42)
    ]
    AuditVerification.objects.create(
        organization=org,
        checkpoint={"chain": org.pk},
        checkpoint_size=120_000,
        status=AuditVerification.Status.DONE,
        to_check=120_000,
        checked=120_000,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        result={
            "chain": org.pk,
            "ok": False,
            "checked": 120_000,
            "size": 120_000,
            "pruned_through": 0,
            "first_problem": problems[0]["message"],
            "problems": problems,
            "problem_count": 2,
        },
    )


def webhook_pages(portal: str) -> list[str]:
    """The Webhooks tab's pages for the one endpoint of ``world()`` and its delivery."""
    delivery = Delivery.objects.select_related("endpoint").get()
    hook = f"{portal}/webhooks/{delivery.endpoint.public_id}"
    return [
        f"{portal}/webhooks/",
        f"{portal}/webhooks/new/",
        f"{hook}/",
        f"{hook}/edit/",
        f"{hook}/delete/",
        f"{hook}/deliveries/{delivery.public_id}/",
    ]


def main_pages(org, saml, oidc) -> list[str]:
    portal = f"/orgs/{org.slug}"
    return [
        "/account/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/account/security/",
        "/account/sessions/",
        "/account/privacy/",
        "/orgs/",
        f"{portal}/",
        f"{portal}/members/",
        f"{portal}/invitations/",
        f"{portal}/domains/",
        f"{portal}/policy/",
        f"{portal}/settings/",
        f"{portal}/sso/",
        f"{portal}/sso/new/",
        f"{portal}/sso/{saml.pk}/",
        f"{portal}/sso/{saml.pk}/setup/",
        f"{portal}/sso/{saml.pk}/idp/",
        f"{portal}/sso/{saml.pk}/accounts/",
        f"{portal}/sso/{saml.pk}/certificates/",
        f"{portal}/sso/{oidc.pk}/setup/",
        f"{portal}/sso/{oidc.pk}/idp/",
        f"{portal}/applications/",
        f"{portal}/applications/new/",
        f"{portal}/audit/",
        f"{portal}/audit/checks/{AuditVerification.objects.get().public_id}/",
        *webhook_pages(portal),
    ]


SIGNED_OUT_PAGES = [
    "/accounts/signup/",
    "/accounts/login/",
    "/accounts/login/code/",
    "/accounts/password/reset/",
    "/sso/",
]


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_pages_pass_axe_and_fit_the_screen(browser, live_server, viewport):  # noqa: F811
    ready, reason = axe_ready()
    require(ready, reason)
    url = base_url(live_server)
    owner, org, saml, oidc = world()
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: dict[str, list] = {}

    def check(path: str) -> None:
        page.goto(f"{url}{path}")
        page.wait_for_load_state("networkidle")
        found: list = audit_page(page)
        extra = overflow(page)
        if extra > 0:
            found.append({"rule": "page wider than the screen", "by_px": extra})
        cut_off = page.evaluate(CUT_OFF_JS)
        if cut_off:
            found.append({"rule": "cut off at the screen's edge", "elements": cut_off})
        if found:
            problems[path] = found

    for path in SIGNED_OUT_PAGES:
        check(path)
    sign_in_with_password(page, url, owner)
    assert page.url == f"{url}/account/", page.url
    for path in main_pages(org, saml, oidc):
        check(path)
    # A page with a flash message (adding a domain says so).
    page.goto(f"{url}/orgs/{org.slug}/domains/")
    page.fill("#domain-form input[name=name]", "engines.example")
    page.click("#add-domain")
    page.wait_for_load_state("networkidle")
    assert page.locator(".messages li").count() >= 1
    found = audit_page(page)
    if found:
        problems["(after a flash message)"] = found

    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.goto(f"{url}/account/privacy/")
    page.screenshot(path=str(OUTPUT / f"privacy-{viewport['width']}.png"), full_page=True)
    context.close()
    assert problems == {}, pformat(problems)
