"""A load process for bench_api: `concurrency` clients hammering the API for `seconds`.

    python -m bench.http_load BASE_URL KEY SECONDS CONCURRENCY GET|POST < paths.json

GET cycles through the paths given on stdin; POST submits tasks to the first path. Prints
one JSON object: requests, rate, p50_ms, p99_ms, errors.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time

import aiohttp

TASK = {"name": "bench", "url": "http://127.0.0.1:9/bench"}


async def run(
    base: str, key: str, seconds: float, concurrency: int, method: str, paths: list[str]
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    headers = {"Authorization": f"Bearer {key}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:
        deadline = time.monotonic() + seconds

        async def client(n: int) -> None:
            nonlocal errors
            i = n
            while time.monotonic() < deadline:
                path = paths[i % len(paths)]
                i += concurrency
                started = time.perf_counter()
                if method == "POST":
                    response = await session.post(path, json=TASK)
                else:
                    response = await session.get(path)
                await response.read()
                latencies.append(time.perf_counter() - started)
                if response.status >= 400:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(concurrency)))
        elapsed = time.monotonic() - started
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "rate": len(ordered) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "errors": errors,
    }


def main() -> None:
    base, key, seconds, concurrency, method = sys.argv[1:6]
    paths = json.loads(sys.stdin.read())
    result = asyncio.run(run(base, key, float(seconds), int(concurrency), method, paths))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
