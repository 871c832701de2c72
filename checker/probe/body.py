"""A response body: read up to the cap, searched for the site's regex as it streams.

A check reads at most `max_body_bytes` of a body (after decompression when it is
searched, as received when not) and never holds it: without a regex the bytes are only
counted; with one, `BodyScan` decodes them as they come (in the declared charset, else
UTF-8) and searches the text in windows of `window` bytes (of UTF-8) that overlap by
`overlap`, so a checker holds about one window per check in flight, however large the cap.

What is found:

* every match of at most `overlap` bytes (128 KiB) is found wherever it lies within the
  cap: a match that crosses the end of one window starts in the overlap, so the next
  window holds it whole; a longer one only if it lies within one window (the first is the
  body's first 256 KiB);
* anchors mean the body, not the window: each later window is searched with context on
  either side (RE2 looks at it for `^`, `$` and `\\b` but matches nothing in it), so `^`
  never matches at a window's start nor `$` at its end, unless the body starts or ends
  there.

When the regex was not found and more body followed the cap, `cut_detail` says how much
was searched of how much (e.g. "regex not found in the first 8 MiB of a 20 MiB body"), so
that a row never claims a page lacks what its unread part may hold.

Windows larger than `INLINE_SEARCH_BYTES` are searched on the probe's regex threads (RE2
releases the GIL): a hostile pattern costs CPU there, not the event loop's time. A check
awaits its own window's search before it reads on, which bounds what it holds; the final
window's search runs after the check's deadline, as the whole search did before bodies
were streamed.
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
# A window, in bytes of UTF-8 text: what a check holds for one search. With 1 MiB, 512
# checks in flight on 5 MB bodies peaked at ~910 MB; with 256 KiB at ~510 MB
# (bench/bench_probe_memory.py; docs/measurements.md, "The probe's memory").
DEFAULT_WINDOW: Final = 256 * 1024
# How far windows overlap, in bytes of UTF-8 text: a match up to this long is found
# anywhere. Each byte is searched about twice; RE2 on UTF-8 bytes takes ~0.1 ms a MB.
DEFAULT_OVERLAP: Final = 128 * 1024
# Smaller texts are searched inline, where a thread hop would cost more than the search.
INLINE_SEARCH_BYTES: Final = 32 * 1024


# Charsets in which ASCII bytes stand for the same characters as in UTF-8.
_ASCII_SUPERSETS: Final = frozenset({"utf-8", "ascii", "iso8859-1", "cp1252"})


class BodyScan:
    """The regex search of one body, fed its bytes as they arrive.

    The body is decoded in its charset (undecodable bytes become U+FFFD) and held as UTF-8:
    RE2 searches UTF-8 bytes ~50 times faster than the same text as a `str`, which its
    Python binding encodes again for every search (a 5 MB body: 0.3 ms against 22 ms).
    The answer is the same, the text being valid UTF-8. Windows start and end on a
    character's first byte.
    """

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
        codec = codec_name(charset)
        self._decoder = _decoder(codec)
        self._ascii_same = codec in _ASCII_SUPERSETS
        # The text held: the window being filled, after the end of the last one searched
        # (and one character before it). A bytearray, so that neither a join nor the trim
        # after a search copies it.
        self._text = bytearray()
        self._start = 0  # where the text not searched yet begins in `_text`
        self.matched = False

    async def feed(self, data: bytes) -> None:
        """Some more of the body; searches a window once one is full."""
        if self.matched:
            return
        self._text += self._utf8(data, final=False)
        await self._search_full_windows()

    async def finish(self) -> bool:
        """The body ended (or the cap was reached): searches the rest; whether it matched."""
        if not self.matched:
            self._text += self._utf8(b"", final=True)
            await self._search_full_windows()
        if not self.matched:
            await self._search(final=True)
        self._text = bytearray()
        return self.matched

    async def _search_full_windows(self) -> None:
        # A window's search leaves the character after it unsearched (the context for `$`):
        # a full window needs more.
        while len(self._text) - self._start > self._window + 4:
            await self._search(final=False)

    def _utf8(self, data: bytes, *, final: bool) -> bytes:
        if self._ascii_same and data.isascii() and not self._decoder.getstate()[0]:
            return data  # (most pages: their bytes are their UTF-8 text already)
        try:
            text = self._decoder.decode(data, final)
        except Exception:  # a codec that raises even with errors="replace": UTF-8 from here
            self._decoder = _decoder("utf-8")
            text = self._decoder.decode(data, final)
        return text.encode("utf-8", "surrogatepass")

    async def _search(self, *, final: bool) -> None:
        text, start = self._text, self._start
        end = len(text) if final else _first_byte(text, start + self._window)
        # (`text` does not change while a thread searches it: the check awaits the search.)
        if end - start > INLINE_SEARCH_BYTES and self._pool is not None:
            loop = asyncio.get_running_loop()
            found = await loop.run_in_executor(self._pool, _found, self._regex, text, start, end)
        else:
            found = _found(self._regex, text, start, end)
        if found:
            self.matched, self._text = True, bytearray()  # nothing more to search
        elif not final:
            # The next window starts `overlap` before this one's end, with one character
            # of context before it.
            keep = _first_byte(text, max(start, end - self._overlap))
            context = _first_byte(text, max(0, keep - 1))
            del text[:context]
            self._start = keep - context


def _first_byte(text: bytearray, at: int) -> int:
    """`at`, or the start of the UTF-8 character it falls in."""
    while 0 < at < len(text) and text[at] & 0xC0 == 0x80:
        at -= 1
    return at


def _found(regex: Any, text: bytearray, start: int, end: int) -> bool:
    return regex.search(text, start, end) is not None


def _decoder(codec: str) -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder(codec)(errors="replace")


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
        if content.at_eof():  # (spares a small body a second read)
            return False
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
