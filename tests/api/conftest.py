from tests.organizations.conftest import (  # noqa: F401  (fixtures)
    dns_server,  # a loopback DNS server for domain checks
    world,  # the two-organization world
)
