"""Where a check's CPU goes: the CPU time of every process of the pipeline over a window,
as µs per check (the cost model `bench_system` prints).

CPU time (user + system, from /proc) survives a busy shared machine far better than
throughput or lateness do: another engineer's tests slow a process down, but barely change
the CPU it spends per check.

* A process tree (PostgreSQL's postmaster and its backends, nginx's master and workers)
  counts its root, the live descendants and the children it has already reaped (`cutime`
  and `cstime` of the root), so a backend that ends inside the window is not lost.
* A checker is split by thread name: the probe's event loop (the main thread), the writer
  (the threads named `writer*`: its consumer and database lanes), the task writer,
  librdkafka's threads (`rdk:*`, both roles' clients) and the rest (the probe's DNS and
  regex pools, the metrics server, threads that ended).
* A process is found by the port it listens on, so configured services count as well as
  the private stack.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: str) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return Path(path).read_text().rsplit(")", 1)[1].split()


def own_cpu(pid: int, reaped: bool = False) -> float:
    """CPU seconds of one process (and of the children it reaped, with `reaped`); 0 once
    it is gone."""
    try:
        f = _stat_fields(f"/proc/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if reaped else 0)
    return ticks / TICK


def _pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def descendants(pid: int) -> list[int]:
    """The live processes below `pid` (from each process's parent in /proc)."""
    parents: dict[int, list[int]] = {}
    for child in _pids():
        try:
            ppid = int(_stat_fields(f"/proc/{child}/stat")[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(child)
    found, todo = [], [pid]
    while todo:
        below = parents.get(todo.pop(), [])
        found += below
        todo += below
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and the children they reaped."""
    return sum(own_cpu(p, reaped=True) for p in (pid, *descendants(pid)))


def memory_mb(pid: int) -> float:
    """Proportional set size (PSS) of a process and its live descendants, in MiB: memory
    they share (PostgreSQL's buffers, nginx's) counted once across them, unlike RSS."""
    total = 0
    for p in (pid, *descendants(pid)):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of a process by thread role (see the module's docstring), and `total`."""
    parts = {"probe loop": 0.0, "writer": 0.0, "task writer": 0.0, "librdkafka": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        f = text.rsplit(")", 1)[1].split()
        cpu = (int(f[11]) + int(f[12])) / TICK
        if task.name == str(pid):
            parts["probe loop"] += cpu
        elif name.startswith("writer"):  # its consumer thread and database lanes
            parts["writer"] += cpu
        elif name == "task-writer":
            parts["task writer"] += cpu
        elif name.startswith("rdk:"):
            parts["librdkafka"] += cpu
    total = own_cpu(pid)
    parts["other threads"] = max(0.0, total - sum(parts.values()))
    parts["total"] = total
    return parts


def listener_pid(port: int) -> int | None:
    """The process listening on the TCP `port` on this machine, if any (/proc/net/tcp*)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    for pid in _pids():
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                if os.readlink(fd) in inodes:
                    return pid
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


@dataclass
class Ledger:
    """Named CPU counters, read at the window's start and end."""

    counters: dict[str, Callable[[], dict[str, float]]] = field(default_factory=dict)
    roots: dict[str, list[int]] = field(default_factory=dict)
    memory: dict[str, float] = field(default_factory=dict)  # MiB PSS at the window's end
    _start: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, name: str, pids: list[int], read: Callable[[], dict[str, float]]) -> None:
        self.counters[name] = read
        self.roots[name] = pids

    def add_tree(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.add(name, [pid], lambda: {"total": tree_cpu(pid)})

    def add_processes(self, name: str, pids: Iterable[int]) -> None:
        chosen = list(pids)
        self.add(name, chosen, lambda: {"total": sum(tree_cpu(p) for p in chosen)})

    def add_checker(self, name: str, pid: int) -> None:
        self.add(name, [pid], lambda: thread_cpu(pid))

    def start(self) -> None:
        self._start = {name: read() for name, read in self.counters.items()}

    def stop(self) -> dict[str, dict[str, float]]:
        """CPU seconds spent in the window, per counter and part."""
        spent: dict[str, dict[str, float]] = {}
        for name, read in self.counters.items():
            now, before = read(), self._start[name]
            spent[name] = {k: v - before.get(k, 0.0) for k, v in now.items()}
            self.memory[name] = sum(memory_mb(p) for p in self.roots[name])
        return spent


# Checks per second of 100,000 sites every 60 s: a component's µs per check times this, over
# a million, is the cores it needs for them.
CHECKS_PER_S_100K_AT_60 = 100_000 / 60


def _row(cpu_s: float, checks: int) -> str:
    us = 1e6 * cpu_s / max(1, checks)
    return f"{us:7.1f} µs/check  {us * CHECKS_PER_S_100K_AT_60 / 1e6:5.2f} cores/100k@60s"


def cost_rows(
    spent: dict[str, dict[str, float]], checks: int, memory: dict[str, float] | None = None
) -> list[tuple[str, str]]:
    """One row per process (and checker thread role): µs of CPU per check, the cores that
    cost comes to for 100,000 sites checked every 60 s, and memory (PSS) where known."""
    rows: list[tuple[str, str]] = []
    whole = 0.0
    for name, parts in spent.items():
        whole += parts["total"]
        mib = (memory or {}).get(name)
        rows.append((name, _row(parts["total"], checks) + (f"  {mib:6.0f} MiB" if mib else "")))
        rows += [(f"  {part}", _row(cpu, checks)) for part, cpu in parts.items() if part != "total"]
    rows.append(("all counted", _row(whole, checks)))
    return rows
