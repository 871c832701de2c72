"""bench_regions' records and reports: what a phase measured, per stored row, and the two
phases side by side with the writer's ratio (bench/bench_regions.py runs the phases)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from bench.common import report
from bench.costs import cost_rows

WRITER = "writer"
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class Rows:
    """What check_results holds for the (site, slot, region)s due in the window."""

    due: int
    stored: int  # due and stored: checked or missed
    checked: int
    missed: int
    off_grid: int  # stored in the window for no due (site, slot, region)
    lateness_p50_s: float
    lateness_p99_s: float


@dataclass(frozen=True)
class Phase:
    label: str
    regions: tuple[str, ...]
    sites: int
    rows: Rows
    spent: dict[str, dict[str, float]]
    backends: dict[str, float]  # CPU seconds of PostgreSQL's backends, by the program served
    memory: dict[str, float]
    wire: dict[tuple[str, str], tuple[int, int]]
    wal_bytes: int
    busy_cores: float
    load: tuple[str, str]


def per_row(value: float, phase: Phase) -> float:
    return value / max(1, phase.rows.stored)


def phase_report(interval: int, seconds: float, phase: Phase) -> None:
    r = phase.rows
    regions = ", ".join(phase.regions)
    report(
        f"{phase.label}: {phase.sites:,} sites checked from {regions}, every {interval} s,"
        f" {seconds:g} s measured",
        [
            ("load average", f"window start {phase.load[0]}; end {phase.load[1]}"),
            ("machine busy in the window", f"{phase.busy_cores:.2f} of {os.cpu_count()} cores"),
            ("(site, slot, region)s due", f"{r.due:,}"),
            ("of which stored", f"{r.stored:,}: {r.checked:,} checked, {r.missed:,} missed"),
            ("due without a row", f"{r.due - r.stored:,}"),
            ("rows off the grid", f"{r.off_grid:,}"),
            ("checks/s", f"{r.checked / seconds:,.0f}"),
            ("lateness p50 / p99", f"{r.lateness_p50_s:.3f} s / {r.lateness_p99_s:.3f} s"),
        ],
    )
    served = [
        (f"PostgreSQL backends of the {name}", f"{1e6 * per_row(cpu, phase):7.1f} µs/row")
        for name, cpu in phase.backends.items()
    ]
    report(
        f"{phase.label}: CPU of each process per stored row ({r.stored:,} rows)",
        cost_rows(phase.spent, r.stored, phase.memory) + served,
    )
    wire_rows = [
        (
            f"{name} <-> {port}",
            f"{per_row(sent, phase):7.1f} B sent, {per_row(received, phase):7.1f} B received",
        )
        for (name, port), (sent, received) in sorted(phase.wire.items())
    ]
    wire_rows.append(("PostgreSQL's WAL", f"{per_row(phase.wal_bytes, phase):7.1f} B"))
    report(f"{phase.label}: bytes per stored row on each connection (payload), and WAL", wire_rows)


def _us(phase: Phase, *names: str, part: str = "total", backends: str | None = None) -> float:
    total = sum(phase.spent[n].get(part, 0.0) for n in names if n in phase.spent)
    if backends is not None:
        total += phase.backends.get(backends, 0.0)
    return 1e6 * per_row(total, phase)


def comparison(regions: Phase, one: Phase) -> float:
    """The two phases per stored row, side by side, and the writer's ratio (returned)."""
    probes = {p.label: [n for n in p.spent if n.startswith("probe ")] for p in (regions, one)}
    pg = "PostgreSQL (all backends)"
    lines: list[tuple[str, Callable[[Phase], float]]] = [
        ("writer process", lambda p: _us(p, WRITER)),
        ("  its writer threads", lambda p: _us(p, WRITER, part="writer")),
        ("  its librdkafka threads", lambda p: _us(p, WRITER, part="librdkafka")),
        ("its PostgreSQL backends", lambda p: _us(p, backends=WRITER)),
        ("the writer in all (process + backends)", lambda p: _us(p, WRITER, backends=WRITER)),
        ("scheduler (process + backends)", lambda p: _us(p, SCHEDULER, backends=SCHEDULER)),
        ("probes, all together", lambda p: _us(p, *probes[p.label])),
        ("PostgreSQL, all backends", lambda p: _us(p, pg)),
        ("broker", lambda p: _us(p, "broker")),
        ("all counted", lambda p: _us(p, *p.spent)),
    ]
    rows = []
    for name, of in lines:
        a, b = of(regions), of(one)
        rows.append((name, f"{a:7.1f} µs  {b:7.1f} µs  {a / b if b else float('nan'):5.2f}"))
    a, b = _us(regions, WRITER, backends=WRITER), _us(one, WRITER, backends=WRITER)
    ratio = a / b if b else float("nan")
    verdict = "within" if abs(ratio - 1) <= 0.10 else "NOT within"
    rows.append(("the writer per result, regions / one region", f"{ratio:.3f} ({verdict} 10 %)"))
    report(
        f"per stored row: {regions.label} ({regions.rows.stored:,} rows), {one.label}"
        f" ({one.rows.stored:,} rows), ratio",
        rows,
    )
    return ratio


def rounds_summary(ratios: list[float]) -> None:
    """With more than one round: each round's writer ratio, and their median."""
    if len(ratios) < 2:
        return
    middle = statistics.median(ratios)
    verdict = "within" if abs(middle - 1) <= 0.10 else "NOT within"
    report(
        f"the writer per result, regions / one region, {len(ratios)} rounds",
        [
            ("each round", "  ".join(f"{r:.3f}" for r in ratios)),
            ("median", f"{middle:.3f} ({verdict} 10 %)"),
        ],
    )
