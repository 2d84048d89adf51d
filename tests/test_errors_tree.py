"""The exception tree drawn in core/errors.py is the tree of its classes."""

from __future__ import annotations

import inspect
import re

from core import errors

TREE_LINE = re.compile(r"^\s{4}(?P<indent>(?:[│ ] {3})*)(?:[├└]── )?(?P<name>[A-Z]\w+)\s")


def drawn_tree() -> dict[str, str | None]:
    """Each class the docstring draws, with the class drawn as its parent."""
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        found = TREE_LINE.match(line)
        if found is None:
            continue
        depth = len(found["indent"]) // 4 + (0 if line.strip()[0].isalpha() else 1)
        del stack[depth:]
        parents[found["name"]] = stack[-1] if stack else None
        stack.append(found["name"])
    return parents


def test_given_the_module_docstring_when_read_then_it_draws_every_class_under_its_parent() -> None:
    classes = {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__ == errors.__name__
    }
    actual = {
        name: (None if cls is errors.MillgateError else cls.__base__.__name__)
        for name, cls in classes.items()
    }
    assert drawn_tree() == actual


def test_given_each_class_when_documented_then_it_says_when_it_is_raised() -> None:
    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, Exception) and cls.__module__ == errors.__name__:
            assert (cls.__doc__ or "").startswith("Raised "), name
