"""The dozen demo factories, their SLCP registration, cycles, self-assessments and assessments.

Dates are fixed, so the world is the same on every run, except one cycle of Hanoi Fashion
that is placed around ``today`` so that one released assessment always has its release date
in the future. What each factory shows (rule numbers from DESIGN.md):

- Sinar Garmen, Dhaka Knitwear, Saigon Stitch, Hanoi Fashion: registered, self-assessed
  before the assessment: exportable cycles (rule 3).
- Cahaya Tekstil: registered, but cycle 1's step 1 came after the assessment: only cycle 2.
- Chattogram Apparels: registered after its assessment: not exportable (rule 3a).
- Phnom Penh Garment: ready, but Cambodia has not rolled out (rule 11).
- Mitra Busana, Gazipur Denim, Dong Nai, Kampong Speu, Hawassa: outside SLCP (rule 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import models as m

D = dt.date
ONSITE = m.AssessmentKind.ONSITE
VIRTUAL = m.AssessmentKind.VIRTUAL_COMPLIANCE_CHECK


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class AssessmentSpec:
    kind: m.AssessmentKind
    assessed_on: dt.date
    released_on: dt.date | None  # None: still a draft
    non_compliant: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CycleSpec:
    number: int
    started_on: dt.date
    assessment: AssessmentSpec
    # CAF step -> submitted on (None: being filled in).
    self_assessed: dict[int, dt.date | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Registration:
    gateway_id: str
    registered_on: dt.date
    sharing_confirmed_on: dt.date | None


@dataclass(frozen=True, slots=True)
class FactorySpec:
    slug: str
    name: str
    country: str
    enrolled_on: dt.date
    cycles: tuple[CycleSpec, ...]
    registration: Registration | None = None
    high_performance: bool = False


def factory_specs(today: dt.date) -> tuple[FactorySpec, ...]:
    soon = AssessmentSpec(
        ONSITE, today - dt.timedelta(days=10), today + dt.timedelta(days=14), ("CO.02.1", "OS.05.1")
    )
    return (
        FactorySpec(
            "sinar-garmen",
            "PT Sinar Garmen Jaya",
            "ID",
            D(2023, 11, 6),
            (
                CycleSpec(
                    1,
                    D(2024, 2, 1),
                    AssessmentSpec(
                        ONSITE, D(2024, 5, 14), D(2024, 6, 7), ("CO.01.1", "WT.02.1", "OS.08.1")
                    ),
                    {1: D(2024, 4, 10), 2: D(2024, 4, 12), 3: D(2024, 4, 12)},
                ),
                CycleSpec(
                    2,
                    D(2025, 2, 3),
                    AssessmentSpec(ONSITE, D(2025, 5, 20), D(2025, 6, 13), ("WT.02.1", "BW.02.1")),
                    {1: D(2025, 4, 2), 2: D(2025, 4, 2)},
                ),
            ),
            Registration("SLCP-ID-000101", D(2024, 1, 10), D(2024, 1, 15)),
        ),
        FactorySpec(
            "mitra-busana",
            "PT Mitra Busana Abadi",
            "ID",
            D(2024, 1, 15),
            (
                CycleSpec(
                    1,
                    D(2024, 3, 4),
                    AssessmentSpec(
                        ONSITE, D(2024, 6, 18), D(2024, 7, 12), ("CL.04.1", "CO.05.1", "OS.03.1")
                    ),
                ),
                CycleSpec(
                    2,
                    D(2025, 3, 3),
                    AssessmentSpec(ONSITE, D(2025, 6, 24), D(2025, 7, 15), ("OS.03.1",)),
                ),
            ),
        ),
        FactorySpec(
            "cahaya-tekstil",
            "PT Cahaya Tekstil Nusantara",
            "ID",
            D(2024, 2, 12),
            (
                CycleSpec(
                    1,
                    D(2024, 3, 11),
                    AssessmentSpec(
                        ONSITE, D(2024, 6, 11), D(2024, 7, 5), ("FL.01.1", "FA.04.1", "BW.01.1")
                    ),
                    {1: D(2024, 6, 20)},
                ),
                CycleSpec(
                    2,
                    D(2025, 3, 10),
                    AssessmentSpec(ONSITE, D(2025, 6, 17), D(2025, 7, 10), ("FA.04.1",)),
                    {1: D(2025, 5, 2)},
                ),
            ),
            Registration("SLCP-ID-000102", D(2024, 3, 1), D(2024, 3, 5)),
        ),
        FactorySpec(
            "dhaka-knitwear",
            "Dhaka Knitwear Ltd.",
            "BD",
            D(2023, 9, 4),
            (
                CycleSpec(
                    1,
                    D(2024, 3, 1),
                    AssessmentSpec(ONSITE, D(2024, 6, 4), D(2024, 6, 27), ("OS.02.1",)),
                    {1: D(2024, 5, 6)},
                ),
                CycleSpec(
                    2,
                    D(2025, 3, 3),
                    AssessmentSpec(ONSITE, D(2025, 6, 10), D(2025, 7, 1), ("WT.03.1",)),
                    {1: D(2025, 5, 5), 2: D(2025, 5, 5)},
                ),
            ),
            Registration("SLCP-BD-000201", D(2024, 2, 5), D(2024, 2, 5)),
            high_performance=True,
        ),
        FactorySpec(
            "chattogram-apparels",
            "Chattogram Apparels Ltd.",
            "BD",
            D(2024, 5, 6),
            (
                CycleSpec(
                    1,
                    D(2025, 2, 10),
                    AssessmentSpec(
                        ONSITE, D(2025, 6, 10), D(2025, 7, 2), ("FL.01.1", "FL.03.1", "CO.07.1")
                    ),
                    {1: D(2025, 5, 20)},
                ),
            ),
            Registration("SLCP-BD-000202", D(2025, 7, 1), D(2025, 7, 3)),
        ),
        FactorySpec(
            "gazipur-denim",
            "Gazipur Denim Mills Ltd.",
            "BD",
            D(2024, 8, 5),
            (
                CycleSpec(
                    1,
                    D(2024, 9, 2),
                    AssessmentSpec(ONSITE, D(2024, 12, 3), D(2024, 12, 24), ("OS.02.1", "CH.01.1")),
                ),
                CycleSpec(
                    2,
                    D(2026, 7, 6),
                    AssessmentSpec(ONSITE, D(2026, 10, 13), None, ("OS.02.1", "DI.03.1")),
                ),
            ),
        ),
        FactorySpec(
            "saigon-stitch",
            "Saigon Stitch Co., Ltd.",
            "VN",
            D(2024, 4, 1),
            (
                CycleSpec(
                    1,
                    D(2024, 6, 3),
                    AssessmentSpec(VIRTUAL, D(2024, 9, 10), D(2024, 10, 4), ("CO.02.1", "WT.02.1")),
                    {1: D(2024, 8, 12), 2: D(2024, 8, 14), 3: D(2024, 8, 14)},
                ),
                CycleSpec(
                    2,
                    D(2025, 6, 2),
                    AssessmentSpec(ONSITE, D(2025, 9, 9), D(2025, 10, 3), ("FA.03.1", "OS.08.2")),
                    {1: D(2025, 8, 11), 2: D(2025, 8, 11), 3: D(2025, 8, 12)},
                ),
            ),
            Registration("SLCP-VN-000301", D(2024, 5, 2), D(2024, 5, 6)),
        ),
        FactorySpec(
            "hanoi-fashion",
            "Hanoi Fashion Garment JSC",
            "VN",
            D(2024, 9, 2),
            (
                CycleSpec(
                    1,
                    D(2024, 11, 4),
                    AssessmentSpec(ONSITE, D(2025, 2, 18), D(2025, 3, 14), ("DI.04.1", "CO.01.1")),
                    {1: D(2025, 1, 20)},
                ),
                CycleSpec(
                    2, today - dt.timedelta(days=100), soon, {1: today - dt.timedelta(days=30)}
                ),
            ),
            Registration("SLCP-VN-000302", D(2024, 10, 1), D(2024, 10, 1)),
        ),
        FactorySpec(
            "dong-nai-apparel",
            "Dong Nai Apparel Co., Ltd.",
            "VN",
            D(2026, 5, 4),
            (
                CycleSpec(
                    1,
                    D(2026, 6, 1),
                    AssessmentSpec(ONSITE, D(2026, 9, 15), None, ("CO.01.1", "WT.02.1")),
                    {1: None},
                ),
            ),
        ),
        FactorySpec(
            "phnom-penh-garment",
            "Phnom Penh Garment Co., Ltd.",
            "KH",
            D(2024, 1, 8),
            (
                CycleSpec(
                    1,
                    D(2024, 3, 4),
                    AssessmentSpec(ONSITE, D(2024, 6, 5), D(2024, 6, 28), ("CH.04.1", "WT.02.1")),
                    {1: D(2024, 5, 10)},
                ),
            ),
            Registration("SLCP-KH-000401", D(2024, 2, 1), D(2024, 2, 1)),
        ),
        FactorySpec(
            "kampong-speu-textiles",
            "Kampong Speu Textiles Ltd.",
            "KH",
            D(2024, 6, 3),
            (
                CycleSpec(
                    1,
                    D(2024, 7, 1),
                    AssessmentSpec(
                        ONSITE, D(2024, 10, 8), D(2024, 10, 31), ("CL.01.1", "OS.08.1", "CO.01.1")
                    ),
                ),
            ),
        ),
        FactorySpec(
            "hawassa-apparel",
            "Hawassa Apparel PLC",
            "ET",
            D(2025, 1, 6),
            (
                CycleSpec(
                    1,
                    D(2025, 2, 3),
                    AssessmentSpec(VIRTUAL, D(2025, 5, 13), D(2025, 6, 6), ("CO.01.1", "CH.01.1")),
                ),
                CycleSpec(
                    2,
                    D(2026, 2, 2),
                    AssessmentSpec(
                        ONSITE, D(2026, 5, 12), D(2026, 6, 5), ("OS.05.1", "FA.03.1", "DI.03.1")
                    ),
                ),
            ),
        ),
    )
