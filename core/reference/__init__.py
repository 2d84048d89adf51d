"""The reference data shipped with the code (``catalogue.json``, a copy of the shared one).

Clusters and their compliance points, CAF sections and the step each belongs to, the
countries with their SLCP roll-out dates, the timeline of Q6, and an illustrative question
catalogue. A question's CAF step follows from the section its CAF reference starts with
(``"RH-CL01-01"`` → section RH → step 1); Better Work's own questions have no reference and
no step (Q3, Q7).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from models.enums import ComplianceCluster


@dataclass(frozen=True, slots=True)
class CountryRef:
    code: str
    name: str
    betterwork_programme: bool
    slcp_rollout_on: dt.date | None


@dataclass(frozen=True, slots=True)
class QuestionRef:
    code: str
    cluster: ComplianceCluster | None
    compliance_point: str
    caf_ref: str | None
    public_reporting: bool
    zero_tolerance: bool


@dataclass(frozen=True, slots=True)
class Catalogue:
    cluster_names: dict[ComplianceCluster, str]
    compliance_points: dict[ComplianceCluster, tuple[str, ...]]
    caf_sections: dict[str, str]
    step_of_section: dict[str, int]
    countries: tuple[CountryRef, ...]
    questions: dict[str, QuestionRef]  # by code, in catalogue order
    timeline: dict[str, Any]

    def step_of(self, caf_ref: str | None) -> int | None:
        """The CAF step of a reference; None for Better Work's own questions."""
        if caf_ref is None:
            return None
        section = caf_ref.split("-", 1)[0]
        if section not in self.step_of_section:
            raise ValueError(f"CAF reference {caf_ref!r} names no known section")
        return self.step_of_section[section]


def _date(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def parse(data: dict[str, Any]) -> Catalogue:
    clusters = {ComplianceCluster(k): v for k, v in data["clusters"].items()}
    return Catalogue(
        cluster_names={k: v["name"] for k, v in clusters.items()},
        compliance_points={k: tuple(v["compliancePoints"]) for k, v in clusters.items()},
        caf_sections=dict(data["cafSections"]),
        step_of_section={s: int(step) for step, ss in data["steps"].items() for s in ss},
        countries=tuple(
            CountryRef(c["code"], c["name"], c["betterWorkProgramme"], _date(c["slcpRolloutOn"]))
            for c in data["countries"]
        ),
        questions={
            q["code"]: QuestionRef(
                code=q["code"],
                cluster=ComplianceCluster(q["cluster"]) if q["cluster"] else None,
                compliance_point=q["compliancePoint"],
                caf_ref=q["cafRef"],
                public_reporting=q["publicReporting"],
                zero_tolerance=q["zeroTolerance"],
            )
            for q in data["questions"]
        },
        timeline=dict(data["timeline"]),
    )


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read once (works from an installed wheel as from a checkout)."""
    text = resources.files(__package__).joinpath("catalogue.json").read_text(encoding="utf-8")
    return parse(json.loads(text))
