"""bench/admin: the pages support staff live in, at 10,000 people against a million, side by side
in one run (issue 19).

One command (``make bench-admin``):

1. two databases (bench/admin_seed.py): a small one (10,000 people, 10,000 audit events) and a
   large one (``BENCH_ADMIN_USERS`` people, 1,000,000 by default, and ``BENCH_ADMIN_EVENTS``
   audit events, 10,000,000 by default), each with addresses (70% verified), organizations
   with memberships (one large enough for the management API's page 900) and an audit log
   spread over two years; loaded once and reused while the sizes stay (``--reseed`` loads
   them again);
2. in each, a staff member (a superuser with an authenticator app), an M2M app allowed to
   read organizations, and people to look at (bench/admin_app.py prepare);
3. two gunicorn servers, one per database, production settings, each on its own Redis
   database; the staff member signs in on each over HTTP as a person would (the login form,
   then the second step with a TOTP code computed here), and the app gets an access token
   from ``/o/token/`` (client credentials);
4. one request at a time, interleaved in blocks (each block on both servers, alternating which
   goes first), after a warm-up: the users list, a search for a person's address, the
   verified filter (``?verified=yes``), a person's page, the audit list, an audit search for an
   address, a deep audit page, and the management API's deep members page. Each page's p95 on
   the large database over its p95 on the small one: the goal is at most 1.5;
5. the SQL statements each page sends (once, through Django's test client, in each database).

Only the answer that proves the page counts: 200, the searched address on the page, the
person's address on their page, a list with rows, a members page with members; the first
other answer stops the run with what the server said. Writes bench/out/admin.json.

Deep pages follow what the admin and the API offer, so the bench keeps working if they move
from numbered pages to cursors: the audit list's deepest numbered page that its paginator
links to (``?p=N``), or, when its pages link to a next page by cursor, the page reached by
following ``BENCH_ADMIN_DEEP_HOPS`` (200) of those links; ``BENCH_ADMIN_DEEP_AUDIT`` (a query
string such as ``?p=1000``) names one instead. The members page is page 900
(``BENCH_ADMIN_MEMBERS_PAGE``), or the last one where there are fewer (the small database's
large organization has 10,000 members: 200 pages of 50), or the page reached by following
``next`` that many times if the API pages by cursor.

    .venv/bin/python bench/admin.py [--requests 30] [--block 10] [--reseed]
    BENCH_ADMIN_USERS=200000 BENCH_ADMIN_EVENTS=1000000 .venv/bin/python bench/admin.py

Needs PostgreSQL and Redis on loopback. The database URL's role must be allowed to create
databases; each dataset's database is owned and migrated by it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import http.client
import json
import math
import os
import re
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from admin_seed import Size, dataset_url, ensure_dataset  # noqa: E402
from login import PYTHON, bench_env, stop  # noqa: E402

OUT = ROOT / "bench" / "out"
GOAL = 1.5  # p95 on the large database over p95 on the small one, for each page
SMALL_USERS = SMALL_EVENTS = 10_000
USERS = "/admin/accounts/user/"
AUDIT = "/admin/audit/auditevent/"
KINDS = (
    "users_list",
    "user_search",
    "users_verified",
    "user_page",
    "audit_list",
    "audit_search",
    "audit_deep",
    "api_members_deep",
)


class WrongAnswer(Exception):
    pass


# --- HTTP, one request at a time ----------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class Browser:
    """Cookies and plain HTTP/1.1 on loopback, a new connection per request (gunicorn's sync
    workers close each one), no redirect followed."""

    port: int
    timeout: float = 300.0
    cookies: dict[str, str] = field(default_factory=dict)

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None, **headers: str
    ) -> Answer:
        sent = {"Host": "127.0.0.1", "User-Agent": "bench/admin", **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        payload = None
        if body is not None:
            payload = urlencode(body).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(method, path, payload, sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                if "max-age=0" in value.lower() or "expires=thu, 01 jan 1970" in value.lower():
                    self.cookies.pop(key.strip(), None)
                else:
                    self.cookies[key.strip()] = val.strip()
        headers_ = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_, data, seconds)

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, **headers)


def form_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise WrongAnswer("no CSRF token on the page")
    return match.group(1)


def totp(key_hex: str, step: int, digits: int, at: float | None = None) -> str:
    """RFC 6238's code for ``key_hex`` now, as an authenticator app shows it."""
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def sign_in(port: int, world: dict[str, Any]) -> Browser:
    """The staff member's login over HTTP: password, then the authenticator app's code, then
    the admin's index answers 200 (it sends staff without a verified strong factor away)."""
    browser = Browser(port)
    login_path = "/accounts/login/?next=/admin/"
    page = browser.get(login_path)
    staff = world["staff"]
    answer = browser.request(
        "POST",
        login_path,
        {
            "login": staff["email"],
            "password": staff["password"],
            "next": "/admin/",
            "csrfmiddlewaretoken": form_token(page.text),
        },
    )
    if answer.status != 302 or "/accounts/2fa/" not in answer.location():
        raise WrongAnswer(f"password step: {answer.status} {answer.location()} {answer.text[:300]}")
    page = browser.get("/accounts/2fa/")
    code = totp(world["totp"]["key"], world["totp"]["step"], world["totp"]["digits"])
    answer = browser.request(
        "POST",
        "/accounts/2fa/",
        {"kind": "totp", "code": code, "csrfmiddlewaretoken": form_token(page.text)},
    )
    if answer.status != 302:
        raise WrongAnswer(f"second step: {answer.status} {answer.text[:300]}")
    index = browser.get("/admin/")
    if index.status != 200:
        raise WrongAnswer(f"the admin after signing in: {index.status} {index.location()}")
    return browser


