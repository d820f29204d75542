"""The provider's part of ``make run``'s demo (accounts' ``seed_demo`` command calls it):
signing keys, and a first-party native app that provider/demo_client.py (a command) and
provider/demo_app.py (a sample web app) sign in with.

A native app, because only native apps may redirect to plain http, and only to a loopback IP
(RFC 8252): the demo client catches the code on http://127.0.0.1:8765/callback. First-party,
so nobody is asked to consent to Gatehouse's own demo.
"""

from __future__ import annotations

from provider.models import Application, ApplicationKind
from provider.services.applications import create_application
from provider.services.keys import ensure_signing_keys

DEMO_APP_NAME = "Gatehouse demo app"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"


def seed_demo_app() -> Application:
    """The demo app (made once; the same one on every later run) and keys to sign with."""
    ensure_signing_keys()
    app = Application.objects.filter(
        name=DEMO_APP_NAME, kind=ApplicationKind.NATIVE, organization__isnull=True
    ).first()
    if app is None:
        app = create_application(
            actor=None,
            name=DEMO_APP_NAME,
            kind=ApplicationKind.NATIVE,
            redirect_uris=[DEMO_REDIRECT_URI],
            allowed_scopes=["openid", "profile", "email"],
            first_party=True,
            description="Seeded by make run: try a real sign-in with provider/demo_client.py.",
        ).application
    return app


def instructions(app: Application, public_url: str) -> str:
    return (
        "\nTry a real OpenID Connect sign-in (code + PKCE) with the demo app, while the server\n"
        "runs, from another terminal:\n"
        f"  .venv/bin/python -m provider.demo_client --issuer {public_url} "
        f"--client-id {app.client_id}\n"
        "It opens the sign-in page, catches the redirect on 127.0.0.1:8765 and prints the\n"
        "ID token's claims. Or run a small sample web app there and sign in from the browser:\n"
        f"  .venv/bin/python -m provider.demo_app --issuer {public_url} "
        f"--client-id {app.client_id}\n"
        "and open http://127.0.0.1:8765/. The app is under Applications in /admin/.\n"
    )
