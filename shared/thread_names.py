"""The operating system's name for a thread (what `top -H`, py-spy and /proc/PID/task/TID/comm
show), set from its Python name, so that a process's CPU can be split by thread from outside
(`bench/costs.py`: the checker's probe loop, writer and task writer)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

_PR_SET_NAME = 15
_libc = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None
)


def name_os_thread(name: str | None = None) -> None:
    """Give the calling thread its Python name (or `name`) at the OS level; Linux keeps 15
    bytes. Elsewhere, and on any failure, it does nothing: a name is only a label."""
    if _libc is None:
        return
    label = (name or threading.current_thread().name).encode()[:15]
    _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(label), 0, 0, 0)
