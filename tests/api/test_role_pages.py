"""The role pages tell the truth: each example of `docs/roles/*.md`, run against the demo
world as the user it names, answers exactly the JSON printed beneath it.

A page's examples run in their order on one world, as their reader would run them (a
grant, then the change of it); each page starts from a fresh demo world.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from demo import DemoWorld

ROLES = Path(__file__).resolve().parents[2] / "docs" / "roles"
PAGES = (
    "brand-frontend.md",
    "factory.md",
    "programme-assessor.md",
    "constituent.md",
    "platform-admin.md",
)

PART = re.compile(r"^## Examples$(?P<part>.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
SECTION = re.compile(r"^### (?P<title>.+?)$(?P<body>.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)
SIGNED_IN = re.compile(r"Signed in as `(?P<email>[^`]+)`")
GRAPHQL = re.compile(r"```graphql\n(?P<document>.*?)```", re.DOTALL)
JSON = re.compile(r"```json\n(?P<json>.*?)```", re.DOTALL)
OPERATION = re.compile(r"^(?:query|mutation) (?P<name>\w+)")


def examples(page: str) -> list[dict[str, Any]]:
    found = []
    part = PART.search((ROLES / page).read_text())
    assert part, f"{page} has a section '## Examples'"
    for section in SECTION.finditer(part["part"]):
        body = section["body"]
        document = GRAPHQL.search(body)
        blocks = [json.loads(m["json"]) for m in JSON.finditer(body)]
        signed_in = SIGNED_IN.search(body)
        assert document and signed_in, f"{page}, {section['title']}: a user and a document"
        assert len(blocks) in (1, 2), f"{page}, {section['title']}: [variables,] answer"
        operation = OPERATION.match(document["document"])
        assert operation, f"{page}, {section['title']}: name the operation"
        found.append(
            {
                "title": section["title"],
                "email": signed_in["email"],
                "document": document["document"],
                "operation": operation["name"],
                "variables": blocks[0] if len(blocks) == 2 else None,
                "answer": blocks[-1],
            }
        )
    return found


def test_every_role_has_a_page() -> None:
    assert sorted(p.name for p in ROLES.glob("*.md")) == sorted(PAGES)


@pytest.mark.parametrize("page", sorted(PAGES))
async def test_every_example_answers_what_the_page_shows(
    api: Any, world: DemoWorld, login: Any, page: str
) -> None:
    found = examples(page)
    assert found, page
    for example in found:
        caller = await login(example["email"])

        response = await api.client.post(
            "/graphql",
            json={
                "query": example["document"],
                "operationName": example["operation"],
                "variables": example["variables"],
            },
            headers={"authorization": f"Bearer {caller.token}"},
        )

        assert response.status_code == 200, response.text
        assert response.json() == example["answer"], (
            f"docs/roles/{page}, {example['title']!r} answers otherwise now:\n"
            f"{json.dumps(response.json(), indent=2)}"
        )
