"""A faster executor for the same GraphQL answers, switched by ``MILLGATE_FAST_EXECUTOR``.

See :mod:`api.fastpath.executor` for what it does and why its answers are the standard
executor's; ``tests/perf/test_fastpath_equivalence.py`` holds it to that.
"""

from api.fastpath.executor import FastExecutor, executor_class, fast_executor_enabled
from api.fastpath.plain import plain

__all__ = ["FastExecutor", "executor_class", "fast_executor_enabled", "plain"]
