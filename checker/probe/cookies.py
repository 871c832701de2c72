"""Cookies for the length of one check's redirect chain, as a browser's first visit has them.

The session has one cookie jar, `ChainCookies`; it keeps nothing itself. A Set-Cookie of a
response goes to the running check's own `aiohttp.CookieJar`, made at the first cookie
(most checks get none and pay only a context-variable read per hop), and the next hop of
that check sends it back. The jar goes away with the check, so nothing a site set reaches
its next check or another site.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from http.cookies import BaseCookie, Morsel, SimpleCookie
from types import MappingProxyType
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractCookieJar, ClearCookiePredicate
from aiohttp.typedefs import LooseCookies
from yarl import URL


class CookieHolder(Protocol):
    """What a check keeps its cookies in: its trace."""

    cookies: aiohttp.CookieJar | None


class ChainCookies(AbstractCookieJar):
    """The session's jar: delegates to the running check's jar, `current().cookies`."""

    def __init__(self, current: Callable[[], CookieHolder | None]) -> None:
        super().__init__()
        self._current = current

    def _jar(self) -> aiohttp.CookieJar | None:
        holder = self._current()
        return None if holder is None else holder.cookies

    def _jar_for_update(self) -> aiohttp.CookieJar | None:
        holder = self._current()
        if holder is None:
            return None  # not within a check: kept by no one
        if holder.cookies is None:
            # unsafe: cookies of an IP-address host too, as browsers and curl keep them.
            holder.cookies = aiohttp.CookieJar(unsafe=True, loop=self._loop)
        return holder.cookies

    @property
    def unsafe(self) -> bool:
        return True

    @property
    def quote_cookie(self) -> bool:
        return True

    @property
    def cookies(self) -> MappingProxyType[tuple[str, str], SimpleCookie]:
        jar = self._jar()
        return MappingProxyType({}) if jar is None else jar.cookies

    @property
    def host_only_cookies(self) -> frozenset[tuple[str, str, str]]:
        jar = self._jar()
        return frozenset() if jar is None else jar.host_only_cookies

    def __iter__(self) -> Iterator[Morsel[str]]:
        jar = self._jar()
        return iter(()) if jar is None else iter(jar)

    def __len__(self) -> int:
        jar = self._jar()
        return 0 if jar is None else len(jar)

    def clear(self, predicate: ClearCookiePredicate | None = None) -> None:
        jar = self._jar()
        if jar is not None:
            jar.clear(predicate)

    def clear_domain(self, domain: str) -> None:
        jar = self._jar()
        if jar is not None:
            jar.clear_domain(domain)

    def update_cookies(self, cookies: LooseCookies, response_url: URL = URL()) -> None:  # noqa: B008 - aiohttp's signature
        jar = self._jar_for_update()
        if jar is not None:
            jar.update_cookies(cookies, response_url)

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        jar = self._jar_for_update()
        if jar is not None:
            jar.update_cookies_from_headers(headers, response_url)

    def filter_cookies(self, request_url: URL) -> BaseCookie[str]:
        jar = self._jar()
        return SimpleCookie() if jar is None else jar.filter_cookies(request_url)
