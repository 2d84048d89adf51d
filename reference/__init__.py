"""The reference data shipped with the code, and the parser of a catalogue file.

``catalogue.json`` (the shared catalogue, plus its versions and the illustrative questions of
CAF steps 2 and 3) holds clusters and their compliance points, CAF sections and the step each
belongs to, the countries with their Better Work programme flag, SLCP roll-out date and
overlay version, the timeline of Q6, and the question catalogue. ``countries.json`` holds
every ISO 3166-1 country. A question's CAF step follows from the section its CAF reference
starts with (``"RH-CL01-01"`` → section RH → step 1); Better Work's own questions have no
reference and no step (Q3, Q7).

A catalogue is versioned: ``toolVersion`` (the CAF tool, e.g. ``"CAF 1.4"``) for the whole
file and ``overlayVersion`` (the national law overlay) per country; both default to the
versions of the shipped file. :func:`parse` checks a file entry by entry and raises
:class:`~core.errors.CatalogueError` naming the first bad one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from core.country_codes import parse_alpha2
from core.errors import CatalogueError
from models.enums import ComplianceCluster

DEFAULT_TOOL_VERSION = "CAF 1.4"
DEFAULT_OVERLAY_VERSION = "2021.1"
MAX_VERSION_LENGTH = 40  # question.tool_version and question.overlay_version


@dataclass(frozen=True, slots=True)
class CountryRef:
    code: str
    name: str
    betterwork_programme: bool
    slcp_rollout_on: dt.date | None
    overlay_version: str = DEFAULT_OVERLAY_VERSION


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
    tool_version: str = DEFAULT_TOOL_VERSION

    def step_of(self, caf_ref: str | None) -> int | None:
        """The CAF step of a reference; None for Better Work's own questions."""
        if caf_ref is None:
            return None
        section = caf_ref.split("-", 1)[0]
        if section not in self.step_of_section:
            raise ValueError(f"CAF reference {caf_ref!r} names no known section")
        return self.step_of_section[section]


def _get(
    entry: Any,
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    *,
    null: bool = False,
    default: Any = ...,
) -> Any:
    if not isinstance(entry, dict):
        raise CatalogueError(f"{where}: must be an object")
    if key not in entry:
        if default is not ...:
            return default
        raise CatalogueError(f"{where}: '{key}' is missing")
    value = entry[key]
    if value is None and null:
        return None
    # bool is an int: a flag must be a bool, a count must not be one.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CatalogueError(f"{where}: '{key}' has the wrong type")
    if isinstance(value, str) and not value.strip():
        raise CatalogueError(f"{where}: '{key}' is empty")
    return value


def _version(entry: Any, key: str, where: str, default: str) -> str:
    value: str = _get(entry, key, str, where, default=default)
    if len(value) > MAX_VERSION_LENGTH:
        raise CatalogueError(f"{where}: '{key}' is longer than {MAX_VERSION_LENGTH} characters")
    return value


