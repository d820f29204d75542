"""Can a stranger tell a taken address from a free one by how long Gatehouse takes to answer?

One command (``make bench-enumeration``):

1. seeds PostgreSQL with verified accounts (a bench database of its own) and publishes the
   terms and privacy policy, so sign-up records the consents a real deployment asks for,
2. serves Gatehouse with gunicorn, production settings on PostgreSQL and Redis, the Celery
   broker on Redis (no worker: the queued emails are counted, not sent),
3. sends, one at a time from one client, the requests an enumerating stranger would send, each
   for an address that has an account and for one that has none, interleaved in random order:
   sign-up, the same taken address signed up again (its "account exists" email is in its
   cooldown then), a password login with a wrong password, a password reset, a login-code
   request, a wrong code entered after one, and on the sign-up waiting page after a sign-up
   with the address: a wrong code, a new code and a change to a free address,
4. prints, per endpoint, the median time of each side, their difference, and the two-sided
   Mann-Whitney U (rank-sum) p-value; and flags any difference in what the responses show
   (status, redirect, which cookies they set).

The goal is that no endpoint shows a difference at p < 0.01. Absolute times on a shared
machine mean little; the two sides of a row are measured side by side in the same run.

Rate limits stay on, as configured: every request comes from its own client address behind one
trusted proxy (X-Forwarded-For, ``TRUSTED_PROXY_COUNT=1``), and each taken address is used once
per endpoint (a login code is asked for twice, the limit is three a minute), so neither the
per-address nor the per-email limits are reached. Nothing is raised for the bench's server.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench/ is a folder of scripts, not a package: share bench/login.py's server plumbing.
from login import (
    OUT,
    PYTHON,
    ROOT,
    bench_env,
    csrf_pair,
    ensure_database,
    start_gunicorn,
    stop,
)

DOMAIN = "enum.bench.test"
PASSWORD = "bench-Password-for-enumeration-1"
WRONG_PASSWORD = "not-the-Password-at-all-7"
AGAIN = f"again@{DOMAIN}"  # the taken address signed up with again and again
ALPHA = 0.01

SETUP_SCRIPT = """
import sys, django
django.setup()
from multiprocessing import Pool
from django.contrib.auth.hashers import make_password
from django.db import transaction
from allauth.account.models import EmailAddress
from accounts.models import User
from config.encryption import SecretUnreadable
from consent import keys, services
from consent.models import PolicyDocument, PolicyVersion, ReceiptKey

count, password, domain, again = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
wanted = [f"user{i}@{domain}" for i in range(count)] + [again]
have = set(User.objects.filter(email__in=wanted).values_list("email", flat=True))
missing = [email for email in wanted if email not in have]
if missing:
    with Pool(2) as pool:  # one Argon2 hash per account, with its own salt
        hashes = pool.map(make_password, [password] * len(missing))
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(email=email, password=hashed) for email, hashed in zip(missing, hashes)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users
        )
# A deployment has its terms and privacy policy published: sign-up then records a consent
# event with a signed receipt for each of them.
documents = PolicyDocument.objects.filter(organization__isnull=True, key__in=["terms", "privacy"])
for document in documents:
    if not document.versions.published().exists():
        version = PolicyVersion.objects.create(
            document=document, label="bench-1", content=f"{document.title} for the bench."
        )
        services.publish_version(version=version, actor=None, reason="bench")
# Each run encrypts secrets with a new key (bench/login.py's bench_env): a receipt key left by
# an earlier run cannot be read any more, so it is retired for a new one, as after a key loss.
active = ReceiptKey.objects.filter(status=ReceiptKey.Status.ACTIVE).first()
if active is not None:
    try:
        keys.private_key(active)
    except SecretUnreadable:
        keys.rotate()
