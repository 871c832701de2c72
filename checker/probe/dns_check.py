"""A dns:// check: one question to one resolver, judged by the answer (dnspython).

The query goes over UDP, and again over TCP when the answer comes back truncated. With
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

import concurrent.futures
import time
from typing import Any

import dns.asyncquery
import dns.exception
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
    query = dns.message.make_query(question.name, question.rdtype)
    asked = f"{question.name.to_text(omit_final_dot=True)} {dns.rdatatype.to_text(question.rdtype)}"
    for left, where in enumerate(resolvers, 1):
        last = left == len(resolvers)
        share = (deadline - time.perf_counter()) / (len(resolvers) - left + 1)
        started = time.perf_counter()
        try:
            response, _ = await dns.asyncquery.udp_with_fallback(
                query, where, timeout=share, port=question.port
            )
        except (OSError, dns.exception.Timeout):
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
