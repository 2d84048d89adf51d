"""The access log names what the server read, and who read it, never the reader's own labels.

An event records the reader's user or API key (shown to the factory as an opaque global ID,
never an email: a brand's user is personal data) and every field path read, as the schema
names it: aliases and `operationName` are the reader's to choose and do not enter the log.
"""

from __future__ import annotations

from typing import Any

from api.ids import from_global_id
from demo import DemoWorld
from tests.api.support import SINAR, factory_gid, gid, gql_named

LOG = """
query Log($id: ID!) {
  factory(id: $id) {
    accessLog(first: 10) {
      edges { node { operation fields readerId via organization { name } } }
    }
  }
}
"""

# A reader who would like its read to look like something else.
DISGUISED = """
query Innocent {
  harmless: factories(first: 5) {
    edges { node { nothing: name
      history: assessments(first: 1) { edges { node { f: findings { totalCount } } } } } }
  }
}
"""

ENROLLED = "query Directory { enrolledFactories(first: 100) { name slcpGatewayId } }"


async def _newest(api: Any, world: DemoWorld, manager: Any) -> dict[str, Any]:
    log = await api.gql(LOG, {"id": factory_gid(world, SINAR)}, **manager.auth)
    edges = log["factory"]["accessLog"]["edges"]
    assert edges, "no access event recorded"
    return edges[0]["node"]  # type: ignore[no-any-return]


async def test_an_event_names_the_fields_the_server_read_not_the_readers_labels(
    api: Any, world: DemoWorld, manager: Any, brand: Any
) -> None:
    # when a brand reads Sinar Garmen's findings under an operation name and aliases of its own
    await gql_named(api, DISGUISED, "Innocent", token=brand.token)

    # then the factory's log names the schema's fields and the brand's user, by id only
    event = await _newest(api, world, manager)
    assert event == {
        "operation": "query:factories",
        "fields": ["factories", "factories.assessments", "factories.assessments.findings"],
        "readerId": gid("User", brand.user_id),
        "via": "USER",
        "organization": {"name": "Northwind Apparel"},
    }
    assert brand.email not in str(event)


async def test_a_host_reading_the_enrolled_list_is_in_the_factorys_log(
    api: Any, world: DemoWorld, manager: Any, host_key: dict[str, str]
) -> None:
    # when a host reads the rolling list, which names Sinar Garmen and its Gateway ID
    listed = await api.gql(ENROLLED, **host_key)
    assert "SLCP-ID-000101" in {f["slcpGatewayId"] for f in listed["enrolledFactories"]}

    # then Sinar Garmen sees the read, by the host's API key
    event = await _newest(api, world, manager)
    assert event["operation"] == "query:enrolledFactories"
    assert event["fields"] == ["enrolledFactories"]
    assert event["via"] == "API_KEY"
    kind, _ = from_global_id(event["readerId"]) or ("", 0)
    assert kind == "ApiKey"
    assert event["organization"] == {"name": "Open Audit Hub"}
