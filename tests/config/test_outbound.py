"""config/outbound.py, the one way Gatehouse calls a URL somebody typed in: which addresses it
refuses (IPv6 forms hiding a private IPv4 included), a name with one private address among
public ones, redirects returned and not followed, one deadline and a size cap against real
slow and huge loopback servers, TLS checked against the name while the connection goes to
the vetted address, and the operator's private-network allowance, which an org admin's URL
never gets."""

from __future__ import annotations

import ipaddress
import socket
import time

import pytest
import requests

from config import outbound
from sso import fetch
from tests.config.outbound_servers import Server, answer, tls_context

LOOPBACK_NETWORKS = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


@pytest.fixture
def no_test_allowance(settings):
    """Production's rules: no plain http, no loopback, no operator networks."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False
    settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def loopback_http(settings):
    """The test switch: plain http to 127.0.0.1, as the SSO and webhook tests use it."""
    settings.OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(respond, tls=None) -> Server:
        server = Server(respond, tls)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


NOT_PUBLIC = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.169.254",  # cloud metadata (link-local)
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",  # multicast: ipaddress calls it global
    "239.255.255.250",
    "0.0.0.0",  # noqa: S104 (an address judged, not bound)
    "255.255.255.255",
    "::1",
    "::",
    "fc00::1",  # unique local
    "fd00:ec2::254",  # AWS metadata over IPv6
    "fe80::1",
    "fec0::1",  # site-local (deprecated): ipaddress calls it global
    "ff0e::1",  # global-scope multicast: ipaddress calls it global
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 of 127.0.0.1: is_global is True
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1: is_global is True
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::808:808",  # local-use NAT64: translated as the local network decides
    "::7f00:1",  # IPv4-compatible 127.0.0.1: is_global is True
    "2001:0:808:808::f5ff:fffe",  # Teredo: public server, client 10.0.0.1
    "2001:0:a00:1::f7f7:f7f7",  # Teredo: server 10.0.0.1, public client
    "not an address",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_local_and_disguised_addresses_are_not_public(address):
    assert outbound.is_public(address) is False


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2606:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::",
        "64:ff9b::808:808",
        "2001:0:808:808::f7f7:f7f7",  # Teredo with both ends public
    ],
)
def test_public_addresses_pass_in_every_form(address):
    assert outbound.is_public(address) is True


def test_ipaddress_alone_would_let_these_through():
    """Why is_public decodes: Python 3.11's is_global accepts private IPv4 inside IPv6 (T8)."""
    fooled = ["64:ff9b::a00:1", "2002:7f00:1::", "::7f00:1", "224.0.0.1"]
    assert all(ipaddress.ip_address(a).is_global for a in fooled)
    assert not any(outbound.is_public(a) for a in fooled)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.1",
        "169.254.169.254",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[64:ff9b::7f00:1]",
    ],
)
def test_urls_naming_a_private_address_are_refused_before_any_connection(
    host, no_test_allowance, serve
):
    server = serve(answer())
    url = f"https://{host}:{server.port}/hook"
    with pytest.raises(outbound.Refused, match="private or local address"):
        outbound.request("POST", url, body=b"{}", timeout=2, max_bytes=1024)
    assert server.heads == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.com/", "https://"),
        ("ftp://hooks.example.com/", "https://"),
        ("https://user:pw@hooks.example.com/", "user name or password"),
        ("https:///path-only", "name a host"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
    ],
)
def test_urls_outside_the_rules_are_refused_with_a_clear_message(url, message, no_test_allowance):
    with pytest.raises(outbound.Refused, match=message):
        outbound.vet_url(url)


