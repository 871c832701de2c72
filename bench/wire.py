"""What crosses the network: the bytes on each process's TCP connections to a port (the
broker's, PostgreSQL's) as the kernel counts them, and the encoded sizes of the messages.

The byte counts are `ss`'s view of each connection's `tcp_info` (`bytes_sent`,
`bytes_received`: payload bytes, without TCP/IP headers and retransmissions), summed per
process. A connection counts from when it opened; one that closes inside a window is lost
from it (webmon's Kafka clients and database pools keep theirs open).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec

from shared.messages import CheckResult, CheckTask

_PID = re.compile(r"pid=(\d+)")
_SENT = re.compile(r"\bbytes_sent:(\d+)")
_RECEIVED = re.compile(r"\bbytes_received:(\d+)")


def socket_bytes(port: int) -> dict[int, tuple[int, int]]:
    """(sent, received) per process over its established connections to `port` on this
    machine, over each connection's life so far."""
    out = subprocess.run(
        ["ss", "-tinp", "state", "established", "(", "dport", "=", f":{port}", ")"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    totals: dict[int, tuple[int, int]] = {}
    pid: int | None = None
    for line in out.splitlines():
        if not line[:1].isspace():  # a connection's line (or the header): who owns it
            found = _PID.search(line)
            pid = int(found.group(1)) if found else None
            continue
        if pid is None:
            continue
        sent, received = _SENT.search(line), _RECEIVED.search(line)
        before = totals.get(pid, (0, 0))
        totals[pid] = (
            before[0] + (int(sent.group(1)) if sent else 0),
            before[1] + (int(received.group(1)) if received else 0),
        )
        pid = None
    return totals


@dataclass
class WireMeter:
    """Bytes each named process sent to and received from each port, over a window."""

    ports: dict[str, int]  # "broker" -> its port
    processes: dict[str, int] = field(default_factory=dict)  # name -> pid
    _start: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)

    def add(self, name: str, pid: int) -> None:
        self.processes[name] = pid

    def _read(self) -> dict[str, dict[int, tuple[int, int]]]:
        return {name: socket_bytes(port) for name, port in self.ports.items()}

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(process, port's name) -> (bytes sent, bytes received) in the window, where any."""
        end = self._read()
        spent: dict[tuple[str, str], tuple[int, int]] = {}
        for port_name, by_pid in end.items():
            for name, pid in self.processes.items():
                if pid not in by_pid:
                    continue
                sent, received = by_pid[pid]
                sent0, received0 = self._start[port_name].get(pid, (0, 0))
                spent[(name, port_name)] = (sent - sent0, received - received0)
        return spent


# A site as most are: an HTTPS URL of ordinary length, a 10 s timeout, checked every 60 s,
# at a site id of six digits. Durations are full-precision floats, as a check's are
# (perf_counter differences times 1,000).
_AT = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
_URL = "https://www.example.com/health"
_TASK = CheckTask(
    site_id=123_456,
    url=_URL,
    timeout_s=10.0,
    scheduled_at=_AT,
    expires_at=_AT + timedelta(seconds=60),
)
_PLAIN_RESULT = CheckResult(
    site_id=123_456,
    url=_URL.replace("https", "http"),
    scheduled_at=_AT,
    checked_at=_AT + timedelta(microseconds=412_337),
    response_time_ms=(5812.409311273 - 5812.321907131) * 1000,
    status_code=200,
    up=True,
    dns_ms=(5812.323416982 - 5812.321907131) * 1000,
    connect_ms=(5812.345120917 - 5812.323416982) * 1000,
    ttfb_ms=(5812.408020442 - 5812.321907131) * 1000,
    redirects=0,
)
_TLS_RESULT = msgspec.structs.replace(
    _PLAIN_RESULT,
    url=_URL,
    tls_ms=(5812.371862211 - 5812.345120917) * 1000,
    tls_version="TLSv1.3",
    tls_expires_at=datetime(2027, 2, 14, 23, 59, 59, tzinfo=UTC),
)
_REGION = "eu-central-1"
# A site checked from three regions: its tasks and results name the region and the count.
_OF_THREE = {"region": _REGION, "region_count": 3}


def message_sizes() -> Iterable[tuple[str, str]]:
    """The encoded sizes of a task and of a result, as the scheduler and the probe produce
    them (JSON, before the producer's compression), and their keys."""
    key = len(str(_TASK.site_id).encode())
    missed = CheckResult.missed(_TASK, _AT + timedelta(seconds=61))
    replace = msgspec.structs.replace
    rows = [
        ("task, default region", _TASK),
        (f"task, region {_REGION} of 3", replace(_TASK, **_OF_THREE)),
        ("result, plain HTTP, default region", _PLAIN_RESULT),
        (
            f"result, plain HTTP, region {_REGION} of 3",
            replace(_PLAIN_RESULT, **_OF_THREE),
        ),
        ("result, HTTPS (TLS details), default region", _TLS_RESULT),
        (f"result, HTTPS, region {_REGION} of 3", replace(_TLS_RESULT, **_OF_THREE)),
        ("result, a missed slot", missed),
    ]
    for name, message in rows:
        yield name, f"{len(message.encode()):4d} B value + {key} B key (the site id)"
