"""Signal receivers of the provider, connected in ProviderConfig.ready().

A self-registered client (provider.cimd) is written by DOT on the authorize or token path,
not by a Gatehouse service; its registration is put on record and given the APIs the operator
opened to agents here, in the transaction that saved it.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from audit.actions import Action
from audit.services import record
from provider import cimd
from provider.models import Application


@receiver(post_save, sender=Application, dispatch_uid="provider-self-registered-client")
def self_registered_client(
    sender: Any, instance: Application, created: bool, **kwargs: Any
) -> None:
    if not created or not cimd.is_self_registered(instance):
        return
    cimd.open_apis_to(instance)
    record(
        Action.OAUTH_CLIENT_REGISTERED,
        actor_text=f"client {instance.client_id}"[:320],
        target=instance,
        data={"client_id": instance.client_id, "kind": instance.kind, "name": instance.name},
    )
