"""LAB benchmark: full ACS (POST + finish, logged-in session) vs raw xmlsec verify, same responses.
Run: .venv/bin/python -m pytest tests/sso/bench_lab.py -q -s -p no:cacheprovider"""

from __future__ import annotations

import base64
import time

import lxml.etree as etree
import xmlsec
from django.test import Client
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from tests.sso.test_saml_lab import HOST, conn, idp, post_to_acs, sp_metadata, start_login  # noqa: F401

N = 150


def raw_verify(b64: str, key: xmlsec.Key) -> None:
    root = etree.fromstring(base64.b64decode(b64))
    assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    xmlsec.tree.add_ids(assertion, ["ID"])
    sig = xmlsec.tree.find_node(assertion, xmlsec.constants.NodeSignature)
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.verify(sig)


def test_bench(conn, idp, settings):  # noqa: F811
    settings.ALLOWED_HOSTS = [HOST]
    first = Client(HTTP_HOST=HOST)
    idp.register_sp(sp_metadata(first))
    pairs = []
    for _ in range(N):
        c = Client(HTTP_HOST=HOST)
        pairs.append((c, idp.answer(start_login(c), user="ada@acme.test")))
    key = xmlsec.Key.from_memory(idp.cert("idp"), xmlsec.constants.KeyDataFormatCertPem)

    t0 = time.perf_counter()
    for _, a in pairs:
        raw_verify(a["SAMLResponse"], key)
    raw = time.perf_counter() - t0

    # python3-saml alone (settings built once, no Django): where the time goes
    from allauth.socialaccount.providers.saml.utils import prepare_django_request  # noqa: F401
    from sso.adapter import saml_app
    from sso.saml import GatehouseAuth
    from django.test import RequestFactory
    from allauth.socialaccount.providers.saml import utils as u

    rf = RequestFactory(HTTP_HOST=HOST)
    app = saml_app(conn)
    t0 = time.perf_counter()
    for _, a in pairs:
        req = rf.post("/accounts/saml/acme/acs/", {"SAMLResponse": a["SAMLResponse"]})
        cfg = u.build_saml_config(req, app.settings, app.client_id)
        auth = GatehouseAuth(u.prepare_django_request(req), cfg)
        auth.process_response(request_id=None)
        assert not auth.get_errors(), auth.get_last_error_reason()
    p3 = time.perf_counter() - t0

    t0 = time.perf_counter()
    for _ in range(N):
        OneLogin_Saml2_XML.validate_xml(etree.fromstring(base64.b64decode(pairs[0][1]["SAMLResponse"])), "saml-schema-protocol-2.0.xsd")
    xsd = time.perf_counter() - t0

    t0 = time.perf_counter()
    for c, a in pairs:
        r = post_to_acs(c, a)
        assert r.status_code == 302 and r["Location"] == "/account/", r.content[:300]
    full = time.perf_counter() - t0
    print(f"\nraw xmlsec verify: {N/raw:8.1f}/s  ({raw/N*1000:.2f} ms)")
    print(f"python3-saml process_response: {N/p3:8.1f}/s  ({p3/N*1000:.2f} ms), of which XSD validation {xsd/N*1000:.2f} ms")
    print(f"full ACS (POST + finish + login): {N/full:8.1f}/s  ({full/N*1000:.2f} ms)")
    print(f"ratio full/raw = {raw/full:.3f}   python3-saml/raw = {raw/p3:.3f}")
