"""Who is asking: built per request from the database, never from the token alone."""

from __future__ import annotations

from dataclasses import dataclass

from models.enums import OrganizationKind, Role

ANONYMOUS_ROLE = "ANONYMOUS"


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of one request.

    ``organization_id`` None means the anonymous public. ``country_code`` is the country of a
    programme or constituent organisation; ``labour_inspectorate`` marks the one constituent
    that receives zero-tolerance findings whatever the consent (rule 15).
    """

    organization_id: int | None = None
    organization_kind: OrganizationKind | None = None
    role: Role | None = None
    user_id: int | None = None
    api_key_id: int | None = None
    country_code: str | None = None
    labour_inspectorate: bool = False
    # The factory of a FACTORY organisation (one each).
    factory_id: int | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls()

    @property
    def is_anonymous(self) -> bool:
        return self.organization_id is None

    @property
    def subject(self) -> str:
        """The Casbin subject: the organisation; the role travels beside it."""
        return "anonymous" if self.organization_id is None else f"org:{self.organization_id}"

    @property
    def role_name(self) -> str:
        return ANONYMOUS_ROLE if self.role is None else self.role.value

    def is_kind(self, kind: OrganizationKind) -> bool:
        return self.organization_kind == kind
