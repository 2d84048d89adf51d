"""The garbage collector, set for a long-running server process.

A brand page allocates hundreds of thousands of short-lived objects; each time CPython's
youngest generation fills (700 allocations by default) it scans it, and every so often
it scans the whole heap: the schema, the ORM's mappers and caches, the loaded modules.
Measured in-process on a brand page (``bench/``), those scans took about a quarter of a
request's CPU time (~95 against ~70 ms). Freezing what exists once the app has started
moves it out of every future scan (``gc.freeze``), and a larger youngest generation makes
the scans rarer; what a request leaves behind in cycles is still collected.
"""

from __future__ import annotations

import gc

# Python's own: raising these too saved little more CPU and let the heap grow (an
# in-process brand-page loop: 216 MB and rising with (50, 100), level at ~155 MB with
# (10, 10), 125 MB with no tuning at all).
OLDER_THRESHOLDS = (10, 10)


def tune_for_serving(young_threshold: int) -> None:
    """Call once the app has started. ``young_threshold`` 0 keeps Python's thresholds."""
    gc.collect()
    gc.freeze()
    if young_threshold > 0:
        gc.set_threshold(young_threshold, *OLDER_THRESHOLDS)
