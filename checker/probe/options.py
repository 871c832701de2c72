"""A site's HTTP options, turned into what the request needs and what the response must pass.

The semantics follow blackbox_exporter's HTTP module where it has the option, and a browser
where it is silent (README, "Per-site HTTP options"):

* `body` goes as UTF-8 bytes with `body_content_type` (or aiohttp's default for bytes,
  `application/octet-stream`). A 301/302/303 turns a POST into a GET without a body on the
  next hop, as browsers, curl and aiohttp do; a 307/308 sends it again.
* `auth` becomes an `Authorization` header (basic: RFC 7617, UTF-8; bearer: RFC 6750),
  over any the site's `headers` name. aiohttp drops it on a redirect to another origin, as
  browsers do.
* `proxy`: the request (or, for https, a CONNECT tunnel) goes through that http:// proxy.
* TLS: `tls_ca_file` replaces the system's CA store (blackbox's `ca_file`), a client
  certificate and key are presented when asked for, `tls_verify` off accepts any
  certificate (blackbox's `insecure_skip_verify`), `tls_server_name` is sent as SNI and
  verified against on every hop.
* `ip_version` 4 or 6: only addresses of that family are connected to; a name without one
  is a `dns` error (blackbox's `ip_protocol` with `ip_protocol_fallback: false`).
* `require_tls`: the final URL after redirects must be https (blackbox's
  `fail_if_not_ssl`), else `tls_required`.
* header check: a `match` site is down unless some value of the header matches
  (`fail_if_header_not_matches`; a missing header fails), a `not_match` site is down if
  any value matches (`fail_if_header_matches`; a missing header passes). Else `header_check`.
* `regex_mode` absent: up only if the regex is not found (Uptime Kuma's "keyword" with
  "invert"); `regex_matched` still says whether it was found.

SSL contexts with files are built once per (files, their mtimes, verify) and reused: a CA
bundle costs milliseconds to load, a check should not. A changed file is read again.
"""

from __future__ import annotations

import base64
import os
import ssl
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from multidict import CIMultiDictProxy
from yarl import URL

from checker.probe.error_classes import scrub
from checker.probe.regex import compile_regex
from shared.messages import CheckTask
from shared.sealing import KEY_VARIABLE, SecretBox, SecretError

# The task fields that make a check go through `prepare`: any option, or auth.
_CONTEXTS_CACHED: Final = 256


class OptionError(Exception):
    """The site's options cannot be applied by this checker: the `config` error class."""


@dataclass(slots=True)
class Prepared:
    """The request arguments and response checks of one task with options."""

    kwargs: dict[str, Any]
    header_regex: Any = None  # compiled RE2, when the site checks a header
    secret: str | None = None  # the opened secret, to scrub from any error text


def _file_stamp(path: str | None) -> tuple[str, int, int] | None:
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise OptionError(f"cannot read {path}: {exc.strerror or exc}") from None
    return path, stat.st_mtime_ns, stat.st_size


