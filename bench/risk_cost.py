"""CPU cost of a sign-in's risk evaluation, in one process with the bench's settings.

Run by bench/login.py (with its environment: PostgreSQL, Redis, a seeded user). Times what the
takeover defences add to a password login, over many calls: the stuffing flags read by the
login form (one Redis MGET), the assessment (the device cookie's signature, two HMACs, one SQL
statement) and what the login keeps and writes of it (the session entry, the risk row built for
the login's one statement). Prints one line: ``RISK_COST {json}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from bench/
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402
from django.test import RequestFactory  # noqa: E402

from accounts.models import SignInRisk, User  # noqa: E402
from accounts.takeover import risk, stuffing  # noqa: E402


def one_evaluation(request, user) -> None:
    stuffing.challenge_in_force("10.1.2.3")
    assessment = risk.assess(request, user, failures_before=0)
    risk.keep(request, assessment)
    SignInRisk(
        user=user,
        session_key="x" * 32,
        created_at=None,
        new_device=assessment.new_device,
        new_network=assessment.new_network,
        failures_before=assessment.failures_before,
        challenged=assessment.challenged,
        ip="10.1.2.3",
        user_agent="gatehouse-bench/1",
    )
    assessment.audit_data()
    risk.forget(request)


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    user = User.objects.filter(email__endswith="@bench.test").order_by("pk").first()
    request = RequestFactory().post(
        "/accounts/login/", HTTP_X_FORWARDED_FOR="10.1.2.3", REMOTE_ADDR="127.0.0.1"
    )
    request.COOKIES[settings.GATEHOUSE_DEVICE_COOKIE_NAME] = risk.signed_device_cookie(
        "bench-device"
    )
    request.session = SessionStore()
    for _ in range(100):  # warm: connections, the SQL text, the parser caches
        one_evaluation(request, user)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        one_evaluation(request, user)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = {
        "calls": calls,
        "cpu_ms_per_login": round(cpu / calls * 1000, 3),
        "wall_ms_per_login": round(wall / calls * 1000, 3),
    }
    print("RISK_COST " + json.dumps(result))


if __name__ == "__main__":
    main()
