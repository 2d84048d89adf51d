"""A factory's users are its own (rule 1): the platform never adds or removes them.

The programme names the first manager when it enrols the factory; after that the factory's
managers alone add and remove its users, and each change is in the factory's audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.ids import from_global_id
from demo import DemoWorld
from tests.api.support import SINAR, factory_gid, gid, org_gid, refused, scalar

CREATE_USER = """
mutation CreateUser($input: CreateUserInput!) {
  createUser(input: $input) { user { id email role } errors { code field } }
}
"""
DISABLE_USER = """
mutation DisableUser($input: DisableUserInput!) {
  disableUser(input: $input) { user { id } errors { code field } }
}
"""
ENROLL = """
mutation Enroll($input: EnrollFactoryInput!) {
  enrollFactory(input: $input) { factory { id } errors { code field } }
}
"""
AUDIT = """
query Audit($id: ID!) {
  factory(id: $id) { auditLog(first: 20) { edges { node { action target } } } }
}
"""


def _new_user(world: DemoWorld, role: str = "FACTORY_MANAGER") -> dict[str, Any]:
    return {
        "input": {
            "organizationId": org_gid(world, "sinar-garmen"),
            "email": "second.manager@sinar-garmen.example",
            "role": role,
        }
    }


@pytest.mark.parametrize("role", ["FACTORY_MANAGER", "WORKER_REPRESENTATIVE"])
async def test_the_platform_cannot_add_a_user_to_a_factory(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any, role: str
) -> None:
    payload = await refused(api, session, CREATE_USER, _new_user(world, role), admin.auth)

    assert payload["errors"] == [{"code": "FORBIDDEN", "field": "organizationId"}]


async def test_the_platform_cannot_remove_a_factorys_user(
    api: Any, world: DemoWorld, session: AsyncSession, admin: Any, worker_rep: Any
) -> None:
    variables = {"input": {"userId": gid("User", worker_rep.user_id)}}

    payload = await refused(api, session, DISABLE_USER, variables, admin.auth)

    assert payload["errors"] == [{"code": "FORBIDDEN", "field": "userId"}]


async def test_a_worker_representative_cannot_add_a_user(
    api: Any, world: DemoWorld, session: AsyncSession, worker_rep: Any
) -> None:
    payload = await refused(api, session, CREATE_USER, _new_user(world), worker_rep.auth)

    assert payload["errors"] == [{"code": "FORBIDDEN", "field": "organizationId"}]


async def test_a_manager_adds_and_removes_its_users_and_the_audit_log_tells(
    api: Any, world: DemoWorld, manager: Any
) -> None:
    created = await api.gql(CREATE_USER, _new_user(world, "WORKER_REPRESENTATIVE"), **manager.auth)
    user = created["createUser"]["user"]
    assert created["createUser"]["errors"] == []
    removed = await api.gql(DISABLE_USER, {"input": {"userId": user["id"]}}, **manager.auth)
    assert removed["disableUser"]["errors"] == []

    log = await api.gql(AUDIT, {"id": factory_gid(world, SINAR)}, **manager.auth)

    entries = [
        (e["node"]["action"], e["node"]["target"]) for e in log["factory"]["auditLog"]["edges"]
    ]
    pk = from_global_id(user["id"])
    assert pk is not None
    assert entries[:2] == [("user.disable", f"User:{pk[1]}"), ("user.create", f"User:{pk[1]}")]


async def test_a_manager_cannot_add_users_to_another_organisation(
    api: Any, world: DemoWorld, session: AsyncSession, manager: Any
) -> None:
    variables = {
        "input": {
            "organizationId": org_gid(world, "dhaka-knitwear"),
            "email": "someone@dhaka.example",
            "role": "FACTORY_MANAGER",
        }
    }

    payload = await refused(api, session, CREATE_USER, variables, manager.auth)

    assert payload["errors"][0]["code"] == "FORBIDDEN"


async def test_the_programme_names_the_first_manager_at_enrolment(
    api: Any, world: DemoWorld, session: AsyncSession, assessor: Any
) -> None:
    enrolled = await api.gql(
        ENROLL,
        {
            "input": {
                "name": "PT Baru Garmen",
                "country": "ID",
                "enrolledOn": dt.datetime.now(dt.UTC).date().isoformat(),
                "managerEmail": "First.Manager@baru-garmen.example",
            }
        },
        **assessor.auth,
    )

    assert enrolled["enrollFactory"]["errors"] == []
    role = await scalar(
        session,
        "SELECT u.role FROM app_user u JOIN organization o ON o.id = u.organization_id"
        " WHERE u.email = 'first.manager@baru-garmen.example' AND o.kind = 'FACTORY'",
    )
    assert role == "FACTORY_MANAGER"
    factory = await scalar(session, "SELECT id FROM factory WHERE name = 'PT Baru Garmen'")
    actions = await scalar(
        session,
        "SELECT count(*) FROM audit_entry WHERE factory_id = :f AND action = 'user.create'",
        f=factory,
    )
    assert actions == 1
