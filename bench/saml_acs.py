"""bench/saml_acs: a full SAML sign-in through Gatehouse against python3-saml's own processing.

One process, one run, the same signed responses on both sides of the ratio:

* library: python3-saml alone, ``OneLogin_Saml2_Response(settings, response).is_valid(...)``
  with the connection's settings built once: parse, validate (strict mode: destination,
  audience, times, subject confirmation) and verify the assertion's signature;
* Gatehouse: the same response posted to the connection's ACS and followed to the finish view,
  through every middleware, the settings built for the connection, python3-saml's checks and
  Gatehouse's own, the replay cache (Redis), the identity lookup and the login itself (a new
  session, audit rows on PostgreSQL), until the 302 to the account page.

ratio = library time / Gatehouse time: 1.0 would mean Gatehouse adds nothing to the library's
work; the goal (issue 14) is 0.25, Gatehouse's own work at most three times the library's.
Both sides run interleaved, in blocks of ten responses, alternating which goes first, so that
the noise of a shared machine falls on both; the run is cut into rounds and each round's ratio
is reported, to show the spread.

The responses are IdP-initiated (each with its own response and assertion id, so the replay
cache admits each once), signed here with a throwaway IdP key, for 50 people who already signed
in once (the first pass, not measured, creates their accounts just in time).

    .venv/bin/python bench/saml_acs.py [--responses 600] [--rounds 5]
    BENCH_PROFILE=1 .venv/bin/python bench/saml_acs.py   # and where Gatehouse's time goes

Needs PostgreSQL and Redis on loopback (the same as bench/login.py). Writes
bench/out/saml_acs.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
HOST = "id.gatehouse.test"
PEOPLE = 50
BLOCK = 10
GOAL = 0.25


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # Production settings, whatever the shell says (make run and the tests ask for the
        # embedded mode).
        "GATEHOUSE_EMBEDDED": "0",
        "DEBUG": "false",
        "DATABASE_URL": args.database_url,
        # The bench database has one role (whoever --database-url names), not the two of a
        # production deploy: an owner URL left in the shell would point at another database.
        "DATABASE_OWNER_URL": "",
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": HOST,
        "PUBLIC_URL": f"https://{HOST}",
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
        """A base64 Response whose assertion (new ids each time) is signed RSA-SHA256."""
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


# --- The connection, as an org admin would leave it --------------------------------------------


def setup_connection(idp: IdP) -> Any:  # -> sso.models.Connection
    """An organization with a verified domain and an active SAML connection that trusts the
    bench IdP and allows IdP-initiated sign-in.

    The connection's rows are written directly (what the portal's services would leave behind:
    a key pair for Gatehouse, the IdP's certificate, the verified domains): the bench measures
    sign-ins, and must not depend on how the portal's forms are called."""
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import User
    from config import encryption
    from organizations.models import Domain, Organization
    from organizations.services import create_organization
    from sso.certificates import new_sp_key_pair, read_certificate
    from sso.models import Connection, IdPCertificate, Protocol, Status

    Connection.objects.filter(organization__slug="bench").delete()
    Organization.objects.filter(slug="bench").delete()
    User.objects.filter(email__endswith="@bench-sso.test").delete()
    owner = User.objects.create_user(email="owner@bench-sso.test", password=None)
    org = create_organization(actor=owner, name="Bench", slug="bench")
    domain = Domain.objects.create(
        organization=org,
        name="bench-sso.test",
        verification_token="b" * 32,
        verified_at=timezone.now(),
    )
    slug = f"bench-{secrets.token_hex(3)}"
    sp_cert, sp_key = new_sp_key_pair(f"Gatehouse {slug}")
    metadata_path = reverse("saml_metadata", kwargs={"organization_slug": slug})
    conn = Connection.objects.create(
        organization=org,
        protocol=Protocol.SAML,
        name="Bench IdP",
        slug=slug,
        status=Status.ACTIVE,
        created_by=owner,
        sp_entity_id=f"https://{HOST}{metadata_path}",
        sp_certificate=sp_cert,
        sp_private_key_encrypted=encryption.encrypt(sp_key),
        idp_entity_id=idp.entity_id,
        idp_sso_url="https://idp.bench.test/sso",
        allow_idp_initiated=True,
    )
    conn.domains.set([domain])
    info = read_certificate(idp.cert_pem)
    IdPCertificate.objects.create(
        connection=conn,
        der_base64=info.der_base64,
        fingerprint_sha256=info.fingerprint_sha256,
        subject=info.subject,
        not_before=info.not_before,
        not_after=info.not_after,
        source=IdPCertificate.Source.UPLOADED,
    )
    return conn


