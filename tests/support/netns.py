"""Regions as network namespaces on this machine, for the tests of tests/regions.

    with RegionNet(["eu-west", "us-east", "ap-south"], services, log_dir) as net:
        net.url("/ok")                         # http://10.251.255.1:8080/ok, from any region
        net.canary_url()                       # http://10.251.255.2:8080/canary, the same server
        net.checker(fleet, "eu-west", "eu-1")  # python -m checker in eu-west's namespace
        net.break_path("eu-west")              # 100 % loss both ways on its link (tc)
        net.heal_path("eu-west")

What is built, every address inside a namespace made here (names unique per run,
`wm-<pid>-<n>-<region>` and `wm-<pid>-<n>-target`), nothing in the root namespace:

    region i   lo; veth "target" 10.251.0.(4i+1)/30; one route: 10.251.255.0/24 via .(4i+2)
    target     lo, also 10.251.255.1 and 10.251.255.2; veth "r<i>" 10.251.0.(4i+2)/30 per
               region; tests.support.nstarget on 0.0.0.0:8080

A region's namespace has no other way out. PostgreSQL and the broker stay on the root
namespace's 127.0.0.1, which no namespace can reach: a relay (tests.support.relay) in each
region listens on the namespace's own 127.0.0.1 at their ports and forwards each connection
over a UNIX socket (a path is reachable from every network namespace) to a relay in the
root namespace, which connects to 127.0.0.1 at the same port. The database URL and the
broker's advertised listener therefore work unchanged inside a region.

Building needs root (`ip netns add`); without it, `NamespacesUnavailable` says so. The
end of the `with` (or `close()`) kills every process started here, deletes the namespaces
(which takes their veths along) and checks that none is left, whatever the test did.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg

from tests.support.fleet import Fleet
from tests.support.processes import Process
from tests.support.services import Services

IP = shutil.which("ip") or "/usr/sbin/ip"
TC = shutil.which("tc") or "/usr/sbin/tc"
REPO = Path(__file__).resolve().parents[2]
# The target's addresses, on its lo, reached from each region over the region's own link.
SERVICE_NET = "10.251.255.0/24"
TARGET_ADDRESS = "10.251.255.1"
CANARY_ADDRESS = "10.251.255.2"
TARGET_PORT = 8080
# Every address a namespace made here may hold: these, loopback and IPv6 link-local.
LINK_NET = ipaddress.ip_network("10.251.0.0/16")
REGION_VETH = "target"
READY_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 30.0
_runs = itertools.count(1)
# What `RegionNet.reach` runs inside a namespace.
REACH = """
import socket, sys
for address in sys.argv[1:]:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        print("open")
    except OSError as exc:
        print(type(exc).__name__)
"""


class NamespacesUnavailable(RuntimeError):
    """This machine (or user) cannot make network namespaces."""


class NetnsCommandError(RuntimeError):
    pass


def run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if done.returncode != 0:
        raise NetnsCommandError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
    return done.stdout


def ip_json(netns: str, *what: str) -> list[dict[str, Any]]:
    """`ip -j -n NETNS WHAT…`, parsed."""
    out = run(IP, "-j", "-n", netns, *what)
    return list(json.loads(out)) if out.strip() else []


def namespaces() -> set[str]:
    return {line.split()[0] for line in run(IP, "netns", "list").splitlines() if line.strip()}


@dataclass(frozen=True)
class Region:
    """A region's namespace and its link to the target's."""

    name: str
    index: int
    netns: str

    @property
    def address(self) -> str:
        return f"10.251.0.{4 * self.index + 1}"

    @property
    def gateway(self) -> str:
        """The target's end of the link."""
        return f"10.251.0.{4 * self.index + 2}"

    @property
    def peer(self) -> str:
        """The name of the link's end in the target's namespace."""
        return f"r{self.index}"


def on_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost
        return False


def loopback_services(services: Services) -> list[tuple[str, int]]:
    """(host, port) of PostgreSQL and of each bootstrap broker: what the relays carry. A
    database on a socket directory needs no relay (a path is shared across namespaces)."""
    info = psycopg.conninfo.conninfo_to_dict(services.database_url)
    host, port = str(info.get("host") or ""), int(info.get("port") or 5432)
    endpoints: list[tuple[str, int]] = []
    if host and not host.startswith("/"):
        endpoints.append((host, port))
    for broker in services.kafka_bootstrap.split(","):
        broker_host, _, broker_port = broker.strip().rpartition(":")
        endpoints.append((broker_host.strip("[]"), int(broker_port)))
    for host, port in endpoints:
        if not on_loopback(host):
            raise NamespacesUnavailable(
                f"the region tests relay PostgreSQL and the broker from loopback into their"
                f" namespaces; {host}:{port} is not on loopback"
            )
    return endpoints


