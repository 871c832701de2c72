"""The probe role: tasks topic -> checks -> results topic.

`prober` performs one check (`Prober.check(task) -> CheckResult`) and dispatches it by
kind: `http_check` for http(s) URLs, on aiohttp wrapped in `http_transport` (with its
phase timing in `http_trace`, the target policy's guard in `target_guard`, certificate
expiry in `certificates`, a site's options in `options`, cookies in `cookies`); `kinds`
for tcp://, tls:// and dns:// (`tcp_check`, `tls_check`, `dns_check`, sharing
`kind_net`; the URL forms of every kind in `kind_urls`). `error_classes` maps what any
check raises to a result's error class and detail, `results` builds the result, `regex`
searches a body in linear time, `loop` runs checks concurrently and produces their
results, `offsets` decides which task offsets may be committed.
"""

from checker.probe.certificates import cert_time
from checker.probe.error_classes import classify
from checker.probe.prober import DEFAULT_USER_AGENT, Prober
from checker.probe.results import status_expected

__all__ = ["DEFAULT_USER_AGENT", "Prober", "cert_time", "classify", "status_expected"]
