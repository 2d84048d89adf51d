"""The consent condition every export path shares, judged by the database clock.

A host receives, and keeps reading, a factory's exports only while the factory holds a grant
of the whole Gateway share to it (ASSESSMENT and SELF_ASSESSMENT) that is neither revoked
nor expired. Expiry is judged by the
database clock (:func:`authz.scope.active_grant`), so every worker and API process agrees
the moment a revocation commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists

import models as m
from authz.scope import active_grant


def active_assessment_grant() -> ColumnElement[bool]:
    """The current ``m.ConsentGrant`` row is an active grant of the whole Gateway share.

    A Gateway export carries the self-assessment and Better Work's assessment together
    (Q26, Q28, Q36), so it needs both scopes; a narrower host grant (refused since, but
    made before) receives nothing rather than more than it names.
    """
    return and_(
        m.ConsentGrant.scope_assessment.is_(True),
        m.ConsentGrant.scope_self_assessment.is_(True),
        active_grant(),
    )


def host_may_receive(factory_id: Any, host_id: Any) -> ColumnElement[bool]:
    """SQL: the factory (by column or value) grants the host its whole Gateway share."""
    return exists().where(
        m.ConsentGrant.factory_id == factory_id,
        m.ConsentGrant.grantee_id == host_id,
        active_assessment_grant(),
    )