class RegionNet:
    """Namespaces for `regions` and the target, their links, relays and target server."""

    def __init__(self, regions: Sequence[str], services: Services, log_dir: Path) -> None:
        base = f"wm-{os.getpid()}-{next(_runs)}"
        self.target_netns = f"{base}-target"
        self.regions = {
            name: Region(name, index, f"{base}-{name}") for index, name in enumerate(regions)
        }
        self.log_dir = log_dir
        self._services = services
        self._made: list[str] = []
        self._helpers: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._processes: list[Process] = []
        self._socket_dir: Path | None = None

    def open(self) -> None:
        """Build everything; on any failure, remove what was built and raise."""
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------------------
    # What a test uses

    def url(self, path: str = "/ok") -> str:
        """A URL on the target, reached from every region over its own link."""
        return f"http://{TARGET_ADDRESS}:{TARGET_PORT}{path}"

    def canary_url(self, path: str = "/canary") -> str:
        """The same target server at its second address: a region's canary."""
        return f"http://{CANARY_ADDRESS}:{TARGET_PORT}{path}"

    def exec_prefix(self, region: str) -> list[str]:
        return [IP, "netns", "exec", self.regions[region].netns]

    def process(
        self, region: str, module: str, env: dict[str, str], log_dir: Path, name: str
    ) -> Process:
        """`python -m module` inside the region's namespace; killed by `close()` at the
        latest."""
        p = Process(module, env, log_dir, name, prefix=self.exec_prefix(region))
        self._processes.append(p)
        return p

    def checker(self, fleet: Fleet, region: str, name: str, **extra: str) -> Process:
        """A checker of `region` (both roles) in its namespace, one of the fleet's processes;
        the target policy allows the target's addresses."""
        env = {
            **fleet.env,
            "WEBMON_CHECKER_REGION": region,
            "WEBMON_ALLOWED_NETWORKS": SERVICE_NET,
            **extra,
        }
        p = self.process(region, "checker", env, fleet.log_dir, name)
        fleet.processes.append(p)
        return p

    def reach(self, region: str, *addresses: str) -> list[str]:
        """From inside the region's namespace, try a TCP connection to each `host:port`
        (1 s each): "open", or the error's class (`ConnectionRefusedError`, `TimeoutError`)."""
        done = subprocess.run(
            [*self.exec_prefix(region), sys.executable, "-c", REACH, *addresses],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=True,
        )
        return done.stdout.split()

    def break_path(self, region: str) -> None:
        """100 % loss both ways on the region's link to the target: `netem loss 100%` on
        each end or, on a kernel built without netem, a `pfifo` with room for no packet,
        which drops every one as silently."""
        for netns, dev in self._link_ends(region):
            replace = [TC, "-n", netns, "qdisc", "replace", "dev", dev, "root"]
            try:
                run(*replace, "netem", "loss", "100%")
            except NetnsCommandError as exc:
                if "qdisc kind is unknown" not in str(exc):
                    raise
                run(*replace, "pfifo", "limit", "0")

    def heal_path(self, region: str) -> None:
        for netns, dev in self._link_ends(region):
            run(TC, "-n", netns, "qdisc", "del", "dev", dev, "root")

    def assert_sealed(self) -> None:
        """Each namespace holds only lo and the veths made here, addresses only on loopback,
        the links' 10.251.0.0/16 and IPv6 link-local, and no default route: nothing a
        process inside sends can leave the namespaces made here."""
        expected = {r.netns: {"lo", REGION_VETH} for r in self.regions.values()}
        expected[self.target_netns] = {"lo", *(r.peer for r in self.regions.values())}
        for netns, links in expected.items():
            found = {link["ifname"] for link in ip_json(netns, "link", "show")}
            assert found == links, f"{netns} has links {sorted(found)}, expected {sorted(links)}"
            for link in ip_json(netns, "addr", "show"):
                for info in link.get("addr_info", []):
                    address = ipaddress.ip_address(info["local"])
                    assert address.is_loopback or address.is_link_local or address in LINK_NET, (
                        f"{netns}: {address} on {link['ifname']}"
                    )
            for family in ("-4", "-6"):
                for route in ip_json(netns, family, "route", "show", "table", "all"):
                    assert route.get("dst") != "default", f"{netns} has a default route: {route}"
        ours = {link["ifname"] for link in json.loads(run(IP, "-j", "link", "show"))}
        assert not ours & {REGION_VETH, *(r.peer for r in self.regions.values())}, ours

    # ------------------------------------------------------------------------------------
    # Building and removing

    def _build(self) -> None:
        if os.geteuid() != 0:
            raise NamespacesUnavailable(
                "the region tests make network namespaces (`ip netns add`), which needs root"
                f" (as in CI); this process runs as uid {os.geteuid()}"
            )
        endpoints = loopback_services(self._services)
        try:
            self._add_netns(self.target_netns)
        except (NetnsCommandError, OSError) as exc:
            raise NamespacesUnavailable(f"cannot make a network namespace: {exc}") from exc
        for address in (TARGET_ADDRESS, CANARY_ADDRESS):
            run(IP, "-n", self.target_netns, "addr", "add", f"{address}/32", "dev", "lo")
        for region in self.regions.values():
            self._add_region(region)
        self._socket_dir = Path(tempfile.mkdtemp(prefix="wm-relay-"))
        sockets = [self._socket_dir / f"{port}.sock" for _, port in endpoints]
        self._spawn(
            "relay-root",
            [],
            "tests.support.relay",
            *(f"unix:{s}=tcp:{h}:{p}" for s, (h, p) in zip(sockets, endpoints, strict=True)),
        )
        for region in self.regions.values():
            self._spawn(
                f"relay-{region.name}",
                self.exec_prefix(region.name),
                "tests.support.relay",
                *(
                    f"tcp:{'127.0.0.1' if h == 'localhost' else h}:{p}=unix:{s}"
                    for s, (h, p) in zip(sockets, endpoints, strict=True)
                ),
            )
        target = [IP, "netns", "exec", self.target_netns]
        self._spawn("target", target, "tests.support.nstarget", "0.0.0.0", str(TARGET_PORT))
        for name, proc in self._helpers:
            self._wait_ready(name, proc)
        self.assert_sealed()

    def _add_netns(self, netns: str) -> None:
        run(IP, "netns", "add", netns)
        self._made.append(netns)
        run(IP, "-n", netns, "link", "set", "lo", "up")

    def _add_region(self, region: Region) -> None:
        ns, tg = region.netns, self.target_netns
        self._add_netns(ns)
        # Made inside the region's namespace with its peer in the target's: neither end
        # ever exists in the root namespace.
        run(IP, "-n", ns, "link", "add", REGION_VETH, "type", "veth",
            "peer", "name", region.peer, "netns", tg)  # fmt: skip
        run(IP, "-n", ns, "addr", "add", f"{region.address}/30", "dev", REGION_VETH)
        run(IP, "-n", tg, "addr", "add", f"{region.gateway}/30", "dev", region.peer)
        run(IP, "-n", ns, "link", "set", REGION_VETH, "up")
        run(IP, "-n", tg, "link", "set", region.peer, "up")
        run(IP, "-n", ns, "route", "add", SERVICE_NET, "via", region.gateway)

    def _link_ends(self, region: str) -> list[tuple[str, str]]:
        r = self.regions[region]
        return [(r.netns, REGION_VETH), (self.target_netns, r.peer)]

    def _spawn(self, name: str, prefix: list[str], module: str, *args: str) -> None:
        with open(self.log_dir / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", module, *args],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        self._helpers.append((name, proc))

    def _wait_ready(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
        line = proc.stdout.readline() if ready else b""
        if line.strip() != b"ready":
            log = (self.log_dir / f"{name}.log").read_text(errors="replace")
            raise RuntimeError(f"{name} did not start ({line!r}):\n{log[-3000:]}")

    def close(self) -> None:
        """Kill what was started here, delete the namespaces; fail if any is left."""
        for p in self._processes:
            p.ensure_dead()
        for _, proc in reversed(self._helpers):
            stop_helper(proc)
        self._helpers.clear()
        problems = []
        for netns in reversed(self._made):
            try:
                run(IP, "netns", "delete", netns)
            except NetnsCommandError as exc:
                problems.append(str(exc))
        left = set(self._made) & namespaces() if self._made else set()
        self._made.clear()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
        if problems or left:
            raise RuntimeError(f"namespaces not removed: {sorted(left)} {problems}")


def stop_helper(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
