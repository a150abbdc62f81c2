"""Sending inside the recipients' windows: wait, send what is open, expire, skip the late.

The campaign layer's loop for a plan with windows (``plan_campaign(window=...)``):

* a request is made only while its recipients' window is open (and stays open
  :data:`~itnio_campaign.schedule.CLOSING_MARGIN_S` longer); requests never mix windows;
* when nothing is open it waits for the next window on the injected clock (``clock``/
  ``sleep``, as the trial's wait), saying which zone opens when (``result.notice``,
  ``ProgressEvent.waiting``, the ledger's status ``waiting``); ``Stop`` ends the wait;
* at ``expire_at`` the requests not made become ``expired``; with ``late="skip"`` those
  whose window passed become ``skipped_window_passed``. Both are final and kept in the
  ledger (table ``window_marks``), so a resume never sends them;
* everything it decides is in the ledger first, so a kill -9 while waiting, then a resume,
  sends nobody twice and nobody outside their window.

Example::

    plan = plan_campaign(df, content="Hi", window="09:00-20:00", expire_at="2026-12-02T00:00Z")
    result = await send_campaign(plan, client, ledger="spring.sqlite")   # waits as needed
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .errors import UsageError
from .ledger import Ledger
from .models import EXPIRED, PENDING, SKIPPED_WINDOW_PASSED, Batch
from .result import CampaignResult
from .schedule import SCHEDULE_COLUMNS, Schedule, WindowGroup, schedule_frame

if TYPE_CHECKING:
    from .plan import Plan

log = logging.getLogger(__name__)

#: The longest single sleep while waiting: how soon a Stop is noticed.
WAIT_STEP_S = 2.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS window_marks(
    batch_id INTEGER PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS window_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: Sends ``batches`` (one session), admitting each request only if ``admit(batch)``.
SendPart = Callable[[Sequence[Batch], Callable[[Batch], bool]], Awaitable[None]]
Notify = Callable[[str], None]


# -- the ledger's part ---------------------------------------------------------------------------
def _ensure(cur: sqlite3.Cursor) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            cur.execute(statement)


def load_marks(ledger: Ledger) -> dict[int, tuple[str, str]]:
    """batch_id -> (state, reason) of the requests the windows closed for good."""
    with ledger.extension() as cur:
        try:
            rows = cur.execute("SELECT batch_id, state, reason FROM window_marks").fetchall()
        except sqlite3.OperationalError:  # no such table: nothing was ever marked
            return {}
    return {int(b): (str(s), str(r)) for b, s, r in rows}


def save_marks(
    ledger: Ledger, batch_ids: Sequence[int], state: str, reason: str, at: float
) -> None:
    """Mark requests ``expired`` / ``skipped_window_passed`` (final), in one transaction."""
    with ledger.extension(write=True) as cur:
        _ensure(cur)
        cur.executemany(
            "INSERT OR IGNORE INTO window_marks(batch_id, state, reason, at) VALUES (?,?,?,?)",
            [(int(b), state, reason, at) for b in batch_ids],
        )


def _meta(ledger: Ledger, key: str) -> Any:
    with ledger.extension() as cur:
        try:
            row = cur.execute("SELECT value FROM window_meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else json.loads(row[0])


def _put_meta(ledger: Ledger, key: str, value: Any) -> None:
    with ledger.extension(write=True) as cur:
        _ensure(cur)
        cur.execute(
            "INSERT INTO window_meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, json.dumps(value)),
        )


def waiting_info(ledger: Ledger) -> dict[str, Any] | None:
    """What a campaign waits for, while it waits (or last waited for): ``{"until": epoch,
    "tz": zone(s), "window": "09:00-20:00", "recipients": n, "since": epoch, "notice": text}``;
    None when it never waited. Readable while another process sends (``status``)."""
    info = _meta(ledger, "waiting")
    return info if isinstance(info, dict) else None


def apply_marks(ledger: Ledger, result: CampaignResult) -> None:
    """Give the still-pending recipients of marked requests their final state."""
    marks = load_marks(ledger)
    if not marks:
        return
    batches = {b.batch_id: b for b in result.batches}
    for batch_id, (state, reason) in marks.items():
        batch = batches.get(batch_id)
        if batch is not None:
            _mark_pending(result, batch, state, reason)


def _mark_pending(result: CampaignResult, batch: Batch, state: str, reason: str) -> None:
    pos = np.fromiter(batch.positions, dtype=np.int64, count=batch.size)
    pending = pos[result.states[pos] == PENDING]
    if len(pending):
        result.mark(pending.tolist(), state, reason)


def remaining_schedule(
    result: CampaignResult, *, now: float | None = None, rate: float | None = None
) -> pd.DataFrame:
    """:meth:`~itnio_campaign.plan.Plan.schedule` for the recipients still ``pending`` in
    ``result`` (e.g. ``load_campaign(path)`` while a campaign waits): per zone, when its
    window opens, how many are left. Empty for a plan without windows.

    Example::

        remaining_schedule(load_campaign("spring.sqlite"))[["tz", "recipients", "opens_at"]]
    """
    schedule = Schedule.from_settings(result.plan.settings)
    rec = result.plan.recipients
    if schedule is None or "tz" not in rec:
        return pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
    pending = result.states == PENDING
    return schedule_frame(rec, schedule, ready=pending, now=now, rate=rate)


def check_same_schedule(ledger: Ledger, plan: Plan) -> None:
    """The ledger holds this plan with the same windows, or :class:`UsageError`."""
    stored = json.loads(ledger.meta("plan_settings") or "{}").get("schedule")
    given = json.loads(json.dumps(plan.settings.get("schedule")))
    if stored != given:
        raise UsageError(
            f"the ledger {ledger.path} holds this campaign with other send windows "
            f"({_describe(stored)}); "
            "resume it as it is (itnio-campaign run/resume), or use a new ledger for new windows"
        )


def save_for_run(plan: Plan, path: str | os.PathLike[str]) -> str:
    """Store ``plan`` in the ledger at ``path`` (new, or holding this very plan with the same
    windows) and return ``itnio-campaign run PATH``; nothing is sent. See
    :meth:`~itnio_campaign.plan.Plan.save_for_run`."""
    with Ledger.open(path) as ledger:
        ledger.start(plan, {})
        check_same_schedule(ledger, plan)
    return f"itnio-campaign run {shlex.quote(str(path))}"


# -- the loop ------------------------------------------------------------------------------------
class _Groups:
    """Each request's window group, with the open interval found last (cheap re-checks)."""

    def __init__(self, schedule: Schedule, plan: Any) -> None:
        rec = plan.recipients
        self._tz = rec["tz"].astype(object).to_numpy()
        self._window = rec["window"].astype(object).to_numpy()
        self._schedule = schedule
        self._groups: dict[str, WindowGroup] = {}
        self._open: dict[str, tuple[float, float]] = {}

    def key(self, batch: Batch) -> str:
        p = batch.positions[0]
        key = f"{self._tz[p]}|{self._window[p]}"
        if key not in self._groups:
            self._groups[key] = self._schedule.group(str(self._tz[p]), str(self._window[p]))
        return key

    def group(self, key: str) -> WindowGroup:
        return self._groups[key]

    def closes(self, key: str) -> float:
        """When the window found last for ``key`` closes."""
        return float(self._open.get(key, (0.0, np.inf))[1])

    def is_open(self, key: str, now: float) -> bool:
        group = self._groups[key]
        a, b = self._open.get(key, (np.inf, -np.inf))
        if not (a <= now and now + 0.0 < b - group.margin):
            found = group.next_open(now)
            if found is None:
                return False
            self._open[key] = found
            a, b = found
        return a <= now < b - group.margin


