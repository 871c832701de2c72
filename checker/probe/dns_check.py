"""A dns:// check: one question to one resolver, judged by the answer (dnspython).

The query goes over UDP (a connected socket of the check's own: dnspython's async UDP
query builds an asyncio transport per query, which cost more than the rest of the check),
and again over TCP, with dnspython, when the answer comes back truncated. With
no resolver in the URL, the system's resolvers (resolv.conf, read when the probe opens)
are asked in turn, each with an equal share of the time left; a failure to reach one, or
a SERVFAIL or REFUSED from it, moves on to the next, and the last one's answer counts.

Up: the answer is NOERROR, it holds at least one record of the asked type (a CNAME chain
is followed within the answer, as a stub resolver does), and the regex, if any, matches
at least one of those records in presentation form (`93.184.216.34`, `10 mx.example.`,
`"v=spf1 -all"`). NXDOMAIN, SERVFAIL, REFUSED and an answer without such a record are
`dns`, with the response code in `error_detail`. `dns_ms` is the exchange with the
resolver that answered; `response_time_ms` the whole check.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import socket
import time
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from checker.probe.kind_net import KindFailure, Phases, resolve
from checker.probe.kind_urls import DnsQuestion
from shared.netpolicy import TargetPolicy

_MOVE_ON = frozenset({dns.rcode.SERVFAIL, dns.rcode.REFUSED})


async def _resolvers(
    question: DnsQuestion,
    system: tuple[str, ...],
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
) -> list[str]:
    if question.resolver is None:
        if not system:
            raise KindFailure("dns", "no system resolver is configured (resolv.conf)")
        return list(system)
    infos = await resolve(question.resolver, question.port, executor, policy, None)
    return [str(infos[0][4][0])]


def _records(response: dns.message.Message, question: DnsQuestion) -> list[str]:
    """The answer's records of the asked type for the name, through CNAMEs, as text."""
    if question.rdtype == dns.rdatatype.ANY:
        return [rd.to_text() for rrset in response.answer for rd in rrset]
    name = question.name
    by_name: dict[Any, list[dns.rrset.RRset]] = {}
    for rrset in response.answer:
        by_name.setdefault(rrset.name, []).append(rrset)
    for _ in range(16):  # a CNAME chain, bounded
        rrsets = by_name.get(name, [])
        wanted = [rd.to_text() for r in rrsets if r.rdtype == question.rdtype for rd in r]
        if wanted:
            return wanted
        cname = next((r for r in rrsets if r.rdtype == dns.rdatatype.CNAME), None)
        if cname is None or question.rdtype == dns.rdatatype.CNAME:
            return []
        name = cname[0].target
    return []


@functools.lru_cache(maxsize=4096)
def _template(question: DnsQuestion) -> tuple[dns.message.Message, bytes]:
    query = dns.message.make_query(question.name, question.rdtype)
    return query, query.to_wire()


def _query(question: DnsQuestion) -> tuple[dns.message.Message, bytes]:
    """The question's query (its id is not this check's: only the question is read from
    it) and its wire form with a fresh random id; built once per question."""
    query, wire = _template(question)
    return query, os.urandom(2) + wire[2:]


async def _exchange(
    query: dns.message.Message, wire: bytes, where: str, port: int
) -> dns.message.Message:
    """One UDP exchange on a connected socket (a refused port is then an error, not a
    silence), again over TCP if the answer was truncated. Datagrams that are not the
    answer (another id or question) are ignored, as a stub resolver does."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in where else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect((where, port))
        sock.send(wire)
        while True:
            data = await loop.sock_recv(sock, 65535)
            if data[:2] != wire[:2] or len(data) < 12 or not data[2] & 0x80:
                continue  # not a response to this query
            response = dns.message.from_wire(data, ignore_trailing=True, raise_on_truncation=False)
            if response.question == query.question:
                break
    if response.flags & dns.flags.TC:
        retry = dns.message.make_query(query.question[0].name, query.question[0].rdtype)
        response = await dns.asyncquery.tcp(retry, where, port=port)
    return response


async def check_dns(
    question: DnsQuestion,
    regex: Any,
    phases: Phases,
    deadline: float,
    system: tuple[str, ...],
    executor: concurrent.futures.Executor,
    policy: TargetPolicy | None,
) -> bool:
    """Whether the site is up; raises what went wrong (classified by the caller).
    `deadline`: perf_counter() by which the check ends."""
    resolvers = await _resolvers(question, system, executor, policy)
    query, wire = _query(question)
    asked = f"{question.name.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(question.rdtype)}"
    for left, where in enumerate(resolvers, 1):
        last = left == len(resolvers)
        share = (deadline - time.perf_counter()) / (len(resolvers) - left + 1)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(share):
                response = await _exchange(query, wire, where, question.port)
        except (OSError, TimeoutError):
            if last:
                raise
            continue
        phases.dns_s = time.perf_counter() - started
        rcode = response.rcode()
        if rcode in _MOVE_ON and not last:
            continue
        if rcode != dns.rcode.NOERROR:
            raise KindFailure("dns", f"{asked}: {dns.rcode.to_text(rcode)} from {where}")
        records = _records(response, question)
        if not records:
            raise KindFailure("dns", f"{asked}: no such record (NOERROR, no data) from {where}")
        if regex is None:
            return True
        phases.regex_matched = any(regex.search(record) is not None for record in records)
        return phases.regex_matched
    raise AssertionError("unreachable: the last resolver's outcome returns or raises")