class TlsContexts:
    """SSL contexts for the sites' TLS options, cached by their files and mtimes."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[Any, ...], ssl.SSLContext] = OrderedDict()

    def context(self, task: CheckTask) -> ssl.SSLContext | bool | None:
        """What aiohttp's `ssl=` gets: None for the session's default, False for no
        verification and no files, else a context of our own."""
        ca, cert, key = task.tls_ca_file, task.tls_cert_file, task.tls_key_file
        if ca is None and cert is None:
            return None if task.tls_verify else False
        stamp = (_file_stamp(ca), _file_stamp(cert), _file_stamp(key), task.tls_verify)
        context = self._cache.get(stamp)
        if context is not None:
            self._cache.move_to_end(stamp)
            return context
        context = self._build(ca, cert, key, task.tls_verify)
        self._cache[stamp] = context
        if len(self._cache) > _CONTEXTS_CACHED:
            self._cache.popitem(last=False)
        return context

    @staticmethod
    def _build(ca: str | None, cert: str | None, key: str | None, verify: bool) -> ssl.SSLContext:
        try:
            if verify:
                context = ssl.create_default_context(cafile=ca)
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if cert is not None:
                context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            which = ", ".join(p for p in (ca, cert, key) if p)
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise OptionError(f"cannot load the TLS files {which}: {reason}") from None
        return context


def _authorization(task: CheckTask, box: SecretBox | None) -> tuple[str, str]:
    """The Authorization header value and the secret in it."""
    auth = task.auth
    assert auth is not None
    if box is None:
        raise OptionError(f"the site has {auth.kind} auth but this checker has no {KEY_VARIABLE}")
    try:
        sealed = base64.b64decode(auth.sealed, validate=True)
        secret = box.open(task.site_id, auth.kind, auth.username, sealed)
    except (ValueError, SecretError) as exc:
        raise OptionError(f"cannot open the site's {auth.kind} credentials: {exc}") from None
    if auth.kind == "bearer":
        if not secret.isprintable():  # never a CR/LF into the request head
            raise OptionError("the site's bearer token contains a control character")
        return f"Bearer {secret}", secret
    pair = f"{auth.username or ''}:{secret}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii"), secret


def prepare(task: CheckTask, box: SecretBox | None, contexts: TlsContexts) -> Prepared:
    """The request arguments of a task with options; `OptionError`, `RegexError`."""
    headers: dict[str, str] = dict(task.headers) if task.headers else {}
    prepared = Prepared(kwargs={})
    kwargs = prepared.kwargs
    if task.auth is not None:
        for name in [n for n in headers if n.lower() == "authorization"]:
            del headers[name]
        headers["Authorization"], prepared.secret = _authorization(task, box)
    if task.body is not None:
        kwargs["data"] = task.body.encode()
        if task.body_content_type is not None:
            for name in [n for n in headers if n.lower() == "content-type"]:
                del headers[name]
            headers["Content-Type"] = task.body_content_type
    if task.proxy is not None:
        kwargs["proxy"] = task.proxy
    context = contexts.context(task)
    if context is not None:
        kwargs["ssl"] = context
    if task.tls_server_name is not None:
        kwargs["server_hostname"] = task.tls_server_name
    if task.header_regex is not None:
        prepared.header_regex = compile_regex(task.header_regex)
    if headers or task.headers is not None:
        kwargs["headers"] = headers
    return prepared


def restricted_problem(task: CheckTask) -> str | None:
    """Why a restricted task may not run with its options (the API refuses them too)."""
    if task.proxy is not None:
        return "a site from the API may not use a proxy: the target policy cannot see past it"
    if task.tls_ca_file or task.tls_cert_file or task.tls_key_file:
        return "a site from the API may not name files on the checker host"
    return None


def _found(regex: Any, value: str) -> bool:
    try:
        return regex.search(value) is not None
    except (UnicodeError, ValueError, TypeError):  # a header's undecodable bytes
        text = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return regex.search(text) is not None


def header_problem(task: CheckTask, regex: Any, headers: CIMultiDictProxy[str]) -> str | None:
    """Why the response's headers fail the site's header check, or None."""
    name = task.header_name
    assert name is not None
    values = headers.getall(name, [])
    matched = any(_found(regex, value) for value in values)
    if task.header_mode == "not_match":
        return f"header {name} matches {task.header_regex!r}" if matched else None
    if not values:
        return f"no header {name} in the response"
    return None if matched else f"header {name} does not match {task.header_regex!r}"


def response_problem(
    task: CheckTask, options: Prepared, final_url: URL, headers: CIMultiDictProxy[str]
) -> tuple[str | None, str | None]:
    """The error class and detail of a response that fails the site's option checks."""
    if task.require_tls and final_url.scheme != "https":
        where = "the URL" if final_url == URL(task.url) else "the final URL, after redirects,"
        return (
            "tls_required",
            f"{where} is not https (require_tls): {final_url.scheme}://{final_url.host}",
        )
    if options.header_regex is not None:
        problem = header_problem(task, options.header_regex, headers)
        if problem is not None:
            return "header_check", scrub(problem)
    return None, None
