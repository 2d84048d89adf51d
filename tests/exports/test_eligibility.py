"""Rules 3, 5 and 11 as pure functions: every precondition, every boundary."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import models as m
from exports import eligibility as e
from exports.eligibility import CycleFacts, gateway_eligibility

ASSESSED = dt.date(2024, 3, 4)
RELEASED = dt.date(2024, 3, 25)
DAY = dt.timedelta(days=1)


def utc(day: dt.date, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


ALL_MET = CycleFacts(
    country_rollout_on=dt.date(2021, 5, 31),
    registered_on=dt.date(2024, 1, 10),
    verifier_body=m.BETTER_WORK,
    sharing_confirmed_on=dt.date(2024, 1, 12),
    self_assessment_submitted_at=utc(dt.date(2024, 2, 1), 9, 30),
    assessed_on=ASSESSED,
    status=m.AssessmentStatus.RELEASED,
    released_on=RELEASED,
)
NO_REGISTRATION = {"registered_on": None, "verifier_body": None, "sharing_confirmed_on": None}
NO_ASSESSMENT = {"assessed_on": None, "status": None, "released_on": None}
DRAFT = {"status": m.AssessmentStatus.DRAFT, "released_on": None}
GATEWAY_DAY = RELEASED + 15 * DAY

# (id, changes to ALL_MET, today, reasons, eligible, releasable)
CASES: list[tuple[str, dict[str, Any], dt.date, list[str], bool, bool]] = [
    ("all met, 15th day after release", {}, GATEWAY_DAY, [], True, True),
    ("all met, long after", {}, GATEWAY_DAY + 400 * DAY, [], True, True),
    (
        "all met, 14th day after release",
        {},
        GATEWAY_DAY - DAY,
        [e.GATEWAY_RELEASE_PENDING],
        True,
        False,
    ),
    ("all met, release day", {}, RELEASED, [e.GATEWAY_RELEASE_PENDING], True, False),
    ("release dated tomorrow", {}, RELEASED - DAY, [e.NOT_RELEASED], False, False),
    (
        "not registered",
        NO_REGISTRATION,
        GATEWAY_DAY,
        [e.NOT_REGISTERED, e.SHARING_NOT_CONFIRMED],
        False,
        False,
    ),
    (
        "other verifier body",
        {"verifier_body": "Another Verifier Ltd"},
        GATEWAY_DAY,
        [e.WRONG_VERIFIER_BODY],
        False,
        False,
    ),
    (
        "sharing never confirmed",
        {"sharing_confirmed_on": None},
        GATEWAY_DAY,
        [e.SHARING_NOT_CONFIRMED],
        False,
        False,
    ),
    (
        "registered and confirmed the day before",
        {"registered_on": ASSESSED - DAY, "sharing_confirmed_on": ASSESSED - DAY},
        GATEWAY_DAY,
        [],
        True,
        True,
    ),
    (
        "registered and confirmed on the assessment day",
        {"registered_on": ASSESSED, "sharing_confirmed_on": ASSESSED},
        GATEWAY_DAY,
        [e.REGISTERED_LATE, e.SHARING_CONFIRMED_LATE],
        False,
        False,
    ),
    (
        "registered after the assessment",
        {"registered_on": ASSESSED + DAY, "sharing_confirmed_on": ASSESSED + DAY},
        GATEWAY_DAY,
        [e.REGISTERED_LATE, e.SHARING_CONFIRMED_LATE],
        False,
        False,
    ),
    (
        "sharing confirmed on the assessment day",
        {"sharing_confirmed_on": ASSESSED},
        GATEWAY_DAY,
        [e.SHARING_CONFIRMED_LATE],
        False,
        False,
    ),
    (
        "no step 1 self-assessment",
        {"self_assessment_submitted_at": None},
        GATEWAY_DAY,
        [e.NO_SELF_ASSESSMENT],
        False,
        False,
    ),
    (
        "self-assessment the last second before",
        {"self_assessment_submitted_at": utc(ASSESSED - DAY, 23, 59, 59)},
        GATEWAY_DAY,
        [],
        True,
        True,
    ),
    (
        "self-assessment on the assessment day",
        {"self_assessment_submitted_at": utc(ASSESSED, 0, 0, 0)},
        GATEWAY_DAY,
        [e.SELF_ASSESSMENT_LATE],
        False,
        False,
    ),
    (
        "self-assessment at 01:00 +06:00 counts by its UTC date",
        {
            "self_assessment_submitted_at": dt.datetime(
                2024, 3, 4, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=6))
            )
        },
        GATEWAY_DAY,
        [],
        True,
        True,
    ),
    (
        "country not rolled out",
        {"country_rollout_on": None},
        GATEWAY_DAY,
        [e.COUNTRY_NOT_ROLLED_OUT],
        False,
        False,
    ),
    (
        "country rolled out on the assessment day",
        {"country_rollout_on": ASSESSED},
        GATEWAY_DAY,
        [],
        True,
        True,
    ),
    (
        "country rolled out the day after",
        {"country_rollout_on": ASSESSED + DAY},
        GATEWAY_DAY,
        [e.COUNTRY_ROLLED_OUT_LATE],
        False,
        False,
    ),
    ("draft assessment", DRAFT, GATEWAY_DAY, [e.NOT_RELEASED], False, False),
    ("no assessment", NO_ASSESSMENT, GATEWAY_DAY, [e.NO_ASSESSMENT], False, False),
    (
        "nothing at all",
        {
            **NO_REGISTRATION,
            **NO_ASSESSMENT,
            "country_rollout_on": None,
            "self_assessment_submitted_at": None,
        },
        GATEWAY_DAY,
        [
            e.NOT_REGISTERED,
            e.SHARING_NOT_CONFIRMED,
            e.NO_SELF_ASSESSMENT,
            e.COUNTRY_NOT_ROLLED_OUT,
            e.NO_ASSESSMENT,
        ],
        False,
        False,
    ),
    (
        "everything late, and a draft",
        {
            "verifier_body": "Another Verifier Ltd",
            "registered_on": ASSESSED,
            "sharing_confirmed_on": ASSESSED + DAY,
            "self_assessment_submitted_at": utc(ASSESSED, 12),
            "country_rollout_on": ASSESSED + DAY,
            **DRAFT,
        },
        GATEWAY_DAY,
        [
            e.WRONG_VERIFIER_BODY,
            e.REGISTERED_LATE,
            e.SHARING_CONFIRMED_LATE,
            e.SELF_ASSESSMENT_LATE,
            e.COUNTRY_ROLLED_OUT_LATE,
            e.NOT_RELEASED,
        ],
        False,
        False,
    ),
]


@pytest.mark.parametrize(
    ("changes", "today", "reasons", "eligible", "releasable"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_every_unmet_condition_is_named(
    changes: dict[str, Any], today: dt.date, reasons: list[str], eligible: bool, releasable: bool
) -> None:
    # given a cycle's facts, when they are judged on `today`
    result = gateway_eligibility(dataclasses.replace(ALL_MET, **changes), today)

    # then every unmet condition is listed, in the documented order
    assert result.reasons == reasons
    assert result.eligible is eligible
    assert result.releasable(today) is releasable


def test_gateway_release_date_is_fifteen_days_after_release() -> None:
    result = gateway_eligibility(ALL_MET, RELEASED)

    assert result.gateway_release_on == dt.date(2024, 4, 9)
    assert not result.releasable(dt.date(2024, 4, 8))
    assert result.releasable(dt.date(2024, 4, 9))


@pytest.mark.parametrize(
    ("changes", "today"),
    [(DRAFT, GATEWAY_DAY), (NO_ASSESSMENT, GATEWAY_DAY), ({}, RELEASED - DAY)],
    ids=["draft", "no assessment", "release dated tomorrow"],
)
def test_no_gateway_date_before_release(changes: dict[str, Any], today: dt.date) -> None:
    result = gateway_eligibility(dataclasses.replace(ALL_MET, **changes), today)

    assert result.gateway_release_on is None
    assert not result.releasable(today + 400 * DAY)


def test_every_documented_code_is_documented() -> None:
    codes = [value for name, value in vars(e).items() if name.isupper() and isinstance(value, str)]

    assert len(codes) == 12
    assert e.__doc__ is not None
    assert all(code in e.__doc__ for code in codes)


# -- property: the verdict agrees with rule 3/5/11 written out plainly --------------------

offsets = st.one_of(st.none(), st.integers(min_value=-3, max_value=3))


def _day(offset: int | None) -> dt.date | None:
    return None if offset is None else ASSESSED + offset * DAY


@st.composite
def facts_and_today(draw: st.DrawFn) -> tuple[CycleFacts, dt.date]:
    registered = draw(offsets)
    submitted = draw(offsets)
    has_assessment = draw(st.booleans())
    released = draw(st.integers(min_value=0, max_value=28)) if has_assessment else None
    status = draw(st.sampled_from(m.AssessmentStatus)) if has_assessment else None
    if status == m.AssessmentStatus.DRAFT:
        released = None
    facts = CycleFacts(
        country_rollout_on=_day(draw(offsets)),
        registered_on=_day(registered),
        verifier_body=(
            None if registered is None else draw(st.sampled_from([m.BETTER_WORK, "Other"]))
        ),
        sharing_confirmed_on=None if registered is None else _day(draw(offsets)),
        self_assessment_submitted_at=(
            None
            if submitted is None
            else utc(ASSESSED + submitted * DAY, draw(st.integers(min_value=0, max_value=23)))
        ),
        assessed_on=ASSESSED if has_assessment else None,
        status=status,
        released_on=None if released is None else ASSESSED + released * DAY,
    )
    return facts, ASSESSED + draw(st.integers(min_value=-5, max_value=60)) * DAY


def _plain_rule(facts: CycleFacts, today: dt.date) -> tuple[bool, bool]:
    """Rules 3, 11 and 5 as the design notes state them."""
    before = facts.assessed_on
    if before is None or facts.status != m.AssessmentStatus.RELEASED:
        return False, False
    registered = (
        facts.registered_on is not None
        and facts.registered_on < before
        and facts.verifier_body == m.BETTER_WORK
        and facts.sharing_confirmed_on is not None
        and facts.sharing_confirmed_on < before
    )
    submitted = facts.self_assessment_submitted_at
    self_assessed = submitted is not None and submitted.date() < before
    rolled_out = facts.country_rollout_on is not None and facts.country_rollout_on <= before
    released = facts.released_on is not None and facts.released_on <= today
    eligible = registered and self_assessed and rolled_out and released
    assert facts.released_on is not None or not eligible
    releasable = (
        eligible
        and facts.released_on is not None
        and (today >= facts.released_on + dt.timedelta(days=15))
    )
    return eligible, releasable


@given(facts_and_today())
def test_verdict_matches_the_rules_written_plainly(case: tuple[CycleFacts, dt.date]) -> None:
    facts, today = case
    result = gateway_eligibility(facts, today)

    assert (result.eligible, result.releasable(today)) == _plain_rule(facts, today)
    assert result.eligible == set(result.reasons).issubset(e.WAITING_CODES)
    assert len(result.reasons) == len(set(result.reasons))


@given(facts_and_today())
def test_registration_codes_agree_with_the_factory_model(case: tuple[CycleFacts, dt.date]) -> None:
    facts, today = case
    if facts.assessed_on is None:
        return
    factory = m.Factory(
        slcp_registered_on=facts.registered_on,
        slcp_verifier_body=facts.verifier_body,
        slcp_sharing_confirmed_on=facts.sharing_confirmed_on,
    )
    registration_codes = {
        e.NOT_REGISTERED,
        e.WRONG_VERIFIER_BODY,
        e.SHARING_NOT_CONFIRMED,
        e.REGISTERED_LATE,
        e.SHARING_CONFIRMED_LATE,
    }
    reasons = set(gateway_eligibility(facts, today).reasons)

    assert factory.sharing_ready_before(facts.assessed_on) == reasons.isdisjoint(registration_codes)
