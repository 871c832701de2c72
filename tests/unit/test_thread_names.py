"""The OS-level thread name the cost model (bench/costs.py) splits a checker's CPU by."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from shared.thread_names import name_os_thread


@pytest.mark.skipif(sys.platform != "linux", reason="/proc and prctl are Linux's")
def test_a_thread_is_named_at_the_os_level_from_its_python_name() -> None:
    seen: list[str] = []

    def body() -> None:
        name_os_thread()
        comm = Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text()
        seen.append(comm.strip())

    thread = threading.Thread(target=body, name="writer-db-0_0-and-more")
    thread.start()
    thread.join(10)
    assert seen == ["writer-db-0_0-a"]  # Linux keeps 15 bytes
