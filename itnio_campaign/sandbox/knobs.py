"""The sandbox's settings ("knobs"): every rule the provider leaves undocumented is one of these.

>>> Knobs(seed=7, undelivered_rate=0.5).undelivered_rate
0.5
>>> Knobs(fault_rates={"http_9999": 0.1})
Traceback (most recent call last):
...
ValueError: unknown fault 'http_9999': ...
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from decimal import Decimal
from random import Random
from typing import Any

from ..errors import UsageError
from .faults import Fault, parse_fault

#: Demo credentials: the sandbox accepts exactly these unless told otherwise.
DEMO_API_KEY = "sandbox-key"
DEMO_API_SECRET = "sandbox-secret"
DEMO_APP_ID = "sandbox-app"

#: The provider documents its earliest recordMo time in UTC+8, so its clock shows +08:00.
PROVIDER_TZ = timezone(timedelta(hours=8))

#: A float (fixed), a ``(lo, hi)`` pair (uniform) or ``callable(rng) -> float``, in seconds.
Latency = float | tuple[float, float] | Callable[[Random], float]

#: Endpoints under ``/sms``, as named in :class:`~itnio_campaign.sandbox.RequestRecord`.
ENDPOINTS = ("sendSms", "sendSms/batch", "getReport", "getSentRcd", "recordMo", "getBalance")
SEND_ENDPOINTS = frozenset({"sendSms", "sendSms/batch"})
MAX_PORT = 65_535
#: Statuses ``refuse_content`` may answer: sensitive words, unapproved template, no price.
REFUSAL_CODES = ("-3", "-6", "-19")
#: What each refusal says (the provider's meaning, as the sandbox words it).
REFUSAL_REASONS = {
    "-3": "sensitive words in content",
    "-6": "content is not an approved template",
    "-19": "pricing not confirmed for this content",
}


def endpoint_name(endpoint: str) -> str:
    """``"/sms/sendSms"``, ``"sms/sendSms"`` and ``"sendSms"`` all name ``"sendSms"``."""
    name = endpoint.strip("/").removeprefix("sms/")
    if name not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    return name


@dataclass(frozen=True)
class Knobs:
    """Everything the sandbox can be told. ``Sandbox(**knobs)`` passes its keywords here.

    Number rules: a number is digits only; any other character in the ``numbers`` field
    rejects the whole request (-9). A digits-only number whose length is outside
    ``number_length`` or that starts with one of ``invalid_prefixes`` is *per-number*
    invalid: counted in ``fail``, absent from ``array``, not charged. A number starting
    with one of ``unpriced_prefixes`` rejects the whole request (-19).
    """

    api_key: str = DEMO_API_KEY
    api_secret: str = DEMO_API_SECRET
    app_id: str = DEMO_APP_ID
    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 0
    clock: Callable[[], float] = time.time
    timezone: tzinfo = PROVIDER_TZ
    # account
    balance: Decimal = Decimal("1000")
    gift: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    price_per_segment: Decimal = Decimal("0.005")
    currency: str = "USD"
    timestamp_tolerance: float = 1800.0
    allowed_ips: frozenset[str] | None = None
    locked: bool = False
    # sendSms rules
    max_numbers_post: int = 1000
    max_numbers_get: int = 100
    batch_max_numbers: int = 1000
    max_content_chars: int = 1024
    max_sender_id_chars: int = 32
    number_length: tuple[int, int] = (8, 15)
    sensitive_words: tuple[str, ...] = ("casino", "lottery winner")
    templates: tuple[str, ...] | None = None
    unpriced_prefixes: tuple[str, ...] = ()
    invalid_prefixes: tuple[str, ...] = ()
    # delivery, records, replies
    undelivered_rate: float = 0.03
    #: Delivery failure rates for some messages: ``{"44": 0.5}`` by number prefix (digits,
    #: the longest matching prefix wins) and ``{"promo": 0.9}`` by a case-insensitive word
    #: in the content (content rates win over prefix rates; others use ``undelivered_rate``).
    undelivered_by_prefix: Mapping[str, float] = field(default_factory=dict)
    undelivered_by_content: Mapping[str, float] = field(default_factory=dict)
    #: Provider refusals for given content: ``{"flash sale": "-6"}`` refuses every request
    #: whose content contains the words (case-insensitive) with that status (-3, -6, -19).
    refuse_content: Mapping[str, str] = field(default_factory=dict)
    delivery_delay: tuple[float, float] = (0.2, 2.0)
    report_lag: float = 0.0  # seconds after accept during which getReport says "nofound"
    max_report_ids: int = 200
    sent_records_page_size: int = 50_000
    sent_records_max_days: float = 31.0
    sent_records_retention_days: float = 90.0
    reply_rate: float = 0.02
    stop_share: float = 0.4
    reply_delay: tuple[float, float] = (2.0, 10.0)
    # faults and pacing. Fault names (see ``faults``): http_<code>, api_<status>,
    # redirect_301/302/307/308 (Location: ``redirect_to``; nothing accepted),
    # drop_after_accept, delay_after_accept, and the answer shapes a client must tolerate:
    # accept_without_array (no ``array``), accept_plus_numbers (``+91…`` echoed, no orderId),
    # which accept the numbers for real. Per request: ``sb.inject("sendSms", name)``; as a
    # rate or a flag: ``fault_rates={name: p}`` (1.0: every request).
    fault_rates: Mapping[str, float] = field(default_factory=dict)
    fault_endpoints: frozenset[str] | None = None  # None: random faults hit every endpoint
    retry_after: float = 1.0
    #: ``Location`` of the ``redirect_3xx`` faults, sent verbatim. The default is loopback's
    #: discard port: a client that wrongly follows gets "connection refused", no real host.
    redirect_to: str = "http://127.0.0.1:9/sms/moved"
    slow_answer_seconds: float = 5.0
    max_requests_per_second: float | None = None
    latency: Latency = 0.0
    client_max_size: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        _check_port(self.port)
        if not isinstance(self.redirect_to, str) or not self.redirect_to.isprintable():
            raise ValueError(f"redirect_to must be a URL on one line, got {self.redirect_to!r}")
        for name in ("balance", "gift", "credit", "price_per_segment"):
            set_(self, name, Decimal(str(getattr(self, name))))
        for name in ("sensitive_words", "unpriced_prefixes", "invalid_prefixes"):
            set_(self, name, _strings(getattr(self, name), name))
        if self.templates is not None:
            set_(self, "templates", _strings(self.templates, "templates"))
            for pattern in self.templates:
                re.compile(pattern)  # a bad regex fails here, not on the first request
        if self.allowed_ips is not None:
            set_(self, "allowed_ips", frozenset(_strings(self.allowed_ips, "allowed_ips")))
        if self.fault_endpoints is not None:
            set_(self, "fault_endpoints", frozenset(endpoint_name(e) for e in self.fault_endpoints))
        rates = dict(self.fault_rates or {})
        for name, rate in rates.items():
            parse_fault(name)
            _check_rate(f"fault_rates[{name!r}]", rate)
        if sum(rates.values()) > 1:
            raise ValueError("fault_rates add up to more than 1")
        set_(self, "fault_rates", rates)
        for name in ("undelivered_rate", "reply_rate", "stop_share"):
            _check_rate(name, getattr(self, name))
        for name in ("undelivered_by_prefix", "undelivered_by_content"):
            rates = {str(key): value for key, value in dict(getattr(self, name)).items()}
            for key, rate in rates.items():
                _check_rate(f"{name}[{key!r}]", rate)
            set_(self, name, rates)
        refusals = {str(key): str(code) for key, code in dict(self.refuse_content).items()}
        for key, code in refusals.items():
            if code not in REFUSAL_CODES:
                raise ValueError(
                    f"refuse_content[{key!r}] must be one of {', '.join(REFUSAL_CODES)}, not {code}"
                )
        set_(self, "refuse_content", refusals)
        for name in ("delivery_delay", "reply_delay", "number_length"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (lo, hi) with 0 <= lo <= hi, got {(lo, hi)}")
        if self.balance < 0 or self.price_per_segment < 0:
            raise ValueError("balance and price_per_segment must not be negative")
        if self.sent_records_page_size < 1:
            raise ValueError("sent_records_page_size must be at least 1")
        if self.max_requests_per_second is not None and self.max_requests_per_second <= 0:
            raise ValueError("max_requests_per_second must be positive (or None)")

    def undelivered_rate_for(self, number: str, content: str) -> float:
        """The delivery failure rate of one message (see ``undelivered_by_*``).

        >>> Knobs(undelivered_by_prefix={"44": 0.5}).undelivered_rate_for("447700900000", "Hi")
        0.5
        """
        if self.undelivered_by_content:
            folded = content.casefold()
            hits = [r for w, r in self.undelivered_by_content.items() if w.casefold() in folded]
            if hits:
                return max(hits)
        best = ""
        for prefix in self.undelivered_by_prefix:
            if number.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.undelivered_by_prefix[best] if best else self.undelivered_rate

    @property
    def faults(self) -> dict[Fault, float]:
        """``fault_rates`` parsed."""
        return {parse_fault(name): rate for name, rate in self.fault_rates.items()}


def _strings(values: Any, name: str) -> tuple[str, ...]:
    if isinstance(values, str):  # a lone string is one item, not its characters
        return (values,)
    if not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of strings")
    return tuple(str(v) for v in values)


def _check_port(port: Any) -> None:
    """A TCP port, else one clear line (not an OverflowError traceback from bind)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:
        raise UsageError(
            f"port must be a whole number 0..{MAX_PORT} (0: any free port), not {port!r}"
        )


def _check_rate(name: str, rate: float) -> None:
    if not 0 <= rate <= 1:
        raise ValueError(f"{name} must be within [0, 1], got {rate}")
