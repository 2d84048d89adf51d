"""Every resolver marked ``@plain`` only reads its object: the fast executor calls it without
``info``, may call it twice, and runs it where no session, context or loader is at hand.

Read from each marked function's own source (its AST) and code object: a synchronous
function of ``self`` alone, with no ``await``, no generator, no ``global``, no import, no
``with`` or ``try`` (the shapes of I/O), that names nothing but ``self``, its own locals,
safe builtins and the pure helpers listed below, and calls only those.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import GraphQLObjectType

from api.fastpath.plain import MARK
from api.schema import build_schema
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Names a plain resolver may use besides ``self`` and its locals: pure functions of their
# arguments and constants. A new one needs a reason here.
PURE_NAMES = {
    "cursor_of": "api.pagination: encodes a key, no I/O",
    "DETAIL_PURPOSE": "core.crypto: a constant",
}
# Calls on the object's own attributes that stay pure (dotted from ``self``).
PURE_METHODS = {
    "self.cipher.decrypt": "core.crypto.FieldCipher: AES-GCM over the bytes it is given",
}
SAFE_BUILTINS = {"None", "True", "False", "len", "str", "int", "bool", "tuple", "sorted"}
FORBIDDEN_NODES = (
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Global,
    ast.Nonlocal,
    ast.Import,
    ast.ImportFrom,
    ast.With,
    ast.AsyncWith,
    ast.AsyncFor,
    ast.Try,
    ast.Lambda,
)
FORBIDDEN_ATTRIBUTES = {"info", "context", "session", "db", "runtime", "loaders", "enforcer"}


def plain_resolvers() -> dict[str, Callable[..., Any]]:
    """Type.field -> the function behind every field whose resolver is marked @plain."""
    schema = build_schema(Settings())._schema
    found: dict[str, Callable[..., Any]] = {}
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            resolver = getattr(definition, "base_resolver", None)
            fn = getattr(resolver, "wrapped_func", None)
            if fn is not None and getattr(fn, MARK, False):
                found[f"{type_.name}.{name}"] = fn
    return found


PLAIN = plain_resolvers()


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def problems(fn: Callable[..., Any]) -> list[str]:
    found = []
    code = fn.__code__
    if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn):
        found.append("is a coroutine or a generator")
    if code.co_argcount != 1 or code.co_kwonlyargcount or code.co_flags & 0x0C:
        found.append("takes more than self")
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
    if isinstance(function, ast.AsyncFunctionDef):
        found.append("is async")
    local = {"self"} | {
        n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    for node in ast.walk(ast.Module(body=function.body, type_ignores=[])):
        if isinstance(node, FORBIDDEN_NODES):
            found.append(f"line {node.lineno}: {type(node).__name__}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in local | set(PURE_NAMES) | SAFE_BUILTINS:
                found.append(f"line {node.lineno}: names {node.id!r}")
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: reads .{node.attr}")
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            allowed = set(PURE_NAMES) | SAFE_BUILTINS | set(PURE_METHODS)
            if name not in allowed:
                found.append(f"line {node.lineno}: calls {name or ast.unparse(node.func)}")
    return found


def test_the_plain_resolvers_are_found() -> None:
    marked = sum(path.read_text().count("@plain\n") for path in (ROOT / "api").rglob("*.py"))
    assert PLAIN, "no @plain resolver found in the schema: this test would check nothing"
    assert len(PLAIN) >= marked, f"@plain used {marked} times, {len(PLAIN)} found: {PLAIN}"


@pytest.mark.parametrize("field", sorted(PLAIN))
def test_a_plain_resolver_only_reads_its_object(field: str) -> None:
    assert problems(PLAIN[field]) == [], (
        f"{field} is marked @plain but does more than read its object; remove the mark, or, "
        "if what it calls is pure, list it in PURE_NAMES / PURE_METHODS with the reason"
    )


def test_the_check_refuses_what_is_not_plain() -> None:
    class Sample:
        cipher: Any

        async def awaits(self) -> Any:
            return await self.cipher.load()

        def reads_context(self, info: Any) -> Any:
            return info.context.session

        def does_io(self) -> Any:
            with open("/etc/hostname") as handle:
                return handle.read()

        def plain(self) -> Any:
            return self.cipher.decrypt(str(len("x")), DETAIL_PURPOSE)

    assert problems(Sample.awaits)
    assert problems(Sample.reads_context)
    assert problems(Sample.does_io)
    assert problems(Sample.plain) == []


DETAIL_PURPOSE = "a constant, as in core.crypto"
