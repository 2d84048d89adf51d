"""The README's example queries tell the truth: each, run against the demo world, answers
exactly the JSON printed beneath it.

The examples run in the order of the page, as their users would: the brand first, so that
the factory's access log shows the brand's read; the export job before the host's pull.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from demo import DemoWorld
from exports.job import run_once

# Tests here read one shared copy of the world; a test that writes is marked `writes`.
pytestmark = pytest.mark.reads_only

README = Path(__file__).resolve().parents[2] / "README.md"

PART = re.compile(r"^## Example queries$(?P<part>.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
SECTION = re.compile(r"^### (?P<title>.+?)$(?P<body>.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)
SIGNED_IN = re.compile(r"Signed in as `(?P<email>[^`]+)`")
GRAPHQL = re.compile(r"```graphql\n(?P<document>.*?)```", re.DOTALL)
ANSWER = re.compile(r"```json\n(?P<answer>.*?)```", re.DOTALL)
OPERATION = re.compile(r"^query (?P<name>\w+)")


def examples() -> list[dict[str, Any]]:
    found = []
    part = PART.search(README.read_text())
    assert part, "the README has a section '## Example queries'"
    for section in SECTION.finditer(part["part"]):
        body = section["body"]
        document, answer = GRAPHQL.search(body), ANSWER.search(body)
        assert document and answer, f"{section['title']}: a graphql block and its json answer"
        signed_in = SIGNED_IN.search(body)
        operation = OPERATION.match(document["document"])
        assert operation, f"{section['title']}: name the operation (the access log shows it)"
        found.append(
            {
                "title": section["title"],
                "email": signed_in["email"] if signed_in else None,
                "document": document["document"],
                "operation": operation["name"],
                "answer": json.loads(answer["answer"]),
            }
        )
    return found


async def test_the_page_has_three_examples() -> None:
    assert [e["email"] for e in examples()] == [
        "viewer@northwind-apparel.demo",
        "manager@sinar-garmen.demo",
        None,
    ]


@pytest.mark.writes
async def test_every_example_answers_what_the_page_shows(
    api: Any, world: DemoWorld, login: Any
) -> None:
    exported = False
    for example in examples():
        headers = {}
        if example["email"] is not None:
            caller = await login(example["email"])
            headers["authorization"] = f"Bearer {caller.token}"
        else:  # the host integration, after the export job
            if not exported:
                await run_once(api.runtime.sessionmaker, api.runtime.keys)
                exported = True
            headers["x-api-key"] = world.host_api_key

        response = await api.client.post(
            "/graphql",
            json={"query": example["document"], "operationName": example["operation"]},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert response.json() == example["answer"], (
            f"README.md, {example['title']!r} answers otherwise now:\n"
            f"{json.dumps(response.json(), indent=2)}"
        )


@pytest.mark.parametrize("example", examples(), ids=lambda e: e["operation"])
def test_every_example_stays_within_the_query_limits(example: dict[str, Any]) -> None:
    # a copy-pasted example must run as it stands: no more than 12 levels deep
    depth = max_depth = 0
    for char in example["document"]:
        depth += {"{": 1, "}": -1}.get(char, 0)
        max_depth = max(max_depth, depth)
    assert max_depth <= 12
