"""The load script's leak check catches what it must: a negative control on made-up reads."""

from __future__ import annotations

import math

from scripts.load_with_faults import Pair, Read, Stats, leaks


def _pairs(*windows: list[float]) -> dict[tuple[int, int], Pair]:
    pair = Pair(factory_id=7, grantee_id=30, active_grant=None, windows=[list(w) for w in windows])
    return {(7, 30): pair}


def _reads(*spans: tuple[float, float]) -> Stats:
    stats = Stats()
    stats.reads = [Read(reader=30, start=s, end=e, factories={7}) for s, e in spans]
    return stats


def test_a_read_that_began_after_the_revocation_was_acknowledged_is_a_leak() -> None:
    pairs = _pairs([1.0, 5.0])  # granted (sent) at 1, revocation acknowledged at 5

    assert leaks(_reads((6.0, 6.5)), pairs, set())
    assert not leaks(_reads((4.0, 6.5)), pairs, set())  # the read overlapped the grant
    assert not leaks(_reads((2.0, 3.0)), pairs, set())


def test_a_read_that_ended_before_the_grant_was_sent_is_a_leak() -> None:
    pairs = _pairs([10.0, math.inf])

    assert leaks(_reads((8.0, 9.5)), pairs, set())
    assert not leaks(_reads((9.0, 10.5)), pairs, set())


def test_a_factory_never_granted_is_always_a_leak() -> None:
    assert leaks(_reads((1.0, 2.0)), {}, set())
    assert not leaks(_reads((1.0, 2.0)), {}, {(7, 30)})  # unless known granted throughout
