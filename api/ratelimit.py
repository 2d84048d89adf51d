"""Abuse limits: a request budget per principal, anonymous callers by client IP.

The budget is a token bucket kept as GCRA (one "theoretical arrival time" per caller):
``per_minute`` requests a minute, of which all may come at once, refilled evenly. A request
spends :func:`request_cost` of them: one, one more for every ``VALIDATION_COST_PER_UNIT``
pairs of fields its document makes validation compare (:func:`api.documents.validation_cost`)
and one more for every ``LENGTH_PER_UNIT`` characters of query to parse, so a caller sending
costly documents gets through proportionally fewer, refused ones included. The
state is shared between processes through Redis when ``MILLGATE_REDIS_URL`` is set (one
Lua script on the Redis clock, so processes on other hosts agree) and kept in memory
otherwise. When Redis cannot be reached the process falls back to its own memory for a
few seconds and says so in the log: failing closed would turn a Redis outage into an API
outage, and one process's own budget still bounds a flood.

Example:
    limiter = build_limiter(settings)
    decision = await limiter.hit(principal_key(principal, "203.0.113.7"), cost=3)
    if not decision.allowed:
        ...  # 429, Retry-After: decision.retry_after_header
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from authz.principal import Principal
from core.settings import Settings

log = logging.getLogger("millgate.ratelimit")

PERIOD_SECONDS = 60.0
REDIS_PREFIX = "millgate:rl:"
# After a Redis failure, use memory for this long before trying Redis again.
REDIS_BACKOFF_SECONDS = 5.0
# Pairs of fields compared by validation, and characters parsed, that cost about as much CPU
# as a light request's GraphQL work.
VALIDATION_COST_PER_UNIT = 100
LENGTH_PER_UNIT = 1_000


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until a request would pass; 0 when allowed
    remaining: int

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    async def hit(self, key: str, cost: int = 1) -> Decision: ...

    async def close(self) -> None: ...


def principal_key(principal: Principal, client_ip: str) -> str:
    """Whose budget a request spends: the user or API key, else the client's address."""
    if principal.api_key_id is not None:
        return f"org:{principal.organization_id}:key:{principal.api_key_id}"
    if principal.user_id is not None:
        return f"org:{principal.organization_id}:user:{principal.user_id}"
    return f"ip:{client_ip}"


def request_cost(validation_cost: int, length: int = 0) -> int:
    """What a request spends of its budget, given its document's validation cost and the
    length of its query text."""
    return (
        1 + max(0, validation_cost) // VALIDATION_COST_PER_UNIT + max(0, length) // LENGTH_PER_UNIT
    )


class RecentRefusals:
    """This process's memory of callers refused until a moment: a caller known to be out
    of budget is refused again before its query is parsed, which a flood of new texts would
    otherwise pay for on every request. Bounded; an entry ends when its wait does.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 10_000):
        self._clock = clock
        self._max_keys = max_keys
        self._until: dict[str, float] = {}

    def note(self, key: str, decision: Decision) -> None:
        if decision.allowed:
            return
        self._until.pop(key, None)
        self._until[key] = self._clock() + decision.retry_after
        while len(self._until) > self._max_keys:
            del self._until[next(iter(self._until))]  # the oldest first

    def refused(self, key: str) -> Decision | None:
        """The refusal still running for ``key``, or None."""
        until = self._until.get(key)
        if until is None:
            return None
        wait = until - self._clock()
        if wait <= 0:
            del self._until[key]
            return None
        return Decision(False, wait, 0)


# Rounding of (now + cost * interval) - now: never enough to refuse what fits the bucket.
SLACK_SECONDS = 1e-6


def _gcra(
    tat: float, now: float, interval: float, period: float, cost: int = 1
) -> tuple[Decision, float]:
    """A request of ``cost`` at ``now``: the decision and the new arrival time (unchanged if
    refused)."""
    new_tat = max(tat, now) + interval * cost
    ahead = new_tat - now
    # A full bucket's charge lands on `period` exactly, give or take float rounding.
    if ahead > period + SLACK_SECONDS:
        return Decision(False, ahead - period, 0), tat
    return Decision(True, 0.0, max(0, int((period - ahead) // interval))), new_tat


class MemoryRateLimiter:
    """One process's budgets. Bounded: callers idle for a period are forgotten first."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = per_minute
        self._interval = PERIOD_SECONDS / per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._tat: dict[str, float] = {}

    async def hit(self, key: str, cost: int = 1) -> Decision:
        now = self._clock()
        decision, tat = _gcra(
            self._tat.get(key, now), now, self._interval, PERIOD_SECONDS, self._units(cost)
        )
        self._tat[key] = tat
        if len(self._tat) > self._max_keys:
            self._prune(now)
        return decision

    def _units(self, cost: int) -> int:
        # At most a full bucket: a request that could never pass would be refused forever.
        return min(max(1, cost), self.per_minute)

    def _prune(self, now: float) -> None:
        # A bucket whose arrival time has passed is full again: the same as no entry.
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]
        while len(self._tat) > self._max_keys:  # still too many: drop the oldest entries
            del self._tat[next(iter(self._tat))]

    async def close(self) -> None:
        self._tat.clear()


