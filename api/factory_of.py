"""The factory of a visible child row (an assessment, a grant), for the child's types.

``Factory`` lists its children and each child names its factory: the type graph has a
cycle, the import graph must not. A child declares the field's type with
``strawberry.lazy("api.factories.types")`` and builds the value here, where that module is
looked up when the field is first resolved, as strawberry itself resolves the annotation.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from strawberry.types import Info

from api.context import Context

if TYPE_CHECKING:
    from api.factories.types import Factory

FACTORY_TYPES = "api.factories.types"


async def factory_of(info: Info[Context, None], factory_id: int) -> Factory:
    """The child's factory, logged as a read like any factory handed out."""
    factories = importlib.import_module(FACTORY_TYPES)
    found: Factory = await factories.require_factory(info, factory_id)
    return found
