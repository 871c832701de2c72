"""`webmon-api` / `python -m webmon.api`: the HTTP API (and, later, the dashboard) on
uvicorn, one process, on WEBMON_API_HOST:WEBMON_API_PORT (127.0.0.1:8080)."""

from __future__ import annotations

import argparse
import gc
import threading

import uvicorn

from shared.lifecycle import install_stop_handlers
from shared.logs import configure_logging
from shared.settings import load_settings
from webmon.api.app import create_app
from webmon.api.settings import ApiSettings

PROGRAM = "webmon-api"
GC_THRESHOLD = 10_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROGRAM, description=__doc__)
    parser.parse_args(argv)
    settings = load_settings(ApiSettings, PROGRAM)
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn shuts down gracefully on SIGINT or SIGTERM and then raises the signal again
    # under the handlers it found: ours only set a flag, so the process exits 0 after a
    # clean stop, as every webmon process does.
    install_stop_handlers(threading.Event())
    app = create_app(settings)
    # The objects made at start (modules, routes, models) never die: freezing them keeps
    # the collector from walking them again, and a larger first generation makes
    # collections rarer; a page of 50 sites makes ~2,000 objects, so the default 700 ran
    # a collection on every request and put pauses in the latency's tail.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # webmon's own logging, text or JSON
        access_log=False,  # per-request lines are metrics, not operator news
        server_header=False,
        # X-Forwarded-* are believed from WEBMON_TRUSTED_PROXIES alone (webmon.api.app),
        # not from 127.0.0.1 as uvicorn would by default: anyone on the machine, or a
        # client of a proxy that passes the header on, could set them.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
