"""`make test`'s browser: make sure a Chromium for the dashboard's tests is there.

Playwright's own download where it works (`playwright install chromium`), else the
system's package when we are root (`apt-get install chromium`). Prints what it found or
did; exits 0 either way (in CI the tests themselves fail without a browser).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Flags for a headless browser on a machine with no network beyond loopback: no
# background traffic, no component updates, no sync, no GPU.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def playwright_has_chromium() -> bool:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return False
    with sync_playwright() as p:
        return Path(p.chromium.executable_path).is_file()


def system_chromium() -> str | None:
    """A Chromium by path: WEBMON_TEST_CHROMIUM's, Debian's, or one on the PATH."""
    named = os.environ.get("WEBMON_TEST_CHROMIUM")
    if named:
        return named
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).is_file():
            return candidate
    return shutil.which("chromium")


def main() -> int:
    if system_chromium() or playwright_has_chromium():
        print("browser: a Chromium is there")
        return 0
    download = subprocess.run(
        [sys.executable, "-m", "playwright", "install", "chromium"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    if download.returncode == 0 and playwright_has_chromium():
        print("browser: Playwright's Chromium installed")
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        commands = (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"])
        for command in commands:
            subprocess.run(command, env=env, capture_output=True, check=False, timeout=900)
        if system_chromium():
            print("browser: Debian's chromium installed")
            return 0
    print(
        "browser: no Chromium found or installed (the dashboard's tests need one)", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
