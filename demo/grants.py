"""The demo consent grants: every state a grant can be in, to brands and to hosts.

Each is made (and, where revoked, revoked) by the factory's manager: rule 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from demo.factories import at

D = dt.date
BOTH = (True, True)
ASSESSMENT_ONLY = (True, False)
SELF_ASSESSMENT_ONLY = (False, True)


@dataclass(frozen=True, slots=True)
class GrantSpec:
    factory: str  # factory slug
    grantee: str  # organisation slug
    scopes: tuple[bool, bool]  # (assessment, self-assessment)
    granted_on: dt.date
    expires_on: dt.date | None = None
    revoked_on: dt.date | None = None

    def granted_at(self) -> dt.datetime:
        return at(self.granted_on)

    def expires_at(self) -> dt.datetime | None:
        return None if self.expires_on is None else at(self.expires_on)

    def revoked_at(self) -> dt.datetime | None:
        return None if self.revoked_on is None else at(self.revoked_on, 15)


def grant_specs(today: dt.date) -> tuple[GrantSpec, ...]:
    return (
        GrantSpec("sinar-garmen", "northwind-apparel", BOTH, D(2024, 2, 1)),
        GrantSpec("sinar-garmen", "open-audit-hub", BOTH, D(2024, 1, 16)),
        GrantSpec(
            "sinar-garmen",
            "lumen-basics",
            ASSESSMENT_ONLY,
            D(2024, 7, 1),
            revoked_on=D(2025, 1, 15),
        ),
        GrantSpec(
            "mitra-busana", "harbour-outfitters", BOTH, D(2024, 6, 1), expires_on=D(2025, 3, 31)
        ),
        GrantSpec("cahaya-tekstil", "fairtrace-platform", BOTH, D(2024, 3, 6)),
        # Permission given after the assessment still counts (Q27).
        GrantSpec("cahaya-tekstil", "open-audit-hub", BOTH, D(2025, 8, 1)),
        GrantSpec("dhaka-knitwear", "northwind-apparel", ASSESSMENT_ONLY, D(2024, 3, 1)),
        GrantSpec("dhaka-knitwear", "open-audit-hub", BOTH, D(2025, 9, 1)),
        GrantSpec(
            "dhaka-knitwear", "fairtrace-platform", BOTH, D(2024, 3, 1), revoked_on=D(2024, 12, 1)
        ),
        GrantSpec("chattogram-apparels", "harbour-outfitters", BOTH, D(2025, 7, 5)),
        GrantSpec("saigon-stitch", "harbour-outfitters", SELF_ASSESSMENT_ONLY, D(2024, 6, 10)),
        GrantSpec("saigon-stitch", "open-audit-hub", BOTH, D(2024, 5, 7)),
        GrantSpec(
            "hanoi-fashion",
            "lumen-basics",
            BOTH,
            D(2024, 10, 2),
            expires_on=today + dt.timedelta(days=365),
        ),
        GrantSpec(
            "hanoi-fashion",
            "northwind-apparel",
            ASSESSMENT_ONLY,
            D(2024, 10, 2),
            expires_on=D(2025, 10, 1),
        ),
        GrantSpec("gazipur-denim", "lumen-basics", ASSESSMENT_ONLY, D(2025, 1, 10)),
        GrantSpec("phnom-penh-garment", "open-audit-hub", BOTH, D(2024, 2, 2)),
        GrantSpec("kampong-speu-textiles", "northwind-apparel", ASSESSMENT_ONLY, D(2024, 11, 1)),
    )
