"""The answer's dicts straight from rows: one function per connection level, generated once
per plan from its selection, so that a request pays one dict display per object and no call
per field.

Each level's function takes the rows of one page ``P`` (tuples of columns, in the layouts
of :mod:`api.planner.rows`), its ``totalCount`` ``T``, whether a next page exists ``M``, and
the nested level's answers by parent id (``X``). Values are written as graphql-core would
serialize them: global ids and cursors are the same base64 texts as :mod:`api.ids` makes,
dates ISO 8601, enums their member names, ``detail`` decrypted as ``Finding.detail`` does.
Response keys are GraphQL names (validated), written with ``repr``.
"""

from __future__ import annotations

import datetime as dt
from binascii import b2a_base64
from collections.abc import Callable
from typing import Any

import models as m
from api.planner.grammar import TYPENAME, Item
from api.planner.rows import ASSESSMENT, COUNTRY, FACTORY, FINDING
from core.crypto import DETAIL_PURPOSE, FieldCipher

Build = Callable[..., Any]


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _enc(text: str) -> str:
    """:func:`api.ids._enc` (base64url without padding), with one call less per step."""
    return b2a_base64(text.encode(), newline=False).translate(_URLSAFE).rstrip(b"=").decode()


def _date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


# Per node type: field -> expression over the row variable ``{r}``.
_NODE_FIELDS: dict[str, dict[str, str]] = {
    "Factory": {
        "id": f"_enc('Factory:' + str({{r}}[{FACTORY['id']}]))",
        "name": f"{{r}}[{FACTORY['name']}]",
        "enrolledOn": f"_date({{r}}[{FACTORY['enrolled_on']}])",
        "highPerformance": f"{{r}}[{FACTORY['high_performance']}]",
        "assessments": f"X[{{r}}[{FACTORY['id']}]]",
    },
    "Country": {
        "code": f"{{r}}[{COUNTRY['code']}]",
        "name": f"{{r}}[{COUNTRY['name']}]",
        "slcpRolloutOn": f"_date({{r}}[{COUNTRY['slcp_rollout_on']}])",
        "overlayVersion": f"{{r}}[{COUNTRY['overlay_version']}]",
        "betterWorkProgramme": f"{{r}}[{COUNTRY['betterwork_programme']}]",
    },
    "Assessment": {
        "id": f"_enc('Assessment:' + str({{r}}[{ASSESSMENT['id']}]))",
        "cycle": f"{{r}}[{ASSESSMENT['cycle_number']}]",
        "kind": f"{{r}}[{ASSESSMENT['kind']}]",
        "assessedOn": f"{{r}}[{ASSESSMENT['assessed_on']}].isoformat()",
        "status": f"{{r}}[{ASSESSMENT['status']}]",
        "releasedOn": f"_date({{r}}[{ASSESSMENT['released_on']}])",
        "gatewayReleaseOn": f"_date({{r}}[{ASSESSMENT['gateway_release_on']}])",
        "virtual": f"({{r}}[{ASSESSMENT['kind']}] == _VIRTUAL)",
        "findings": f"X[{{r}}[{ASSESSMENT['id']}]]",
    },
    "Finding": {
        "id": f"_enc('Finding:' + str({{r}}[{FINDING['id']}]))",
        "cluster": f"{{r}}[{FINDING['cluster']}]",
        "compliancePoint": f"{{r}}[{FINDING['compliance_point']}]",
        "questionCode": f"{{r}}[{FINDING['question_code']}]",
        "nonCompliant": f"{{r}}[{FINDING['non_compliant']}]",
        "publicReporting": f"{{r}}[{FINDING['public_reporting']}]",
        "zeroTolerance": f"{{r}}[{FINDING['zero_tolerance']}]",
        "detail": f"_detail({{r}}[{FINDING['detail_encrypted']}])",
    },
}

