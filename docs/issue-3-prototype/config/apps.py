from django.contrib.admin.apps import AdminConfig


class GatehouseAdminConfig(AdminConfig):
    default_site = "config.admin_site.GatehouseAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscover: every app's admin.py has run
        from django.contrib import admin
        from django_otp.plugins.otp_email.models import EmailDevice
        from django_otp.plugins.otp_totp.models import TOTPDevice

        for model in (TOTPDevice, EmailDevice):
            if admin.site.is_registered(model):
                admin.site.unregister(model)