def _date(text: str | None, where: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise CatalogueError(f"{where}: 'slcpRolloutOn' is not a date (YYYY-MM-DD)") from error


def _cluster(text: str | None, where: str) -> ComplianceCluster | None:
    if text is None:
        return None
    try:
        return ComplianceCluster(text)
    except ValueError as error:
        raise CatalogueError(f"{where}: cluster {text!r} is not a known cluster") from error


def _country(entry: Any, where: str) -> CountryRef:
    code = _get(entry, "code", str, where)
    where = f"{where} ({code})"
    if parse_alpha2(code) != code:  # upper-case only: the file is the canonical spelling
        raise CatalogueError(f"{where}: 'code' is not an ISO 3166-1 alpha-2 code")
    return CountryRef(
        code=code,
        name=_get(entry, "name", str, where),
        betterwork_programme=_get(entry, "betterWorkProgramme", bool, where),
        slcp_rollout_on=_date(_get(entry, "slcpRolloutOn", str, where, null=True), where),
        overlay_version=_version(entry, "overlayVersion", where, DEFAULT_OVERLAY_VERSION),
    )


def _question(entry: Any, where: str, catalogue: Catalogue) -> QuestionRef:
    code = _get(entry, "code", str, where)
    where = f"{where} ({code})"
    if len(code) > 40:
        raise CatalogueError(f"{where}: 'code' is longer than 40 characters")
    cluster = _cluster(_get(entry, "cluster", str, where, null=True), where)
    point = _get(entry, "compliancePoint", str, where)
    caf_ref = _get(entry, "cafRef", str, where, null=True)
    # Better Work's own questions (no CAF reference) may name points of their own.
    if caf_ref and cluster is not None and point not in catalogue.compliance_points[cluster]:
        raise CatalogueError(f"{where}: {point!r} is not a compliance point of {cluster.value}")
    try:
        catalogue.step_of(caf_ref)
    except ValueError as error:
        raise CatalogueError(f"{where}: {error}") from error
    if caf_ref is None and cluster is None:
        raise CatalogueError(f"{where}: a Better Work question (cafRef null) needs a cluster")
    return QuestionRef(
        code=code,
        cluster=cluster,
        compliance_point=point,
        caf_ref=caf_ref,
        public_reporting=_get(entry, "publicReporting", bool, where),
        zero_tolerance=_get(entry, "zeroTolerance", bool, where),
    )


def parse(data: Any) -> Catalogue:
    """A catalogue from the JSON of a file in the shipped format; raises CatalogueError."""
    if not isinstance(data, dict):
        raise CatalogueError("the catalogue must be a JSON object")
    clusters: dict[ComplianceCluster, Any] = {}
    for key, value in _get(data, "clusters", dict, "catalogue").items():
        where = f"clusters.{key}"
        cluster = _cluster(key, where)
        assert cluster is not None
        points = _get(value, "compliancePoints", list, where)
        if not all(isinstance(p, str) and p for p in points):
            raise CatalogueError(f"{where}: 'compliancePoints' must be non-empty texts")
        clusters[cluster] = (_get(value, "name", str, where), tuple(points))
    sections = _get(data, "cafSections", dict, "catalogue")
    step_of_section: dict[str, int] = {}
    for step, names in _get(data, "steps", dict, "catalogue").items():
        if step not in ("1", "2", "3") or not isinstance(names, list):
            raise CatalogueError(f"steps.{step}: must be step 1, 2 or 3 with a list of sections")
        for name in names:
            if name not in sections:
                raise CatalogueError(f"steps.{step}: section {name!r} is not in cafSections")
            step_of_section[name] = int(step)
    catalogue = Catalogue(
        cluster_names={k: name for k, (name, _) in clusters.items()},
        compliance_points={k: points for k, (_, points) in clusters.items()},
        caf_sections=dict(sections),
        step_of_section=step_of_section,
        countries=(),
        questions={},
        timeline=dict(_get(data, "timeline", dict, "catalogue", default={})),
        tool_version=_version(data, "toolVersion", "catalogue", DEFAULT_TOOL_VERSION),
    )
    countries: dict[str, CountryRef] = {}
    for i, entry in enumerate(_get(data, "countries", list, "catalogue")):
        country = _country(entry, f"countries[{i}]")
        if country.code in countries:
            raise CatalogueError(f"countries[{i}] ({country.code}): listed twice")
        countries[country.code] = country
    questions: dict[str, QuestionRef] = {}
    for i, entry in enumerate(_get(data, "questions", list, "catalogue")):
        question = _question(entry, f"questions[{i}]", catalogue)
        if question.code in questions:
            raise CatalogueError(f"questions[{i}] ({question.code}): listed twice")
        questions[question.code] = question
    if not questions:
        raise CatalogueError("questions: the catalogue has no question")
    return Catalogue(
        cluster_names=catalogue.cluster_names,
        compliance_points=catalogue.compliance_points,
        caf_sections=catalogue.caf_sections,
        step_of_section=catalogue.step_of_section,
        countries=tuple(countries.values()),
        questions=questions,
        timeline=catalogue.timeline,
        tool_version=catalogue.tool_version,
    )


def parse_text(text: str) -> Catalogue:
    """:func:`parse` of a file's text; a file that is not JSON is a CatalogueError too."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CatalogueError(f"not JSON: {error}") from error
    return parse(data)


def _shipped(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, read once (works from an installed wheel as from a checkout)."""
    return parse_text(_shipped("catalogue.json"))


@functools.cache
def iso_countries() -> dict[str, str]:
    """Every ISO 3166-1 country: alpha-2 code → short name."""
    rows = json.loads(_shipped("countries.json"))["countries"]
    return {row["code"]: row["name"] for row in rows}
