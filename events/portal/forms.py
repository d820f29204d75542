"""Forms of the Webhooks tab. They check the shape of what an admin typed or ticked; the
services (events/services.py) decide whether a URL may be used and say why not."""

from __future__ import annotations

from typing import Any

from django import forms

from events.models import WebhookEndpoint
from events.registry import EVENT_TYPES
from events.services import MAX_DESCRIPTION, MAX_URL

# Hours the current secret keeps signing beside the new one (services.rotate_secret).
OVERLAP_CHOICES = (
    ("0", "Stop signing with the current secret now"),
    ("1", "Sign with both for 1 hour"),
    ("24", "Sign with both for 24 hours"),
    ("168", "Sign with both for 7 days"),
)


def event_type_choices() -> list[tuple[str, str]]:
    """Every type of the registry, by name, each labelled with what it reports."""
    return [(name, f"{name}: {kind.description}") for name, kind in sorted(EVENT_TYPES.items())]


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=MAX_URL,
        widget=forms.URLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="An https address on the public internet. Gatehouse refuses private, "
        "loopback and link-local addresses.",
    )
    description = forms.CharField(
        label="Description",
        max_length=MAX_DESCRIPTION,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What receives these events, for whoever reads this list later.",
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to receive every type, including types added later.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["event_types"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = event_type_choices()

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, data: Any = None) -> EndpointForm:
        """The form for editing ``endpoint``, filled with what it has now."""
        return cls(
            data,
            initial={
                "url": endpoint.url,
                "description": endpoint.description,
                "event_types": list(endpoint.event_types),
            },
        )


class RotateSecretForm(forms.Form):
    overlap = forms.ChoiceField(
        label="The current secret",
        choices=OVERLAP_CHOICES,
        initial="24",
        widget=forms.RadioSelect,
        help_text="While both sign, each message carries two signatures, so your receiver "
        "accepts messages whichever secret it has.",
    )

    def clean_overlap(self) -> int:
        return int(self.cleaned_data["overlap"])
