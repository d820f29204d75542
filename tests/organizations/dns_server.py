"""A real DNS server on loopback (dnslib) that answers TXT queries from a dict the test edits."""

from __future__ import annotations

import socket
from contextlib import closing

from dnslib import QTYPE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class TxtZone(BaseResolver):
    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}

    def resolve(self, request, handler):  # dnslib's resolver hook
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if request.q.qtype == QTYPE.TXT and name in self.records:
            for text in self.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(text), ttl=1))
        elif not any(n == name or n.endswith("." + name) for n in self.records):
            reply.header.rcode = 3  # NXDOMAIN
        return reply


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackDNS:
    def __init__(self) -> None:
        self.zone = TxtZone()
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
        # A free port for both UDP and TCP: another process may take it between the probe and
        # the bind, so try a few.
        for _attempt in range(10):
            self.port = free_port()
            try:
                self.servers = [
                    DNSServer(self.zone, address="127.0.0.1", port=self.port, logger=quiet),
                    DNSServer(
                        self.zone, address="127.0.0.1", port=self.port, tcp=True, logger=quiet
                    ),
                ]
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no free port for the loopback DNS server")

    def start(self) -> LoopbackDNS:
        for server in self.servers:
            server.start_thread()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"