def access_token(port: int, world: dict[str, Any]) -> str:
    client_id, secret = world["client"]
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    answer = Browser(port).request(
        "POST",
        "/o/token/",
        {"grant_type": "client_credentials", "resource": world["resource"]},
        Authorization=f"Basic {basic}",
    )
    if answer.status != 200:
        raise WrongAnswer(f"token: {answer.status} {answer.text[:300]}")
    return str(json.loads(answer.body)["access_token"])


# --- Finding the deep pages ---------------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = {k: v or "" for k, v in attrs}
            self._open["text"] = ""
            self.links.append(self._open)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None


def links_of(page: str) -> list[dict[str, str]]:
    parser = _Links()
    parser.feed(page)
    return [link for link in parser.links if link.get("href")]


NEXT_WORDS = re.compile(r"^\s*(next|older|more|\u203a|\u00bb|\u2192)", re.IGNORECASE)


def next_by_cursor(base: str, page: str) -> str | None:
    """The admin page's link to its next page when that link carries a cursor (any parameter
    but the page number ``p``), as a path; None when it pages by number or not at all."""
    for link in links_of(page):
        href = html.unescape(link["href"])
        if not href.startswith("?") and not href.startswith(base):
            continue
        named_next = "next" in link.get("rel", "").split() or NEXT_WORDS.match(link["text"])
        keys = {key for key, _ in parse_qsl(urlsplit(href).query)}
        if named_next and keys - {"p"}:
            return urljoin(base, href)
    return None


def deep_audit_path(browser: Browser, hops: int) -> tuple[str, str]:
    """(path, how it was found) of the deepest audit page the admin offers."""
    override = os.environ.get("BENCH_ADMIN_DEEP_AUDIT", "")
    if override:
        return urljoin(AUDIT, override), "BENCH_ADMIN_DEEP_AUDIT"
    first = expect_ok(browser.get(AUDIT), "audit_list")
    cursor = next_by_cursor(AUDIT, first.text)
    if cursor:
        path, taken = cursor, 1
        while taken < hops:
            following = next_by_cursor(AUDIT, expect_ok(browser.get(path), "audit_deep").text)
            if following is None:
                break
            path, taken = following, taken + 1
        return path, f"{taken} next links (cursor)"
    numbers = [
        int(value)
        for link in links_of(first.text)
        for key, value in parse_qsl(urlsplit(html.unescape(link["href"])).query)
        if key == "p" and value.isdigit()
    ]
    if not numbers:
        return AUDIT, "one page only"
    return f"{AUDIT}?p={max(numbers)}", f"the paginator's last link, ?p={max(numbers)}"


