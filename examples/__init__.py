"""Runnable examples of Millgate clients, checked by the tests and by mypy."""
