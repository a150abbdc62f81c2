"""Delivery reports (getReport) and replies (recordMo → opt-outs).

A campaign's ``submitted`` rows only have a msgId; whether the SMS reached the phone is
learned by polling ``getReport`` (≤200 msgIds a call). Replies such as STOP are read with
``recordMo`` and turned into a suppression list for the next plan.

Example::

    result = await send_campaign(plan, client)
    result = await watch_delivery(result, client, interval=30)    # until settled
    replies = await fetch_replies(client, "2024-05-01T00:00:00+05:30")    # until now
    next_plan = plan_campaign(df, number_col="phone", content="Hi", suppress=opt_outs(replies))
"""

from __future__ import annotations

import asyncio
import os
import string
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .client import AsyncClient, aware_time
from .engine import progress_bar
from .errors import UsageError
from .models import ACCEPTED_STATES, MAX_REPORT_IDS, SUBMITTED, DeliveryRecord, Reply
from .numbers import normalize_numbers
from .result import CampaignResult

if TYPE_CHECKING:
    from tqdm.auto import tqdm

#: getReport calls in flight at once during one refresh pass.
REPORT_CONCURRENCY = 4
#: What recipients reply to opt out (matched case-insensitively).
STOP_KEYWORDS = ("STOP", "UNSUBSCRIBE", "STOPALL", "CANCEL", "END", "QUIT")
#: Columns of :func:`fetch_replies`' frame, in order.
REPLY_COLUMNS = (
    "number", "content", "receive_time", "send_id", "operator", "mcc", "mnc", "price", "currency",
)  # fmt: skip

# What is trimmed around a reply before matching: "STOP." and " stop " are both STOP.
_TRIM = string.whitespace + string.punctuation

#: A result in memory, a ledger path, or an open ``Ledger``.
ResultSource = Any
#: Where a ledger-backed refresh keeps the reports it received.
Store = Callable[[list[DeliveryRecord]], Any]


# --- delivery reports ---------------------------------------------------------------------
async def refresh_delivery(
    result_or_ledger: ResultSource,
    client: AsyncClient,
    *,
    concurrency: int = REPORT_CONCURRENCY,
) -> CampaignResult:
    """Ask ``getReport`` once about every msgId whose delivery is not final; apply the answers.

    Ids go in chunks of at most 200, ``concurrency`` calls in flight. Ids the provider does
    not know yet (``nofound``) stay pending and are asked again next time. Given a ledger
    path, the campaign is loaded from it and the reports are stored back in it, so a
    reopened campaign keeps its delivery state. API errors propagate (reports that arrived
    before the error are kept).

    Example::

        result = await refresh_delivery(result, client)
        result.frame["state"].value_counts()     # delivered / undelivered / sending ...
        result = await refresh_delivery("spring-promo.sqlite", client)
    """
    _check_client(client)
    _check_positive_int("concurrency", concurrency)
    result, store = _open(result_or_ledger)
    await _refresh_once(result, client, concurrency, store=store)
    return result


async def watch_delivery(
    result_or_ledger: ResultSource,
    client: AsyncClient,
    interval: float = 30,
    until_settled: bool = True,
    timeout: float | None = 3600,
    progress: bool = True,
    *,
    concurrency: int = REPORT_CONCURRENCY,
) -> CampaignResult:
    """Refresh delivery every ``interval`` seconds with a progress bar of settled/total.

    Ends when no msgId is pending any more (``until_settled=True``), or with
    ``until_settled=False`` as soon as every msgId has *a* report (none left ``submitted``;
    ``sending`` counts), or when ``timeout`` seconds have passed (``None``: no limit).
    Returns the result either way; rows still pending are ``submitted``/``sending`` and
    the next call continues from there.

    Example::

        result = await watch_delivery(result, client, interval=30, timeout=3600)
    """
    _check_client(client)
    _check_positive_int("concurrency", concurrency)
    if not isinstance(interval, (int, float)) or isinstance(interval, bool) or interval <= 0:
        raise UsageError(f"interval must be a positive number of seconds, not {interval!r}")
    if timeout is not None and (
        not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0
    ):
        raise UsageError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    result, store = _open(result_or_ledger)
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    total = int(np.isin(result.states, ACCEPTED_STATES).sum())
    bar = progress_bar(total, progress, "delivery")
    try:
        while True:
            if result.pending_delivery_ids():
                await _refresh_once(result, client, concurrency, store=store)
            pending = len(result.pending_delivery_ids())
            if bar is not None:
                _show(bar, result, total - pending)
            if pending == 0 or (not until_settled and not result.positions_in(SUBMITTED).size):
                break
            if deadline is not None and loop.time() + interval > deadline:
                break
            # Polling a remote service at an interval: the wait is the point, not a sync.
            await asyncio.sleep(interval)
    finally:
        if bar is not None:
            bar.close()
    return result


