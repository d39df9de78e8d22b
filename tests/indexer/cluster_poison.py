"""Dask worker preload for the tests: a page that kills every worker it lands on.

`dask worker --preload tests/indexer/cluster_poison.py` with IIIF_SEARCH_TEST_POISON set to
a page's task name (e.g. "poisoned p2"): when that page's OCR task starts, the worker
process SIGKILLs itself, as the kernel's OOM killer or a crash in a C library would kill
it. A real decompression bomb big enough to do that would take this shared machine's
memory with it, so the crash is simulated here; everything else (scheduler, nannies,
retries, the client) is real. Without the variable the plugin does nothing.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

POISON = os.environ.get("IIIF_SEARCH_TEST_POISON", "")


class Poison(WorkerPlugin):
    name = "iiif-search-test-poison"

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if POISON and finish == "executing" and "iiif-ocr" in str(key) and POISON in str(key):
            os.kill(os.getpid(), signal.SIGKILL)


async def dask_setup(worker: Any) -> None:
    await worker.plugin_add(Poison())
