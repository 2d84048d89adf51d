"""Every code the API answers with is documented, once, with the same meaning everywhere.

The tables of `api/error_catalogue.py` are the source: the schema's descriptions are built
from them, `docs/errors.md` lists them, and the code raises no code they lack.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import GraphQLObjectType, build_schema

import exports.eligibility as rules
from api.error_catalogue import ELIGIBILITY_REASONS, REQUEST_ERROR_CODES, USER_ERROR_CODES
from api.gateway.eligibility import NO_SUCH_CYCLE
from api.schema import sdl

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"
DOCS = ROOT / "docs" / "errors.md"

CONSTANT = re.compile(r'^(?P<name>[A-Z_]+) = "(?P<value>[A-Z_]+)"$', re.MULTILINE)
USER_ERROR = re.compile(r'UserInputError\(\s*(?:"(?P<literal>[A-Z_]+)"|(?P<name>[A-Z_]+)\b)')
RESPONSE = re.compile(r'error_response\((?:[^()]|\([^()]*\))*?"(?P<code>[A-Z_]{4,})",?\s*\)')
# A code written straight into a JSON answer (the pure-ASGI refusals).
LITERAL = re.compile(r'"code": "(?P<code>[A-Z_]{4,})"')
ROW = re.compile(r"^\| `(?P<code>[A-Z_]+)` \| (?P<meaning>.+) \|$", re.MULTILINE)
SECTION = re.compile(r"^## (?P<title>.+?)$(?P<body>.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for path in API.rglob("*.py")}


def _constants() -> dict[str, str]:
    found: dict[str, str] = {}
    for text in _sources().values():
        found.update((m["name"], m["value"]) for m in CONSTANT.finditer(text))
    return found


def test_every_user_error_code_raised_is_in_the_catalogue() -> None:
    constants = _constants()
    raised = {"NOT_FOUND"}  # api.errors.not_found()
    for text in _sources().values():
        for match in USER_ERROR.finditer(text):
            raised.add(match["literal"] or constants[match["name"]])

    assert raised - USER_ERROR_CODES.keys() == set(), "codes raised but not documented"
    assert USER_ERROR_CODES.keys() - raised == set(), "documented codes nothing raises"


def test_every_request_error_code_is_in_the_catalogue() -> None:
    answered = {"BAD_ARGUMENT", "IDEMPOTENCY_KEY_REUSED"}  # BadArgument's default, by name
    for path, text in _sources().items():
        answered.update(m["code"] for m in RESPONSE.finditer(text))
        answered.update(m["code"] for m in LITERAL.finditer(text))
        # The request-level refusals name their codes as constants.
        if path.name in ("error_codes.py", "documents.py", "operations.py"):
            answered.update(m["value"] for m in CONSTANT.finditer(text))

    assert answered - REQUEST_ERROR_CODES.keys() == set(), "codes answered but not documented"
    assert REQUEST_ERROR_CODES.keys() - answered == set(), "documented codes nothing answers"


def test_every_eligibility_reason_is_in_the_catalogue() -> None:
    reasons = {
        value
        for name, value in vars(rules).items()
        if name.isupper() and isinstance(value, str) and value == name
    } | {NO_SUCH_CYCLE}

    assert reasons == set(ELIGIBILITY_REASONS)


@pytest.mark.parametrize(
    "codes", [USER_ERROR_CODES, ELIGIBILITY_REASONS], ids=["UserError.code", "reasons"]
)
def test_the_schema_describes_every_code(codes: dict[str, str]) -> None:
    printed = sdl()

    for code, meaning in codes.items():
        assert f"- {code}: {meaning}" in printed, code


@pytest.mark.parametrize(
    ("heading", "codes"),
    [
        ("UserError.code", USER_ERROR_CODES),
        ("extensions.code", REQUEST_ERROR_CODES),
        ("GatewayEligibility.reasons", ELIGIBILITY_REASONS),
    ],
)
def test_the_docs_list_every_code_with_its_meaning(heading: str, codes: dict[str, str]) -> None:
    (section,) = [s for s in SECTION.finditer(DOCS.read_text()) if heading in s["title"]]

    rows = {m["code"]: m["meaning"] for m in ROW.finditer(section["body"])}

    assert rows == dict(codes)


def test_every_connection_has_a_total_count_and_page_info() -> None:
    schema = build_schema(sdl())
    connections = [
        t
        for name, t in schema.type_map.items()
        if name.endswith("Connection") and isinstance(t, GraphQLObjectType)
    ]

    assert len(connections) >= 7
    for connection in connections:
        assert {"totalCount", "pageInfo", "edges"} <= connection.fields.keys(), connection.name
