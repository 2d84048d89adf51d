"""A reader's identity as parameters of a scoped statement: one statement for every reader
of the same shape.

The scope's conditions (:class:`authz.scope.Scope`) name the reader's organisation (its
grants), its factory (what it owns) and its country (a programme's, a constituent's) as the
bind parameters :data:`ORGANIZATION`, :data:`FACTORY` and :data:`COUNTRY`, carrying the
principal's values; run through the session, a statement reads with them as they are.

The planner (:mod:`api.planner`) builds its statements once for :func:`stand_in`, the
reader's shape with an identity no row holds, keeps them per shape, and gives each
execution the asking reader's identity (:func:`values`). :func:`check_free` proves, once per
build, that the stand-in's identity reached a statement through those parameters only: one
that held it as a literal would read, for every reader, the rows of nobody, and is refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import iterate

from authz.principal import Principal

ORGANIZATION, FACTORY, COUNTRY = "reader_organization", "reader_factory", "reader_country"
PARAMETERS = (ORGANIZATION, FACTORY, COUNTRY)

# Identities no row holds (ids are positive; country codes are two capital letters).
_STAND_IN_ORGANIZATION = -987_654_321
_STAND_IN_FACTORY = -987_654_322
_STAND_IN_COUNTRY = "~~"
_STAND_INS = {_STAND_IN_ORGANIZATION, _STAND_IN_FACTORY, _STAND_IN_COUNTRY}


class ReaderLiteral(RuntimeError):
    """A statement built for a stand-in holds its identity outside the reader parameters."""


def stand_in(principal: Principal) -> Principal:
    """A principal of ``principal``'s shape (kind, role, inspectorate, which of organisation,
    factory and country it has) whose identity no row holds; no user, no API key (the
    scope's conditions read neither)."""
    return replace(
        principal,
        organization_id=None if principal.organization_id is None else _STAND_IN_ORGANIZATION,
        factory_id=None if principal.factory_id is None else _STAND_IN_FACTORY,
        country_code=None if principal.country_code is None else _STAND_IN_COUNTRY,
        user_id=None,
        api_key_id=None,
    )


def values(principal: Principal) -> dict[str, Any]:
    """The reader parameters' values for ``principal``."""
    return {
        ORGANIZATION: principal.organization_id,
        FACTORY: principal.factory_id,
        COUNTRY: principal.country_code,
    }


def check_free(stmt: Any) -> Any:
    """``stmt``, built for a :func:`stand_in`, if its identity is in the reader parameters
    only; else :class:`ReaderLiteral`."""
    for element in iterate(stmt):
        if not isinstance(element, BindParameter) or element.key in PARAMETERS:
            continue
        value = element.value
        if isinstance(value, int | str) and not isinstance(value, bool) and value in _STAND_INS:
            raise ReaderLiteral(f"the reader's identity as a literal ({element.key!r})")
    return stmt
