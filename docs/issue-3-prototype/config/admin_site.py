from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.utils.http import urlencode
from django_otp import user_has_device
from django_otp.admin import OTPAdminSite


class GatehouseAdminSite(OTPAdminSite):
    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def login(self, request, extra_context=None):
        user = request.user
        if user.is_authenticated and user.is_active and user.is_staff and not user.is_verified():
            target = "/account/security/verify/" if user_has_device(user) else "/account/security/"
            nxt = request.GET.get(REDIRECT_FIELD_NAME, "/admin/")
            return HttpResponseRedirect(f"{target}?{urlencode({REDIRECT_FIELD_NAME: nxt})}")
        return super().login(request, extra_context)