async def send_in_windows(
    ledger: Ledger,
    result: CampaignResult,
    batches: Sequence[Batch],
    schedule: Schedule,
    *,
    send: SendPart,
    clock: Clock,
    sleep: Sleep,
    notify: Notify | None = None,
) -> None:
    """Send ``batches`` window by window (see the module's docstring); ``send`` makes one
    session of requests (the ledger-backed one), ``notify`` hears each wait's line."""
    groups = _Groups(schedule, result.plan)
    keys = {b.batch_id: groups.key(b) for b in batches}
    ref = _meta(ledger, "reference")
    if ref is None:  # the campaign's day: late="skip" judges windows against it
        ref = max(schedule.not_before or 0.0, clock())
        _put_meta(ledger, "reference", ref)
    todo = list(batches)
    while todo:
        if result.stopper.stopped:
            _conclude(ledger, result, "stopped", "stopped while waiting for a send window; "
                      "resume (or itnio-campaign run) continues it")  # fmt: skip
            return
        now = clock()
        todo = _expire_or_skip(ledger, result, todo, keys, groups, schedule, float(ref), now)
        open_now = [b for b in todo if groups.is_open(keys[b.batch_id], now)]
        open_now.sort(key=lambda b: groups.closes(keys[b.batch_id]))  # closing first first
        if open_now:
            before = len(result.outcomes)
            await send(open_now, lambda b: groups.is_open(keys[b.batch_id], clock()))
            done = {o.batch_id for o in result.outcomes[before:]}
            todo = [b for b in todo if b.batch_id not in done]
            if result.status in ("stopped", "halted"):
                return
            continue
        if not todo:
            break
        until, line = _next_wait(todo, keys, groups, schedule, now)
        if until is None:
            _conclude(ledger, result, "incomplete", line)
            return
        _announce_wait(ledger, result, line, until, now, notify)
        await _wait(until, clock, sleep, result)
        if not result.stopper.stopped:
            result.notice = None  # the wait is over
    _conclude(ledger, result, "completed", None)


