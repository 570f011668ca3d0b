"""How often the ingest lets Python's cyclic garbage collector run.

The ingest allocates a few hundred objects per message (decoded models, rows, incident renderings),
and nearly all of them are freed by reference counting, not by the cyclic collector. At CPython's
default threshold (700 allocations) the young generation is collected every few messages, and each
collection that promotes survivors brings the next full collection, which walks the whole heap: the
engine's open clusters, the grid index and everything the process holds. That cost grows with the heap,
so the ingest was slower the longer it ran (bench/ingest_throughput.py: 3,234 alerts/s over 100,000
alerts against about 6,000/s over 30,000). Collecting young objects every 50,000 allocations instead
gave 6,702/s over 100,000 in the same bench; cyclic garbage, which the ingest rarely makes, still goes,
only later.
"""

from __future__ import annotations

import gc

PYTHON_DEFAULT = 700


def apply_gc_threshold(young: int) -> tuple[int, ...]:
    """Collect the young generation every ``young`` allocations (older ones as CPython does);
    returns the thresholds that were in force, for a caller that wants them back."""
    if young < 1:
        raise ValueError(f"gc threshold must be at least 1 (0 would turn the collector off), not {young}")
    previous = gc.get_threshold()
    gc.set_threshold(young, *previous[1:])
    return previous
