"""The log stream form. It checks the shape of what an admin typed; audit.streams.checks
decides whether the destination is acceptable (https, a public address, a readable CA) and
says why not, on the field concerned."""

from __future__ import annotations

from typing import Any

from django import forms

from audit.actions import Action
from audit.streams.checks import StreamSettings
from audit.streams.models import LogStream
from audit.streams.transports.datadog import SITES


class StreamForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    kind = forms.ChoiceField(label="Send to", choices=LogStream.Kind.choices)
    format = forms.ChoiceField(
        label="Format",
        choices=LogStream.Format.choices,
        help_text="Gatehouse JSON is the audit event as Gatehouse keeps it. OCSF maps sign-ins "
        "to Authentication (3002) and account changes to Account Change (3001).",
    )
    url = forms.CharField(
        label="URL",
        required=False,
        max_length=2048,
        help_text="HTTPS and Splunk: an https:// address on the public internet. For Splunk, "
        "the HTTP Event Collector's address, e.g. https://splunk.example.com:8088.",
    )
    datadog_site = forms.ChoiceField(
        label="Datadog site",
        required=False,
        choices=[("", "—"), *SITES.items()],
    )
    host = forms.CharField(label="Syslog host", required=False, max_length=253)
    port = forms.IntegerField(
        label="Syslog port", required=False, min_value=1, max_value=65535, initial=6514
    )
    ca_pem = forms.CharField(
        label="Syslog server's CA certificate (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Only certificates this CA signed are trusted. Leave empty for a server "
        "with a publicly trusted certificate.",
    )
    credential = forms.CharField(
        label="HEC token or Datadog API key",
        required=False,
        max_length=500,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Kept encrypted and never shown again. When changing a stream, leave empty "
        "to keep the one saved, unless you change its URL or Datadog site: then paste it "
        "again (a saved token is sent only where it was first given). An HTTPS stream gets a "
        "new signing secret when its URL changes.",
    )
    actions = forms.MultipleChoiceField(
        label="Only these actions",
        required=False,
        choices=Action.choices,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="None chosen: every event of the audit log.",
    )

    def __init__(self, *args: Any, stream: LogStream | None = None, **kwargs: Any) -> None:
        if stream is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": stream.name,
                "kind": stream.kind,
                "format": stream.format,
                "url": stream.url,
                "datadog_site": stream.datadog_site,
                "host": stream.host,
                "port": stream.port,
                "ca_pem": stream.ca_pem,
                "actions": stream.actions,
            }
        super().__init__(*args, **kwargs)
        if stream is not None:
            del self.fields["kind"]  # a stream keeps its kind

    def settings(self) -> StreamSettings:
        data = self.cleaned_data
        return StreamSettings(
            name=data["name"],
            kind=data.get("kind", ""),
            format=data["format"],
            url=data.get("url") or "",
            host=data.get("host") or "",
            port=data.get("port"),
            datadog_site=data.get("datadog_site") or "",
            ca_pem=data.get("ca_pem") or "",
            actions=list(data.get("actions") or []),
            credential=data.get("credential") or "",
        )
