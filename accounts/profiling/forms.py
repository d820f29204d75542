"""Forms that ask profile fields: a set of extra fields added to another form (sign-up, the
profile page) or a page of its own (the questions asked after sign-in or for an app)."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.profiling import values
from accounts.profiling.models import ProfileField

PREFIX = "profile_"


def add_fields(
    form: forms.BaseForm,
    fields: list[ProfileField],
    *,
    required: bool | None = None,
    initial: dict[str, str] | None = None,
) -> None:
    """Add a form field per profile field, named ``profile_<key>``."""
    for field in fields:
        form.fields[PREFIX + field.key] = values.form_field(field, required=required)
        if initial and field.key in initial:
            form.fields[PREFIX + field.key].initial = values.initial(field, initial[field.key])


def answered(form: forms.BaseForm, fields: list[ProfileField]) -> dict[str, str]:
    """The cleaned answers of a valid form, by key, as stored text."""
    return {f.key: values.stored(f, form.cleaned_data.get(PREFIX + f.key)) for f in fields}


class QuestionsForm(forms.Form):
    """The page that asks the fields due now. Blank optional fields are skipped."""

    def __init__(self, *args: Any, fields: list[ProfileField], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile_fields = fields
        add_fields(self, fields)

    @property
    def skippable(self) -> bool:
        return not any(f.required for f in self.profile_fields)