# --- The two sides of the ratio -----------------------------------------------------------------


class Library:
    """python3-saml on its own: the connection's settings (as Gatehouse builds them) parsed once,
    then, per response, what every SAML service provider has to do with it."""

    def __init__(self, conn: Any, acs_path: str) -> None:
        from django.test import RequestFactory
        from onelogin.saml2.settings import OneLogin_Saml2_Settings

        from sso.adapter import social_app
        from sso.saml.config import saml_settings

        request = RequestFactory().get(acs_path, HTTP_HOST=HOST, secure=True)
        self.settings = OneLogin_Saml2_Settings(saml_settings(request, social_app(conn)))
        self.request_data = {
            "https": "on",
            "http_host": HOST,
            "script_name": "",
            "path_info": acs_path,
            "get_data": {},
            "post_data": {},
        }

    def verify(self, saml_response: str) -> None:
        """Parse, validate and verify the signature: python3-saml's whole job on a response."""
        from onelogin.saml2.response import OneLogin_Saml2_Response

        response = OneLogin_Saml2_Response(self.settings, saml_response)
        data = {**self.request_data, "post_data": {"SAMLResponse": saml_response}}
        response.is_valid(data, raise_exceptions=True)


class Gatehouse:
    """Full sign-ins through Django's test client, each in a browser of its own (no cookies).
    One client serves them all: a new one would rebuild the middleware chain (and WhiteNoise's
    file index) every time."""

    def __init__(self, acs_path: str) -> None:
        from django.test import Client

        self.acs_path = acs_path
        self.client = Client(HTTP_HOST=HOST)

    def sign_in(self, saml_response: str) -> None:
        from http.cookies import SimpleCookie
        from urllib.parse import urlencode

        self.client.cookies = SimpleCookie()
        # Form-encoded, as the IdP's auto-submitting form makes the browser post it.
        hop = self.client.post(
            self.acs_path,
            urlencode({"SAMLResponse": saml_response}),
            content_type="application/x-www-form-urlencoded",
            secure=True,
        )
        done = self.client.get(hop["Location"], secure=True)
        if done.status_code != 302 or done["Location"] != "/account/":
            from audit.models import AuditEvent

            event = (
                AuditEvent.objects.filter(action="sso.login_failed")
                .order_by("-occurred_at")
                .first()
            )
            raise SystemExit(
                f"ACS refused a good response: {done.status_code} {event.data if event else ''}"
            )


