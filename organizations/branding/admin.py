"""The operator's branding in the Django admin: one page, ``/admin/organizations/
operatorbranding/edit/``, where staff set the product name, colours and logo (with a reason,
audited as ``operator.branding_updated``). It goes through the same checks as an
organization's branding (contrast, display name, the logo's decoding and re-encoding)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse

from config.refusals import Refusal
from organizations.branding.images import MAX_BYTES
from organizations.models import BRAND_COLOUR, OperatorBranding
from organizations.services.branding import update_operator_branding


class OperatorBrandingForm(forms.Form):
    product_name = forms.CharField(
        max_length=60,
        required=False,
        help_text="Shown on every page and email; empty: the GATEHOUSE_PRODUCT_NAME setting.",
    )
    brand_colour = forms.CharField(max_length=7, required=False, validators=[BRAND_COLOUR])
    brand_background = forms.CharField(max_length=7, required=False, validators=[BRAND_COLOUR])
    brand_text = forms.CharField(max_length=7, required=False, validators=[BRAND_COLOUR])
    logo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text="PNG, JPEG or WebP, at most 512 KB and 4096 pixels a side.",
    )
    remove_logo = forms.BooleanField(required=False)
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(OperatorBranding)
class OperatorBrandingAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        edit = self.admin_site.admin_view(self.edit_view)
        return [
            path("edit/", edit, name="organizations_operatorbranding_edit"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:organizations_operatorbranding_edit"))

    def edit_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            return HttpResponse("You may not change the operator's branding.", status=403)
        current = OperatorBranding.objects.filter(pk=1).first()
        initial = {
            field: getattr(current, field, "")
            for field in ("product_name", "brand_colour", "brand_background", "brand_text")
        }
        form = OperatorBrandingForm(request.POST or None, request.FILES or None, initial=initial)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                upload = form.cleaned_data.get("logo")
                try:
                    update_operator_branding(
                        actor=request.user,
                        product_name=form.cleaned_data["product_name"],
                        brand_colour=form.cleaned_data["brand_colour"],
                        brand_background=form.cleaned_data["brand_background"],
                        brand_text=form.cleaned_data["brand_text"],
                        logo=bytes(upload.read(MAX_BYTES + 1)) if upload else None,
                        remove_logo=form.cleaned_data["remove_logo"],
                        reason=form.cleaned_data["reason"],
                    )
                except Refusal as refusal:
                    refusal.record()
                    form.add_error(None, refusal.message)
                else:
                    messages.success(request, "The operator's branding is saved.")
                    return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "current": current,
            "title": "Operator branding",
        }
        return render(request, "admin/organizations/operator_branding.html", context, status=status)