print(len(wanted))
"""


# --- Statistics ---------------------------------------------------------------------------------


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (Wilcoxon rank-sum): normal approximation
    with tie correction and continuity correction, which is accurate at the sample sizes here
    (hundreds a side). Written out rather than adding scipy to the shared environment for one
    function."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return float("nan")
    pooled = sorted([(value, 0) for value in a] + [(value, 1) for value in b])
    n = n1 + n2
    ranks = [0.0] * n
    tie_term = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        average = (i + j) / 2 + 1  # ranks start at 1
        for k in range(i, j + 1):
            ranks[k] = average
        ties = j - i + 1
        tie_term += ties**3 - ties
        i = j + 1
    rank_sum_a = sum(rank for rank, (_, side) in zip(ranks, pooled, strict=True) if side == 0)
    u = rank_sum_a - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (abs(u - mean) - 0.5) / math.sqrt(variance)
    return math.erfc(max(z, 0.0) / math.sqrt(2))


# --- Requests -----------------------------------------------------------------------------------


@dataclass
class Client:
    port: int
    csrf_cookie: str
    csrf_token: str
    sent: int = 0

    def post(
        self, path: str, fields: dict[str, str], cookies: dict[str, str] | None = None
    ) -> tuple[float, tuple, dict[str, str]]:
        """POST a form as a visitor from an address of its own, with no cookies but CSRF's and
        ``cookies``: the time from the request's first byte to the response's last, what the
        visitor can see of the answer, and the cookies it set."""
        self.sent += 1
        n = self.sent
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.csrf_token})
        jar = {"csrftoken": self.csrf_cookie, **(cookies or {})}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "; ".join(f"{name}={value}" for name, value in jar.items()),
            "X-Forwarded-For": f"10.{(n >> 16) % 256}.{(n >> 8) % 256}.{n % 256}",
            "User-Agent": "gatehouse-bench/enumeration",
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.connect()  # the TCP handshake is not part of what the server does
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        set_cookies = dict(
            value.split(";", 1)[0].split("=", 1)
            for name, value in response.getheaders()
            if name == "Set-Cookie"
        )
        shape = (response.status, response.getheader("Location", ""), tuple(sorted(set_cookies)))
        connection.close()
        if response.status >= 500:
            raise SystemExit(f"{path} answered {response.status}: see bench/out/gunicorn.log")
        return elapsed * 1000, shape, set_cookies


@dataclass
class Endpoint:
    name: str
    path: str
    existing: list[str]  # one address per sample (and warm-up)
    fields: dict[str, str] = field(default_factory=dict)
    email_field: str = "email"
    # A step before the timed request, not timed: (path, fields); its cookies go along.
    before: tuple[str, dict[str, str]] | None = None
    times: dict[str, list[float]] = field(default_factory=lambda: {"existing": [], "missing": []})
    shapes: dict[str, dict[tuple, int]] = field(
        default_factory=lambda: {"existing": {}, "missing": {}}
    )

    def address(self, side: str, index: int) -> str:
        if side == "existing":
            return self.existing[index]
        return f"missing-{uuid.uuid4().hex[:16]}@{DOMAIN}"

    def sample(self, client: Client, side: str, index: int, *, keep: bool) -> None:
        address = self.address(side, index)
        cookies: dict[str, str] = {}
        if self.before is not None:
            path, fields = self.before
            _, _, cookies = client.post(path, {self.email_field: address, **fields})
            fields = dict(self.fields)
        else:
            fields = {self.email_field: address, **self.fields}
        # "{fresh}" in a field: a new free address each time (the sign-up code's change).
        fields = {
            k: v.replace("{fresh}", f"fresh-{uuid.uuid4().hex[:16]}@{DOMAIN}")
            for k, v in fields.items()
        }
        ms, shape, _ = client.post(self.path, fields, cookies)
        if keep:
            self.times[side].append(ms)
            self.shapes[side][shape] = self.shapes[side].get(shape, 0) + 1


def consent_boxes(port: int) -> dict[str, str]:
    """Tick every consent box the sign-up form offers (the required ones must be)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/accounts/signup/")
    html = connection.getresponse().read().decode()
    connection.close()
    return {name: "on" for name in sorted(set(re.findall(r'name="(consent_\w+)"', html)))}


def flush(*urls: str) -> None:
    import redis

    for url in dict.fromkeys(urls):
        redis.Redis.from_url(url).flushdb()


def queued_tasks(broker_url: str) -> int:
    import redis

    return int(redis.Redis.from_url(broker_url).llen("celery"))


