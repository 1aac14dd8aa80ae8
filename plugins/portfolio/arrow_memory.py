"""Arrow's memory pool for whole-book work: freed memory kept for the next array.

At bank scale the loan book, its classification and the ECL allocate and free arrays of tens of millions of
rows again and again. With a pool that hands freed pages back to the kernel, every new array is zeroed by
the kernel page by page before it is written: a third of the CPU seconds of classification + provisioning at
1M loans went to the kernel's page clearing. jemalloc with its decay turned off keeps freed pages and gives
them to the next allocation instead (bench/scale.py at 1M loans, interleaved runs: about 9% fewer CPU
seconds, no higher peak RSS). The pages stay with the process until it ends, which suits a run worker: it
ends with its run.
"""
from __future__ import annotations

import pyarrow as pa

_chosen = False


def keep_freed_memory() -> None:
    """Make Arrow's default pool jemalloc without decay, once per process; left as it is where this build of
    pyarrow has no jemalloc (the default pool then stays, correct and a little slower)."""
    global _chosen
    if _chosen:
        return
    _chosen = True
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(-1)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        return
    pa.set_memory_pool(pool)
