"""How often the fast executor hands a selection back to the standard way.

A fallback is correct (the standard executor then answers) but costs the work the fast way
saves, and a rise in it means a field the plans do not cover has become common. Registered
in prometheus_client's default registry, which the process's metrics endpoint exposes.
"""

from __future__ import annotations

from prometheus_client import Counter

FALLBACKS = Counter(
    "millgate_fastpath_fallbacks",  # exposed as millgate_fastpath_fallbacks_total
    "Selections the fast executor handed back to the standard executor, by where.",
    ["where"],
)
# Where a fallback happens: an object's inline leaf loop, a projected object, a projected list.
INLINE = FALLBACKS.labels(where="inline")
OBJECT = FALLBACKS.labels(where="object")
LIST = FALLBACKS.labels(where="list")
