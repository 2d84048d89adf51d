"""How often the planner answers, and why it does not.

A request the planner does not answer is correct (the standard executor answers it) but
costs the work the planner saves; a rise in ``fallback`` means values it does not take have
become common, in ``unplanned`` documents it does not know; ``failed`` counts planned reads
whose statements failed (the standard executor answered them, with its own errors).
"""

from __future__ import annotations

from prometheus_client import Counter

REQUESTS = Counter(
    "millgate_planner_requests",  # exposed as millgate_planner_requests_total
    "Queries the planner answered (planned), or handed to the standard executor: a "
    "document it does not plan (unplanned), values it does not take (fallback), or a planned "
    "read that failed (failed).",
    ["outcome"],
)
PLANNED = REQUESTS.labels(outcome="planned")
UNPLANNED = REQUESTS.labels(outcome="unplanned")
FALLBACK = REQUESTS.labels(outcome="fallback")
FAILED = REQUESTS.labels(outcome="failed")
