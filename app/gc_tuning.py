"""The garbage collector in a serving process: collect request-scoped garbage far less often.

A ``recordEvents`` request of 500 events keeps tens of thousands of containers alive until it answers (the
parsed body, coerced inputs, events, records, rows). With Python's default first-generation threshold (700
allocations) the collector runs dozens of times per such request, traversing the same live objects again and
promoting them, and every so often a full collection traverses the whole heap (~140,000 objects of the
schema, SQLAlchemy and pydantic after start-up): about 14 µs of CPU an event, 7% of the request, measured
with ``gc.callbacks`` around scripts/probe_ingest.py's requests
(``--gc-threshold 0`` against the default). Reference counting frees nearly all of it anyway;
the collector is only needed for cycles. So a serving process, once started, freezes what start-up built
(``gc.freeze``: never collectable garbage, and never traversed again) and raises the first threshold
(``AUDIT_GC_THRESHOLD``; 0 leaves the collector as Python set it).

The first generation counts container objects allocated minus freed, so the threshold has to exceed what
requests in flight hold at their peak, not what they allocate. At 20,000 (the first default), batches of
1,000 (the largest a request may send) still triggered collections: under 10 s of ``gwbench.mjs d1000`` the
server spent 1.26 s of its 14.5 s of CPU in collections, start-up's included (``gc.callbacks``); at 200,000,
0.45 s. What can wait is cyclic garbage only (reference counting frees the rest at once), at most 200,000
objects' worth.
tests/test_gc_tuning.py counts the collections during one such request at each threshold.
"""

from __future__ import annotations

import gc

TUNED: list[int] = []
"""The thresholds this process set (empty: untouched), for tests and diagnostics."""


def tune_collector(threshold: int) -> None:
    """Freeze the start-up heap and set the first generation's threshold, once per process; 0 or less: nothing."""
    if threshold <= 0 or TUNED:
        return
    gc.collect()
    gc.freeze()
    _, second, third = gc.get_threshold()
    gc.set_threshold(threshold, second, third)
    TUNED[:] = [threshold, second, third]