async def _refresh_once(
    result: CampaignResult,
    client: AsyncClient,
    concurrency: int,
    *,
    store: Store | None = None,
) -> int:
    """One pass over the pending msgIds; return how many rows changed."""
    ids = result.pending_delivery_ids()
    chunks = [ids[i : i + MAX_REPORT_IDS] for i in range(0, len(ids), MAX_REPORT_IDS)]
    gate = asyncio.Semaphore(concurrency)
    received: list[DeliveryRecord] = []
    changed = 0

    async def ask(chunk: Sequence[str]) -> None:
        nonlocal changed
        async with gate:
            report = await client.get_report(chunk)
        # Applied as each answer arrives, so an error in another chunk loses nothing.
        received.extend(report.records)
        changed += result.apply_delivery(report.records)

    try:
        async with asyncio.TaskGroup() as group:
            for chunk in chunks:
                group.create_task(ask(chunk))
    except BaseExceptionGroup as group_error:
        # The first API error, as itself: callers catch ApiError, not an exception group.
        raise group_error.exceptions[0] from None
    finally:
        if store is not None and received:
            store(received)
    return changed


def _show(bar: tqdm, result: CampaignResult, settled: int) -> None:
    counts = result.counts()
    bar.n = settled
    bar.set_postfix(
        {k: counts.get(k, 0) for k in ("delivered", "undelivered", "sending")}, refresh=False
    )
    bar.refresh()


# --- the ledger path ----------------------------------------------------------------------
def _open(source: Any) -> tuple[CampaignResult, Store | None]:
    """The result to refresh, and where its reports must be kept (None: in memory only)."""
    if isinstance(source, CampaignResult):
        return source, None
    from .ledger import Ledger  # the ledger layer is only needed on this path
    from .recovery import load_campaign, rebuild_result

    if isinstance(source, Ledger):  # already open (and locked) by the caller
        if source.readonly:
            raise UsageError("the ledger is open read-only; open it for writing")
        return rebuild_result(source), source.record_delivery
    if not isinstance(source, (str, os.PathLike)):
        raise UsageError(
            "expected a CampaignResult (from send_campaign) or a campaign ledger "
            f"(its path), not {type(source).__name__}"
        )
    path = Path(source)
    if not path.is_file():
        raise UsageError(f"no campaign ledger at {path}")
    with Ledger.open(path, create=False):
        pass  # in use by a sender, foreign or corrupt: LedgerError now, before any request

    def store(records: list[DeliveryRecord]) -> None:
        # Hold the writer lock only while writing, not through the network calls.
        with Ledger.open(path, create=False) as ledger:
            ledger.record_delivery(records)

    return load_campaign(path), store


# --- replies and opt-outs -----------------------------------------------------------------
async def fetch_replies(
    client: AsyncClient,
    start: datetime | str,
    end: datetime | str | None = None,
    *,
    size: int = 100,
) -> pd.DataFrame:
    """Every reply received from ``start`` to ``end`` (default: now), all pages, as a frame.

    Columns: number, content, receive_time (tz-aware, UTC), send_id, operator, mcc, mnc,
    price (Decimal), currency. Windows longer than a month are split; the start is moved up
    to the provider's earliest date (2022-07-01 +08:00). Naive times are local time.

    Example::

        replies = await fetch_replies(client, "2024-05-01T00:00:00+05:30")
        replies[replies.content.str.strip().str.upper() == "STOP"]
    """
    _check_client(client)
    lo = aware_time(start, "start")
    hi = datetime.now(UTC) if end is None else aware_time(end, "end")
    if hi <= lo:
        raise UsageError(f"end ({hi}) must be after start ({lo})")
    replies = [reply async for reply in client.iter_mo_records(lo, hi, size=size)]
    return replies_frame(replies)