def deep_members_path(browser: Browser, slug: str, token: str, target: int) -> tuple[str, str]:
    """(path, how it was found) of the members page ``target`` of the large organization, or
    the last one if there are fewer; by following ``next`` when the API offers cursor pages
    (``?cursor=``, docs/api.md), by ``?page=`` otherwise."""
    base = f"/api/v1/organizations/{quote(slug)}/members/"
    bearer = {"Authorization": f"Bearer {token}"}
    first = json.loads(expect_ok(browser.get(f"{base}?cursor=", **bearer), "api_members_deep").body)
    size = len(first.get("results") or [])
    following = first.get("next") or ""
    numbered = "cursor=" not in following
    if not size:
        raise WrongAnswer(f"the members list of {slug} is empty")
    if numbered:
        count = first.get("count")
        last = math.ceil(count / size) if isinstance(count, int) else target
        page = min(target, last)
        return f"{base}?page={page}", f"page {page} of {last} ({size} a page)"
    taken = 1
    path = f"{base}?cursor="
    while following and taken < target:
        split = urlsplit(following)
        path = split.path + (f"?{split.query}" if split.query else "")
        answer = json.loads(expect_ok(browser.get(path, **bearer), "api_members_deep").body)
        following, taken = answer.get("next") or "", taken + 1
    return path, f"page {taken} by {taken - 1} next links (cursor)"


# --- The pages ----------------------------------------------------------------------------------


RESULTS = 'id="result_list"'


def expect_ok(answer: Answer, kind: str, *, contains: str = "", listed: str = "") -> Answer:
    """``answer`` if it is a 200 with ``contains`` anywhere on the page and ``listed`` in its
    results table (after the changelist's ``result_list``: a search box repeats the term)."""
    text = answer.text.lower()
    rows = text.partition(RESULTS)[2] if listed else ""
    if (
        answer.status != 200
        or (contains and contains.lower() not in text)
        or (listed and listed.lower() not in rows)
    ):
        where = answer.location() or answer.text[:600]
        missing = f" (no {contains or listed!r})" if answer.status == 200 else ""
        raise WrongAnswer(f"{kind}: {answer.status}{missing} {where}")
    return answer


@dataclass
class Server:
    label: str
    size: Size
    env: dict[str, str]
    port: int
    world: dict[str, Any] = field(default_factory=dict)
    browser: Browser | None = None
    token: str = ""
    deep: dict[str, tuple[str, str]] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    turn: int = 0

    def person(self) -> dict[str, Any]:
        people = self.world["people"]
        self.turn += 1
        return people[self.turn % len(people)]


def page_request(kind: str, server: Server) -> tuple[str, dict[str, str], Callable[[Answer], Any]]:
    """(path, headers, check) of one request of ``kind`` on ``server``."""
    if kind == "users_list":
        return USERS, {}, lambda a: expect_ok(a, kind, contains=RESULTS)
    if kind == "user_search":
        person = server.person()
        path = f"{USERS}?{urlencode({'q': person['email']})}"
        change = f"{USERS}{person['id']}/change/"
        return path, {}, lambda a: expect_ok(a, kind, listed=change)
    if kind == "users_verified":
        return f"{USERS}?verified=yes", {}, lambda a: expect_ok(a, kind, contains=RESULTS)
    if kind == "user_page":
        person = server.person()
        path = f"{USERS}{person['id']}/change/"
        return path, {}, lambda a: expect_ok(a, kind, contains=person["email"])
    if kind == "audit_list":
        return AUDIT, {}, lambda a: expect_ok(a, kind, contains=RESULTS)
    if kind == "audit_search":
        email = server.person()["email"]
        path = f"{AUDIT}?{urlencode({'q': email})}"
        return path, {}, lambda a: expect_ok(a, kind, listed=email)
    if kind == "audit_deep":
        return server.deep[kind][0], {}, lambda a: expect_ok(a, kind, contains=RESULTS)
    if kind == "api_members_deep":

        def members(answer: Answer) -> None:
            expect_ok(answer, kind)
            if not json.loads(answer.body).get("results"):
                raise WrongAnswer(f"{kind}: no members on {server.deep[kind][0]}")

        return server.deep[kind][0], {"Authorization": f"Bearer {server.token}"}, members
    raise ValueError(kind)


def one(kind: str, server: Server) -> float:
    assert server.browser is not None
    path, headers, check = page_request(kind, server)
    answer = server.browser.get(path, **headers)
    check(answer)
    return answer.seconds


