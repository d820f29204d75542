from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.helpers import complete_social_login
from allauth.socialaccount.models import SocialAccount
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice
from allauth.core import context


def test_social_login_of_user_with_device_stops_at_second_factor(user):
    TOTPDevice.objects.create(user=user, name="p", confirmed=True)
    SocialAccount.objects.create(user=user, provider="testidp", uid="idp-123")
    request = RequestFactory().get("/accounts/oidc/testidp/login/callback/")
    SessionMiddleware(lambda r: None).process_request(request)
    MessageMiddleware(lambda r: None).process_request(request)
    request.user = AnonymousUser()
    with context.request_context(request):
        provider = get_social_adapter().get_provider(request, "testidp")
        sociallogin = provider.sociallogin_from_response(request, {"sub": "idp-123", "email": user.email, "email_verified": True})
        sociallogin.state = {"process": "login", "next": "/account/"}
        response = complete_social_login(request, sociallogin)
    print("SOCIAL", response.status_code, response.get("Location"), dict(request.session).get("account_authentication_methods"))
    assert response["Location"] == "/accounts/2fa/"
    assert "_auth_user_id" not in request.session
