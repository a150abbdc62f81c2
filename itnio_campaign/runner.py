"""Send a planned campaign: the campaign layer's entry points.

:func:`send_campaign` sends a :class:`~itnio_campaign.plan.Plan` and returns its
:class:`~itnio_campaign.result.CampaignResult` (with a ledger: journaled, resumable, and
never a second campaign of the same plan by accident); :func:`run_campaign` is the
synchronous wrapper for scripts and notebook cells; :func:`build_batches` and
:func:`join_responses` are the helpers for any DataFrame of numbers.

The chain, each step adding one thing: ``send_campaign`` (ledger or not) →
``recovery.send_with_ledger`` (journal, one campaign per plan) → ``sending.send_into``
(live result, progress, final status) → ``engine.send_batches`` (concurrency, rate, stop,
halt) → ``engine.send_one`` (one request → one outcome). See docs/architecture.md.

Example::

    result = await send_campaign(plan, client, concurrency=8, rate=200)   # 200 SMS/s
    result = run_campaign(plan, credentials)                            # in a script
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .client import AsyncClient
from .config import ClientSettings, Credentials
from .engine import Journal, SendBatchesReport, SendOptions, progress_bar, send_batches
from .errors import UsageError
from .models import MAX_NUMBERS_POST, Batch
from .recovery import send_with_ledger
from .result import OUTCOME_COLUMNS, BatchOutcome, CampaignResult, Stopper
from .sending import ProgressEvent, send_into, send_settings
from .trial import Gate, Gating
from .workspace.sendcheck import recheck, record, workspace_for

if TYPE_CHECKING:
    from .plan import Plan

log = logging.getLogger(__name__)

DEFAULT_CONCURRENCY = SendOptions().concurrency
DEFAULT_MAX_FAILED_BATCHES = SendOptions().max_failed_batches


async def send_campaign(
    plan: Plan,
    client: AsyncClient,
    *,
    options: SendOptions | None = None,
    ledger: str | Path | None = None,
    journal: Journal | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stopper: Stopper | None = None,
    send_again: bool = False,
    trial: float | str | None = None,
    gate: Gate | str | None = None,
    require_test: bool = False,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    workspace: Any = None,
    **option_overrides: Any,
) -> CampaignResult:
    """Send every ready recipient of ``plan``; return the result (also when stopped or halted).

    ``options`` is a :class:`~itnio_campaign.engine.SendOptions`; keyword arguments
    (``concurrency=4``, ``rate=200``, ``request_rate``, ``max_failed_batches``,
    ``progress``) override it.

    ``ledger`` (a path) journals every request, so a crashed, stopped or halted campaign
    continues where it ended: calling this again with the same ledger and plan sends only
    the recipients never attempted (unknown ones are reconciled, never resent). A plan that
    was already sent from another ledger in the same folder is refused (nobody gets it
    twice) unless ``send_again=True``, which sends it to everyone again in a new ledger.
    ``journal`` is any other :class:`~itnio_campaign.engine.Journal` (no resume logic).

    ``trial`` (``0.02`` or ``"2%"``, needs ``ledger``) sends a stratified random share first
    and sends the rest only if ``gate`` (a :class:`~itnio_campaign.trial.Gate`, default
    ``Gate()``: delivered ≥ 90%, rejected ≤ 2%, reports awaited up to 15 minutes) passes;
    otherwise the campaign is ``halted`` with the measured rates and the rest stay pending
    (``resume_campaign(..., override_gate=True)`` sends them). ``clock``/``sleep`` replace
    time in the wait (tests). ``require_test=True`` refuses a plan without a passing
    :func:`~itnio_campaign.testsend.send_test` in the ledger.

    A plan made with a workspace (``plan_campaign(..., workspace=ws)``) is checked against it
    again just before sending (opt-outs, caps and repeats recorded since are skipped, with
    ``result.notice`` saying how many) and recorded in it afterwards; ``workspace=False``
    sends without that check, explicitly; a Workspace or location replaces the plan's.

    Example::

        result = await send_campaign(plan, client, ledger="spring-promo.sqlite")
        result.summary()
        result = await send_campaign(plan, client, ledger="promo.sqlite", trial="2%",
                                     gate=Gate(min_delivered=0.9, max_rejected=0.02, wait="15m"))
    """
    opts = SendOptions.of(options, **option_overrides)
    gating = Gating.of(trial, gate, clock=clock, sleep=sleep)
    if ledger is None and (gating.share is not None or require_test):
        raise UsageError(
            "trial= and require_test= need ledger= (the trial, the gate's decision and the "
            "test sends are kept there, so a resume still applies them)"
        )
    if ledger is not None:
        if journal is not None:
            raise UsageError("give ledger= or journal=, not both")
        return await send_with_ledger(
            plan, client, ledger, options=opts, on_progress=on_progress, stopper=stopper,
            send_again=send_again, gating=gating, require_test=require_test,
            workspace=workspace,
        )  # fmt: skip
    result = CampaignResult(plan, send_settings(client, opts), stopper=stopper)
    ws = workspace_for(plan, workspace)  # issue 13: re-check just before sending
    batches = plan.batches
    if ws is not None:
        batches, note = recheck(ws, plan, result, batches)
        result.notice = note or None
    result = await send_into(
        result, client, batches, options=opts, journal=journal, on_progress=on_progress
    )
    if ws is not None:
        record(ws, result)
    return result


def run_campaign(
    plan: Plan,
    credentials: Credentials,
    *,
    settings: ClientSettings | None = None,
    **send_options: Any,
) -> CampaignResult:
    """Synchronous :func:`send_campaign`: works in a script and inside a Jupyter cell.

    The campaign runs on a private event loop in a worker thread (so it works whether or
    not the caller's thread already runs a loop, as Jupyter's does) and this call waits for
    it. Ctrl-C (KeyboardInterrupt) stops cleanly: no new requests, the ones in flight finish,
    and the partial result is returned. The thread and the HTTP session end with the call.
    ``send_options`` are those of :func:`send_campaign`.

    Example::

        result = run_campaign(plan, Credentials.from_env(), ledger="spring-promo.sqlite")
    """
    stopper = send_options.pop("stopper", None) or Stopper()
    box: dict[str, Any] = {}

    async def main() -> CampaignResult:
        async with AsyncClient(credentials, settings) as client:
            return await send_campaign(plan, client, stopper=stopper, **send_options)

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
        stopper.stop()  # first the flag, then the word: whoever reads the line may rely on it
        log.warning("interrupted: no new requests; waiting for the ones in flight")
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

    Example::

        report = await send_batches(client, batches)
        join_responses(df, batches, report.outcomes)
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


__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_FAILED_BATCHES",
    "Gate",
    "Journal",
    "ProgressEvent",
    "SendBatchesReport",
    "SendOptions",
    "Stopper",
    "build_batches",
    "join_responses",
    "progress_bar",
    "run_campaign",
    "send_batches",
    "send_campaign",
]