@pytest.fixture
def dns(monkeypatch):
    """Extra names for the system resolver. getaddrinfo cannot be pointed at a loopback DNS
    server without changing the machine, so the names below are answered here and every
    other name goes to the real resolver."""
    names: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port),
                )
                for a in names[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize(
    "answers",
    [
        ["8.8.8.8", "10.0.0.1"],
        ["10.0.0.1", "8.8.8.8"],
        ["2606:4700::1111", "::ffff:127.0.0.1"],
        ["8.8.8.8", "64:ff9b::a9fe:a9fe"],
    ],
)
def test_a_name_with_one_private_address_among_public_ones_is_refused(
    answers, dns, no_test_allowance
):
    dns["mixed.hooks.test"] = answers
    with pytest.raises(outbound.Refused, match=r"mixed\.hooks\.test points at a private"):
        outbound.vet_url("https://mixed.hooks.test/hook")
    dns["mixed.hooks.test"] = [a for a in answers if outbound.is_public(a)]
    assert outbound.vet_url("https://mixed.hooks.test/hook").host == "mixed.hooks.test"


def test_a_name_that_turns_private_after_the_check_is_refused_at_the_call(
    dns, loopback_http, serve
):
    """DNS rebinding: every call resolves and vets again; the vetted address is the one
    connected to."""
    server = serve(answer())
    dns["rebind.hooks.test"] = ["127.0.0.1"]  # loopback counts as allowed under the switch
    url = server.url("/hook", host="rebind.hooks.test")
    assert outbound.request("GET", url, timeout=2, max_bytes=100).status == 200
    assert f"Host: rebind.hooks.test:{server.port}" in server.heads[0]
    dns["rebind.hooks.test"] = ["10.1.2.3"]
    with pytest.raises(outbound.Refused):
        outbound.request("GET", url, timeout=2, max_bytes=100)
    assert len(server.heads) == 1


def test_a_redirect_is_returned_and_never_followed(loopback_http, serve):
    target = serve(answer(body=b"internal"))
    redirecting = serve(answer("302 Found", b"", f"Location: {target.url('/latest')}\r\n"))

    response = outbound.request("GET", redirecting.url("/hook"), timeout=2, max_bytes=100)

    assert response.status == 302
    assert response.headers["Location"] == target.url("/latest")
    with pytest.raises(fetch.FetchError, match="answered 302"):
        fetch.fetch(redirecting.url("/metadata"), accept="*/*")
    with pytest.raises(requests.TooManyRedirects):
        fetch.public_session().get(redirecting.url("/token"), timeout=2)
    assert target.heads == []


def test_environment_proxies_are_ignored(loopback_http, serve, monkeypatch):
    proxy = serve(answer(body=b"proxy"))
    destination = serve(answer(body=b"destination"))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, proxy.url())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)

    assert outbound.request("GET", destination.url(), timeout=2, max_bytes=100).body == (
        b"destination"
    )
    assert fetch.public_session().get(destination.url(), timeout=2).content == b"destination"
    assert proxy.heads == []


def _drip_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        conn.sendall(b"x")
        time.sleep(0.2)


def _drip_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    for n in range(50):
        conn.sendall(f"X-Slow-{n}: y\r\n".encode())
        time.sleep(0.2)


def _silent(conn: socket.socket) -> None:
    time.sleep(5)


@pytest.mark.parametrize("respond", [_drip_body, _drip_headers, _silent])
def test_one_deadline_covers_the_whole_call_however_slowly_the_server_answers(
    respond, loopback_http, serve
):
    """Each write comes well inside any per-read timeout; only a deadline over the whole
    call stops these servers."""
    server = serve(respond)
    started = time.monotonic()
    with pytest.raises(outbound.Failed, match="did not answer in time"):
        outbound.request("GET", server.url(), timeout=1, max_bytes=1000)
    assert time.monotonic() - started < 1.8


def _huge(conn: socket.socket) -> None:
    size = 256 * 1024 * 1024
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    chunk = b"x" * (1024 * 1024)
    for _ in range(256):
        conn.sendall(chunk)


