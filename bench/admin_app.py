"""bench/admin_app: the parts of bench/admin.py that run inside Gatehouse, one dataset at a time
(DATABASE_URL and REDIS_URL name that dataset's database and its server's Redis).

    prepare N     the staff member who signs in (a superuser with a verified address, a fresh
                  random password and a fresh authenticator-app key, which the bench computes
                  its codes from), an M2M app of the management API allowed to read
                  organizations (its secret is new each run: the run's key encrypts it), fresh
                  signing keys, and N people to look at: their ids and addresses, drawn from
                  those who have audit events and belong to the large organization;
    queries       each URL of a JSON list on stdin (``[{"name", "path", "token"?}]``) once
                  through Django's test client, as the staff member with a verified second
                  factor (or with the bearer token): how many SQL statements it sent, and the
                  statements that count rows (``COUNT(``) or sort without a limit.

Each prints one JSON document on its last line.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAFF_EMAIL = "support@admin-bench.example"
APP_NAME = "admin bench backend"


def prepare(count: int) -> dict[str, Any]:
    from allauth.account.models import EmailAddress
    from django.db import connection
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User
    from provider.management_api import management_api
    from provider.models import Application, SigningKey
    from provider.services.applications import create_application
    from provider.services.keys import ensure_signing_keys

    password = secrets.token_urlsafe(18)
    staff = User.objects.filter(email=STAFF_EMAIL).first()
    if staff is None:
        staff = User.objects.create_user(email=STAFF_EMAIL, password=password)
    else:
        staff.set_password(password)
    staff.is_staff = staff.is_superuser = True
    staff.is_blocked = False
    staff.save()
    EmailAddress.objects.update_or_create(
        user=staff, email=STAFF_EMAIL, defaults={"verified": True, "primary": True}
    )
    TOTPDevice.objects.filter(user=staff).delete()
    device = TOTPDevice.objects.create(user=staff, name="Bench phone", confirmed=True)

    # Each run encrypts with a new FIELD_ENCRYPTION_KEYS (bench/login.py's bench_env): last
    # run's signing keys and client secrets cannot be read, so both start afresh.
    Application.objects.filter(name=APP_NAME).delete()
    SigningKey.objects.all().delete()
    ensure_signing_keys()
    api = management_api()
    registered = create_application(
        actor=None, name=APP_NAME, kind="m2m", apis={api: ["organizations:read"]}
    )
    Application.objects.filter(pk=registered.application.pk).update(rate_limit_per_minute=10**9)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT users, events, members, first_user, large_org_slug FROM bench_admin_seed"
        )
        users, events, members, first_user, slug = cursor.fetchone()
        # Person g (0-based) has audit events if g < events (event e names person e % users);
        # the large organization's members are persons 0 .. members - 1.
        pool = min(users, events, members)
        rng = random.Random(19)
        ids = [first_user + g for g in rng.sample(range(pool), min(count, pool))]
        cursor.execute("SELECT id, email FROM accounts_user WHERE id = ANY(%s)", [ids])
        people = [{"id": pk, "email": email} for pk, email in cursor.fetchall()]
    rng.shuffle(people)
    return {
        "staff": {"email": STAFF_EMAIL, "password": password},
        "totp": {"key": device.key, "step": device.step, "digits": device.digits},
        "client": [str(registered.application.client_id), registered.client_secret],
        "resource": api.identifier,
        "organization": slug,
        "sizes": {"users": users, "events": events, "members": members},
        "people": people,
    }


def queries(pages: list[dict[str, str]]) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    staff = User.objects.get(email=STAFF_EMAIL)
    device = TOTPDevice.objects.get(user=staff)
    browser = Client()
    browser.force_login(staff)
    session = browser.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    found: dict[str, Any] = {}
    for page in pages:
        client = (
            Client(HTTP_AUTHORIZATION=f"Bearer {page['token']}") if "token" in page else browser
        )
        client.get(page["path"])  # caches warmed, as on a running server
        with CaptureQueriesContext(connection) as captured:
            response = client.get(page["path"])
        statements = [q["sql"] for q in captured.captured_queries]
        found[page["name"]] = {
            "status": response.status_code,
            "queries": len(statements),
            "counts": [s[:400] for s in statements if "COUNT(" in s.upper()],
            "distinct": sum(1 for s in statements if "DISTINCT" in s.upper()),
        }
    return found


def main() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    command = sys.argv[1]
    if command == "prepare":
        print(json.dumps(prepare(int(sys.argv[2]))))
    elif command == "queries":
        print(json.dumps(queries(json.load(sys.stdin))))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
