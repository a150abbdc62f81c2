"""The send engine: requests with bounded concurrency, rate limits, stop and auto-halt.

It knows nothing of plans, results or ledgers: it sends :class:`~itnio_campaign.models.Batch`
requests through an :class:`~itnio_campaign.client.AsyncClient`, records each one in a
:class:`Journal` (any object with ``begin``/``complete``, e.g. the ledger) before and after it
leaves, and reports every :class:`~itnio_campaign.result.BatchOutcome` to a callback.
The campaign layer (:mod:`itnio_campaign.runner`, :mod:`itnio_campaign.recovery`) sits on top.

How to send is one frozen value, :class:`~itnio_campaign.options.SendOptions`, built once
(from keyword arguments, CLI flags or the form) and passed down unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .client import AsyncClient
from .errors import RequestError, UsageError, outcome_kind
from .models import Batch
from .options import SendOptions
from .ratelimit import RateLimiter
from .result import Accepted, BatchOutcome, Stopper

log = logging.getLogger(__name__)

#: Outcome kinds the automatic pause counts: the provider refused the request, or nobody
#: knows whether it was accepted (``not_sent`` is provably harmless; ``fatal`` halts at once).
PAUSE_KINDS = frozenset({"rejected", "unknown"})


class Journal(Protocol):
    """Where requests are recorded before and after they are made (the ledger is one)."""

    def begin(self, batch: Batch, started_at: float) -> None: ...

    def complete(self, outcome: BatchOutcome) -> None: ...


@dataclass
class SendBatchesReport:
    """What :func:`send_batches` did: the outcomes, and why it ended."""

    outcomes: list[BatchOutcome] = field(default_factory=list)
    status: str = "completed"
    halt_reason: str | None = None
    #: Requests ``admit`` turned away (their send window closed): not made, not journaled.
    deferred: list[Batch] = field(default_factory=list)


async def send_batches(
    client: AsyncClient,
    batches: Sequence[Batch],
    *,
    options: SendOptions | None = None,
    journal: Journal | None = None,
    on_outcome: Callable[[Batch, BatchOutcome], None] | None = None,
    stop: Stopper | None = None,
    admit: Callable[[Batch], bool] | None = None,
    **option_overrides: Any,
) -> SendBatchesReport:
    """Send ``batches`` with at most ``options.concurrency`` requests in flight.

    A fatal answer (-1, -2, -10, -13, a redirect) or ``max_failed_batches`` consecutive
    failed requests stop new requests (status ``halted``), and so does the automatic pause:
    more than ``pause_rate`` of the last ``pause_window`` requests rejected or unknown
    (see :class:`RollingRate`); ``stop.stop()`` ends it as ``stopped``. Requests already in
    flight always finish and are reported. Keyword
    options (``concurrency=4``) override ``options``. ``admit(batch)``, asked right before
    each request (after the rate limiter's wait), may turn it away: it is not made and is
    listed in ``report.deferred`` (send windows: its recipients' window closed).

    Example::

        report = await send_batches(client, build_batches(df, content="Hi"), concurrency=4)
        join_responses(df, batches, report.outcomes)
    """
    opts = SendOptions.of(options, **option_overrides)
    report = SendBatchesReport()
    limiters = [
        (RateLimiter(r), per_number)
        for r, per_number in ((opts.rate, True), (opts.request_rate, False))
        if r is not None
    ]
    queue = iter(batches)
    failed_in_row = 0
    rolling = RollingRate(opts.pause_window, opts.pause_rate)
    lock = asyncio.Lock()  # guards `queue` and the halt decision

    def halt(reason: str) -> None:
        if report.status == "completed":
            report.status, report.halt_reason = "halted", reason

    def stopped() -> bool:
        if stop is not None and stop.stopped:
            report.status = "stopped" if report.status == "completed" else report.status
            return True
        return False

    async def next_batch() -> Batch | None:
        async with lock:
            if report.status != "completed" or stopped():
                return None
            while True:
                batch = next(queue, None)
                if batch is None:
                    return None
                if admit is not None and not admit(batch):
                    report.deferred.append(batch)
                    continue
                for limiter, per_number in limiters:
                    await limiter.acquire(batch.size if per_number else 1)
                # The limiter may have waited: a stop pressed meanwhile wins, and a window
                # that closed meanwhile turns the request away.
                if stopped():
                    return None
                if admit is not None and not admit(batch):
                    report.deferred.append(batch)
                    continue
                return batch

    async def worker() -> None:
        nonlocal failed_in_row
        while (batch := await next_batch()) is not None:
            started = time.time()
            if journal is not None:
                journal.begin(batch, started)
            try:
                outcome = await send_one(client, batch, started)
            except asyncio.CancelledError:
                outcome = BatchOutcome(
                    batch.batch_id, "unknown", "interrupted", "cancelled while in flight",
                    1, started, time.time(),
                )  # fmt: skip
                record(outcome, batch)
                raise
            record(outcome, batch)
            if outcome.kind == "fatal":
                halt(outcome.describe())
            failed_in_row = failed_in_row + 1 if outcome.failed else 0
            if opts.max_failed_batches and failed_in_row >= opts.max_failed_batches:
                halt(f"{failed_in_row} requests in a row failed; last: {outcome.describe()}")
            if rolling.add(outcome.kind):
                halt(f"automatic pause: {rolling.describe()}; last: {outcome.describe()}")

    def record(outcome: BatchOutcome, batch: Batch) -> None:
        if journal is not None:
            journal.complete(outcome)
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(batch, outcome)

    workers = [asyncio.create_task(worker()) for _ in range(min(opts.concurrency, len(batches)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return report


class RollingRate:
    """The share of rejected or unknown outcomes over the last ``window`` requests.

    >>> rate = RollingRate(4, 0.5)
    >>> [rate.add(k) for k in ("accepted", "rejected", "unknown", "rejected")]
    [False, False, False, True]
    >>> rate.describe()
    '3 of the last 4 requests rejected or unknown (75%, above the 50% limit)'
    """

    def __init__(self, window: int | None, limit: float) -> None:
        self.window, self.limit = window, limit
        self._kinds: deque[bool] = deque(maxlen=window or 1)

    def add(self, kind: str) -> bool:
        """Count one outcome; True when the window is full and the rate is above the limit."""
        if self.window is None:
            return False
        self._kinds.append(kind in PAUSE_KINDS)
        return len(self._kinds) == self.window and self.rate > self.limit

    @property
    def rate(self) -> float:
        return sum(self._kinds) / len(self._kinds) if self._kinds else 0.0

    def describe(self) -> str:
        return (
            f"{sum(self._kinds)} of the last {len(self._kinds)} requests rejected or unknown "
            f"({self.rate:.0%}, above the {self.limit:.0%} limit)"
        )


async def send_one(client: AsyncClient, batch: Batch, started: float) -> BatchOutcome:
    """Make one request and turn its answer or error into a BatchOutcome."""
    try:
        if batch.endpoint == "sendSms":
            item = batch.items[0]
            sent = await client.send_sms(
                item.numbers, item.content, sender_id=item.sender_id, order_ids=item.order_ids
            )
        else:
            sent = await client.send_sms_batch(batch.items)
    except RequestError as exc:
        kind = outcome_kind(exc)
        log.warning("request %d: %s (%s)", batch.batch_id, kind, exc)
        return BatchOutcome(
            batch.batch_id, kind, exc.code, exc.reason, exc.attempts, started, time.time()
        )
    except UsageError as exc:  # a limit the plan should have kept: refuse, do not crash
        return BatchOutcome(batch.batch_id, "rejected", "client", str(exc), 0, started, time.time())
    return BatchOutcome(
        batch.batch_id,
        "accepted",
        "0",
        sent.reason,
        sent.attempts,
        started,
        time.time(),
        success=sent.success,
        fail=sent.fail,
        accepted=_as_requested(batch, Accepted(sent.order_ids, sent.numbers, sent.msg_ids)),
    )


def _as_requested(batch: Batch, accepted: Accepted) -> Accepted:
    """``accepted`` on the request's own number and orderId tuples when the answer lists
    exactly the request's numbers in order (the usual answer): compared once here, the
    result's join and the ledger's record then see it by identity, and the answer's copies
    of a million numbers are not kept.

    >>> from itnio_campaign.models import BatchItem
    >>> b = Batch(0, "sendSms", (BatchItem(("91a",), "Hi", None, ("o1",)),), (0,))
    >>> _as_requested(b, Accepted(("o1",), ("91a",), ("m1",))).numbers is b.numbers
    True
    """
    numbers, order_ids = batch.numbers, batch.order_ids
    if accepted.numbers == numbers and accepted.order_ids == order_ids:
        return Accepted(order_ids, numbers, accepted.msg_ids)
    return accepted


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm.auto bar counting SMS (a widget in Jupyter, text in a terminal), or None."""
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="SMS", desc=desc, smoothing=0.1)


__all__ = [
    "PAUSE_KINDS",
    "Journal",
    "RollingRate",
    "SendBatchesReport",
    "SendOptions",
    "progress_bar",
    "send_batches",
    "send_one",
]
