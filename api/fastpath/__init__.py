"""A faster executor for the same GraphQL answers, switched by the setting ``fast_executor``
(``MILLGATE_FAST_EXECUTOR``); its fallbacks are counted in ``millgate_fastpath_fallbacks_total``.

See :mod:`api.fastpath.executor` for what it does and why its answers are the standard
executor's; ``tests/perf/test_fastpath_equivalence.py`` holds it to that.
"""

from api.fastpath.executor import FastExecutor, executor_class
from api.fastpath.metrics import FALLBACKS
from api.fastpath.plain import plain

__all__ = ["FALLBACKS", "FastExecutor", "executor_class", "plain"]
