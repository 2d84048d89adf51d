"""enableUser undoes disableUser: with the same authority (a factory's users are its managers',
others' the platform's), audit-logged, and old tokens stay dead."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.support import codes, gid, refused, row_counts, scalar

VIEWER = "{ viewer { user { email } } }"

DISABLE = """
mutation Disable($input: DisableUserInput!) {
  disableUser(input: $input) { user { id disabledAt } errors { code message field } }
}
"""

ENABLE = """
mutation Enable($input: EnableUserInput!) {
  enableUser(input: $input) { user { id email disabledAt } errors { code message field } }
}
"""


async def test_an_enabled_user_signs_in_again_but_old_tokens_stay_refused(
    api: Any, session: AsyncSession, admin: Any, brand: Any
) -> None:
    # given the brand's viewer with a token of ten seconds ago, disabled five seconds ago
    # (token times count whole seconds: the gaps keep them apart)
    old_token = api.runtime.token_service.issue(brand.user_id, 600, now=int(time.time()) - 10)
    assert (await api.post(VIEWER, token=old_token)).status_code == 200
    user = {"input": {"userId": gid("User", brand.user_id)}}
    disabled = await api.gql(DISABLE, user, **admin.auth)
    assert disabled["disableUser"]["user"]["disabledAt"] is not None
    await session.execute(
        text("UPDATE app_user SET disabled_at = :at WHERE id = :id"),
        {"at": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5), "id": brand.user_id},
    )
    await session.commit()
    before = await row_counts(session)

    # when the platform enables it again
    data = await api.gql(ENABLE, user, **admin.auth)

    # then it is enabled, the change is in the audit trail, and a new token works...
    payload = data["enableUser"]
    assert payload["errors"] == []
    assert payload["user"]["disabledAt"] is None
    after = await row_counts(session)
    assert after["audit_entry"] == before["audit_entry"] + 1
    action = await scalar(session, "SELECT action FROM audit_entry ORDER BY seq DESC LIMIT 1")
    assert action == "user.enable"
    fresh = api.runtime.token_service.issue(brand.user_id, 600)
    assert (await api.gql(VIEWER, token=fresh))["viewer"]["user"]["email"] == brand.email
    # ...while the token held before the disable stays refused
    response = await api.post(VIEWER, token=old_token)
    assert response.status_code == 401


async def test_a_user_never_disabled_keeps_its_tokens_when_enabled(
    api: Any, admin: Any, brand: Any
) -> None:
    data = await api.gql(ENABLE, {"input": {"userId": gid("User", brand.user_id)}}, **admin.auth)

    assert data["enableUser"]["errors"] == []
    assert (await api.post(VIEWER, token=brand.token)).status_code == 200


async def test_enable_user_of_no_user_is_not_found(
    api: Any, session: AsyncSession, admin: Any
) -> None:
    for user_id in (gid("User", 999_999), "garbage"):
        payload = await refused(api, session, ENABLE, {"input": {"userId": user_id}}, admin.auth)

        assert [(e["code"], e["field"]) for e in payload["errors"]] == [("NOT_FOUND", "userId")]


@pytest.mark.parametrize("caller", ["manager", "other_brand", "assessor", "host_key", "anonymous"])
async def test_only_the_platform_enables_the_users_of_other_organisations(
    api: Any,
    session: AsyncSession,
    auth_of: dict[str, dict[str, str]],
    admin: Any,
    brand: Any,
    caller: str,
) -> None:
    user = {"input": {"userId": gid("User", brand.user_id)}}
    await api.gql(DISABLE, user, **admin.auth)

    payload = await refused(api, session, ENABLE, user, auth_of[caller])

    assert codes(payload) == ["FORBIDDEN"]
    assert await scalar(
        session, "SELECT disabled_at FROM app_user WHERE id = :id", id=brand.user_id
    )


async def test_a_factory_s_managers_alone_enable_its_users(
    api: Any, session: AsyncSession, admin: Any, manager: Any, worker_rep: Any
) -> None:
    """Rule 1: a factory's membership is its managers' (the platform gets FORBIDDEN)."""
    user = {"input": {"userId": gid("User", worker_rep.user_id)}}
    disabled = await api.gql(DISABLE, user, **manager.auth)
    assert disabled["disableUser"]["errors"] == []

    by_platform = await refused(api, session, ENABLE, user, admin.auth)
    by_manager = await api.gql(ENABLE, user, **manager.auth)

    assert codes(by_platform) == ["FORBIDDEN"]
    assert by_manager["enableUser"]["errors"] == []
    assert by_manager["enableUser"]["user"]["disabledAt"] is None
    sinar = await scalar(
        session, "SELECT id FROM factory WHERE organization_id = :o", o=manager.organization_id
    )
    entry = await scalar(
        session,
        "SELECT factory_id FROM audit_entry WHERE action = 'user.enable' ORDER BY seq DESC",
    )
    assert entry == sinar
