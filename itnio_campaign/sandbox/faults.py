"""Fault injection: what can go wrong with one request, scripted or drawn at random.

Fault names:

* ``"http_<code>"`` (e.g. ``http_500``, ``http_503``, ``http_429``): answer that HTTP status
  without accepting anything; 503 and 429 carry a ``Retry-After`` header.
* ``"api_<status>"`` (e.g. ``api_-15``, ``api_-16``, ``api_-18``): answer that API status
  (HTTP 200) without accepting anything.
* ``"drop_after_accept"``: process the request (accept and charge), then close the
  connection without an answer: the client sees a disconnect.
* ``"delay_after_accept"``: process the request, then wait ``slow_answer_seconds`` before
  answering: a client with a shorter timeout gives up on a request that was accepted.
* ``"redirect_<code>"`` (``redirect_301``, ``redirect_302``, ``redirect_307``,
  ``redirect_308``): answer that redirect with ``Location:`` the ``redirect_to`` knob,
  before authentication and without accepting anything (a wrong base URL or a proxy).
* ``"accept_without_array"`` (send endpoints): accept and charge as usual, but answer
  ``{"status": "0", "success": "3", "fail": "0"}``, no ``array`` (the API reference says a
  client must tolerate that).
* ``"accept_plus_numbers"`` (send endpoints): accept and charge as usual, but the ``array``
  echoes each number as ``+<number>`` and carries no ``orderId`` (msgIds are kept).

  Both ``accept_*`` faults change only the answer's shape: the store holds the numbers as
  accepted, so getSentRcd/getReport find them. On a refused request, or a non-send
  endpoint, they change nothing.
* ``"none"``: a placeholder in a script, the request goes through untouched.

>>> parse_fault("http_503")
Fault(kind='http', code='503')
>>> plan = FaultPlan(Random(0), {})
>>> plan.inject("sendSms", ["http_503", "none"])
>>> plan.next("sendSms"), plan.next("sendSms"), plan.next("sendSms")
(Fault(kind='http', code='503'), None, None)
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from random import Random
from typing import Literal

FaultKind = Literal["http", "api", "drop", "delay", "redirect", "shape"]

_HTTP = re.compile(r"http_([1-5]\d\d)")
_API = re.compile(r"api_(-?\d{1,4})")
_REDIRECT = re.compile(r"redirect_(30[1278])")
#: ``accept_<shape>`` faults: the numbers are accepted, only the answer's shape changes.
SHAPES = ("without_array", "plus_numbers")


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed fault: its kind, and the status to answer for ``http``/``api``."""

    kind: FaultKind
    code: str = ""

    @property
    def name(self) -> str:
        if self.kind in ("http", "api", "redirect"):
            return f"{self.kind}_{self.code}"
        if self.kind == "shape":
            return f"accept_{self.code}"
        return f"{self.kind}_after_accept"

    @property
    def before_accept(self) -> bool:
        """HTTP, API and redirect faults answer before anything is accepted."""
        return self.kind in ("http", "api", "redirect")


def parse_fault(name: str) -> Fault:
    """Parse a fault name; a typo raises ``ValueError`` at once, not on some later request."""
    text = str(name).strip().lower()
    if text == "drop_after_accept":
        return Fault("drop")
    if text == "delay_after_accept":
        return Fault("delay")
    if text.startswith("accept_") and text.removeprefix("accept_") in SHAPES:
        return Fault("shape", text.removeprefix("accept_"))
    if m := _REDIRECT.fullmatch(text):
        return Fault("redirect", m.group(1))
    if m := _HTTP.fullmatch(text):
        if m.group(1) == "200":
            raise ValueError("http_200 is not a fault; use 'none' for a clean request")
        return Fault("http", m.group(1))
    if m := _API.fullmatch(text):
        if m.group(1) == "0":
            raise ValueError("api_0 is not a fault; use 'none' for a clean request")
        return Fault("api", m.group(1))
    raise ValueError(
        f"unknown fault {name!r}: expected http_<code>, api_<status>, redirect_<301|302|307|308>, "
        "drop_after_accept, delay_after_accept, accept_without_array, accept_plus_numbers "
        "or none"
    )


class FaultPlan:
    """Scripted faults per endpoint (consumed in order), then seeded random ones.

    Not thread-safe by itself: the sandbox calls it under its lock.
    """

    def __init__(
        self,
        rng: Random,
        rates: Mapping[Fault, float],
        endpoints: Iterable[str] | None = None,
    ) -> None:
        self._rng = rng
        self._rates = tuple(rates.items())
        self._endpoints = None if endpoints is None else frozenset(endpoints)
        self._script: dict[str, deque[Fault | None]] = {}

    def inject(self, endpoint: str, faults: Iterable[str | None]) -> None:
        """Queue faults for the next requests to ``endpoint``; ``None``/"none" pass one through."""
        parsed = [None if f is None or str(f).lower() == "none" else parse_fault(f) for f in faults]
        self._script.setdefault(endpoint, deque()).extend(parsed)

    def pending(self, endpoint: str) -> int:
        """How many scripted faults are still queued for ``endpoint``."""
        return len(self._script.get(endpoint, ()))

    def next(self, endpoint: str) -> Fault | None:
        """The fault for this request: the next scripted one, else a random draw."""
        queue = self._script.get(endpoint)
        if queue:
            return queue.popleft()
        if not self._rates or (self._endpoints is not None and endpoint not in self._endpoints):
            return None
        u = self._rng.random()  # one draw per request keeps the sequence reproducible
        for fault, rate in self._rates:
            if u < rate:
                return fault
            u -= rate
        return None


def latency_sampler(latency: object, rng: Random) -> Callable[[], float]:
    """Turn the ``latency`` knob into a function returning seconds to wait."""
    if callable(latency):
        return lambda: max(0.0, float(latency(rng)))
    if isinstance(latency, tuple | list):
        lo, hi = (float(x) for x in latency)
        if not 0 <= lo <= hi:
            raise ValueError(f"latency must be (lo, hi) with 0 <= lo <= hi, got {latency}")
        return lambda: rng.uniform(lo, hi)
    if isinstance(latency, int | float):
        if latency < 0:
            raise ValueError("latency must not be negative")
        fixed = float(latency)
        return lambda: fixed
    raise TypeError("latency must be seconds, a (lo, hi) pair or callable(rng) -> seconds")


class RateLimiter:
    """At most ``per_second`` requests in any one-second window of the sandbox clock."""

    def __init__(self, per_second: float, clock: Callable[[], float]) -> None:
        self._limit = per_second
        self._clock = clock
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = self._clock()
        while self._times and self._times[0] <= now - 1.0:
            self._times.popleft()
        if len(self._times) >= self._limit:
            return False
        self._times.append(now)
        return True
