"""Password-login throughput of Gatehouse, set against the raw cost of the password hash.

One command (``make bench``):

1. seeds PostgreSQL with verified users (a bench database of its own),
2. serves Gatehouse with gunicorn, one worker per core, production settings on Redis,
3. drives concurrent full password logins with wrk (each a POST that ends in a session),
4. measures, on the same cores and in the same run, how many Argon2id verifications per second
   the machine does at Gatehouse's parameters (before and after the load, averaged),

and prints logins/s, p50 and p99 latency, the raw hash rate and their ratio. The hash is the only
unavoidable cost of a password login, so the ratio says how much of the machine the rest of the
login path (Django, allauth, rate limits, sessions, audit, database) takes: 1.0 would be free.
"""

from __future__ import annotations

import argparse
import base64
import http.cookiejar
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PYTHON = sys.executable
PASSWORD = "bench-Password-for-logins-1"
GOAL = 0.70  # issue 14: the restructure must not cost throughput


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
        "ALLOWED_HOSTS": "127.0.0.1",
        # Plain HTTP on loopback: no TLS redirect, and cookies that travel over HTTP.
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_COOKIES": "false",
        # wrk plays a proxy in front of many clients (one X-Forwarded-For address per login).
        "TRUSTED_PROXY_COUNT": "1",
        "WEBAUTHN_RP_ID": "gatehouse.test",
        "WEBAUTHN_ORIGINS": "https://gatehouse.test",
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        # Production refuses to start without the key client secrets are kept under.
        "OAUTH_CLIENT_SECRET_KEYS": "bench:" + secrets.token_urlsafe(40),
        "LOG_LEVEL": "WARNING",
    }


def run(cmd: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, env=env, check=True, text=True, **kwargs)


def ensure_database(args: argparse.Namespace, env: dict[str, str]) -> None:
    name = args.database_url.rsplit("/", 1)[1]
    created = subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-U", "postgres", name], capture_output=True, text=True
    )
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise SystemExit(f"cannot create the bench database: {created.stderr.strip()}")
    run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], env)
    run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v0"], env)


SEED_SCRIPT = """
import sys, django
django.setup()
from multiprocessing import Pool
from django.contrib.auth.hashers import make_password
from django.db import transaction
from allauth.account.models import EmailAddress
from accounts.models import User

count, password, procs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
have = User.objects.filter(email__endswith="@bench.test").count()
if have != count:
    User.objects.filter(email__endswith="@bench.test").delete()
    with Pool(procs) as pool:  # one Argon2 hash per user, with its own salt
        hashes = pool.map(make_password, [password] * count)
    with transaction.atomic():
        users = User.objects.bulk_create(
            User(email=f"user{i}@bench.test", password=hashes[i]) for i in range(count)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users
        )
print(User.objects.filter(email__endswith="@bench.test").count())
"""


def seed_users(args: argparse.Namespace, env: dict[str, str]) -> None:
    result = run(
        [PYTHON, "-c", SEED_SCRIPT, str(args.users), PASSWORD, str(args.workers)],
        env,
        capture_output=True,
    )
    print(f"seeded users: {result.stdout.strip()}")


def _hash_worker(encoded: str, seconds: float, queue: multiprocessing.Queue) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from accounts.hashers import GatehouseArgon2Hasher

    hasher = GatehouseArgon2Hasher()
    done = 0
    cpu = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        if not hasher.verify(PASSWORD, encoded):
            raise RuntimeError("verify failed")
        done += 1
    queue.put((done, time.process_time() - cpu))


_hash_cpu_seconds: list[tuple[int, float]] = []


def raw_hash_rate(processes: int, seconds: float) -> float:
    """Argon2id verifications per second with every core busy, at Gatehouse's parameters.
    Each worker's count and CPU time are also kept (``argon2_cpu_ms``)."""
    sys.path.insert(0, str(ROOT))
    from django.conf import settings

    if not settings.configured:
        settings.configure(PASSWORD_HASHERS=["accounts.hashers.GatehouseArgon2Hasher"])
    from accounts.hashers import GatehouseArgon2Hasher

    encoded = GatehouseArgon2Hasher().encode(PASSWORD, GatehouseArgon2Hasher().salt())
    queue: multiprocessing.Queue = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_hash_worker, args=(encoded, seconds, queue))
        for _ in range(processes)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    _hash_cpu_seconds.extend(results)
    return sum(done for done, _ in results) / (time.perf_counter() - started)