def _timed(work: Callable[[str], None], batch: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for ``work`` over ``batch``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for item in batch:
        work(item)
    return time.perf_counter() - wall, time.process_time() - cpu


def interleaved(library: Library, gatehouse: Gatehouse, responses: list[str]) -> dict:
    """Both sides over the same responses, block by block, alternating which goes first."""
    totals = {"library": [0.0, 0.0], "gatehouse": [0.0, 0.0]}
    for start in range(0, len(responses), BLOCK):
        batch = responses[start : start + BLOCK]
        sides = [("library", library.verify), ("gatehouse", gatehouse.sign_in)]
        if (start // BLOCK) % 2:
            sides.reverse()
        for name, work in sides:
            wall, cpu = _timed(work, batch)
            totals[name][0] += wall
            totals[name][1] += cpu
    n = len(responses)
    (lib_wall, lib_cpu), (gh_wall, gh_cpu) = totals["library"], totals["gatehouse"]
    return {
        "responses": n,
        "library_ms": round(lib_wall / n * 1000, 3),
        "gatehouse_ms": round(gh_wall / n * 1000, 3),
        "gatehouse_cpu_ms": round(gh_cpu / n * 1000, 3),
        "ratio": round(lib_wall / gh_wall, 4),
        # Without the time spent waiting for PostgreSQL and Redis (their own CPU is not counted).
        "ratio_cpu": round(lib_cpu / gh_cpu, 4),
    }


# --- Where Gatehouse's time goes ----------------------------------------------------------------


def round_trips(gatehouse: Gatehouse, saml_response: str) -> dict[str, int]:
    """The SQL statements and Redis commands one sign-in sends: on a shared machine, the count
    that moves least from run to run, and what most of Gatehouse's time waits on."""
    import redis
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    commands = 0
    execute = redis.Redis.execute_command

    def counted(self: redis.Redis, *args: Any, **options: Any) -> Any:
        nonlocal commands
        commands += 1
        return execute(self, *args, **options)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]
    try:
        with CaptureQueriesContext(connection) as queries:
            gatehouse.sign_in(saml_response)
    finally:
        redis.Redis.execute_command = execute  # type: ignore[method-assign]
    return {"sql": len(queries.captured_queries), "redis": commands}


def profile(gatehouse: Gatehouse, responses: list[str]) -> None:
    """A CPU profile of sign-ins (not measured): the functions with the most time of their own,
    then the cumulative view, then, if BENCH_PROFILE_CALLEES names one, its callees.
    BENCH_PROFILE_OUT=<file> keeps the raw profile (for pstats or snakeviz)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for saml_response in responses:
        gatehouse.sign_in(saml_response)
    profiler.disable()
    stats = pstats.Stats(profiler)
    if os.environ.get("BENCH_PROFILE_OUT"):
        stats.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(80)
    if os.environ.get("BENCH_PROFILE_CALLEES"):
        stats.print_callees(os.environ["BENCH_PROFILE_CALLEES"])


# --- The run -------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict:
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from django.core.cache import cache

    idp = IdP()
    conn = setup_connection(idp)
    acs_path = f"/accounts/saml/{conn.slug}/acs/"
    acs = f"https://{HOST}{acs_path}"
    people = [f"person{i}@bench-sso.test" for i in range(PEOPLE)]

    def responses(count: int) -> list[str]:
        return [
            idp.response(acs=acs, audience=conn.sp_entity_id, email=people[i % PEOPLE])
            for i in range(count)
        ]

    library, gatehouse = Library(conn, acs_path), Gatehouse(acs_path)
    # First sign-in of each person (creates their account just in time), and a first pass of
    # the library: warm-up, not measured.
    for saml_response in responses(PEOPLE):
        library.verify(saml_response)
        gatehouse.sign_in(saml_response)
    trips = round_trips(gatehouse, responses(1)[0])
    if os.environ.get("BENCH_PROFILE"):
        profile(gatehouse, responses(max(args.responses // 4, BLOCK)))
    per_round = max(args.responses // args.rounds, BLOCK)
    rounds = [interleaved(library, gatehouse, responses(per_round)) for _ in range(args.rounds)]
    cache.clear()
    ratios = [r["ratio"] for r in rounds]
    return {
        "responses": per_round * args.rounds,
        "rounds": rounds,
        "library_ms": round(statistics.median(r["library_ms"] for r in rounds), 3),
        "gatehouse_ms": round(statistics.median(r["gatehouse_ms"] for r in rounds), 3),
        "gatehouse_cpu_ms": round(statistics.median(r["gatehouse_cpu_ms"] for r in rounds), 3),
        "ratio": round(statistics.median(ratios), 4),
        "ratio_spread": [min(ratios), max(ratios)],
        "ratio_cpu": round(statistics.median(r["ratio_cpu"] for r in rounds), 4),
        "round_trips_per_sign_in": trips,
        "goal": GOAL,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
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
        f"python3-saml alone: {result['library_ms']} ms a response (parse, validate, verify)\n"
        f"Gatehouse sign-in: {result['gatehouse_ms']} ms ({result['gatehouse_cpu_ms']} ms of it "
        f"CPU in this process)\n"
        f"ratio library/Gatehouse: {result['ratio']} (rounds {result['ratio_spread'][0]}"
        f"..{result['ratio_spread'][1]}; CPU only {result['ratio_cpu']}; goal {GOAL})\n"
        f"round trips per sign-in: {result['round_trips_per_sign_in']['sql']} SQL, "
        f"{result['round_trips_per_sign_in']['redis']} Redis"
    )
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "saml_acs.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
