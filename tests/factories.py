"""Test data: users as they exist after a real sign-up."""

from __future__ import annotations

import factory
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password

from accounts.models import User

DEFAULT_PASSWORD = "correct horse battery staple"

_hashes: dict[tuple[str, tuple[str, ...]], str] = {}


def password_hash(raw: str) -> str:
    """A real hash of ``raw`` by the first configured hasher (Argon2id at production's cost,
    some 30 ms), made once per run and shared by every user the factory gives that password:
    logging them in still verifies it at full cost."""
    key = (raw, tuple(settings.PASSWORD_HASHERS))
    if key not in _hashes:
        _hashes[key] = make_password(raw)
    return _hashes[key]


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    display_name = factory.Faker("name")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.password = password_hash(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])

    @factory.post_generation
    def verified(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create:
            EmailAddress.objects.create(
                user=self, email=self.email, primary=True, verified=extracted is not False
            )
