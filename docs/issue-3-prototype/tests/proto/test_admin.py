import base64
import pyotp
from django_otp.plugins.otp_totp.models import TOTPDevice
from tests.factories import DEFAULT_PASSWORD, UserFactory


def test_staff_without_device_is_sent_to_enroll(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    r = client.post("/accounts/login/?next=/admin/", {"login": staff.email, "password": DEFAULT_PASSWORD, "next": "/admin/"})
    assert r["Location"] == "/admin/"
    r = client.get("/admin/")
    print("ADMIN1", r.status_code, r.get("Location"))
    r = client.get(r["Location"])
    print("ADMIN2", r.status_code, r.get("Location"))


def test_staff_with_totp_reaches_admin(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    d = TOTPDevice.objects.create(user=staff, name="p", confirmed=True)
    r = client.post("/accounts/login/?next=/admin/", {"login": staff.email, "password": DEFAULT_PASSWORD, "next": "/admin/"})
    assert r["Location"] == "/accounts/2fa/"
    r = client.post("/accounts/2fa/", {"code": pyotp.TOTP(base64.b32encode(d.bin_key).decode()).now()})
    assert r["Location"] == "/admin/", r.get("Location")
    assert client.get("/admin/").status_code == 200
