"""bench/oauth: the provider's token, refresh and introspection endpoints under load, each set
against the rate of a trivial view (``/healthz``) on the same server in the same run.

One command (``make bench-oauth``):

1. a bench database of its own (PostgreSQL) with signing keys, three APIs (JWT RS256, JWT
   ES256, opaque), an M2M client, a web app and a resource server allowed to introspect;
2. pools of tokens written straight into the tables with ``INSERT ... SELECT`` over
   ``generate_series`` (each row a copy of one the provider saved itself, with its own
   checksum): refresh tokens to spend once each, and 10,000 then 1,000,000 access tokens to
   introspect;
3. gunicorn, one worker per core, production settings on Redis, driven by wrk
   (``bench/oauth.lua``, one connection per worker and one more);
4. local JWT verification (jwcrypto against the JWKS), in this process, per core.

Figures (issue 15): client-credentials grants/s / healthz >= 0.5 (Keycloak's published sizing:
120 grants/s per vCPU, printed beside ours), refresh grants/s / healthz >= 0.35,
introspections/s / healthz >= 0.6, and introspection with 1,000,000 tokens / with 10,000 >= 0.9.
Written to bench/out/oauth.json.

    .venv/bin/python bench/oauth.py [--seconds 10] [--big 1000000]

Needs PostgreSQL and Redis on loopback and wrk.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from login import (  # noqa: E402  (bench/login.py: the same server, database and CPU accounting)
    PYTHON,
    bench_env,
    cpu_seconds_by_group,
    ensure_database,
    flush_rate_limits,
    start_gunicorn,
    stop,
)

OUT = ROOT / "bench" / "out"
GOALS = {"client_credentials": 0.5, "refresh": 0.35, "introspection": 0.6, "introspection_1m": 0.9}
KEYCLOAK_GRANTS_PER_VCPU = 120
SMALL = 10_000
REFRESH_PREFIX = "bench-rt-"
INTROSPECT_PREFIX = "bench-it-"

SEED_SCRIPT = r"""
import json, sys, uuid
from datetime import timedelta
import django
django.setup()
from django.db import connection
from django.utils import timezone
from accounts.models import User
from oauthlib.common import Request
from oauth2_provider.oauth2_backends import get_oauthlib_core
from provider.models import AccessToken, Api, Application, RefreshToken, SigningKey
from provider.services.apis import create_api
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys

refresh_pool = int(sys.argv[1])
with connection.cursor() as cursor:
    cursor.execute(
        "TRUNCATE provider_accesstoken, provider_refreshtoken, provider_idtoken, "
        "provider_grant CASCADE"
    )
Application.objects.filter(name__startswith="bench ").delete()
Api.objects.filter(identifier__startswith="https://bench.").delete()
# Each run encrypts with a new FIELD_ENCRYPTION_KEYS (bench_env), so last run's keys are
# unreadable: start from fresh ones.
SigningKey.objects.all().delete()
ensure_signing_keys()
apis = {
    "rs256": create_api(actor=None, identifier="https://bench.rs256/", name="bench rs256",
                        scopes={"bench:read": "Read"}),
    "es256": create_api(actor=None, identifier="https://bench.es256/", name="bench es256",
                        scopes={"bench:read": "Read"}, signing_alg="ES256"),
    "opaque": create_api(actor=None, identifier="https://bench.opaque/", name="bench opaque",
                         scopes={"bench:read": "Read"}, token_format="opaque"),
}
grants = {api: ["bench:read"] for api in apis.values()}
m2m = create_application(actor=None, name="bench m2m", kind="m2m", apis=grants)
web = create_application(actor=None, name="bench web", kind="web",
                         redirect_uris=["https://bench.example/cb"], apis=grants)
rs = create_application(actor=None, name="bench rs", kind="web",
                        redirect_uris=["https://bench.example/rs"])
for api in apis.values():
    api.introspectors.add(rs.application)
for app in (m2m, web, rs):
    Application.objects.filter(pk=app.application.pk).update(rate_limit_per_minute=10**9)
user, _ = User.objects.get_or_create(email="bench-person@bench.test")

