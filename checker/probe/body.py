"""A response body: read up to the cap, searched for the site's regex as it streams.

A check reads at most `max_body_bytes` of a body (after decompression when it is
searched, as received when not) and never holds it: without a regex the bytes are only
counted; with one, `BodyScan` decodes them incrementally and searches the text in windows
of `window` characters that overlap by `overlap`, so a checker holds at most about one
window per check in flight, however large the cap.

What is found:

* the first window is the body's first `window` characters, searched whole: what a search
  of the whole first MiB found before the body was streamed is still found;
* after it, every match of at most `overlap` characters is found wherever it lies within
  the cap (a match that crosses the end of one window starts in the overlap, so the next
  window holds it whole); a longer one only if it lies within one window;
* anchors mean the body, not the window: each later window is searched with one character
  of context on either side (RE2 looks at it for `^`, `$` and `\\b` but matches nothing in
  it), so `^` never matches at a window's start nor `$` at its end, unless the body starts
  or ends there.

When the regex was not found and more body followed the cap, `cut_detail` says how much
was searched of how much (e.g. "regex not found in the first 8 MiB of a 20.0 MiB body"),
so that a row never claims a page lacks what its unread part may hold.

Window searches run on the probe's regex threads (RE2 releases the GIL): a hostile
pattern costs CPU there, not the event loop's time. A check awaits its own window's
search before it reads on, which bounds what it holds; the final window's search runs
after the check's deadline, as the whole search did before bodies were streamed.
"""

from __future__ import annotations

import asyncio
import codecs
import concurrent.futures
from typing import Any, Final

import aiohttp
from aiohttp import hdrs

from checker.probe.regex import codec_name

# Bytes taken from the connection's buffer at a time: the most one read holds.
READ_CHUNK: Final = 64 * 1024
# A window, in characters: the text a check holds for one search.
DEFAULT_WINDOW: Final = 1 << 20
# How far windows overlap, in characters: a match up to this long is found anywhere.
DEFAULT_OVERLAP: Final = 64 * 1024
# Smaller texts are searched inline, where a thread hop would cost more than the search.
INLINE_SEARCH_CHARS: Final = 32 * 1024


class BodyScan:
    """The regex search of one body, fed its bytes as they arrive."""

    def __init__(
        self,
        regex: Any,
        charset: str | None,
        pool: concurrent.futures.Executor | None,
        *,
        window: int = DEFAULT_WINDOW,
        overlap: int = DEFAULT_OVERLAP,
    ) -> None:
        if not 0 < overlap < window:
            raise ValueError("0 < overlap < window")
        self._regex = regex
        self._pool = pool
        self._window = window
        self._overlap = overlap
        self._decoder = _decoder(charset)
        self._parts: list[str] = []
        self._held = 0  # characters in `_parts`
        self._start = 0  # where the text not searched yet begins in `_parts`
        self.matched = False

    async def feed(self, data: bytes) -> None:
        """Some more of the body; searches a window once one is full."""
        if self.matched:
            return
        self._hold(self._decode(data, final=False))
        await self._search_full_windows()

    async def finish(self) -> bool:
        """The body ended (or the cap was reached): searches the rest; whether it matched."""
        if not self.matched:
            self._hold(self._decode(b"", final=True))
            await self._search_full_windows()
        if not self.matched:
            await self._search(final=True)
        self._parts = []
        return self.matched

    async def _search_full_windows(self) -> None:
        # A window's search leaves the character after it unsearched (the context for `$`):
        # a full window needs one more.
        while self._held - self._start > self._window:
            await self._search(final=False)

    def _hold(self, text: str) -> None:
        if text:
            self._parts.append(text)
            self._held += len(text)

    def _decode(self, data: bytes, *, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except Exception:  # a codec that raises even with errors="replace": UTF-8 from here
            self._decoder = _decoder(None)
            return self._decoder.decode(data, final)

    async def _search(self, *, final: bool) -> None:
        text = "".join(self._parts)
        start = self._start
        end = len(text) if final else min(len(text) - 1, start + self._window)
        if not final:
            # The next window starts `overlap` before this one's end, with one character
            # of context before it.
            keep = max(start, end - self._overlap)
            context = max(0, keep - 1)
            rest = text[context:]
            self._parts, self._held, self._start = [rest], len(rest), keep - context
        if end - start > INLINE_SEARCH_CHARS and self._pool is not None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._pool, _found, self._regex, text, start, end)
        else:
            found = _found(self._regex, text, start, end)
        if found:
            self.matched, self._parts, self._held = True, [], 0  # nothing more to search


def _found(regex: Any, text: str, start: int, end: int) -> bool:
    return regex.search(text, start, end) is not None


def _decoder(charset: str | None) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec_name(charset))(errors="replace")


async def read_body(resp: aiohttp.ClientResponse, cap: int, scan: BodyScan | None) -> bool:
    """Reads at most `cap` bytes of the body, feeding `scan`; whether more of it followed
    (then the rest is dropped, and the connection with it)."""
    content = resp.content
    read = 0
    while read < cap:
        chunk = await content.read(min(READ_CHUNK, cap - read))
        if not chunk:
            return False
        read += len(chunk)
        if scan is not None:
            await scan.feed(chunk)
    if content.at_eof():
        return False
    resp.close()
    return True


def body_size(resp: aiohttp.ClientResponse) -> int | None:
    """The body's length as read, when the response says it: its Content-Length, unless a
    content coding makes that the length of the encoded form."""
    coding = resp.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    return resp.content_length if coding in ("", "identity") else None


def cut_detail(cap: int, size: int | None) -> str:
    """Why a regex that was not found may still be in the body: it was longer than `cap`."""
    whole = f"a {_mib(size)} body" if size is not None and size > cap else "a longer body"
    return f"regex not found in the first {_mib(cap)} of {whole}"


def _mib(size: int) -> str:
    if size % (1 << 20) == 0:
        return f"{size >> 20} MiB"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} bytes"
    return f"{size / (1 << 20):.1f} MiB"
