from __future__ import annotations

import threading

import pyotp, base64
from django.db import connection, connections
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import DEFAULT_PASSWORD


def race(user, code, n=2):
    clients = [Client() for _ in range(n)]
    for c in clients:
        assert c.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})["Location"] == "/accounts/2fa/"
    barrier = threading.Barrier(n)
    results = [None] * n

    def go(i):
        try:
            barrier.wait()
            results[i] = clients[i].post("/accounts/2fa/", {"code": code}).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_same_code_concurrently_works_once(user):
    print("VENDOR", connection.vendor)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()
    results = race(user, code, n=4)
    print("RESULTS", results)
    assert sorted(results) == [302, 400, 400, 400]


def test_naive_verifier_lets_a_replay_through(user, monkeypatch):
    import time as _t
    from accounts.mfa import views

    def naive(u, persistent_id, token):
        d = TOTPDevice.objects.get(user=u)
        _t.sleep(0.2)  # widen the window between read and write
        return d if d.verify_token(token) else None

    monkeypatch.setattr(views, "otp_verify_token", naive)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    code = pyotp.TOTP(base64.b32encode(device.bin_key).decode()).now()
    results = race(user, code, n=4)
    print("NAIVE RESULTS", results)
    assert results.count(302) > 1
