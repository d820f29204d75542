"""Microsoft's multi-tenant endpoints publish ``{tenantid}`` in their issuer: the ID token's own
``tid`` fills it in (the signature check then binds the two), and a token without a proper
tenant id is refused, never matched against a template."""

from __future__ import annotations

import jwt
import pytest

from config.refusals import Refusal
from social.models import Kind, SocialProvider
from social.providers.oidc.views import expected_issuer

TEMPLATE = {"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}
KEY = "k" * 32  # the signature is not what these tests look at (the processor checks it)


def token(**claims: object) -> str:
    return jwt.encode(claims, KEY, algorithm="HS256")


def test_the_tokens_tenant_fills_in_the_published_issuer():
    row = SocialProvider(kind=Kind.MICROSOFT, slug="ms", tenant="common")
    tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"

    assert expected_issuer(row, TEMPLATE, token(tid=tid)) == (
        f"https://login.microsoftonline.com/{tid}/v2.0"
    )


@pytest.mark.parametrize("tid", [None, "", "../../evil.example/x", "not-a-tenant", 42])
def test_a_token_without_a_proper_tenant_id_is_refused(tid):
    row = SocialProvider(kind=Kind.MICROSOFT, slug="ms", tenant="common")

    with pytest.raises(Refusal) as refused:
        expected_issuer(row, TEMPLATE, token(tid=tid))

    assert refused.value.code == "issuer"


def test_a_directory_named_by_domain_or_consumers_expects_the_published_tenant_issuer():
    # /consumers/v2.0 publishes the personal-accounts directory's id as its issuer.
    row = SocialProvider(kind=Kind.MICROSOFT, slug="ms", tenant="consumers")
    published = {
        "issuer": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
    }

    assert expected_issuer(row, published, token(tid="x")) == published["issuer"]


def test_other_kinds_expect_the_configured_issuer_whatever_discovery_says():
    row = SocialProvider(kind=Kind.GOOGLE, slug="google")

    assert expected_issuer(row, {"issuer": "https://evil.example"}, token()) == (
        "https://accounts.google.com"
    )
