"""`make docs-images`: the docs' pictures, taken from a running `make run` system.

Starts what `make run` runs (`python -m devstack.run`) in a state folder of its own on free
ports, waits for its login link and a result of every demo site, logs in with Playwright
in Chromium, and takes the overview, a site's page, and the "Test a URL" page after one of
the demo's URLs was checked there; then the overview and the site's page again in dark,
and at a phone's width in light and dark. Then it stops the system as Ctrl-C does. So the
pictures show what a newcomer sees, and cannot drift from it: nobody takes them by hand.

    python -m devstack.screenshots docs/img

`RunningSystem` is also what tests/docs/test_first_hour.py drives, there with `make run`
itself from a fresh clone.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from devstack.browser import CHROMIUM_ARGS, system_chromium
from devstack.localstack import free_port

VIEWPORT = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}  # a phone's width in CSS pixels
# The overview and a site's page at a desktop's and a phone's width, light and dark (the
# pages follow the system's colour scheme): overview.png, overview-dark.png,
# overview-phone.png, overview-phone-dark.png, and the same for site.
VARIANTS = (("", VIEWPORT, "light"), ("-dark", VIEWPORT, "dark"),
            ("-phone", PHONE, "light"), ("-phone-dark", PHONE, "dark"))  # fmt: skip
LOGIN_LINE = re.compile(r"the dashboard: (http://\S+/login/once/\S+)")
DEMO_LINE = re.compile(r"registered \d+ demo sites on (http://\S+)")
START_TIMEOUT_S = 600.0  # a fresh clone installs first
LIVE_MS = 30_000
PICTURES = ("overview.png", "site.png", "tasks.png")
# The status page with an incident and its updates, and the alerts page: at a desktop's
# and a phone's width, in light and dark (docs/status-pages.md, docs/alerting.md).
WIDTHS = {"desktop": {"width": 1280, "height": 860}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
LOOKS = tuple(f"{w}-{c}" for w in WIDTHS for c in SCHEMES)
STATUS_PICTURES = tuple(f"{p}-{look}.png" for p in ("status-page", "alerts") for look in LOOKS)
DEMO_NAMES = {"/ok": "Website", "/health": "Health API", "/error": "Checkout",
              "/slow": "Search", "/content": "Content API"}  # fmt: skip
DOCUMENTED_DEMO_PORT, DOCUMENTED_API_PORT = 18080, 8080


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def private_ports(shown: bool = False) -> dict[str, str]:
    """Free ports for everything `make run` listens on, so that it runs beside another;
    with `shown`, the demo server's and the API's documented ones (18080, 8080) where free,
    as the pictures show their URLs."""
    demo, api = DOCUMENTED_DEMO_PORT, DOCUMENTED_API_PORT
    return {
        "WEBMON_LOCAL_PG_PORT": str(free_port()),
        "WEBMON_LOCAL_KAFKA_PORT": str(free_port()),
        "WEBMON_DEMO_PORT": str(demo if shown and port_is_free(demo) else free_port()),
        "WEBMON_API_PORT": str(api if shown and port_is_free(api) else free_port()),
        "WEBMON_METRICS_PORT": "0",
    }


class RunningSystem:
    """`make run` (or what it runs) in its own session, its output in a file; stopped by
    SIGINT to its process group, as Ctrl-C in its terminal would."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.argv, self.cwd, self.env, self.log = argv, cwd, env, log
        self.started_at = 0.0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RunningSystem:
        self.started_at = time.monotonic()
        # A terminal's make dies by Ctrl-C's SIGINT. Started from a shell's background job,
        # this process ignores SIGINT, and an ignored signal stays ignored across exec: make
        # would then finish its recipe and exit 0. The child gets SIGINT's default instead
        # (a handled signal is reset to it by exec).
        ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        if ignored:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            with self.log.open("wb") as out:
                self.proc = subprocess.Popen(
                    self.argv, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
        finally:
            if ignored:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.interrupt()

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"it exited ({self.proc.returncode}) before {what}:\n"
                                   f"{self.output[-4000:]}")  # fmt: skip
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout_s:g} s:\n{self.output[-4000:]}")
            time.sleep(0.1)

    def line(self, pattern: re.Pattern[str], timeout_s: float = START_TIMEOUT_S) -> str:
        """The first group of the first output line matching `pattern`, once there."""
        self.wait_for(lambda: pattern.search(self.output) is not None, pattern.pattern, timeout_s)
        match = pattern.search(self.output)
        assert match is not None
        return match[1]

    def interrupt(self, timeout_s: float = 120.0) -> int:
        """Ctrl-C: SIGINT to the whole process group; its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=system_chromium(), args=CHROMIUM_ARGS)


def take(page: Any, base: str, demo: str, folder: Path) -> list[Path]:
    """The three pictures, from a logged-in page; their paths."""
    from playwright.sync_api import expect

    folder.mkdir(parents=True, exist_ok=True)
    page.goto(base + "/")
    expect(page.locator(".count-none strong")).to_have_text("0", timeout=LIVE_MS)
    page.screenshot(path=str(folder / "overview.png"), full_page=True)
    page.goto(base + "/sites/2")  # the demo's /health: up, with a regex
    page.wait_for_function("window.webmonChart !== undefined")
    page.screenshot(path=str(folder / "site.png"), full_page=True)
    page.goto(base + "/tasks")
    page.fill("input[name=url]", f"{demo}/ok")
    page.click("text=Check it")
    row = page.locator("#tasks tr", has_text=f"{demo}/ok").first
    expect(row).to_have_attribute("data-status", "COMPLETED", timeout=LIVE_MS)
    page.screenshot(path=str(folder / "tasks.png"), full_page=True)
    return [folder / name for name in PICTURES]


def take_variants(browser: Any, session: Any, base: str, folder: Path) -> list[Path]:
    """The overview and a site's page in dark, and at a phone's width in light and dark, in
    the session of the first pictures (a login link works once)."""
    taken = []
    for suffix, viewport, scheme in VARIANTS[1:]:
        context = browser.new_context(
            viewport=viewport, color_scheme=scheme, timezone_id="UTC", storage_state=session
        )
        page = context.new_page()
        for name, path in (("overview", "/"), ("site", "/sites/2")):
            page.goto(base + path)
            if name == "site":
                page.wait_for_function("window.webmonChart !== undefined")
            target = folder / f"{name}{suffix}.png"
            page.screenshot(path=str(target), full_page=True)
            taken.append(target)
        context.close()
    return taken


def name_demo_sites(state_dir: Path) -> None:
    """Names for the demo's sites, as an operator gives them (`sites.name`), read through
    the running stack's own settings file."""
    import shlex

    import psycopg

    from shared.settings import LOCAL_STACK_ENV_FILE

    values = dict(
        line.split("=", 1) for line in (state_dir / LOCAL_STACK_ENV_FILE).read_text().splitlines()
        if line and not line.startswith("#")
    )  # fmt: skip
    url = shlex.split(values["WEBMON_DATABASE_URL"])[0]
    with psycopg.connect(url, autocommit=True) as conn:
        for path, name in DEMO_NAMES.items():
            conn.execute("UPDATE sites SET name = %s WHERE url LIKE %s", (name, f"%{path}"))