def test_the_body_is_read_only_up_to_the_cap(loopback_http, serve):
    server = serve(_huge)
    started = time.monotonic()

    response = outbound.request("GET", server.url(), timeout=10, max_bytes=4096)

    assert response.truncated is True
    assert response.body == b"x" * 4096
    assert time.monotonic() - started < 5
    deadline = time.monotonic() + 5
    while not server.errors and time.monotonic() < deadline:
        time.sleep(0.05)
    # Gatehouse hung up long before the 256 MB were written.
    assert server.errors
    assert isinstance(server.errors[0], OSError)


@pytest.fixture
def localhost_tls(tmp_path, monkeypatch, serve):
    """A TLS server on 127.0.0.1 whose certificate names only "localhost", trusted by the
    client's default TLS context."""
    context, cert = tls_context(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", cert)
    return serve(answer("204 No Content", b""), tls=context)


def test_operator_endpoints_may_reach_the_allowed_private_networks(
    localhost_tls, no_test_allowance
):
    no_test_allowance.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    url = localhost_tls.url("/hook", host="localhost")

    response = outbound.post(url, b"{}", {}, timeout=3, max_bytes=100, operator_owned=True)

    assert response.status == 204
    # Connected to the vetted 127.0.0.1, while TLS and Host carried the name.
    assert localhost_tls.sni == ["localhost"]
    assert f"Host: localhost:{localhost_tls.port}" in localhost_tls.heads[0]


def test_the_tls_context_is_built_once_and_again_when_the_trusted_cas_change(
    localhost_tls, no_test_allowance, tmp_path, monkeypatch
):
    """Building a verifying context reads the whole CA store (tens of ms of CPU, more than a
    webhook delivery otherwise costs): it is kept, unless the CA the process trusts changes."""
    no_test_allowance.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    url = localhost_tls.url("/hook", host="localhost")
    outbound.post(url, b"{}", {}, timeout=3, max_bytes=100, operator_owned=True)
    first = outbound._tls_context()
    outbound.post(url, b"{}", {}, timeout=3, max_bytes=100, operator_owned=True)
    assert outbound._tls_context() is first

    (tmp_path / "other").mkdir()
    _, other_ca = tls_context(tmp_path / "other", "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", other_ca)
    assert outbound._tls_context() is not first
    with pytest.raises(outbound.Failed, match="TLS"):  # the server's CA is no longer trusted
        outbound.post(url, b"{}", {}, timeout=3, max_bytes=100, operator_owned=True)
    assert len(localhost_tls.heads) == 2


def test_an_org_admins_url_never_gets_the_operator_allowance(localhost_tls, no_test_allowance):
    no_test_allowance.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    url = localhost_tls.url("/hook", host="localhost")
    with pytest.raises(outbound.Refused):
        outbound.post(url, b"{}", {}, timeout=3, max_bytes=100)
    with pytest.raises(outbound.Refused):
        outbound.post(url, b"{}", {}, timeout=3, max_bytes=100, operator_owned=False)
    with pytest.raises(fetch.FetchError):  # SSO URLs are org admins' URLs
        fetch.fetch(url, accept="*/*")
    assert localhost_tls.heads == []


def test_the_certificate_is_checked_against_the_name_in_the_url(localhost_tls, no_test_allowance):
    """The same server by its address: its certificate names only localhost, so TLS fails."""
    no_test_allowance.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    with pytest.raises(outbound.Failed, match="TLS"):
        outbound.request("GET", localhost_tls.url(), timeout=3, max_bytes=100, operator_owned=True)
    assert localhost_tls.heads == []


def test_a_raw_connection_follows_the_same_rules(no_test_allowance, serve):
    server = serve(answer())
    no_test_allowance.GATEHOUSE_OUTBOUND_ALLOWED_NETWORKS = LOOPBACK_NETWORKS
    with pytest.raises(outbound.Refused):
        outbound.connect("127.0.0.1", server.port, timeout=2)
    sock = outbound.connect("127.0.0.1", server.port, timeout=2, operator_owned=True)
    sock.close()