# KEYS[1] the caller's key; ARGV: period and interval in microseconds, cost. Returns
# {allowed, retry_after_us, remaining}. TIME is the Redis server's clock (Redis >= 5).
_GCRA_LUA = """
local period = tonumber(ARGV[1])
local unit = tonumber(ARGV[2])
local interval = unit * tonumber(ARGV[3] or '1')
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then
  return {0, ahead - period, 0}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
return {1, 0, math.floor((period - ahead) / unit)}
"""


class RedisRateLimiter:
    """Budgets shared by every process that talks to the same Redis."""

    def __init__(
        self,
        client: Any,
        per_minute: int,
        *,
        prefix: str = REDIS_PREFIX,
        fallback: MemoryRateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.client = client
        self.per_minute = per_minute
        self.prefix = prefix
        self._period_us = int(PERIOD_SECONDS * 1_000_000)
        self._interval_us = max(1, int(PERIOD_SECONDS * 1_000_000 / per_minute))
        self._script = client.register_script(_GCRA_LUA)
        self.fallback = fallback or MemoryRateLimiter(per_minute)
        self._clock = clock
        self._redis_down_until = 0.0

    @classmethod
    def from_url(cls, url: str, per_minute: int, *, prefix: str = REDIS_PREFIX) -> RedisRateLimiter:
        import redis.asyncio as redis

        # Short timeouts: a request must not wait long on a limiter.
        client = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30
        )
        return cls(client, per_minute, prefix=prefix)

    async def hit(self, key: str, cost: int = 1) -> Decision:
        now = self._clock()
        cost = min(max(1, cost), self.per_minute)  # at most a full bucket, as in memory
        if now < self._redis_down_until:
            return await self.fallback.hit(key, cost)
        try:
            allowed, retry_us, remaining = await self._script(
                keys=[self.prefix + key], args=[self._period_us, self._interval_us, cost]
            )
        except Exception:  # any Redis or network failure: see the module docstring
            self._redis_down_until = now + REDIS_BACKOFF_SECONDS
            log.warning(
                "rate limiter: Redis unreachable; using this process's memory for %.0f s",
                REDIS_BACKOFF_SECONDS,
                exc_info=True,
            )
            return await self.fallback.hit(key, cost)
        return Decision(bool(allowed), int(retry_us) / 1_000_000, int(remaining))

    async def close(self) -> None:
        await self.fallback.close()
        await self.client.aclose()


def build_limiter(settings: Settings) -> RateLimiter:
    """The limiter the settings ask for: Redis when ``redis_url`` is set, memory otherwise."""
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url, settings.rate_limit_per_minute)
    return MemoryRateLimiter(settings.rate_limit_per_minute)