def latencies(args: argparse.Namespace, servers: list[Server]) -> dict[str, dict[str, list]]:
    """Every page on every server, block by block, alternating which server goes first."""
    samples: dict[str, dict[str, list]] = {s.label: {k: [] for k in args.kinds} for s in servers}
    for server in servers:  # warm-up: each worker's first requests, not measured
        for kind in args.kinds:
            for _ in range(args.warmup):
                one(kind, server)
    rounds = math.ceil(args.requests / args.block)
    for round_ in range(rounds):
        for k, kind in enumerate(args.kinds):
            order = servers if (round_ + k) % 2 == 0 else servers[::-1]
            for server in order:
                block = min(args.block, args.requests - round_ * args.block)
                samples[server.label][kind] += [one(kind, server) for _ in range(block)]
        done = ", ".join(f"{s.label} {len(samples[s.label][args.kinds[-1]])}" for s in servers)
        print(f"  round {round_ + 1}/{rounds} done ({done} requests a page)", flush=True)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- Servers ------------------------------------------------------------------------------------


def app(env: dict[str, str], *argv: str, stdin: Any = None) -> Any:
    """bench/admin_app.py in this dataset's settings; its last line of output, as JSON."""
    result = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "admin_app.py"), *argv],
        cwd=ROOT,
        env=env,
        input=None if stdin is None else json.dumps(stdin),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"bench/admin_app.py {argv[0]} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def start_gunicorn(server: Server, workers: int) -> subprocess.Popen:
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"admin-gunicorn-{server.label}.log"
    cmd = [
        str(Path(PYTHON).parent / "gunicorn"), "config.wsgi",
        "--workers", str(workers), "--bind", f"127.0.0.1:{server.port}",
        # A slow page on the large database must be measured, not killed.
        "--timeout", "600", "--error-logfile", str(log), "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(cmd, cwd=ROOT, env=server.env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if Browser(server.port, timeout=5).get("/readyz").status == 200:
                return process
        except OSError:
            pass
        time.sleep(0.3)
    stop(process)
    raise SystemExit(f"gunicorn did not become ready; see {log}")


def dataset_env(args: argparse.Namespace, label: str, redis_db: int) -> dict[str, str]:
    url = dataset_url(args.database_url, label)
    redis_url = f"{args.redis_url.rsplit('/', 1)[0]}/{redis_db}"
    env = bench_env(argparse.Namespace(database_url=url, redis_url=redis_url))
    env["TRUSTED_PROXY_COUNT"] = "0"  # one client, talking straight to gunicorn
    return env


def prepare(args: argparse.Namespace) -> list[Server]:
    users = int(os.environ.get("BENCH_ADMIN_USERS", args.users))
    events = int(os.environ.get("BENCH_ADMIN_EVENTS", args.events))
    sizes = [
        Size.of("small", min(SMALL_USERS, users), min(SMALL_EVENTS, events)),
        Size.of("large", users, events),
    ]
    servers = []
    for n, size in enumerate(sizes):
        env = dataset_env(args, size.label, args.redis_first_db + n)
        started = time.perf_counter()
        marker = ensure_dataset(
            dataset_url(args.database_url, size.label), size, env, reseed=args.reseed
        )
        server = Server(size.label, size, env, args.port + n)
        server.world["seed"] = {
            "seconds": marker["seconds"],
            "reused": marker["reused"],
            "with_migrate_seconds": time.perf_counter() - started,
        }
        servers.append(server)
    import redis

    for server in servers:  # each run starts with no sessions and no rate limits left over
        redis.Redis.from_url(server.env["REDIS_URL"]).flushdb()
        server.world.update(app(server.env, "prepare", str(args.people)))
    return servers


def explain_queries(server: Server) -> dict[str, Any]:
    pages = []
    for kind in KINDS:
        path, headers, _ = page_request(kind, server)
        page: dict[str, str] = {"name": kind, "path": path}
        if "Authorization" in headers:
            page["token"] = server.token
        pages.append(page)
    env = {**server.env, "ALLOWED_HOSTS": "127.0.0.1,testserver"}
    return dict(app(env, "queries", stdin=pages))


# --- The report ---------------------------------------------------------------------------------


def summary(samples: dict[str, dict[str, list]], kinds: list[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for kind in kinds:
        row: dict[str, Any] = {}
        for label, by_kind in samples.items():
            values = by_kind[kind]
            row[label] = {
                "n": len(values),
                "p50_ms": round(percentile(values, 50) * 1000, 1),
                "p95_ms": round(percentile(values, 95) * 1000, 1),
            }
        row["p95_ratio"] = round(row["large"]["p95_ms"] / row["small"]["p95_ms"], 2)
        row["meets_goal"] = row["p95_ratio"] <= GOAL
        figures[kind] = row
    return figures


def print_report(report: dict[str, Any]) -> None:
    small, large = report["sizes"]["small"], report["sizes"]["large"]
    print()
    print(
        f"admin at scale: small {small['users']:,} people / {small['events']:,} events, "
        f"large {large['users']:,} people / {large['events']:,} events "
        f"({report['cores']} cores, {report['gunicorn_workers']} gunicorn workers)"
    )
    print(
        f"load of the large database: {report['seed']['large']['seconds']:.0f} s"
        + (" (reused)" if report["seed"]["large"]["reused"] else "")
    )
    header = (
        f"{'page':<18} {'small p50':>10} {'p95':>9} {'large p50':>10} {'p95':>9} "
        f"{'p95 ratio':>9}  {'queries s/l':>11}"
    )
    print(header)
    print("-" * len(header))
    for kind, row in report["latency"].items():
        counts = report["queries"]
        queries = f"{counts['small'][kind]['queries']}/{counts['large'][kind]['queries']}"
        flag = "" if row["meets_goal"] else "  > goal"
        print(
            f"{kind:<18} {row['small']['p50_ms']:>8.1f}ms {row['small']['p95_ms']:>7.1f}ms "
            f"{row['large']['p50_ms']:>8.1f}ms {row['large']['p95_ms']:>7.1f}ms "
            f"{row['p95_ratio']:>9.2f}  {queries:>11}{flag}"
        )
    print(f"goal: each p95 ratio at most {GOAL}")
    for label, deep in report["deep_pages"].items():
        for kind, (path, how) in deep.items():
            print(f"{label} {kind}: {path} ({how})")
    print(f"written to {OUT / 'admin.json'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/gatehouse_bench_admin",
        help="the base name: the datasets are <name>_small and <name>_large",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument("--redis-first-db", type=int, default=8, help="and the next one")
    parser.add_argument("--users", type=int, default=1_000_000, help="or BENCH_ADMIN_USERS")
    parser.add_argument("--events", type=int, default=10_000_000, help="or BENCH_ADMIN_EVENTS")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--requests", type=int, default=30, help="measured, per page and size")
    parser.add_argument("--block", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--people", type=int, default=200, help="searched for and looked at")
    parser.add_argument("--only", help="comma-separated pages: " + ", ".join(KINDS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="one per core")
    parser.add_argument("--port", type=int, default=8097, help="and the next one")
    args = parser.parse_args()
    args.kinds = [k for k in KINDS if not args.only or k in args.only.split(",")]
    if not args.kinds:
        parser.error(f"--only names none of {', '.join(KINDS)}")
    hops = int(os.environ.get("BENCH_ADMIN_DEEP_HOPS", "200"))
    members_page = int(os.environ.get("BENCH_ADMIN_MEMBERS_PAGE", "900"))

    servers = prepare(args)
    # Production settings serve hashed static files from the manifest collectstatic writes.
    subprocess.run(
        [PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=servers[0].env,
        check=True,
    )
    try:
        for server in servers:
            server.process = start_gunicorn(server, args.workers)
        for server in servers:
            server.browser = sign_in(server.port, server.world)
            server.token = access_token(server.port, server.world)
            server.deep["audit_deep"] = deep_audit_path(server.browser, hops)
            server.deep["api_members_deep"] = deep_members_path(
                server.browser, server.world["organization"], server.token, members_page
            )
        print("measuring ...", flush=True)
        samples = latencies(args, servers)
        queries = {s.label: explain_queries(s) for s in servers}
    except WrongAnswer as wrong:
        raise SystemExit(f"a wrong answer stopped the run: {wrong}") from None
    finally:
        for server in servers:
            if server.process is not None:
                stop(server.process)
    report = {
        "cores": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "requests_per_page": args.requests,
        "sizes": {
            s.label: {"users": s.size.users, "events": s.size.events, "members": s.size.members}
            for s in servers
        },
        "seed": {s.label: s.world["seed"] for s in servers},
        "latency": summary(samples, args.kinds),
        "goal_p95_ratio": GOAL,
        "queries": queries,
        "deep_pages": {s.label: s.deep for s in servers},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "admin.json").write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)


if __name__ == "__main__":
    main()