def take_status_pages(page: Any, base: str, folder: Path) -> list[Path]:
    """A status page of the demo's sites with an incident and two updates, and the alerts
    page, at each width and in each scheme; their paths."""
    from playwright.sync_api import expect

    page.goto(base + "/status-pages")
    page.fill("input[name=slug]", "demo")
    page.fill("input[name=title]", "Demo status")
    page.fill("input[name=description]", "The demo's services, checked every 10 seconds.")
    page.fill("textarea[name=groups]", "Web: 1, 3\nAPIs: 2, 5, 4")
    page.click("text=Add the page")
    form = page.locator("#new-incident")
    form.locator("input[name=title]").fill("Checkout answers with errors")
    form.locator("input[name=site_ids]").fill("3")
    form.locator("textarea[name=body]").fill("We are looking into **HTTP 500** answers.")
    form.locator("text=Tell the incident").click()
    update = page.locator("form[action$='/updates']").first
    update.locator("select[name=status]").select_option("identified")
    update.locator("textarea[name=body]").fill(
        "A bad deploy of the payment service. Rolling back; see the [runbook](https://example.com/runbook)."
    )
    update.locator("text=Post the update").click()
    expect(page.locator(".incident .update")).to_have_count(2)
    # Two channels: a default one, and one that notifies nobody (its warning shows).
    page.goto(base + "/alerts")
    for name, kind, url, settings, default in (
        ("ops", "webhook", f"{base}/hooks/ops", "", True),
        ("team-mail", "email", "", "host=127.0.0.1\nport=2525\nfrom=webmon@example.com\n"
         "to=team@example.com", False),
    ):  # fmt: skip
        form = page.locator("#add-channel")
        form.locator("input[name=name]").fill(name)
        form.locator("select[name=kind]").select_option(kind)
        form.locator("input[name=url]").fill(url)
        form.locator("textarea[name=settings]").fill(settings)
        if default:
            form.locator("input[name=is_default]").check()
        form.locator("text=Add the channel").click()
        expect(page.locator(f"#channels tr[data-channel='{name}']")).to_be_visible()
    # The demo's three failing sites open incidents after their third failed check (10 s
    # apart): the alerts page is pictured with them.
    for _ in range(12):
        page.goto(base + "/alerts")
        if page.locator("#open-incidents tbody tr").count() == 3:
            break
        page.wait_for_timeout(5000)
    expect(page.locator("#open-incidents tbody tr")).to_have_count(3)
    shots = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            for name, path in (("status-page", "/status/demo"), ("alerts", "/alerts")):
                page.goto(base + path)
                shot = folder / f"{name}-{width}-{scheme}.png"
                page.screenshot(path=str(shot), full_page=True)
                shots.append(shot)
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.screenshots", description=__doc__)
    parser.add_argument("folder", type=Path, help="where the pictures go (docs/img)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="webmon-screenshots-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMON_")}
        ports = private_ports(shown=True)
        if ports["WEBMON_DEMO_PORT"] != str(DOCUMENTED_DEMO_PORT):
            print(f"port {DOCUMENTED_DEMO_PORT} is taken: the pictures show another demo port")
        state_dir = Path(tmp) / "state"
        env.update(ports, WEBMON_LOCAL_STATE_DIR=str(state_dir))
        run = [sys.executable, "-m", "devstack.run"]
        with RunningSystem(run, Path.cwd(), env, Path(tmp) / "run.log") as system:
            link = system.line(LOGIN_LINE)
            demo = system.line(DEMO_LINE)
            base = link.split("/login/")[0]
            with sync_playwright() as p:
                browser = launch_chromium(p)
                context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC")
                page = context.new_page()
                page.goto(link)
                name_demo_sites(state_dir)
                taken = take(page, base, demo, args.folder)
                taken += take_status_pages(page, base, args.folder)
                session = context.storage_state()
                context.close()
                taken += take_variants(browser, session, base, args.folder)
                for path in taken:
                    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
                browser.close()
            status = system.interrupt()
    return 0 if status == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