def argon2_cpu_ms() -> float:
    """CPU milliseconds of one verification, over every hash-rate run so far."""
    done = sum(count for count, _ in _hash_cpu_seconds)
    return sum(cpu for _, cpu in _hash_cpu_seconds) / max(done, 1) * 1000


def start_gunicorn(args: argparse.Namespace, env: dict[str, str]) -> subprocess.Popen:
    OUT.mkdir(parents=True, exist_ok=True)
    cmd = [
        str(Path(PYTHON).parent / "gunicorn"),
        "config.wsgi",
        "--workers",
        str(args.workers),
        "--bind",
        f"127.0.0.1:{args.port}",
        "--error-logfile",
        str(OUT / "gunicorn.log"),
        "--log-level",
        "warning",
    ]
    if args.threads > 1:
        cmd += ["--threads", str(args.threads)]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    raise SystemExit("gunicorn did not become ready; see bench/out/gunicorn.log")


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)


def csrf_pair(port: int) -> tuple[str, str]:
    """The CSRF cookie and a form token to go with it, as a browser would get them."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"http://127.0.0.1:{port}/accounts/login/", timeout=10) as response:
        html = response.read().decode()
    cookie = next(c.value for c in jar if c.name == "csrftoken")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not match:
        raise SystemExit("no CSRF token on the login page")
    return cookie, match.group(1)


def _cpu_group(name: str, cmdline: str, database: str) -> str | None:
    if "gunicorn" in cmdline and "config.wsgi" in cmdline:
        return "gunicorn"
    # Only the backends serving the bench database ("postgres: <role> <database> <client>
    # ..."): the server may be busy with other databases on a shared machine.
    if name.startswith("postgres") and f" {database} " in f"{cmdline} ":
        return "postgres"
    if name.startswith("redis-server"):
        return "redis"
    return None


def cpu_seconds_by_group(database: str) -> dict[str, float]:
    """CPU time (user + system) so far of Gatehouse's server processes and its stores."""
    import resource

    import psutil

    totals = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0}
    for process in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        times = process.info["cpu_times"]
        cmdline = " ".join(process.info["cmdline"] or [])
        group = _cpu_group(process.info["name"] or "", cmdline, database)
        if group and times is not None:
            totals[group] += times.user + times.system
    # wrk has exited by the time the run is over; its CPU is in this process's children.
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    totals["wrk"] = children.ru_utime + children.ru_stime
    return totals


def flush_rate_limits(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()


DEVICE_SCRIPT = """
import django
django.setup()
from django.utils import timezone
from accounts.models import KnownSign, SignInRisk, User
from accounts.takeover.risk import digest, network_of, signed_device_cookie

KnownSign.objects.all().delete()
SignInRisk.objects.all().delete()
now, device, rows = timezone.now(), digest("device", "bench-device"), []
for user in User.objects.filter(email__endswith="@bench.test"):
    n = int(user.email.removeprefix("user").split("@")[0])
    rows.append(KnownSign(user=user, kind="device", digest=device, first_seen=now))
    # The addresses wrk (login.lua) and the profile (login_profile.py) send for this user.
    wrk_ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
    for ip in (wrk_ip, f"10.200.{n // 256 % 256}.{n % 256}"):
        known = digest("network", network_of(ip))
        rows.append(KnownSign(user=user, kind="network", digest=known, first_seen=now))
KnownSign.objects.bulk_create(rows)
print(signed_device_cookie("bench-device"))
"""


def device_cookie(args: argparse.Namespace, env: dict[str, str]) -> str:
    """Every seeded person has signed in before, from the bench's device and networks (their
    known devices and networks are set for this run's key); the device cookie every simulated
    browser sends back, a returning visitor's. "" with --new-devices: every login then comes
    from a new device (a known-device row written, the policy read, and a few times an hour
    per person the new-sign-in email): the worst case."""
    cookie = run([PYTHON, "-c", DEVICE_SCRIPT], env, capture_output=True).stdout.strip()
    return "" if args.new_devices else cookie


def risk_cost(env: dict[str, str]) -> dict:
    """The takeover defences' CPU per login, in one process (bench/risk_cost.py)."""
    result = run([PYTHON, str(ROOT / "bench" / "risk_cost.py")], env, capture_output=True)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("RISK_COST "))
    return json.loads(line.removeprefix("RISK_COST "))


