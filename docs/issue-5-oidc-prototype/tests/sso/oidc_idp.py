"""Start and stop the loopback OpenID provider (npm oidc-provider) for SSO tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

IDP_DIR = Path(__file__).resolve().parents[2] / "proto" / "idp"


class LoopbackIdP:
    def __init__(self, *, clients: list[dict], accounts: dict, **options) -> None:
        self.config = {"clients": clients, "accounts": accounts, **options}
        self.proc: subprocess.Popen | None = None
        self.issuer = ""

    def start(self, timeout: float = 20) -> LoopbackIdP:
        node = shutil.which("node")
        if not node or not (IDP_DIR / "node_modules" / "oidc-provider").exists():
            raise RuntimeError("node or oidc-provider missing: run `npm ci` in " + str(IDP_DIR))
        self.proc = subprocess.Popen(
            [node, str(IDP_DIR / "idp.mjs"), json.dumps(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # oidc-provider's dev-only warnings
            text=True,
        )
        # The script binds port 0 itself and prints its issuer once it listens: no port race,
        # no polling. readline() blocks until then (or EOF if node dies).
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the OpenID provider did not start")
        self.issuer = json.loads(line)["issuer"]
        requests.get(self.issuer + "/.well-known/openid-configuration", timeout=timeout)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def set_account(self, sub: str, claims: dict) -> None:
        requests.put(f"{self.issuer}/__test/accounts/{sub}", json=claims, timeout=5)

    def authorize(self, authorize_url: str, login: str | None, **extra: str) -> str:
        """Play the browser at the IdP: follow to the login interaction, sign in as `login`
        (or cancel when None), follow back; return the redirect to the relying party."""
        browser = requests.Session()
        url = authorize_url
        for _ in range(10):
            response = browser.get(url, allow_redirects=False, timeout=10)
            if response.status_code not in (302, 303):
                raise AssertionError(f"IdP answered {response.status_code}: {response.text[:300]}")
            url = urljoin(url, response.headers["location"])
            if not url.startswith(self.issuer):
                return url  # back to the relying party
            if urlsplit(url).path.startswith("/interaction/"):
                assert browser.get(url, timeout=10).json()["prompt"] == "login"
                action = "login" if login else "abort"
                response = browser.post(
                    f"{url}/{action}", data={"login": login or "", **extra},
                    allow_redirects=False, timeout=10,
                )
                url = urljoin(url, response.headers["location"])
        raise AssertionError("too many redirects at the IdP")
