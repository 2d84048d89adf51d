"""The consent condition every export path shares, judged by the database clock.

A host receives, and keeps reading, a factory's exports only while the factory holds an
ASSESSMENT-scope grant to it that is neither revoked nor expired. Expiry is judged by the
database clock (:func:`authz.scope.active_grant`), so every worker and API process agrees
the moment a revocation commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists

import models as m
from authz.scope import active_grant


def active_assessment_grant() -> ColumnElement[bool]:
    """The current ``m.ConsentGrant`` row is an active ASSESSMENT-scope grant."""
    return and_(m.ConsentGrant.scope_assessment.is_(True), active_grant())


def host_may_receive(factory_id: Any, host_id: Any) -> ColumnElement[bool]:
    """SQL: the factory (by column or value) has an active ASSESSMENT grant to the host."""
    return exists().where(
        m.ConsentGrant.factory_id == factory_id,
        m.ConsentGrant.grantee_id == host_id,
        active_assessment_grant(),
    )
