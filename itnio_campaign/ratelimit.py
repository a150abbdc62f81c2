"""A small async rate limiter: at most ``rate`` units per second, spread evenly.

Each ``acquire(n)`` reserves the next ``n / rate`` seconds of the schedule (a virtual
scheduling / GCRA-style limiter), so a 1000-number request at 500 SMS/s waits its turn and
the next one starts two seconds later. No bursts beyond one request.

>>> import asyncio
>>> async def demo():
...     limiter = RateLimiter(1000.0)     # 1000 messages per second
...     await limiter.acquire(10)         # the first one goes at once
>>> asyncio.run(demo())
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .errors import UsageError


class RateLimiter:
    """Spread ``acquire(amount)`` calls so that the average is ``rate`` units per second."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate or rate <= 0:
            raise UsageError(f"rate must be a positive number per second, not {rate!r}")
        self.rate = float(rate)
        self._clock = clock
        self._next_free: float | None = None

    def reserve(self, amount: float = 1.0) -> float:
        """Book ``amount`` units; return how long to wait before using them."""
        now = self._clock()
        start = now if self._next_free is None or self._next_free < now else self._next_free
        self._next_free = start + amount / self.rate
        return start - now

    async def acquire(self, amount: float = 1.0) -> None:
        delay = self.reserve(amount)
        if delay > 0:
            await asyncio.sleep(delay)
