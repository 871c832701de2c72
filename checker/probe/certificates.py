"""The peer certificate's expiry (`tls_expires_at`), for https and tls:// checks alike.

Measured: see docs/measurements.md ("The probe").
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Final

from cryptography import x509

_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def not_after(ssl_object: ssl.SSLObject) -> datetime | None:
    """The peer certificate's expiry.

    Python decodes only a verified peer's certificate; an unverified one (a site with
    `tls_verify` off) is parsed from its DER form, as blackbox_exporter still reports the
    expiry with `insecure_skip_verify`.
    """
    try:
        decoded = ssl_object.getpeercert()
        if not decoded:
            der = ssl_object.getpeercert(binary_form=True)
            if not der:
                return None
            return x509.load_der_x509_certificate(der).not_valid_after_utc
        expires = decoded.get("notAfter")
    except (ValueError, OSError):
        return None
    return cert_time(expires) if isinstance(expires, str) else None


def cert_time(text: str) -> datetime | None:
    """A certificate time as `getpeercert()` gives it ("Jan  2 03:04:05 2027 GMT"), or None.

    The same answer as `ssl.cert_time_to_seconds()`, without its strptime, which costs
    more than `getpeercert()` itself.
    """
    try:
        month, day, clock, year, zone = text.split()
        hour, minute, second = clock.split(":")
        if zone != "GMT":
            return None
        return datetime(
            int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except (ValueError, KeyError, OverflowError):
        return None