def _expire_or_skip(
    ledger: Ledger,
    result: CampaignResult,
    todo: list[Batch],
    keys: dict[int, str],
    groups: _Groups,
    schedule: Schedule,
    ref: float,
    now: float,
) -> list[Batch]:
    """Mark (ledger first) the requests past ``expire_at``, or, with ``late="skip"``, past
    their window; return the rest."""
    gone: list[tuple[Batch, str, str]] = []
    if schedule.expire_at is not None and now >= schedule.expire_at - schedule.margin:
        when = datetime.fromtimestamp(schedule.expire_at, UTC).isoformat()
        gone = [(b, EXPIRED, f"not sent before expire_at {when}: final") for b in todo]
    elif schedule.late == "skip":
        for b in todo:
            group = groups.group(keys[b.batch_id])
            target = group.target(ref)
            if target is None or now >= target[1] - group.margin:
                gone.append(
                    (
                        b,
                        SKIPPED_WINDOW_PASSED,
                        f"its window ({group.window.text}, "
                        f"{_zone_text(group.zones)}) passed before it was sent (late='skip')",
                    )
                )
    if not gone:
        return todo
    by_state: dict[tuple[str, str], list[Batch]] = {}
    for b, state, reason in gone:
        by_state.setdefault((state, reason), []).append(b)
    for (state, reason), bs in by_state.items():
        save_marks(ledger, [b.batch_id for b in bs], state, reason, now)
        for b in bs:
            _mark_pending(result, b, state, reason)
        log.info("%d requests %s: %s", len(bs), state, reason)
    dropped = {b.batch_id for b, _, _ in gone}
    return [b for b in todo if b.batch_id not in dropped]


def _next_wait(
    todo: list[Batch], keys: dict[int, str], groups: _Groups, schedule: Schedule, now: float
) -> tuple[float | None, str]:
    """When to look again (the next window to open, or expire_at) and the line to show."""
    firsts: dict[str, tuple[float, int]] = {}
    for b in todo:
        key = keys[b.batch_id]
        if key not in firsts:
            found = groups.group(key).next_open(now)
            firsts[key] = (np.inf if found is None else found[0], 0)
        at, n = firsts[key]
        firsts[key] = (at, n + b.size)
    key, (at, n) = min(firsts.items(), key=lambda kv: kv[1][0])
    if at == np.inf:
        if schedule.expire_at is not None:
            return schedule.expire_at, (
                f"no window opens before expire_at for {sum(v[1] for v in firsts.values()):,} "
                f"recipients: they expire at {_iso(schedule.expire_at)}"
            )
        return None, "no send window opens within a year for the recipients left"
    group = groups.group(key)
    line = (
        f"waiting for {_zone_text(group.zones)} ({group.window.text}): opens at {_iso(at)} "
        f"for {n:,} recipients"
    )
    others = len(firsts) - 1
    if others:
        line += f"; {others} more zone{'s' if others > 1 else ''} later"
    return at, line


def _announce_wait(
    ledger: Ledger,
    result: CampaignResult,
    line: str,
    until: float,
    now: float,
    notify: Notify | None,
) -> None:
    result.status = "waiting"
    result.halt_reason = None
    result.notice = line
    ledger.finish("waiting", line)  # a sending session ends: waiting is not sending time
    _put_meta(ledger, "waiting", {"until": until, "since": now, "notice": line})
    log.info("%s", line)
    if notify is not None:
        notify(line)


async def _wait(until: float, clock: Clock, sleep: Sleep, result: CampaignResult) -> None:
    """Sleep until ``until`` on the injected clock, in steps, so a Stop ends the wait."""
    while not result.stopper.stopped:
        left = until - clock()
        if left <= 0:
            return
        await sleep(min(left, WAIT_STEP_S))


def _conclude(ledger: Ledger, result: CampaignResult, status: str, reason: str | None) -> None:
    result.conclude(status, reason)
    ledger.finish(result.status, result.halt_reason)


def _describe(stored: Any) -> str:
    schedule = Schedule.from_settings({"schedule": stored}) if stored else None
    return "none" if schedule is None else schedule.describe()


def _zone_text(zones: tuple[str, ...]) -> str:
    return zones[0] if len(zones) == 1 else f"{zones[0]} and {len(zones) - 1} more zones"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


__all__ = [
    "WAIT_STEP_S",
    "apply_marks",
    "check_same_schedule",
    "load_marks",
    "remaining_schedule",
    "save_for_run",
    "save_marks",
    "send_in_windows",
    "waiting_info",
]


class FastClock:
    """Campaign time for demos: the real time plus every wait skipped so far.

    ``send_campaign(..., clock=fast.now, sleep=fast.sleep)`` then sends each zone in its
    window without waiting for it in real time; between waits, time flows as usual.

    >>> fast = FastClock(); before = fast.now(); asyncio.run(fast.sleep(3600))
    >>> 3600 <= fast.now() - before < 3660
    True
    """

    def __init__(self) -> None:
        self.skipped = 0.0  # seconds of waiting skipped so far

    def now(self) -> float:
        return time.time() + self.skipped

    async def sleep(self, seconds: float) -> None:
        self.skipped += max(0.0, float(seconds))
        await asyncio.sleep(0)  # let Stop and the requests in flight run
