"""LAB PROTOTYPE: the smallest connection model that can feed allauth's SAML provider."""

from __future__ import annotations

from django.db import models

from organizations.models import Organization


class Connection(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        DISABLED = "disabled"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    # Appears in /accounts/saml/<slug>/...; allauth calls it client_id / organization_slug.
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=120)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    idp_entity_id = models.CharField(max_length=500)
    idp_sso_url = models.URLField(max_length=500)
    idp_slo_url = models.URLField(max_length=500, blank=True)
    # Several PEM certificates at once: rotation.
    idp_certificates = models.JSONField(default=list)
    sp_private_key = models.TextField()  # encrypted at rest in the real model
    sp_certificate = models.TextField()
    allow_idp_initiated = models.BooleanField(default=False)
    verified_domains = models.JSONField(default=list)  # real model: M2M to organizations.Domain