def wrk(args: argparse.Namespace, seconds: int, csrf: tuple[str, str]) -> dict:
    env = {
        **os.environ,
        "BENCH_DEVICE_COOKIE": args.device_cookie,
        "BENCH_CSRF_COOKIE": csrf[0],
        "BENCH_CSRF_TOKEN": csrf[1],
        "BENCH_USERS": str(args.users),
        "BENCH_PASSWORD": PASSWORD,
    }
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
            str(ROOT / "bench" / "login.lua"),
            f"http://127.0.0.1:{args.port}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("BENCH_RESULT "))
    return json.loads(line.removeprefix("BENCH_RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/gatehouse_bench"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="one per core")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--hash-seconds", type=float, default=8.0)
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument(
        "--new-devices",
        action="store_true",
        help="send no device cookie: every login is from a new device (the worst case)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead of the load: where N logins' CPU goes (bench/login_profile.py)",
    )
    args = parser.parse_args()

    if args.profile is None and shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    env = bench_env(args)
    ensure_database(args, env)
    seed_users(args, env)
    flush_rate_limits(args.redis_url)
    args.device_cookie = device_cookie(args, env)
    if args.profile is not None:
        profiler = str(ROOT / "bench" / "login_profile.py")
        env = {**env, "BENCH_DEVICE_COOKIE": args.device_cookie}
        run([PYTHON, profiler, str(args.profile), "--users", str(args.users)], env)
        return

    database = args.database_url.rsplit("/", 1)[1]
    hash_before = raw_hash_rate(args.workers, args.hash_seconds)
    server = start_gunicorn(args, env)
    try:
        csrf = csrf_pair(args.port)
        wrk(args, 3, csrf)  # warm-up: connections, caches, the first requests of each worker
        time.sleep(1)  # let the last warm-up requests finish before their sessions go
        flush_rate_limits(args.redis_url)
        cpu_before = cpu_seconds_by_group(database)
        result = wrk(args, args.seconds, csrf)
        cpu_after = cpu_seconds_by_group(database)
    finally:
        stop(server)
    hash_after = raw_hash_rate(args.workers, args.hash_seconds)
    risk = risk_cost(env)

    hash_rate = (hash_before + hash_after) / 2
    cpu_per_login = {
        group: (cpu_after[group] - cpu_before[group]) / max(result["ok"], 1) * 1000
        for group in cpu_before
    }
    logins = result["ok"] / (result["duration_us"] / 1e6)
    ratio = logins / hash_rate
    report = {
        "cores": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "gunicorn_threads": args.threads,
        "connections": args.connections,
        "logins": result["ok"],
        "failed_responses": result["other"],
        "socket_errors": result["errors"],
        "logins_per_second": round(logins, 1),
        "p50_ms": round(result["p50_us"] / 1000, 1),
        "p99_ms": round(result["p99_us"] / 1000, 1),
        "raw_argon2_verifies_per_second": round(hash_rate, 1),
        "raw_argon2_before_after": [round(hash_before, 1), round(hash_after, 1)],
        "ratio_logins_to_hash_rate": round(ratio, 3),
        # Where the CPU went, per successful login, next to the hash's own cost per verify.
        "cpu_ms_per_login": {group: round(ms, 2) for group, ms in cpu_per_login.items()},
        "argon2_cpu_ms_per_verify": round(argon2_cpu_ms(), 2),
        # The ratio the same CPU costs give when the cores have nothing else to do: a
        # verification's CPU over everything a login costs (server, stores and wrk alike).
        # Steadier than the measured ratio on a shared machine; read both.
        "ratio_cpu_bound": round(argon2_cpu_ms() / max(sum(cpu_per_login.values()), 1e-9), 3),
        "goal": GOAL,
        # The takeover defences' share (accounts/takeover/), timed in one process.
        "risk_evaluation_cpu_ms_per_login": risk["cpu_ms_per_login"],
        "risk_evaluation_wall_ms_per_login": risk["wall_ms_per_login"],
        "new_devices": args.new_devices,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "login.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(
        f"\n{logins:.1f} logins/s (p50 {report['p50_ms']} ms, p99 {report['p99_ms']} ms) against "
        f"{hash_rate:.1f} raw Argon2id verifies/s on {args.workers} cores: "
        f"ratio {ratio:.3f} (goal {GOAL}; CPU-bound estimate {report['ratio_cpu_bound']})"
    )
    print(
        f"risk evaluation: {risk['cpu_ms_per_login']} ms CPU per login "
        f"({risk['wall_ms_per_login']} ms with its SQL and Redis round trips), against "
        f"{report['argon2_cpu_ms_per_verify']} ms for the hash"
    )
    if result["other"] or result["errors"]:
        print(f"WARNING: {result['other']} non-login responses, {result['errors']} socket errors")


if __name__ == "__main__":
    main()
