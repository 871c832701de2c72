"""A small authoritative DNS server on loopback UDP, built from dnspython's message pieces.

    with DnsServer({"www.test.": {"A": ["127.0.0.1"]}}) as server:
        server.address, server.port        # 127.0.0.1 and the port the kernel picked
        server.queries                     # the questions received, as "name TYPE"

A name in the zone answers its records (NOERROR without data for a type it lacks); any
other name is NXDOMAIN. Two names behave badly on purpose: `servfail.test.` answers
SERVFAIL and `silent.test.` is never answered. It serves from a thread, so a test's own
event loop and a checker process can both use it.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

SERVFAIL_NAME = "servfail.test."
SILENT_NAME = "silent.test."
Zone = dict[str, dict[str, list[str]]]


class DnsServer:
    def __init__(self, zone: Zone, address: str = "127.0.0.1") -> None:
        self.zone = {dns.name.from_text(name): records for name, records in zone.items()}
        self.address = address
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, 0))
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sock.close()  # recvfrom fails and the thread ends
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            try:
                query = dns.message.from_wire(wire)
            except dns.exception.DNSException:
                continue
            answer = self._answer(query)
            if answer is not None:
                try:
                    self._sock.sendto(answer.to_wire(), peer)
                except OSError:
                    return

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        self.queries.append(f"{question.name} {dns.rdatatype.to_text(question.rdtype)}")
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if question.name == dns.name.from_text(SILENT_NAME):
            return None
        if question.name == dns.name.from_text(SERVFAIL_NAME):
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        records = self.zone.get(question.name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response
        name = question.name
        for _ in range(8):  # follow CNAMEs within the zone, as an authoritative server does
            if "CNAME" in records and question.rdtype != dns.rdatatype.CNAME:
                target = records["CNAME"][0]
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "CNAME", target))
                name = dns.name.from_text(target)
                records = self.zone.get(name, {})
                continue
            wanted = dns.rdatatype.to_text(question.rdtype)
            if wanted in records:
                response.answer.append(
                    dns.rrset.from_text_list(name, 60, "IN", wanted, records[wanted])
                )
            break
        return response
