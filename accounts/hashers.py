"""Password hashing at the parameters Gatehouse promises."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class GatehouseArgon2Hasher(Argon2PasswordHasher):
    """Argon2id at the OWASP-recommended parameters: 19 MiB of memory, 2 passes, 1 lane.

    Django's defaults (100 MiB, 8 lanes) cost about six times as much per login for no gain an
    attacker would notice. The algorithm name stays ``argon2``, so hashes made with other
    parameters still verify, and ``must_update`` re-hashes them at the next login.
    """

    memory_cost = 19 * 1024  # KiB
    time_cost = 2
    parallelism = 1
