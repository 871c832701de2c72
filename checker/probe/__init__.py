"""The probe role: tasks topic -> checks -> results topic.

`prober` performs one check (`Prober.check(task) -> CheckResult`: HTTP itself, tcp://,
tls:// and dns:// through `kinds`), `regex` searches a body in linear time, `loop` runs
checks concurrently and produces their results, `offsets` decides which task offsets may
be committed.
"""

from checker.probe.prober import DEFAULT_USER_AGENT, Prober, cert_time, classify, status_expected

__all__ = ["DEFAULT_USER_AGENT", "Prober", "cert_time", "classify", "status_expected"]