# --- Run ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/gatehouse_bench_enum"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="cache")
    parser.add_argument("--broker-url", default="", help="Celery broker (default: --redis-url)")
    parser.add_argument("--samples", type=int, default=300, help="per side of each endpoint")
    parser.add_argument("--warmup", type=int, default=15, help="rounds not counted")
    parser.add_argument("--workers", type=int, default=1, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8078)
    parser.add_argument("--seed", type=int, default=None, help="for the order of requests")
    parser.add_argument(
        "--only", default="", help="comma-separated endpoint names (default: all nine)"
    )
    args = parser.parse_args()
    args.threads = 1
    broker_url = args.broker_url or args.redis_url

    env = bench_env(args)
    env["CELERY_BROKER_URL"] = broker_url
    env["SIGNUP_CODE_RESEND_COOLDOWN"] = "0"  # a new sign-up code at once, every time
    ensure_database(args, env)
    rounds = args.warmup + args.samples
    seeded = subprocess.run(
        [PYTHON, "-c", SETUP_SCRIPT, str(rounds), PASSWORD, DOMAIN, AGAIN],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        capture_output=True,
    )
    print(f"accounts with an address at {DOMAIN}: {seeded.stdout.strip()}")
    flush(args.redis_url, broker_url)

    taken = [f"user{i}@{DOMAIN}" for i in range(rounds)]
    server = start_gunicorn(args, env)
    try:
        client = Client(args.port, *csrf_pair(args.port))
        boxes = consent_boxes(args.port)
        signup_fields = {"password1": PASSWORD, **boxes}
        endpoints = [
            Endpoint("sign-up", "/accounts/signup/", taken, signup_fields),
            Endpoint("sign-up again", "/accounts/signup/", [AGAIN] * rounds, signup_fields),
            Endpoint("login", "/accounts/login/", taken, {"password": WRONG_PASSWORD}, "login"),
            Endpoint("password reset", "/accounts/password/reset/", taken),
            Endpoint("login code", "/accounts/login/code/", taken),
            Endpoint(
                "wrong code",
                "/accounts/login/code/confirm/",
                taken,
                {"code": "WRONG1"},
                before=("/accounts/login/code/", {}),
            ),
            # The sign-up waiting page, after a sign-up with the address: a wrong code, a new
            # code (no cooldown for the bench) and "Wrong address?" to a free address.
            Endpoint(
                "signup wrong code",
                "/accounts/confirm-email/",
                taken,
                {"action": "verify", "code": "WRON-GCOD"},
                before=("/accounts/signup/", signup_fields),
            ),
            Endpoint(
                "signup new code",
                "/accounts/confirm-email/",
                taken,
                {"action": "resend"},
                before=("/accounts/signup/", signup_fields),
            ),
            Endpoint(
                "signup change",
                "/accounts/confirm-email/",
                taken,
                {"action": "change", "email": "{fresh}"},
                before=("/accounts/signup/", signup_fields),
            ),
        ]
        if args.only:
            wanted = {name.strip() for name in args.only.split(",")}
            endpoints = [e for e in endpoints if e.name in wanted]
        order = random.Random(args.seed)
        print(
            f"{args.samples} samples a side (+{args.warmup} warm-up rounds), interleaved, "
            f"{len(endpoints)} endpoints, consent boxes ticked: {', '.join(boxes) or 'none'}"
        )
        started = time.monotonic()
        for index in range(rounds):
            keep = index >= args.warmup
            for endpoint in order.sample(endpoints, len(endpoints)):
                for side in order.sample(["existing", "missing"], 2):
                    endpoint.sample(client, side, index, keep=keep)
        took = time.monotonic() - started
        tasks = queued_tasks(broker_url)
    finally:
        stop(server)
    flush(args.redis_url, broker_url)

    rows = []
    for endpoint in endpoints:
        existing, missing = endpoint.times["existing"], endpoint.times["missing"]
        p = mann_whitney_p(existing, missing)
        rows.append(
            {
                "endpoint": endpoint.name,
                "samples": [len(existing), len(missing)],
                "median_ms_existing": round(statistics.median(existing), 2),
                "median_ms_missing": round(statistics.median(missing), 2),
                "median_difference_ms": round(
                    statistics.median(existing) - statistics.median(missing), 2
                ),
                "p_value": round(p, 4),
                "difference_detected": p < ALPHA,
                "responses_differ": set(endpoint.shapes["existing"])
                != set(endpoint.shapes["missing"]),
                "responses": {
                    side: [[list(s), count] for s, count in shapes.items()]
                    for side, shapes in endpoint.shapes.items()
                },
            }
        )
    report = {
        "samples_per_side": args.samples,
        "gunicorn_workers": args.workers,
        "seconds": round(took, 1),
        "celery_tasks_queued": tasks,
        "alpha": ALPHA,
        "endpoints": rows,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "enumeration.json").write_text(json.dumps(report, indent=2))

    header = f"{'endpoint':<18}{'existing ms':>13}{'missing ms':>12}{'diff ms':>10}{'p':>9}"
    print(f"\n{header}  verdict")
    for row in rows:
        verdict = "DIFFERENT (p < 0.01)" if row["difference_detected"] else "no difference"
        if row["responses_differ"]:
            verdict += "; RESPONSES DIFFER"
        print(
            f"{row['endpoint']:<18}{row['median_ms_existing']:>13.2f}"
            f"{row['median_ms_missing']:>12.2f}{row['median_difference_ms']:>+10.2f}"
            f"{row['p_value']:>9.4f}  {verdict}"
        )
    for row in rows:
        if row["responses_differ"]:
            print(f"  {row['endpoint']}: {json.dumps(row['responses'])}")
    print(f"\n{took:.0f} s; {tasks} Celery tasks queued (emails); bench/out/enumeration.json")
    if any(row["difference_detected"] or row["responses_differ"] for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
