"""A small authoritative DNS server on loopback UDP, built from dnspython's message pieces.

    with DnsServer({"www.test.": {"A": ["127.0.0.1"]}}) as server:
        server.address, server.port        # 127.0.0.1 and the port the kernel picked
        server.queries                     # the questions received, as "name TYPE"

A name in the zone answers its records (NOERROR without data for a type it lacks); any
other name is NXDOMAIN. Three names behave on purpose: `servfail.test.` answers SERVFAIL,
`silent.test.` is never answered, and `truncated.test.` answers over UDP with the TC flag
and no records, over TCP (on the same port) with its A record, 127.0.0.9. It serves from
threads, so a test's own event loop and a checker process can both use it.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

SERVFAIL_NAME = "servfail.test."
SILENT_NAME = "silent.test."
TRUNCATED_NAME = "truncated.test."
TRUNCATED_ADDRESS = "127.0.0.9"
Zone = dict[str, dict[str, list[str]]]


class DnsServer:
    def __init__(self, zone: Zone, address: str = "127.0.0.1") -> None:
        self.zone = {dns.name.from_text(name): records for name, records in zone.items()}
        self.address = address
        self.queries: list[str] = []  # "name TYPE", and " tcp" after a TCP query's
        self._listener = socket.create_server((address, 0))
        self.port: int = self._listener.getsockname()[1]
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, self.port))
        self._threads = [
            threading.Thread(target=self._serve, name="test-dns", daemon=True),
            threading.Thread(target=self._serve_tcp, name="test-dns-tcp", daemon=True),
        ]

    def __enter__(self) -> DnsServer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sock.close()  # recvfrom and accept fail and the threads end
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

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

    def _serve_tcp(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    size = int.from_bytes(conn.recv(2), "big")
                    query = dns.message.from_wire(conn.recv(size))
                    answer = self._answer(query, tcp=True)
                    if answer is not None:
                        wire = answer.to_wire()
                        conn.sendall(len(wire).to_bytes(2, "big") + wire)
                except (OSError, dns.exception.DNSException):
                    continue

    def _answer(self, query: dns.message.Message, tcp: bool = False) -> dns.message.Message | None:
        question = query.question[0]
        asked = f"{question.name} {dns.rdatatype.to_text(question.rdtype)}"
        self.queries.append(asked + (" tcp" if tcp else ""))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if question.name == dns.name.from_text(SILENT_NAME):
            return None
        if question.name == dns.name.from_text(TRUNCATED_NAME):
            if tcp:
                rrset = dns.rrset.from_text(question.name, 60, "IN", "A", TRUNCATED_ADDRESS)
                response.answer.append(rrset)
            else:
                response.flags |= dns.flags.TC
            return response
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