def replies_frame(replies: Iterable[Reply]) -> pd.DataFrame:
    """Replies as the frame :func:`fetch_replies` returns (empty: same columns)."""
    rows = list(replies)
    times = [r.receive_time for r in rows]
    return pd.DataFrame(
        {
            "number": pd.array([r.number for r in rows], dtype="string"),
            "content": pd.array([r.content for r in rows], dtype="string"),
            "receive_time": pd.to_datetime(pd.Series(times, dtype=object), utc=True)
            if rows
            else pd.Series([], dtype="datetime64[ns, UTC]"),
            "send_id": pd.array([r.send_id for r in rows], dtype="string"),
            "operator": pd.array([r.operator for r in rows], dtype="string"),
            "mcc": pd.array([r.mcc for r in rows], dtype="string"),
            "mnc": pd.array([r.mnc for r in rows], dtype="string"),
            "price": pd.Series([r.price for r in rows], dtype=object),
            "currency": pd.array([r.currency for r in rows], dtype="string"),
        },
        columns=list(REPLY_COLUMNS),
    )


def opt_outs(
    replies: pd.DataFrame | Iterable[Reply],
    keywords: Iterable[str] = STOP_KEYWORDS,
    match: Literal["exact", "first_word"] = "exact",
) -> pd.Series:
    """Numbers that replied an opt-out keyword: a unique Series named ``number`` (API form).

    ``match="exact"``: the whole reply, trimmed of spaces and punctuation, is a keyword
    ("STOP", " stop ", "Stop." — not "Stopping by later"). ``"first_word"``: its first word
    is ("STOP please"). Case-insensitive. Pass the result to ``plan_campaign(suppress=...)``.

    >>> replies = pd.DataFrame({"number": ["919876543210", "919876543211", "919876543210"],
    ...                         "content": [" Stop ", "Stopping by later", "STOP."]})
    >>> opt_outs(replies).tolist()
    ['919876543210']
    """
    frame = _replies_input(replies)
    words = _keywords(keywords)
    if match not in ("exact", "first_word"):
        raise UsageError(f"match must be 'exact' or 'first_word', not {match!r}")
    text = frame["content"].astype("string").fillna("").str.strip(_TRIM)
    if match == "first_word":
        text = text.str.split(n=1).str[0].fillna("").str.strip(_TRIM)
    hit = text.str.casefold().isin(words).to_numpy(dtype=bool, na_value=False)
    numbers = frame["number"][hit]
    return _api_numbers(numbers)


def _replies_input(replies: Any) -> pd.DataFrame:
    if isinstance(replies, pd.DataFrame):
        missing = {"number", "content"} - set(replies.columns)
        if missing:
            raise UsageError(
                f"replies frame needs columns number and content; missing {sorted(missing)}"
            )
        return replies
    if isinstance(replies, (str, bytes)) or not isinstance(replies, Iterable):
        raise UsageError(
            "replies must be the frame from fetch_replies (or Reply objects), "
            f"not {type(replies).__name__}"
        )
    rows = list(replies)
    if not all(isinstance(r, Reply) for r in rows):
        raise UsageError("replies must be the frame from fetch_replies (or Reply objects)")
    return replies_frame(rows)


def _keywords(keywords: Iterable[str]) -> list[str]:
    if isinstance(keywords, str):  # one keyword, not its letters
        keywords = (keywords,)
    words = [str(k).strip(_TRIM).casefold() for k in keywords]
    if not words or not all(words):
        raise UsageError(f"keywords must be non-empty words, got {list(keywords)!r}")
    return words


def _api_numbers(values: pd.Series) -> pd.Series:
    """The provider's numbers (international, digits only) in API form, unique, in order."""
    text = values.astype("string").str.strip()
    # The provider reports numbers without '+': read them as international, never national.
    text = text.where(text.str.startswith("+").fillna(False), "+" + text)
    if len(text) == 0:
        return pd.Series([], dtype="string", name="number")
    normal = normalize_numbers(text.reset_index(drop=True))["number"]
    # A number phonenumbers does not know is still the provider's own form: keep its digits.
    digits = text.reset_index(drop=True).str.replace(r"\D", "", regex=True)
    kept = normal.fillna(digits)
    kept = kept[kept.str.len().fillna(0) > 0]
    return pd.Series(kept.drop_duplicates().to_numpy(), dtype="string", name="number")


# --- argument checks ----------------------------------------------------------------------
def _check_client(client: Any) -> None:
    if not hasattr(client, "get_report") or not hasattr(client, "iter_mo_records"):
        raise UsageError(f"client must be an AsyncClient, not {type(client).__name__}")


def _check_positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise UsageError(f"{name} must be a positive integer, not {value!r}")


__all__ = [
    "REPLY_COLUMNS",
    "STOP_KEYWORDS",
    "fetch_replies",
    "opt_outs",
    "refresh_delivery",
    "replies_frame",
    "watch_delivery",
]
