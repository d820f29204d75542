"""One case style everywhere people read Gatehouse: sentence case for page titles, headings,
buttons, links styled as buttons, field labels and table headers, on Gatehouse's own pages and
on django-allauth's (whose texts Gatehouse rewords in locale/en/)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from pprint import pformat

from django.apps import apps
from django.test import Client, RequestFactory
from django.utils import translation

from organizations import services as org_services
from organizations.models import Membership
from sso import services as sso_services
from tests.conftest import require
from tests.factories import DEFAULT_PASSWORD, UserFactory

_default_purposes = importlib.import_module("consent.migrations.0003_default_purposes")
ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "en" / "LC_MESSAGES" / "django.po"

# Words that keep their capital in the middle of a sentence: names and acronyms.
PROPER = {
    "Gatehouse",
    "Acme",
    "Okta",
    "Entra",
    "Microsoft",
    "Google",
    "Workspace",
    "OpenID",
    "Connect",
    "I",
    "JavaScript",
}
HEADING_TAGS = {"title", "h1", "h2", "h3", "button", "label", "th", "summary", "legend"}


class _Collector(HTMLParser):
    """The texts of titles, headings, buttons, labels, table headers, and links styled as
    buttons. Left out: text inside <code> (values, not wording) and visually hidden text
    (which names the thing a button acts on: "Agree <Marketing email>")."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._stack: list[tuple[str, list[str]]] = []
        self._skipped: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "code" or (tag == "span" and "visually-hidden" in classes):
            self._skipped.append(tag)
        if tag in HEADING_TAGS or (tag == "a" and "btn" in classes):
            self._stack.append((tag, []))

    def handle_endtag(self, tag: str) -> None:
        if self._skipped and self._skipped[-1] == tag:
            self._skipped.pop()
        if self._stack and self._stack[-1][0] == tag:
            _, parts = self._stack.pop()
            text = " ".join("".join(parts).split())
            if text:
                self.texts.append(text)

    def handle_data(self, data: str) -> None:
        if self._stack and not self._skipped:
            for _, parts in self._stack:
                parts.append(data)


def title_case_words(text: str) -> list[str]:
    """Capitalised words that are neither a sentence's first word, nor a name or acronym."""
    text = re.sub(r"\S+@\S+|https?://\S+|/\S*", " ", text)  # addresses, URLs and paths
    found = []
    # A new sentence starts after a full stop, colon, separator dot, bracket, opening quote or
    # spaced dash; possessive 's (straight or curly) is dropped.
    for sentence in re.split(r"[.:!?\u00b7(\u201c\u2018]\s*|\s[\u2013\u2014-]\s", text):
        words = re.findall(r"[A-Za-z][A-Za-z\-]*", re.sub(r"['\u2019]s\b", "", sentence))
        for word in words[1:]:
            if word[0].isupper() and word not in PROPER and not any(c.isupper() for c in word[1:]):
                found.append(word)
    return found


def offending_texts(html: str) -> list[str]:
    collector = _Collector()
    collector.feed(html)
    return [t for t in collector.texts if title_case_words(t)]


def test_the_checker_catches_title_case_and_spares_names():
    assert title_case_words("Sign In") == ["In"]
    assert title_case_words("Remember Me") == ["Me"]
    assert title_case_words("Sign in with SSO") == []
    assert title_case_words("Connect Microsoft Entra ID · Gatehouse") == []


SIGNED_OUT = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/1-bad-token/",
    "/accounts/login/code/",
    "/accounts/confirm-email/",
    "/sso/",
    "/no/such/page/",
]


def _signed_in_pages(slug: str, saml_id: int, oidc_id: int) -> list[str]:
    portal = f"/orgs/{slug}"
    return [
        "/account/",
        "/accounts/email/",
        "/accounts/password/change/",
        "/accounts/logout/",
        "/account/security/",
        "/account/security/totp/",
        "/account/security/verify/",
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
        f"{portal}/sso/{saml_id}/",
        f"{portal}/sso/{saml_id}/setup/",
        f"{portal}/sso/{saml_id}/idp/",
        f"{portal}/sso/{saml_id}/accounts/",
        f"{portal}/sso/{saml_id}/certificates/",
        f"{portal}/sso/{saml_id}/delete/",
        f"{portal}/sso/{oidc_id}/setup/",
        f"{portal}/sso/{oidc_id}/idp/",
        f"{portal}/applications/",
        f"{portal}/applications/new/",
        f"{portal}/audit/",
    ]


def test_pages_use_sentence_case_for_titles_headings_buttons_and_labels():
    _default_purposes.seed(apps, None)
    owner = UserFactory(email="owner@acme.example")
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    acting = Membership.objects.get(organization=org, user=owner)
    org_services.add_domain(actor=acting, org=org, name="acme.example")
    request = RequestFactory().get("/", HTTP_HOST="testserver")
    saml = sso_services.create_connection(
        actor=acting,
        org=org,
        site_url=request.build_absolute_uri("/"),
        protocol="saml",
        name="Okta",
    )
    oidc = sso_services.create_connection(
        actor=acting,
        org=org,
        site_url=request.build_absolute_uri("/"),
        protocol="oidc",
        name="Entra",
    )
    problems: dict[str, list[str]] = {}

    anonymous = Client()
    for path in SIGNED_OUT:
        response = anonymous.get(path, follow=True)
        found = offending_texts(response.content.decode())
        if found:
            problems[path] = found

    # The sign-in code's second page, reached by asking for a code.
    response = anonymous.post("/accounts/login/code/", {"email": owner.email}, follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/code/confirm/"
    found = offending_texts(response.content.decode())
    if found:
        problems["/accounts/login/code/confirm/"] = found

    client = Client()
    response = client.post("/accounts/login/", {"login": owner.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    for path in _signed_in_pages(org.slug, saml.pk, oidc.pk):
        response = client.get(path, follow=True)
        assert response.status_code == 200, path
        found = offending_texts(response.content.decode())
        if found:
            problems[path] = found

    assert problems == {}, pformat(problems)


def _po_entries() -> dict[str, str]:
    text = PO.read_text(encoding="utf-8")
    entries = {}
    for msgid, msgstr in re.findall(r'^msgid "(.+)"\nmsgstr "(.*)"$', text, flags=re.M):
        entries[msgid.replace('\\"', '"')] = msgstr.replace('\\"', '"')
    return entries


def test_compiled_wording_matches_its_source():
    """django.mo is what Django reads: it must say what django.po says."""
    entries = _po_entries()
    assert entries
    with translation.override("en-us"):
        for msgid, msgstr in entries.items():
            assert translation.gettext(msgid) == msgstr, msgid


def test_the_wording_file_is_valid(tmp_path):
    # A laptop may lack GNU gettext (the committed .mo is what runs); CI installs it.
    require(shutil.which("msgfmt") is not None, "GNU gettext's msgfmt (apt-get install gettext)")
    result = subprocess.run(
        ["msgfmt", "--check", "-o", str(tmp_path / "django.mo"), str(PO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
