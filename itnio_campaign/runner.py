"""Send a planned campaign: bounded concurrency, rate limits, progress, stop, auto-halt.

The engine is :func:`send_batches` (usable alone on any list of batches);
:func:`send_campaign` runs it for a :class:`~itnio_campaign.plan.Plan` and applies every
request's outcome to a :class:`~itnio_campaign.result.CampaignResult` as it arrives;
:func:`run_campaign` is the synchronous wrapper for scripts and notebook cells.

Each request is journaled as *in flight* before it leaves and completed after
(DESIGN invariant 1). Only requests that provably were not accepted are retried (by the
client); an ambiguous failure makes its recipients ``unknown`` and is never resent here.

>>> # result = await send_campaign(plan, client, concurrency=8, rate=200)   # 200 SMS/s
>>> # result = run_campaign(plan, credentials)                            # in a script
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from .client import AsyncClient
from .config import MAX_NUMBERS_POST, ClientSettings, Credentials
from .errors import (
    AmbiguousError,
    FatalApiError,
    NotSentError,
    RequestError,
    TransientApiError,
    UsageError,
)
from .models import REJECTED, SUBMITTED, UNKNOWN, Batch
from .ratelimit import RateLimiter
from .result import OUTCOME_COLUMNS, Accepted, BatchOutcome, CampaignResult, Stopper

if TYPE_CHECKING:
    from .plan import Plan

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = 8
DEFAULT_MAX_FAILED_BATCHES = 5


class Journal(Protocol):
    """Where requests are recorded before and after they are made (the ledger)."""

    def begin(self, batch: Batch, started_at: float) -> None: ...

    def complete(self, outcome: BatchOutcome) -> None: ...


@dataclass(frozen=True)
class ProgressEvent:
    """Sent to ``on_progress`` after every request."""

    total: int
    done: int
    counts: dict[str, int]
    requests: int
    retries: int


@dataclass
class SendBatchesReport:
    """What :func:`send_batches` did: the outcomes, and why it ended."""

    outcomes: list[BatchOutcome] = field(default_factory=list)
    status: str = "completed"
    halt_reason: str | None = None


async def send_batches(
    client: AsyncClient,
    batches: Sequence[Batch],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    request_rate: float | None = None,
    journal: Journal | None = None,
    on_outcome: Callable[[Batch, BatchOutcome], None] | None = None,
    stop: Stopper | None = None,
    max_failed_batches: int | None = DEFAULT_MAX_FAILED_BATCHES,
) -> SendBatchesReport:
    """Send ``batches`` with at most ``concurrency`` requests in flight.

    ``rate`` caps messages (numbers) per second, ``request_rate`` requests per second.
    A fatal answer (-1, -2, -10, -13) or ``max_failed_batches`` consecutive failed requests
    stop new requests (status ``halted``); ``stop.stop()`` ends it as ``stopped``. Requests
    already in flight always finish and are reported.

    >>> # report = await send_batches(client, build_batches(df, content="Hi"), concurrency=4)
    >>> # join_responses(df, batches, report.outcomes)
    """
    if concurrency < 1:
        raise UsageError(f"concurrency must be at least 1, not {concurrency}")
    report = SendBatchesReport()
    limiters = [
        (RateLimiter(r), per_number)
        for r, per_number in ((rate, True), (request_rate, False))
        if r is not None
    ]
    queue = iter(batches)
    failed_in_row = 0
    lock = asyncio.Lock()  # guards `queue` and the halt decision

    def halt(reason: str) -> None:
        if report.status == "completed":
            report.status, report.halt_reason = "halted", reason

    async def next_batch() -> Batch | None:
        async with lock:
            if report.status != "completed":
                return None
            if stop is not None and stop.stopped:
                report.status = "stopped"
                return None
            batch = next(queue, None)
            if batch is None:
                return None
            for limiter, per_number in limiters:
                await limiter.acquire(batch.size if per_number else 1)
            # The limiter may have waited: a stop pressed meanwhile wins.
            if stop is not None and stop.stopped:
                report.status = "stopped"
                return None
            return batch

    async def worker() -> None:
        nonlocal failed_in_row
        while (batch := await next_batch()) is not None:
            started = time.time()
            if journal is not None:
                journal.begin(batch, started)
            try:
                outcome = await _send_one(client, batch, started)
            except asyncio.CancelledError:
                outcome = BatchOutcome(
                    batch.batch_id, "unknown", "interrupted", "cancelled while in flight",
                    1, started, time.time(),
                )  # fmt: skip
                _record(outcome, batch)
                raise
            _record(outcome, batch)
            if outcome.kind == "fatal":
                halt(outcome.describe())
            failed_in_row = failed_in_row + 1 if outcome.failed else 0
            if max_failed_batches and failed_in_row >= max_failed_batches:
                halt(f"{failed_in_row} requests in a row failed; last: {outcome.describe()}")

    def _record(outcome: BatchOutcome, batch: Batch) -> None:
        if journal is not None:
            journal.complete(outcome)
        report.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(batch, outcome)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(batches)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return report


async def _send_one(client: AsyncClient, batch: Batch, started: float) -> BatchOutcome:
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
        kind = _error_kind(exc)
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
        accepted=Accepted(sent.order_ids, sent.numbers, sent.msg_ids),
    )


def _error_kind(exc: RequestError) -> Any:
    if isinstance(exc, AmbiguousError):
        return "unknown"
    if isinstance(exc, FatalApiError):
        return "fatal"
    if isinstance(exc, NotSentError | TransientApiError):
        return "not_sent"  # provably not accepted: safe for resume to send
    return "rejected"


# -- campaigns -----------------------------------------------------------------------------
async def send_campaign(
    plan: Plan,
    client: AsyncClient,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    progress: bool = True,
    max_failed_batches: int | None = DEFAULT_MAX_FAILED_BATCHES,
    *,
    request_rate: float | None = None,
    ledger: str | Path | Any | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stopper: Stopper | None = None,
) -> CampaignResult:
    """Send every ready recipient of ``plan``; return the result (also when stopped or halted).

    ``ledger`` (a path) journals every request so a crashed or stopped campaign can be resumed
    with :func:`~itnio_campaign.recovery.resume_campaign`; rerunning with the same ledger and
    the same plan resumes, a different plan is refused.

    >>> # result = await send_campaign(plan, client, ledger="spring-promo.sqlite")
    >>> # result.summary()
    """
    settings = send_settings(client, concurrency, rate, request_rate, max_failed_batches)
    if ledger is not None and not hasattr(ledger, "begin"):
        from .recovery import send_with_ledger

        return await send_with_ledger(
            plan, client, Path(ledger), settings=settings, concurrency=concurrency, rate=rate,
            request_rate=request_rate, progress=progress, max_failed_batches=max_failed_batches,
            on_progress=on_progress, stopper=stopper,
        )  # fmt: skip
    result = CampaignResult(plan, settings, stopper=stopper)
    await drive(
        result,
        client,
        plan.batches,
        journal=ledger,  # type: ignore[arg-type]  # an object with begin/complete
        concurrency=concurrency,
        rate=rate,
        request_rate=request_rate,
        progress=progress,
        max_failed_batches=max_failed_batches,
        on_progress=on_progress,
    )
    return result


def send_settings(
    client: AsyncClient,
    concurrency: int,
    rate: float | None,
    request_rate: float | None,
    max_failed_batches: int | None,
) -> dict[str, Any]:
    """How a campaign was sent, for the summary, the ledger and the report (no secrets)."""
    return {
        "concurrency": concurrency,
        "rate": rate,
        "request_rate": request_rate,
        "max_failed_batches": max_failed_batches,
        "app_id": client.credentials.app_id,
        "base_url": client.credentials.base_url,
    }


async def drive(
    result: CampaignResult,
    client: AsyncClient,
    batches: Sequence[Batch],
    *,
    journal: Journal | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    request_rate: float | None = None,
    progress: bool = True,
    max_failed_batches: int | None = DEFAULT_MAX_FAILED_BATCHES,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> CampaignResult:
    """Send ``batches`` and apply each outcome to ``result`` as it arrives (live progress)."""
    total = sum(b.size for b in batches)
    bar = progress_bar(total, progress, "sending")
    done = 0
    live = {SUBMITTED: 0, REJECTED: 0, UNKNOWN: 0}
    result.status = "running"
    result.started_at = result.started_at or time.time()

    def on_outcome(batch: Batch, outcome: BatchOutcome) -> None:
        nonlocal done
        result.apply_outcome(outcome)
        done += batch.size
        accepted = len(outcome.accepted)
        if outcome.kind == "accepted":
            live[SUBMITTED] += accepted
            live[REJECTED] += batch.size - accepted
        elif outcome.kind in ("rejected", "unknown"):
            live[REJECTED if outcome.kind == "rejected" else UNKNOWN] += batch.size
        if bar is not None:
            bar.update(batch.size)
            bar.set_postfix(live, refresh=False)
        if on_progress is not None:
            on_progress(
                ProgressEvent(total, done, dict(live), len(result.outcomes), result.retries)
            )

    try:
        report = await send_batches(
            client,
            batches,
            concurrency=concurrency,
            rate=rate,
            request_rate=request_rate,
            journal=journal,
            on_outcome=on_outcome,
            stop=result.stopper,
            max_failed_batches=max_failed_batches,
        )
        result.status = report.status  # type: ignore[assignment]
        result.halt_reason = report.halt_reason
    except (asyncio.CancelledError, KeyboardInterrupt):
        result.status, result.halt_reason = "stopped", "interrupted"
        raise
    finally:
        result.finished_at = time.time()
        if bar is not None:
            bar.close()
    return result


def progress_bar(total: int, enabled: bool, desc: str) -> Any:
    """A tqdm.auto bar counting SMS (a widget in Jupyter, text in a terminal), or None."""
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="SMS", desc=desc, smoothing=0.1)


def run_campaign(
    plan: Plan,
    credentials: Credentials,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate: float | None = None,
    progress: bool = True,
    max_failed_batches: int | None = DEFAULT_MAX_FAILED_BATCHES,
    *,
    settings: ClientSettings | None = None,
    **options: Any,
) -> CampaignResult:
    """Synchronous :func:`send_campaign`: works in a script and inside a Jupyter cell.

    The campaign runs on a private event loop in a worker thread (so it works whether or
    not the caller's thread already runs a loop, as Jupyter's does) and this call waits for
    it. Ctrl-C (KeyboardInterrupt) stops cleanly: no new requests, the ones in flight finish,
    and the partial result is returned. The thread and the HTTP session end with the call.

    >>> # result = run_campaign(plan, Credentials.from_env())
    """
    stopper = Stopper()
    box: dict[str, Any] = {}

    async def main() -> CampaignResult:
        async with AsyncClient(credentials, settings) as client:
            return await send_campaign(
                plan, client, concurrency, rate, progress, max_failed_batches,
                stopper=stopper, **options,
            )  # fmt: skip

    done = threading.Event()

    def target() -> None:
        try:
            box["result"] = asyncio.run(main())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, name="itnio-campaign-send", daemon=True)
    thread.start()
    # Wait on an Event, not on join(): a KeyboardInterrupt inside Thread.join() can leave
    # the thread marked as finished while it still runs (a known CPython pitfall).
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        log.warning("interrupted: no new requests; waiting for the ones in flight")
        stopper.stop()
        done.wait()
    thread.join()
    if "error" in box:
        raise box["error"]
    result: CampaignResult = box["result"]
    return result


# -- the product card's helpers ------------------------------------------------------------
def build_batches(
    df: pd.DataFrame,
    number_col: str = "number",
    content: str | None = None,
    *,
    content_col: str | None = None,
    order_id_col: str | None = None,
    sender_id: str | None = None,
    max_numbers: int = MAX_NUMBERS_POST,
) -> list[Batch]:
    """Chunk any frame of API-form numbers into requests of at most ``max_numbers``.

    Rows with the same content share ``sendSms`` requests; leftovers of several contents
    are packed into ``sendSms/batch`` requests (the plan's packing). orderIds come from
    ``order_id_col`` or are ``r<position>``. Positions refer to ``df``'s row order.

    >>> frame = pd.DataFrame({"number": ["919876543210", "919876543211"]})
    >>> [b.size for b in build_batches(frame, content="Hi")]
    [2]
    """
    from .plan import make_batches

    if number_col not in df.columns:
        raise UsageError(f"no column {number_col!r}; the frame has {list(df.columns)}")
    if (content is None) == (content_col is None):
        raise UsageError("give exactly one of content= or content_col=")
    n = len(df)
    texts = pd.Series([content] * n) if content_col is None else df[content_col].astype(str)
    codes, contents = pd.factorize(texts.to_numpy(dtype=object))
    order_ids = (
        df[order_id_col].astype(str).to_numpy(dtype=object)
        if order_id_col
        else np.array([f"r{i}" for i in range(n)], dtype=object)
    )
    numbers = df[number_col].astype(str).to_numpy(dtype=object)
    positions = np.arange(n)
    return make_batches(
        numbers, codes, np.asarray(contents, dtype=object), order_ids, positions, sender_id,
        max_numbers,
    )  # fmt: skip


def join_responses(
    df: pd.DataFrame, batches: Sequence[Batch], outcomes: Iterable[BatchOutcome]
) -> pd.DataFrame:
    """A new frame: ``df`` plus ``state``, ``msg_id``, ``reason`` and ``batch`` per row.

    Joined by orderId (never by position in the answer); the user's frame is not touched.
    Rows in no batch stay ``pending``.

    >>> # report = await send_batches(client, batches)
    >>> # join_responses(df, batches, report.outcomes)
    """
    result = CampaignResult(_BatchesOnly(df, list(batches)))
    for outcome in outcomes:
        result.apply_outcome(outcome)
    frame = result.frame
    names = dict(zip(OUTCOME_COLUMNS, result.outcome_columns, strict=True))
    out = df.copy()
    for column in ("state", "msg_id", "reason", "batch"):
        out[names[column]] = frame[names[column]].to_numpy()
    return out


class _BatchesOnly:
    """The little of a Plan that a result needs, built from bare batches (join_responses)."""

    def __init__(self, df: pd.DataFrame, batches: list[Batch]) -> None:
        n = len(df)
        numbers: list[str | None] = [None] * n
        order_ids: list[str | None] = [None] * n
        contents: list[str | None] = [None] * n
        for batch in batches:
            pos = iter(batch.positions)
            for item in batch.items:
                oids = item.order_ids or (None,) * len(item.numbers)
                for number, oid in zip(item.numbers, oids, strict=True):
                    p = next(pos)
                    numbers[p], order_ids[p], contents[p] = number, oid, item.content
        self.source = df
        self.batches = batches
        self.settings: dict[str, Any] = {}
        self.recipients = pd.DataFrame(
            {
                "number": numbers,
                "order_id": order_ids,
                "content": contents,
                "encoding": None,
                "segments": 0,
                "state": "ready",
                "reason": None,
            },
            index=df.index,
        )

    def summary(self) -> None:
        return None
