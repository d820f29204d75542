"""bench/saml_acs: what a full SAML sign-in costs against the signature check inside it.

One process, one core, one run, the same signed responses for both measurements:

* raw: parse each response and verify its assertion's RSA-SHA256 signature with xmlsec;
* full: post each response to Gatehouse's ACS and follow it to the finish view, through every
  middleware, python3-saml's checks, the replay cache (Redis), the identity lookup and the
  login itself (a new session on PostgreSQL), until the 302 to the account page.

The responses are IdP-initiated (each with its own assertion id, so the replay cache admits
each once), signed here with a throwaway IdP key, for 50 people who already signed in once
(the first pass, not measured, creates their accounts just in time).

    .venv/bin/python bench/saml_acs.py [--responses 600]

Needs PostgreSQL and Redis on loopback (the same as bench/login.py). Prints both rates and
full/raw; writes bench/out/saml_acs.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HOST = "id.gatehouse.test"
PEOPLE = 50


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "DATABASE_URL": args.database_url,
        # The bench database has one role (whoever --database-url names), not the two of a
        # production deploy: an owner URL left in the shell would point at another database.
        "DATABASE_OWNER_URL": "",
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": HOST,
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        "TRUSTED_PROXY_COUNT": "0",
        "WEBAUTHN_RP_ID": "gatehouse.test",
        "WEBAUTHN_ORIGINS": "https://gatehouse.test",
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "LOG_LEVEL": "WARNING",
    }


def prepare_database(args: argparse.Namespace, env: dict[str, str]) -> None:
    name = args.database_url.rsplit("/", 1)[1]
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, text=True
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"cannot create the bench database: {created.stderr.strip()}")
    for command in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)


# --- A throwaway IdP: signed, IdP-initiated responses ------------------------------------------


class IdP:
    entity_id = "https://idp.bench.test/metadata"

    def __init__(self) -> None:
        from sso.certificates import new_sp_key_pair

        self.cert_pem, self.key_pem = new_sp_key_pair("Bench IdP")

    def response(self, *, acs: str, audience: str, email: str) -> str:
        import xmlsec
        from lxml import etree

        now = dt.datetime.now(dt.UTC)
        stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
        later = stamp(now + dt.timedelta(minutes=5))
        assertion_id = "_" + uuid.uuid4().hex
        xml = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"
 xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{uuid.uuid4().hex}" Version="2.0"
 IssueInstant="{stamp(now)}" Destination="{acs}"><saml:Issuer>{self.entity_id}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
<saml:Assertion ID="{assertion_id}" Version="2.0" IssueInstant="{stamp(now)}">
<saml:Issuer>{self.entity_id}</saml:Issuer>
<saml:Subject>
<saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{acs}"/>
</saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{stamp(now - dt.timedelta(minutes=1))}" NotOnOrAfter="{later}">
<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement AuthnInstant="{stamp(now)}" SessionIndex="{assertion_id}"><saml:AuthnContext>
<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef>
</saml:AuthnContext></saml:AuthnStatement>
<saml:AttributeStatement><saml:Attribute Name="groups">
<saml:AttributeValue>staff</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
</saml:Assertion></samlp:Response>"""
        root = etree.fromstring(xml.encode())
        assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
        signature = xmlsec.template.create(
            assertion, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256
        )
        assertion.insert(1, signature)  # right after the Issuer, as the schema wants
        ref = xmlsec.template.add_reference(
            signature, xmlsec.constants.TransformSha256, uri="#" + assertion_id
        )
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        key = xmlsec.Key.from_memory(self.key_pem, xmlsec.constants.KeyDataFormatPem)
        key.load_cert_from_memory(self.cert_pem, xmlsec.constants.KeyDataFormatPem)
        context = xmlsec.SignatureContext()
        context.key = key
        xmlsec.tree.add_ids(assertion, ["ID"])
        context.sign(signature)
        return base64.b64encode(etree.tostring(root)).decode()


