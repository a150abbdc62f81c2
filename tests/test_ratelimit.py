"""RateLimiter on a hand-driven clock: exact waits, no wall-clock tolerance."""

from __future__ import annotations

import pytest

from itnio_campaign.errors import UsageError
from itnio_campaign.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_first_reservation_goes_at_once_and_the_next_waits_its_share() -> None:
    clock = Clock()
    limiter = RateLimiter(500.0, clock=clock)  # 500 SMS per second
    assert limiter.reserve(1000) == 0.0  # a 1000-number request goes now...
    assert limiter.reserve(1000) == 2.0  # ...and books the next two seconds
    assert limiter.reserve(500) == 4.0


def test_time_that_passed_is_credited_but_never_saved_up_as_a_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, clock=clock)
    assert limiter.reserve(10) == 0.0  # busy until 1001
    clock.now += 0.5
    assert limiter.reserve(10) == 0.5  # waits for the rest of the first second
    clock.now += 100.0  # a long pause: the schedule is free again...
    assert limiter.reserve(10) == 0.0
    assert limiter.reserve(10) == 1.0  # ...but there is no credit for the idle time


async def test_acquire_waits_exactly_what_reserve_books(monkeypatch: pytest.MonkeyPatch) -> None:
    import itnio_campaign.ratelimit as ratelimit

    waits: list[float] = []

    async def record(delay: float) -> None:  # the clock is ours: nothing really sleeps
        waits.append(delay)

    monkeypatch.setattr(ratelimit.asyncio, "sleep", record)
    clock = Clock()
    limiter = RateLimiter(4.0, clock=clock)
    for _ in range(3):
        await limiter.acquire(2)
    assert waits == [0.5, 1.0]  # the first acquire did not wait at all


@pytest.mark.parametrize("rate", [0, -1, None])
def test_a_rate_that_is_not_positive_is_a_usage_error(rate: float) -> None:
    with pytest.raises(UsageError, match="positive"):
        RateLimiter(rate)