# Per connection: its edge type, its node type, and the cursor of a row ``{r}``.
_CONNECTIONS: dict[str, tuple[str, str, str]] = {
    "FactoryConnection": ("FactoryEdge", "Factory", f"_enc(str({{r}}[{FACTORY['id']}]))"),
    "AssessmentConnection": (
        "AssessmentEdge",
        "Assessment",
        f"_enc(str({{r}}[{ASSESSMENT['assessed_on']}]) + '|' + str({{r}}[{ASSESSMENT['id']}]))",
    ),
    "FindingConnection": ("FindingEdge", "Finding", f"_enc(str({{r}}[{FINDING['id']}]))"),
}


def _object(type_name: str, items: list[Item], r: str) -> str:
    parts = []
    for item in items:
        if item.name == TYPENAME:
            value = repr(type_name)
        elif type_name == "Factory" and item.name == "country":
            assert item.selection is not None
            value = _object("Country", item.selection, r)
        else:
            value = _NODE_FIELDS[type_name][item.name].format(r=r)
        parts.append(f"{item.key!r}: {value}")
    return "{" + ", ".join(parts) + "}"


def _connection(type_name: str, items: list[Item]) -> str:
    """The connection's dict over ``P``, ``T``, ``M`` (and ``X`` in its nodes)."""
    edge_type, node_type, cursor = _CONNECTIONS[type_name]
    parts = []
    for item in items:
        if item.name == TYPENAME:
            value = repr(type_name)
        elif item.name == "totalCount":
            value = "T"
        elif item.name == "pageInfo":
            assert item.selection is not None
            info = []
            for field in item.selection:
                if field.name == TYPENAME:
                    info.append(f"{field.key!r}: 'PageInfo'")
                elif field.name == "hasNextPage":
                    info.append(f"{field.key!r}: M")
                else:
                    end = cursor.format(r="P[-1]")
                    info.append(f"{field.key!r}: ({end} if P else None)")
            value = "{" + ", ".join(info) + "}"
        else:  # edges
            assert item.selection is not None
            edge = []
            for field in item.selection:
                if field.name == TYPENAME:
                    edge.append(f"{field.key!r}: {edge_type!r}")
                elif field.name == "cursor":
                    edge.append(f"{field.key!r}: {cursor.format(r='r')}")
                else:
                    assert field.selection is not None
                    edge.append(f"{field.key!r}: {_object(node_type, field.selection, 'r')}")
            value = "[{" + ", ".join(edge) + "} for r in P]"
        parts.append(f"{item.key!r}: {value}")
    return "{" + ", ".join(parts) + "}"


def connection_builder(type_name: str, items: list[Item], cipher: FieldCipher) -> Build:
    """``build(P, T, M, X) -> dict``: one connection's answer."""
    source = f"def build(P, T, M, X):\n    return {_connection(type_name, items)}\n"
    return _compiled(source, cipher)


def root_builder(items: list[Item], cipher: FieldCipher) -> Build:
    """``build(P, T, M, X) -> dict``: the operation's ``data``, its one ``factories`` field
    (and any ``__typename``)."""
    parts = []
    for item in items:
        if item.name == TYPENAME:
            parts.append(f"{item.key!r}: 'Query'")
        else:
            assert item.selection is not None
            parts.append(f"{item.key!r}: {_connection('FactoryConnection', item.selection)}")
    source = "def build(P, T, M, X):\n    return {" + ", ".join(parts) + "}\n"
    return _compiled(source, cipher)


def _compiled(source: str, cipher: FieldCipher) -> Build:
    decrypt = cipher.decrypt

    def detail(encrypted: str | None) -> str | None:
        return None if encrypted is None else decrypt(encrypted, DETAIL_PURPOSE)

    namespace: dict[str, Any] = {
        "_enc": _enc,
        "_date": _date,
        "_detail": detail,
        "_VIRTUAL": m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK.name,
    }
    exec(compile(source, "<api.planner>", "exec"), namespace)  # noqa: S102 - our own source
    built: Build = namespace["build"]
    return built
