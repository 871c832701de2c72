"""The probe's peak memory with 512 checks in flight: large bodies with a regex, large heads.

One checker process (`python -m checker`, probe role, WEBMON_CONCURRENCY 512) gets 512
tasks through Kafka against a local server that keeps every check in flight at once:

* bodies: 5 MB of text (`MATCHME` at its very end) sent in 50 steps over ~2.5 s, each
  check's site with a regex (the case the body's cap and window are chosen for);
* heads: one 250 KB header field, the head's end 2 s later (the case the header limits
  are chosen for).

The figure is the process's peak RSS (VmHWM) after every result arrived, beside its RSS
when idle. `--code DIR` runs the checker from another checkout as well (e.g. the commit
before a change), alternating with this one's, so both are measured in one run.

    .venv/bin/python -m bench.bench_probe_memory [--code ../base] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_checker import Probe, ResultCounter, produce_tasks
from bench.common import bench_env, report, services

IN_FLIGHT = 512
BODY_BYTES = 5_000_000
HEAD_FIELD_BYTES = 250_000

SERVER = """
import asyncio, sys
MODE, SIZE = sys.argv[1], int(sys.argv[2])
STEPS, SECONDS = 50, 2.5
async def handle(reader, writer):
    try:
        await reader.readuntil(b"\\r\\n\\r\\n")
        if MODE == "body":
            writer.write(b"HTTP/1.1 200 OK\\r\\nContent-Type: text/html; charset=utf-8\\r\\n"
                         b"Content-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % SIZE)
            step = SIZE // STEPS
            for i in range(STEPS):
                size = step if i < STEPS - 1 else SIZE - step * (STEPS - 1)
                chunk = b"x" * size if i < STEPS - 1 else b"x" * (size - 7) + b"MATCHME"
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(SECONDS / STEPS)
        else:
            writer.write(b"HTTP/1.1 200 OK\\r\\nX-Big: " + b"f" * SIZE)
            await writer.drain()
            await asyncio.sleep(2.0)
            writer.write(b"\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
        await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"""

CASES = {
    "bodies": ("body", BODY_BYTES, "MATCHME"),
    "heads": ("head", HEAD_FIELD_BYTES, None),
}


def peak_rss(
    url: str, bootstrap: str, case: str, code: Path | None, workdir: Path
) -> tuple[float, float]:
    """(idle, peak) RSS in MB of a checker with IN_FLIGHT checks of `case` in flight."""
    mode, size, regex = CASES[case]
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, mode, str(size)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        with bench_env(url, bootstrap) as env:
            counter = ResultCounter(env)
            probe = Probe(env, IN_FLIGHT, workdir / "none.pem", workdir / "probe.log", code)
            try:
                idle = probe.peak_rss_mb()
                produce_tasks(env, f"http://127.0.0.1:{port}/", IN_FLIGHT, regex)
                counter.wait_for(IN_FLIGHT, timeout_s=300)
                return idle, probe.peak_rss_mb()
            finally:
                probe.stop()
                counter.close()
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--code", type=Path, help="also run the checker from this checkout")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    codes: dict[str, Path | None] = {"this checkout": None}
    if args.code is not None:
        codes[str(args.code)] = args.code.resolve()
    peaks: dict[tuple[str, str], list[float]] = {}
    workdir = Path(tempfile.mkdtemp(prefix="webmon-bench-memory-"))
    (workdir / "none.pem").write_text("")
    with services() as (url, bootstrap):
        for rnd in range(args.rounds):
            order = list(codes.items()) if rnd % 2 == 0 else list(codes.items())[::-1]
            for name, code in order:
                for case in CASES:
                    idle, peak = peak_rss(url, bootstrap, case, code, workdir)
                    peaks.setdefault((name, case), []).append(peak)
                    print(f"round {rnd + 1}: {name}, {case}: idle {idle:.0f} MB,"
                          f" peak {peak:.0f} MB", flush=True)  # fmt: skip
    rows = [
        (
            f"{name}, {case}",
            f"{statistics.median(values):.0f} MB peak RSS (rounds: "
            + ", ".join(f"{v:.0f}" for v in values)
            + ")",
        )
        for (name, case), values in peaks.items()
    ]
    report(
        f"probe memory: {IN_FLIGHT} checks in flight; bodies of {BODY_BYTES / 1e6:g} MB with a"
        f" regex at their end, heads with one {HEAD_FIELD_BYTES / 1e3:g} KB field",
        rows,
    )


if __name__ == "__main__":
    main()
