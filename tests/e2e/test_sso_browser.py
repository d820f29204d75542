"""A member of an organization signs in through the company's SAML IdP in a real browser:
"Sign in with SSO" on the login page, their work email, the IdP (samlify on loopback) posting
its signed answer back, and their account page, created just in time."""

from __future__ import annotations

import pytest
import requests

from audit.models import AuditEvent
from organizations.models import Membership
from sso import services
from sso.models import Connection
from tests.conftest import require
from tests.e2e.test_mfa_browser import browser, new_page  # noqa: F401
from tests.e2e.test_signup_browser import OUTPUT
from tests.factories import DEFAULT_PASSWORD
from tests.sso.builders import HOST, org_with_domain
from tests.sso.peers import SamlIdP, node_ready


@pytest.fixture
def saml_idp(tmp_path):
    ready, reason = node_ready()
    require(ready, reason)
    idp = SamlIdP(tmp_path / "keys")
    yield idp
    idp.close()


@pytest.mark.browser
def test_a_member_signs_in_through_the_companys_idp(browser, live_server, saml_idp, settings):  # noqa: F811
    # python3-saml refuses single-label hosts such as "localhost": browse as 127.0.0.1.
    url = live_server.url
    host = url.split("://", 1)[1]
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    org, owner = org_with_domain("acme", "acme.test")
    connection = services.create_connection(
        actor=owner,
        org=org,
        site_url=f"http://{host}",
        protocol="saml",
        name="Acme Okta",
    )
    services.import_metadata(
        actor=owner, org=org, connection_id=connection.pk, xml=saml_idp.metadata()
    )
    connection.refresh_from_db()
    # The loopback IdP has no sign-in form of its own: who signs in is part of its URL.
    services.update_saml(
        actor=owner,
        org=org,
        connection_id=connection.pk,
        name=connection.name,
        idp_entity_id=connection.idp_entity_id,
        idp_sso_url=f"{saml_idp.sso_url}?format=html&user=ada%40acme.test",
    )
    sp_metadata = requests.get(f"{url}/accounts/saml/{connection.slug}/metadata/", timeout=10)
    assert sp_metadata.status_code == 200
    saml_idp.register_sp(sp_metadata.content)
    services.activate(actor=owner, org=org, connection_id=connection.pk)

    page = new_page(browser)
    page.goto(f"{url}/accounts/login/")
    page.click("#sso-link")
    page.fill("input[name=identifier]", "ada@acme.test")
    page.click("#sso-submit")
    page.wait_for_url(f"{url}/account/")
    page.wait_for_load_state("networkidle")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "sso-signed-in.png"), full_page=True)

    assert "ada@acme.test" in page.content()
    membership = Membership.objects.get(organization=org, user__email="ada@acme.test")
    assert membership.source == "sso"
    assert membership.role == "member"
    assert AuditEvent.objects.filter(action="sso.login_succeeded").count() == 1


@pytest.mark.browser
def test_an_it_admin_connects_and_tests_their_idp_alone(
    browser,  # noqa: F811
    live_server,
    saml_idp,
    settings,
    tmp_path,
):
    url = live_server.url
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    org, owner = org_with_domain("acme", "acme.test")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = new_page(browser)
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_login", owner.user.email)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")

    # A new SAML connection; step 1 shows what to paste into the IdP.
    page.goto(f"{url}/orgs/acme/sso/")
    page.click("#sso-new")
    page.check("#sso-new-form input[name=protocol][value=saml]")
    page.fill("#sso-new-form input[name=name]", "Acme Okta")
    page.click("#sso-create")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUTPUT / "sso-portal-step1.png"), full_page=True)
    connection = Connection.objects.get(organization=org)
    assert connection.sp_entity_id in page.content()
    # ...which the IT admin does at the IdP: it learns Gatehouse's SP metadata.
    saml_idp.register_sp(
        requests.get(f"{url}/accounts/saml/{connection.slug}/metadata/", timeout=10).content
    )

    # Step 2: the IdP's metadata file, then the sign-on URL adjusted by hand (the loopback
    # IdP is told who signs in through its URL, having no sign-in form).
    page.click("#sso-continue")
    metadata = tmp_path / "idp-metadata.xml"
    metadata.write_bytes(saml_idp.metadata())
    page.set_input_files("#metadata-file-form input[type=file]", str(metadata))
    page.click("#metadata-file-submit")
    page.wait_for_load_state("networkidle")
    page.fill(
        "#idp-form input[name=idp_sso_url]",
        f"{saml_idp.sso_url}?format=html&user=ada%40acme.test",
    )
    page.click("#idp-save")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUTPUT / "sso-portal-step3.png"), full_page=True)
    page.click("#accounts-save")
    page.wait_for_load_state("networkidle")

    # Test connection: a real sign-in at the IdP, then a diagnostic, and nobody signed in.
    page.goto(f"{url}/orgs/acme/sso/{connection.pk}/")
    page.click("#sso-test")
    page.wait_for_selector("#sso-test-passed")
    page.screenshot(path=str(OUTPUT / "sso-portal-test.png"), full_page=True)
    assert "ada@acme.test" in page.content()
    assert not Membership.objects.filter(user__email="ada@acme.test").exists()

    # Turn it on.
    page.goto(f"{url}/orgs/acme/sso/{connection.pk}/")
    page.click("#sso-activate")
    page.wait_for_load_state("networkidle")
    connection.refresh_from_db()
    assert connection.is_active
    page.goto(f"{url}/orgs/acme/sso/")
    page.screenshot(path=str(OUTPUT / "sso-portal-list.png"), full_page=True)
    assert 'data-status="active"' in page.content()
