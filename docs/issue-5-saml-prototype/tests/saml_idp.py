"""A real SAML IdP (npm samlify, tests/sso/idp/idp.js) on loopback, driven by the tests."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

IDP_DIR = Path("/tmp/saml-lab/idp")  # lab path; in the project: Path(__file__).parent / "idp"


class SamlIdP:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(IDP_DIR / "idp.js"), str(IDP_DIR)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        hello = json.loads(self.proc.stdout.readline())
        self.base = f"http://127.0.0.1:{hello['port']}"
        self.entity_id = hello["entityId"]
        self.sso_url = f"{self.base}/sso"

    def cert(self, name: str = "idp") -> str:
        return (IDP_DIR / f"{name}.crt").read_text()

    def register_sp(self, metadata_xml: bytes) -> str:
        req = urllib.request.Request(f"{self.base}/sp", data=metadata_xml, method="POST")
        with urllib.request.urlopen(req) as r:
            return json.load(r)["entityID"]

    def answer(self, redirect_url: str, **params: str) -> dict:
        """What the IdP POSTs back for our AuthnRequest (redirect_url = our 302 Location)."""
        assert redirect_url.startswith(self.sso_url + "?"), redirect_url
        with urllib.request.urlopen(redirect_url + "&" + urllib.parse.urlencode(params)) as r:
            return json.load(r)

    def unsolicited(self, sp_entity_id: str, **params: str) -> dict:
        q = urllib.parse.urlencode({"sp": sp_entity_id, **params})
        with urllib.request.urlopen(f"{self.base}/idp-initiated?{q}") as r:
            return json.load(r)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=5)
