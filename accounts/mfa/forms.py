from __future__ import annotations

from django import forms

from accounts.mfa.services.enrollment import DEVICE_NAME_MAX_LENGTH


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split())


class TOTPConfirmForm(CodeForm):
    name = forms.CharField(
        label="Name (optional)",
        max_length=DEVICE_NAME_MAX_LENGTH,
        required=False,
        help_text="So you can tell it apart later, e.g. “Phone”.",
    )
    device = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**62)


class RenameForm(forms.Form):
    name = forms.CharField(label="Name", max_length=DEVICE_NAME_MAX_LENGTH)


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Password",
        max_length=4096,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
