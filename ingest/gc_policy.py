"""How often the ingest lets Python's cyclic garbage collector run.

The ingest allocates a few hundred objects per message (decoded models, rows, incident renderings),
and nearly all of them are freed by reference counting, not by the cyclic collector. At CPython's
default threshold (700 allocations) the young generation is collected every few messages, and each
collection that promotes survivors brings the next full collection, which walks the whole heap: the
engine's open clusters, the grid index and everything the process holds. That cost grows with the heap,
so the ingest was slower the longer it ran. bench/ingest_throughput.py over 100,000 alerts, the two
settings alternating (README, "Ingest speed"): 4,101 and 4,128 alerts/s at 700, 6,079 and 5,977 at
50,000, and the ingest's CPU per alert from 189 to 120 us. Cyclic garbage, which the ingest rarely
makes, still goes, only later.
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
