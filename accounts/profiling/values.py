"""What each kind of field looks like on a form, how its answers are checked and stored, and
how a stored value reads on a page and in a claim."""

from __future__ import annotations

import datetime
from typing import Any

import phonenumbers
from django import forms

from accounts.profiling.models import ProfileField

Kind = ProfileField.Kind
TEXT_MAX = {Kind.NAME: 150, Kind.COMPANY: 200, Kind.TEXT: 500}
YES, NO = "yes", "no"
_NOT_VALID = "This is not a valid phone number: check the country code and the digits."
_NO_COUNTRY = (
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE,
    phonenumbers.NumberParseException.NOT_A_NUMBER,
)


class PhoneNumberField(forms.CharField):
    """A phone number in international form (+44 20 7946 0000), stored as E.164."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.update({"autocomplete": "tel", "inputmode": "tel"})

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return ""
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException as error:
            if error.error_type in _NO_COUNTRY:
                raise forms.ValidationError(
                    "Enter the number with its country code, starting with +, such as "
                    "+44 20 7946 0000."
                ) from None
            raise forms.ValidationError(_NOT_VALID) from None
        if not phonenumbers.is_valid_number(number):
            raise forms.ValidationError(_NOT_VALID)
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def form_field(field: ProfileField, *, required: bool | None = None) -> forms.Field:
    """The form field that asks ``field``; ``required`` overrides the operator's choice (a
    page where every value may be cleared)."""
    common: dict[str, Any] = {
        "label": field.label,
        "help_text": field.help_text,
        "required": field.required if required is None else required,
    }
    if field.kind == Kind.PHONE:
        return PhoneNumberField(**common)
    if field.kind == Kind.CHOICE:
        choices = [("", "Choose…"), *((o, o) for o in field.option_list())]
        return forms.ChoiceField(choices=choices, **common)
    if field.kind == Kind.YES_NO:
        return forms.ChoiceField(
            choices=[("", "Choose…"), (YES, "Yes"), (NO, "No")],
            **common,
        )
    if field.kind == Kind.DATE:
        return forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"}),
            error_messages={"invalid": "Enter a date such as 2026-12-31."},
            **common,
        )
    text = forms.CharField(max_length=TEXT_MAX.get(Kind(field.kind), 500), strip=True, **common)
    if field.kind == Kind.NAME:
        text.widget.attrs["autocomplete"] = "name"
    elif field.kind == Kind.COMPANY:
        text.widget.attrs["autocomplete"] = "organization"
    return text


def stored(field: ProfileField, cleaned: Any) -> str:
    """A cleaned form value as the text kept for it ("" for no answer)."""
    if cleaned in (None, ""):
        return ""
    if isinstance(cleaned, datetime.date):
        return cleaned.isoformat()
    return str(cleaned)


def initial(field: ProfileField, value: str) -> Any:
    """A stored value as a form's initial value (a phone number written out)."""
    if field.kind == Kind.PHONE:
        return shown(field, value)
    if field.kind == Kind.DATE and value:
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None
    return value


def shown(field: ProfileField, value: str) -> str:
    """A stored value as a page shows it."""
    if field.kind == Kind.YES_NO:
        return {YES: "Yes", NO: "No"}.get(value, value)
    if field.kind == Kind.PHONE and value:
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            return value
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    return value


def claim_value(field: ProfileField, value: str) -> Any:
    """A stored value as an OpenID claim: yes/no as a boolean, the rest as text (dates in
    ISO 8601, phone numbers in E.164 as OpenID's phone_number asks)."""
    if field.kind == Kind.YES_NO:
        return value == YES
    return value