# One access and one refresh token saved by the provider itself: the rows the pools copy.
server = get_oauthlib_core().server
request = Request("http://127.0.0.1/o/token/", http_method="POST")
request.client, request.client_id, request.user = web.application, web.application.client_id, user
request.scopes, request.grant_type = ["bench:read"], "authorization_code"
request.api, request.resource = apis["opaque"], [apis["opaque"].identifier]
request.family, request.auth_context = uuid.uuid4(), {"amr": ["pwd"], "auth_time": timezone.now()}
token = server.default_token_type.create_token(request, refresh_token=True)
server.request_validator.save_bearer_token(token, request)
access = AccessToken.objects.get(user=user)
AccessToken.objects.filter(pk=access.pk).update(expires=timezone.now() + timedelta(hours=2))
template_refresh = RefreshToken.objects.get(user=user)
print(json.dumps({
    "m2m": [m2m.application.client_id, m2m.client_secret],
    "web": [web.application.client_id, web.client_secret],
    "rs": [rs.application.client_id, rs.client_secret],
    "resources": {name: api.identifier for name, api in apis.items()},
    "template_access": access.pk,
    "template_refresh": template_refresh.pk,
}))
"""


def _columns(env: dict[str, str], table: str) -> list[str]:
    out = psql(
        env,
        "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "  # noqa: S608
        f"information_schema.columns WHERE table_name = '{table}'",  # (bench constants only)
    )
    return out.strip().split(",")


def psql(env: dict[str, str], sql: str) -> str:
    return subprocess.run(
        ["psql", env["DATABASE_URL"], "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def clone(
    env: dict[str, str], table: str, template: int, first: int, last: int, set_: dict[str, str]
) -> None:
    """Copies of row ``template`` of ``table`` for g in first..last, with ``set_`` (SQL over
    g) replacing some columns: one INSERT ... SELECT, nothing through Python."""
    columns = [c for c in _columns(env, table) if c != "id"]
    values = [set_.get(c, f"t.{c}") for c in columns]
    psql(
        env,
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "  # noqa: S608
        f"FROM generate_series({first}, {last}) g CROSS JOIN "
        f"(SELECT * FROM {table} WHERE id = {template}) t",
    )


def checksum(prefix: str) -> str:
    return f"encode(sha256(('{prefix}' || g)::bytea), 'hex')"


def seed(env: dict[str, str], refresh_pool: int) -> dict:
    result = subprocess.run(
        [PYTHON, "-c", SEED_SCRIPT, str(refresh_pool)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    world = json.loads(result.stdout.strip().splitlines()[-1])
    # The refresh pool: an access token per refresh token (DOT measures the idle limit from
    # it), each family its own.
    clone(
        env,
        "provider_accesstoken",
        world["template_access"],
        1,
        refresh_pool,
        {
            "token_checksum": checksum("bench-rat-"),
            "source_refresh_token_id": "NULL",
            "id_token_id": "NULL",
            "family": "gen_random_uuid()",
        },
    )
    clone(
        env,
        "provider_refreshtoken",
        world["template_refresh"],
        1,
        refresh_pool,
        {
            "token_checksum": checksum(REFRESH_PREFIX),
            "token_family": "gen_random_uuid()",
            "access_token_id": "(SELECT id FROM provider_accesstoken a WHERE "  # noqa: S608
            "a.token_checksum = " + checksum("bench-rat-") + ")",
        },
    )
    grow_introspection_pool(env, world, 1, SMALL)
    return world


def grow_introspection_pool(env: dict[str, str], world: dict, first: int, last: int) -> None:
    clone(
        env,
        "provider_accesstoken",
        world["template_access"],
        first,
        last,
        {
            "token_checksum": checksum(INTROSPECT_PREFIX),
            "source_refresh_token_id": "NULL",
            "id_token_id": "NULL",
        },
    )
    psql(env, "ANALYZE provider_accesstoken")


def basic(pair: list[str]) -> str:
    return "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()


def wrk(args: argparse.Namespace, seconds: int, **bench: str) -> dict:
    env = {**os.environ, **{f"BENCH_{k.upper()}": v for k, v in bench.items()}}
    result = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(args.connections),
            "-d",
            f"{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(ROOT / "bench" / "oauth.lua"),
            f"http://127.0.0.1:{args.port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT "))
    return json.loads(line.removeprefix("BENCH_RESULT "))


def measure(args: argparse.Namespace, database: str, label: str, **bench: str) -> dict:
    wrk(args, 2, **bench) if bench.get("mode") != "refresh" else None  # warm-up
    cpu_before = cpu_seconds_by_group(database)
    result = wrk(args, args.seconds, **bench)
    cpu_after = cpu_seconds_by_group(database)
    rate = result["ok"] / (result["duration_us"] / 1e6)
    figure = {
        "per_second": round(rate, 1),
        "ok": result["ok"],
        "failed": result["other"] + result["errors"],
        "p50_ms": round(result["p50_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1),
        "cpu_ms_per_request": {
            group: round((cpu_after[group] - cpu_before[group]) / max(result["ok"], 1) * 1000, 2)
            for group in cpu_before
        },
        "last": result["last"],
    }
    print(f"  {label:<34} {rate:9.1f}/s  p50 {figure['p50_ms']} ms  failed {figure['failed']}")
    return figure


def local_jwt_verifications(args: argparse.Namespace, world: dict, seconds: float) -> dict:
    """Verifications per second of a JWT access token by a resource server in Python: the
    JWKS fetched once, then jwcrypto's signature check and the claims a resource server must
    check (issuer, audience, expiry), one core."""
    from jwcrypto import jwk, jwt

    with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/o/.well-known/jwks.json") as r:
        keyset = jwk.JWKSet.from_json(r.read().decode())
    figures = {}
    for name in ("rs256", "es256"):
        body = f"grant_type=client_credentials&resource={world['resources'][name]}".encode()
        token_request = urllib.request.Request(
            f"http://127.0.0.1:{args.port}/o/token/",
            data=body,
            headers={"Authorization": basic(world["m2m"])},
        )
        with urllib.request.urlopen(token_request) as r:  # noqa: S310  (loopback http)
            token = json.loads(r.read())["access_token"]
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        checks = {"aud": world["resources"][name], "exp": None}
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            jwt.JWT(jwt=token, key=keyset, algs=[header["alg"]], check_claims=checks)
            done += 1
        figures[name] = round(done / (time.perf_counter() - started), 1)
    return figures


def profile(args: argparse.Namespace) -> None:
    env = bench_env(args)
    env["OAUTH_TOKEN_REQUESTS_PER_MINUTE"] = "100000000"
    env.setdefault("OAUTH_CLIENT_SECRET_KEYS", "bench:" + secrets.token_urlsafe(40))
    ensure_database(args, env)
    print("seeding ...", flush=True)
    # Warm-up, statements, three timed blocks and the profile each spend refresh tokens.
    world = seed(env, 5 * args.profile + 10)
    flush_rate_limits(args.redis_url)
    subprocess.run(
        [
            PYTHON,
            str(ROOT / "bench" / "oauth_profile.py"),
            str(args.profile),
            json.dumps(world),
            REFRESH_PREFIX,
            INTROSPECT_PREFIX,
            args.profile_kind,
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/gatehouse_bench_oauth"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="one per core")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--big", type=int, default=1_000_000, help="tokens for the big table")
    parser.add_argument("--refresh-pool", type=int, default=40_000)
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead of the load test: each request's SQL statements, ms per request and a "
        "CPU profile of N refresh grants, in one process (bench/oauth_profile.py)",
    )
    parser.add_argument(
        "--profile-kind",
        choices=("refresh", "client-credentials", "introspection"),
        default="refresh",
        help="which requests --profile runs under cProfile",
    )
    args = parser.parse_args()
    if args.profile:
        profile(args)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    env = bench_env(args)
    # One client asks for every grant here: its per-client quota (1200 a minute) would turn
    # the run into a measure of 429s. The quota's counting still runs on every request.
    env["OAUTH_TOKEN_REQUESTS_PER_MINUTE"] = "100000000"
    env.setdefault("OAUTH_CLIENT_SECRET_KEYS", "bench:" + secrets.token_urlsafe(40))
    ensure_database(args, env)
    database = args.database_url.rsplit("/", 1)[1]
    print("seeding ...", flush=True)
    world = seed(env, args.refresh_pool)
    flush_rate_limits(args.redis_url)
    server = start_gunicorn(args, env)
    figures: dict[str, dict] = {}
    try:
        m2m, web, rs = basic(world["m2m"]), basic(world["web"]), basic(world["rs"])
        figures["healthz"] = measure(args, database, "healthz", mode="healthz")
        for name in ("rs256", "es256", "opaque"):
            figures[f"client_credentials_{name}"] = measure(
                args,
                database,
                f"client credentials ({name})",
                mode="cc",
                auth=m2m,
                resource=world["resources"][name],
            )
        figures["refresh"] = measure(
            args,
            database,
            "refresh (opaque, rotating)",
            mode="refresh",
            auth=web,
            prefix=REFRESH_PREFIX,
            offset="0",
        )
        if figures["refresh"]["last"] >= args.refresh_pool:
            print("WARNING: the refresh pool ran dry; raise --refresh-pool")
        figures["introspection"] = measure(
            args,
            database,
            f"introspection ({SMALL:,} tokens)",
            mode="introspect",
            auth=rs,
            prefix=INTROSPECT_PREFIX,
            pool=str(SMALL),
        )
        print(f"growing the table to {args.big:,} introspectable tokens ...", flush=True)
        grow_introspection_pool(env, world, SMALL + 1, args.big)
        figures["introspection_1m"] = measure(
            args,
            database,
            f"introspection ({args.big:,} tokens)",
            mode="introspect",
            auth=rs,
            prefix=INTROSPECT_PREFIX,
            pool=str(args.big),
        )
        figures["healthz_again"] = measure(args, database, "healthz (again)", mode="healthz")
        jwt_rates = local_jwt_verifications(args, world, 3.0)
    finally:
        stop(server)

    healthz = (figures["healthz"]["per_second"] + figures["healthz_again"]["per_second"]) / 2
    cc = figures["client_credentials_rs256"]["per_second"]
    ratios = {
        "client_credentials": round(cc / healthz, 3),
        "client_credentials_es256": round(
            figures["client_credentials_es256"]["per_second"] / healthz, 3
        ),
        "client_credentials_opaque": round(
            figures["client_credentials_opaque"]["per_second"] / healthz, 3
        ),
        "refresh": round(figures["refresh"]["per_second"] / healthz, 3),
        "introspection": round(figures["introspection"]["per_second"] / healthz, 3),
        "introspection_1m": round(
            figures["introspection_1m"]["per_second"] / figures["introspection"]["per_second"], 3
        ),
    }

    # The same ratios from CPU per request (gunicorn, the bench database's PostgreSQL backends,
    # Redis): what they would be on cores with nothing else to do. Steadier than the rates on
    # a shared machine, where everyone else's load moves each run; read both.
    def cpu(name: str) -> float:
        spent = figures[name]["cpu_ms_per_request"]
        return spent["gunicorn"] + spent["postgres"] + spent["redis"]

    healthz_cpu = (cpu("healthz") + cpu("healthz_again")) / 2
    cpu_bound = {
        "client_credentials": round(healthz_cpu / cpu("client_credentials_rs256"), 3),
        "client_credentials_es256": round(healthz_cpu / cpu("client_credentials_es256"), 3),
        "client_credentials_opaque": round(healthz_cpu / cpu("client_credentials_opaque"), 3),
        "refresh": round(healthz_cpu / cpu("refresh"), 3),
        "introspection": round(healthz_cpu / cpu("introspection"), 3),
        "introspection_1m": round(cpu("introspection") / cpu("introspection_1m"), 3),
    }
    report = {
        "cores": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "connections": args.connections,
        "healthz_per_second": round(healthz, 1),
        "figures": figures,
        "ratios": ratios,
        "ratios_cpu_bound": cpu_bound,
        "goals": GOALS,
        "client_credentials_per_core": round(cc / args.workers, 1),
        "keycloak_grants_per_vcpu": KEYCLOAK_GRANTS_PER_VCPU,
        "local_jwt_verifications_per_second_one_core": jwt_rates,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "oauth.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print()
    for name, goal in GOALS.items():
        verdict = "ok" if ratios[name] >= goal else "MISSES"
        print(
            f"{name:<22} ratio {ratios[name]:.3f} (goal {goal}) {verdict}; "
            f"CPU-bound {cpu_bound[name]:.3f}"
        )
    print(
        f"client credentials per core: {report['client_credentials_per_core']}/s "
        f"(Keycloak's sizing: {KEYCLOAK_GRANTS_PER_VCPU} grants/s per vCPU)"
    )
    print(f"local JWT verifications per second, one core: {jwt_rates}")


if __name__ == "__main__":
    main()
