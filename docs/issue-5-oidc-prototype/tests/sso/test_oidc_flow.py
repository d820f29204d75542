from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from allauth.socialaccount.models import SocialAccount
from django.test import Client

from accounts.models import User
from tests.sso.conftest import sso_login


def test_full_login_through_the_real_idp(idp, connection):
    client = Client()
    start, done = sso_login(idp, client)

    query = parse_qs(urlsplit(start["Location"]).query)
    print("authorize params:", sorted(query))
    assert query["code_challenge_method"] == ["S256"]
    assert done.status_code == 302, done.content[:800]
    user = User.objects.get(email="alice@acme.test")
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("acme-oidc", "alice-sub")
    assert client.session["_auth_user_id"] == str(user.pk)
    print("redirect:", done["Location"], "extra_data keys:", sorted(account.extra_data))
    print("id_token claims:", sorted(account.extra_data.get("id_token", {})))
    print("email verified:", user.emailaddress_set.get().verified)
