"""Test data: users as they exist after a real sign-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    if TYPE_CHECKING:
        # factory_boy's metaclass turns `UserFactory()` into `UserFactory.create()`, a User;
        # mypy cannot follow a metaclass `__call__`, so it is told here what the call returns.
        # Never defined at run time.
        def __new__(cls, **kwargs: Any) -> User: ...  # type: ignore[misc]

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    display_name = factory.Faker("name")

    @factory.post_generation
    def password(user: User, create: bool, extracted: str | None, **kwargs: object) -> None:
        user.password = password_hash(extracted or DEFAULT_PASSWORD)
        if create:
            user.save(update_fields=["password"])

    @factory.post_generation
    def verified(user: User, create: bool, extracted: bool | None, **kwargs: object) -> None:
        if create:
            EmailAddress.objects.create(
                user=user, email=user.email, primary=True, verified=extracted is not False
            )