def raw_verify(saml_response: str, key: object) -> None:
    """The irreducible part: parse the response, verify the assertion's signature."""
    import xmlsec
    from lxml import etree

    root = etree.fromstring(base64.b64decode(saml_response))
    assertion = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    xmlsec.tree.add_ids(assertion, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = key
    context.verify(xmlsec.tree.find_node(assertion, xmlsec.constants.NodeSignature))


# --- The run --------------------------------------------------------------------------------------


def setup_connection(idp: IdP):  # -> sso.models.Connection
    from django.test import RequestFactory
    from django.utils import timezone

    from accounts.models import User
    from organizations import services as org_services
    from organizations.models import Domain, Membership, Organization
    from sso import services
    from sso.models import Connection

    Connection.objects.filter(organization__slug="bench").delete()
    Organization.objects.filter(slug="bench").delete()
    User.objects.filter(email__endswith="@bench-sso.test").delete()
    owner = User.objects.create_user(email="owner@bench-sso.test", password=None)
    org = org_services.create_organization(actor=owner, name="Bench", slug="bench")
    Domain.objects.create(
        organization=org,
        name="bench-sso.test",
        verification_token="b" * 32,
        verified_at=timezone.now(),
    )
    actor = Membership.objects.get(organization=org, user=owner)
    request = RequestFactory().get("/", HTTP_HOST=HOST, secure=True)
    conn = services.create_connection(
        actor=actor, org=org, request=request, protocol="saml", name="Bench IdP"
    )
    services.update_saml(
        actor=actor,
        org=org,
        connection_id=conn.pk,
        name="Bench IdP",
        idp_entity_id=idp.entity_id,
        idp_sso_url="https://idp.bench.test/sso",
        allow_idp_initiated=True,
    )
    services.add_certificate(actor=actor, org=org, connection_id=conn.pk, pem=idp.cert_pem)
    services.activate(actor=actor, org=org, connection_id=conn.pk)
    conn.refresh_from_db()
    return conn


_client = None


def sign_in(saml_response: str, acs_path: str) -> None:
    """One person's sign-in, in a browser of their own (no cookies). One test client serves
    them all: a new one would rebuild the middleware chain (and WhiteNoise's file index)."""
    global _client
    from http.cookies import SimpleCookie

    from django.test import Client

    if _client is None:
        _client = Client(HTTP_HOST=HOST)
    client = _client
    client.cookies = SimpleCookie()
    hop = client.post(acs_path, {"SAMLResponse": saml_response}, secure=True)
    done = client.get(hop["Location"], secure=True)
    if done.status_code != 302 or done["Location"] != "/account/":
        from audit.models import AuditEvent

        event = (
            AuditEvent.objects.filter(action="sso.login_failed").order_by("-occurred_at").first()
        )
        raise SystemExit(
            f"ACS refused a good response: {done.status_code} {event.data if event else ''}"
        )


def measure(args: argparse.Namespace) -> dict:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    import xmlsec
    from django.core.cache import cache

    idp = IdP()
    conn = setup_connection(idp)
    acs_path = f"/accounts/saml/{conn.slug}/acs/"
    acs = f"https://{HOST}{acs_path}"
    people = [f"person{i}@bench-sso.test" for i in range(PEOPLE)]
    # First sign-in of each person (creates their account just in time); not measured.
    for email in people:
        sign_in(idp.response(acs=acs, audience=conn.sp_entity_id, email=email), acs_path)
    responses = [
        idp.response(acs=acs, audience=conn.sp_entity_id, email=people[i % PEOPLE])
        for i in range(args.responses)
    ]
    key = xmlsec.Key.from_memory(idp.cert_pem, xmlsec.constants.KeyDataFormatCertPem)

    def raw_pass() -> float:
        start = time.perf_counter()
        for saml_response in responses:
            raw_verify(saml_response, key)
        return time.perf_counter() - start

    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for saml_response in responses[: len(responses) // 2]:
            sign_in(saml_response, acs_path)
        profiler.disable()
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(60)
        if os.environ.get("BENCH_PROFILE_CALLEES"):
            stats.print_callees(os.environ["BENCH_PROFILE_CALLEES"])
        responses = responses[len(responses) // 2 :]
    raw_before = raw_pass()
    start, cpu_start = time.perf_counter(), time.process_time()
    for saml_response in responses:
        sign_in(saml_response, acs_path)
    full, full_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    raw_after = raw_pass()
    raw = (raw_before + raw_after) / 2
    cache.clear()
    n = len(responses)
    return {
        "responses": n,
        "raw_verify_per_s": round(n / raw, 1),
        "raw_verify_ms": round(raw / n * 1000, 3),
        "full_acs_per_s": round(n / full, 1),
        "full_acs_ms": round(full / n * 1000, 3),
        "full_acs_cpu_ms_in_django": round(full_cpu / n * 1000, 3),
        "ratio_full_over_raw": round(raw / full, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=600)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/gatehouse_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.in_process:
        env = bench_env(args)
        prepare_database(args, env)
        # Settings are read from the environment at import: measure in a fresh interpreter.
        subprocess.run([PYTHON, __file__, "--in-process", *sys.argv[1:]], env=env, check=True)
        return
    result = measure(args)
    print(
        f"full ACS: {result['full_acs_per_s']}/s ({result['full_acs_ms']} ms each, "
        f"{result['full_acs_cpu_ms_in_django']} ms of it CPU in Django)\n"
        f"raw xmlsec verify: {result['raw_verify_per_s']}/s ({result['raw_verify_ms']} ms each)\n"
        f"ratio full/raw: {result['ratio_full_over_raw']}"
    )
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "saml_acs.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
