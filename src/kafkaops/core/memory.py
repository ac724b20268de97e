"""glibc ``malloc`` settings for the long-running service, and handing freed memory back.

Why: ``kafkaops serve`` on a 20,000-partition cluster builds and drops tens of megabytes per
cycle (the snapshot, the status arrays, the /metrics page) from several threads (watch loop,
scheduler, the HTTP thread pool, kafka-python's I/O threads).  With glibc's defaults that
memory is freed but not returned: every thread may get its own arena (up to 8 per core), and
the mmap threshold rises dynamically up to 32 MiB after the first big buffer is freed, so later
big buffers come from the heap and stay there.  The service then holds twice what it uses
(bench/README.md, "Service load and soak").  These are the usual fixes (the same knobs as the
``MALLOC_ARENA_MAX`` / ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment
variables, which win when set): few arenas, a fixed mmap threshold so big buffers are mapped and
unmapped, and a ``malloc_trim`` after each cycle.  On a C library without ``mallopt`` (musl,
macOS) nothing happens.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from functools import cache

log = logging.getLogger(__name__)

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

#: (parameter, value, the environment variable that overrides it)
SETTINGS = (
    (M_ARENA_MAX, 2, "MALLOC_ARENA_MAX"),
    (M_MMAP_THRESHOLD, 256 * 1024, "MALLOC_MMAP_THRESHOLD_"),
    (M_TRIM_THRESHOLD, 1024 * 1024, "MALLOC_TRIM_THRESHOLD_"),
)


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc
        return None
    return libc


def tune_malloc() -> bool:
    """Apply :data:`SETTINGS` (call before the service starts its threads); True if applied."""
    libc = _libc()
    if libc is None:
        return False
    applied = True
    for param, value, env in SETTINGS:
        if env in os.environ:
            continue
        applied = bool(libc.mallopt(param, value)) and applied
    return applied


def release_free_memory() -> None:
    """Return the heap's free pages to the OS (``malloc_trim``); a few milliseconds."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
