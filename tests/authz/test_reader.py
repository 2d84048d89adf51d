"""A reader's identity as parameters of the scoped statements (authz.reader): a statement
built for a stand-in of one shape names its reader only in the reader parameters, so it
serves every reader of that shape with each one's own identity (api.planner keeps them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import models as m
from authz.principal import Principal
from authz.reader import ReaderLiteral, check_free, stand_in, values
from authz.rules import Shape
from authz.scope import Scope

K = m.OrganizationKind
PRINCIPALS = {
    "brand": Principal(7, K.BRAND, m.Role.BRAND_VIEWER, user_id=3),
    "host": Principal(8, K.HOST, m.Role.HOST_INTEGRATION, api_key_id=4),
    "factory": Principal(9, K.FACTORY, m.Role.FACTORY_MANAGER, user_id=5, factory_id=11),
    "programme": Principal(10, K.PROGRAMME, m.Role.ASSESSOR, user_id=6, country_code="ID"),
    "inspectorate": Principal(
        12, K.CONSTITUENT, m.Role.CONSTITUENT_VIEWER, 1, None, "VN", labour_inspectorate=True
    ),
    "platform": Principal(13, K.PLATFORM, m.Role.PLATFORM_ADMIN, user_id=2),
    "anonymous": Principal.anonymous(),
}


@pytest.mark.parametrize("principal", PRINCIPALS.values(), ids=PRINCIPALS.keys())
def test_a_stand_in_has_the_readers_shape_and_none_of_its_identity(principal: Principal) -> None:
    found = stand_in(principal)

    assert Shape.of(found) == Shape.of(principal)
    assert (found.organization_kind, found.role) == (principal.organization_kind, principal.role)
    assert (found.user_id, found.api_key_id) == (None, None)
    for mine, its in zip(values(principal).values(), values(found).values(), strict=True):
        assert (mine is None) == (its is None)
        assert mine is None or mine != its


@pytest.mark.parametrize("principal", PRINCIPALS.values(), ids=PRINCIPALS.keys())
def test_the_scope_names_a_stand_in_only_in_the_reader_parameters(principal: Principal) -> None:
    scope = Scope(stand_in(principal))

    statements = [
        scope.factories(),
        scope.assessments(),
        scope.findings(),
        scope.self_assessments(),
        scope.grants(),
        scope.access_events(),
        scope.audit_entries(),
        scope.exports(),
        scope.organizations(),
        scope.reachable_organizations(),
        scope.api_keys(),
        scope.webhook_deliveries(),
    ]
    for stmt in statements:
        assert check_free(stmt) is stmt


def test_a_statement_with_the_readers_identity_as_a_literal_is_refused() -> None:
    brand = stand_in(PRINCIPALS["brand"])
    grants = select(m.ConsentGrant.factory_id).where(
        m.ConsentGrant.grantee_id == brand.organization_id
    )

    with pytest.raises(ReaderLiteral):
        check_free(select(m.Factory.id).where(m.Factory.id.in_(grants)))
