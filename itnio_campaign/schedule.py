"""Send windows in each recipient's local time: parsing, DST-safe open/close times, the dry run.

A window is a daily local time range (``"09:00-20:00"``; ``"22:00-06:00"`` crosses
midnight; ``"00:00-24:00"`` is all day) on some weekdays (``days="mon-sat"``), except
``holidays`` (local dates). A recipient's window holds in their zone (:mod:`.timezones`);
a recipient whose zone is uncertain gets the intersection over the zones their number may
be in. Times are computed with :mod:`zoneinfo`, so a window stays 09:00-20:00 local across
a DST change (its UTC times move by an hour).

``not_before`` (nothing is sent before it) and ``expire_at`` (who is not sent by then
becomes ``expired``, a final state) are aware datetimes or ISO 8601 text with an offset.
``late``: what happens to recipients whose window passed before they were sent (their
window on the campaign's day, or the part the rate could not fit): ``"next_window"`` waits
for the next one, ``"skip"`` marks them ``skipped_window_passed``.

>>> parse_window("22:00-06:00").text, parse_days("sat-mon")
('22:00-06:00', frozenset({0, 5, 6}))
>>> w = Window.parse("09:00-20:00", days="mon-fri")
>>> w.text
'09:00-20:00 mon-fri'
>>> from datetime import datetime, UTC
>>> t = datetime(2026, 3, 6, 12, 0, tzinfo=UTC).timestamp()          # Friday 07:00 in New York
>>> g = WindowGroup(("America/New_York",), w)
>>> datetime.fromtimestamp(g.next_open(t)[0], UTC).isoformat()          # 09:00 EST
'2026-03-06T14:00:00+00:00'
>>> datetime.fromtimestamp(g.next_open(t + 86400)[0], UTC).isoformat()  # Monday 09:00 EDT
'2026-03-09T13:00:00+00:00'
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .errors import UsageError
from .quiet_hours import preset_for
from .timezones import check_zone

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LATE_POLICIES = ("next_window", "skip")
#: A request is only made when its recipients' window stays open this long after it leaves
#: (an answer takes a moment; the provider's clock may differ a little).
CLOSING_MARGIN_S = 60.0
#: How far ahead a window is looked for (long holiday lists, one day a week).
HORIZON_DAYS = 400
#: When no rate is configured, the dry run assumes this many SMS per second.
ASSUMED_RATE = 100.0


# -- parsing ------------------------------------------------------------------------------------
def parse_days(days: object) -> frozenset[int] | None:
    """Weekdays (0 = Monday) from ``"mon-sat"``, ``"mon,wed,fri"``, ``"sat-mon"`` (wraps),
    a list of names or numbers; ``None``/``"all"``: every day.

    >>> sorted(parse_days("mon,wed,fri")), parse_days(None)
    ([0, 2, 4], None)
    """
    if days is None:
        return None
    parts: list[str]
    if isinstance(days, str):
        text = days.strip().lower()
        if text in ("", "all", "every day", "daily"):
            return None
        parts = [p.strip() for p in text.split(",")]
    elif isinstance(days, Iterable):
        parts = [str(p).strip().lower() for p in days]
    else:
        raise UsageError(f"days is like 'mon-sat' or 'mon,wed,fri', not {days!r}")
    out: set[int] = set()
    for part in parts:
        ends = [e.strip() for e in part.split("-")]
        if len(ends) == 1:
            out.add(_day(ends[0], days))
        elif len(ends) == 2:
            a, b = _day(ends[0], days), _day(ends[1], days)
            out.update((a + i) % 7 for i in range((b - a) % 7 + 1))
        else:
            raise UsageError(f"days is like 'mon-sat' or 'mon,wed,fri', not {days!r}")
    if not out:
        raise UsageError(f"days names no day: {days!r}")
    return None if len(out) == 7 else frozenset(out)


def _day(text: str, whole: object) -> int:
    if text.isdigit() and 0 <= int(text) <= 6:
        return int(text)
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    if text[:3] in DAY_NAMES and full[DAY_NAMES.index(text[:3])].startswith(text):
        return DAY_NAMES.index(text[:3])
    raise UsageError(
        f"days: {text!r} is not a day; use mon, tue, wed, thu, fri, sat, sun (in {whole!r})"
    )


def days_text(days: frozenset[int] | None) -> str:
    """``"mon-sat"``, ``"mon,wed,fri"``, ``"sat-mon"``; ``""`` for every day."""
    if days is None:
        return ""
    ds = sorted(days)
    # runs, letting one run wrap from sun to mon
    runs: list[list[int]] = []
    for d in ds:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][-1] == 6:
        runs[0] = runs.pop() + runs[0]
    return ",".join(
        DAY_NAMES[r[0]] if len(r) == 1 else
        (f"{DAY_NAMES[r[0]]},{DAY_NAMES[r[1]]}" if len(r) == 2 else
         f"{DAY_NAMES[r[0]]}-{DAY_NAMES[r[-1]]}")
        for r in runs
    )  # fmt: skip


_HHMM = re.compile(r"(\d{1,2})[:.h](\d{2})")


def _minutes(text: str, what: str) -> int:
    found = _HHMM.fullmatch(text.strip())
    if found is None:
        raise UsageError(f"{what}: {text!r} is not a time like 09:00")
    h, m = int(found.group(1)), int(found.group(2))
    if m > 59 or h > 24 or (h == 24 and m):
        raise UsageError(f"{what}: {text!r} is not a time of day (00:00 to 24:00)")
    return h * 60 + m


@dataclass(frozen=True)
class Window:
    """A daily local window: ``start``/``end`` in minutes after midnight (``end <= start``
    crosses midnight; 0-1440 is all day), opening on ``days`` (None: every day) except on
    ``holidays`` (local dates the window does not open)."""

    start: int
    end: int
    days: frozenset[int] | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, window: object, *, days: object = None, holidays: Iterable[date] = ()) -> Window:
        """From ``("09:00", "20:00")`` or ``"09:00-20:00"`` (optionally ``" mon-sat"``)."""
        if isinstance(window, str) and " " in window.strip():
            window, own_days = window.strip().split(" ", 1)
            days = _and_days(parse_days(own_days), parse_days(days))
        else:
            days = parse_days(days)
        if isinstance(window, str):
            parts = window.split("-")
        elif isinstance(window, Sequence) and len(window) == 2:
            parts = [str(window[0]), str(window[1])]
        else:
            raise UsageError(
                f"window is like ('09:00', '20:00'), '09:00-20:00' or 'promotional', not {window!r}"
            )
        if len(parts) != 2:
            raise UsageError(f"window is like '09:00-20:00', not {window!r}")
        start, end = _minutes(parts[0], "window start"), _minutes(parts[1], "window end")
        if start == 1440:
            start = 0
        if start == end or (start == 0 and end == 0):
            raise UsageError(f"window {window!r} is empty (it opens and closes at the same time)")
        assert days is None or isinstance(days, frozenset)
        return cls(start, end, days, frozenset(holidays))

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def text(self) -> str:
        """``"09:00-20:00"`` plus the days, e.g. ``"09:00-20:00 mon-sat"``."""
        hours = f"{_hhmm(self.start)}-{_hhmm(self.end)}"
        d = days_text(self.days)
        return f"{hours} {d}" if d else hours

    def occurrences(self, zone: str, t0: float, t1: float) -> list[tuple[float, float]]:
        """(open, close) epoch seconds of every window that overlaps ``[t0, t1)``."""
        return list(_occurrences(self, zone, int(t0 // 86400) - 2, int(t1 // 86400) + 2, t0, t1))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_window(window: object, days: object = None) -> Window:
    """:meth:`Window.parse` without holidays."""
    return Window.parse(window, days=days)


def _and_days(a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
    if a is None:
        return b
    if b is None:
        return a
    both = a & b
    if not both:
        raise UsageError(
            f"days {days_text(b)!r} and the window's own days {days_text(a)!r} share no day"
        )
    return both


def _occurrences(
    w: Window, zone: str, day0: int, day1: int, t0: float, t1: float
) -> Iterable[tuple[float, float]]:
    tz = _zone(zone)
    first = datetime.fromtimestamp(day0 * 86400, UTC).astimezone(tz).date()
    for k in range(day1 - day0 + 1):
        d = first + timedelta(days=k)
        if (w.days is not None and d.weekday() not in w.days) or d in w.holidays:
            continue
        end_day = d + timedelta(days=1) if w.crosses_midnight or w.end == 1440 else d
        opens = _local(d, w.start, tz)
        closes = _local(end_day, w.end % 1440, tz)
        if closes > t0 and opens < t1:
            yield opens, closes


def _local(d: date, minutes: int, tz: ZoneInfo) -> float:
    """Epoch of local ``d`` at ``minutes``: a time in a DST gap counts from the offset before
    it (02:30 on a spring-forward night is 03:30); a repeated time, its first occurrence."""
    return datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=tz).timestamp()


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def parse_moment(value: object, what: str) -> float | None:
    """Epoch seconds from an aware datetime, a pandas Timestamp or ISO 8601 text with an
    offset (``"2026-12-01T09:00:00+05:30"``, ``"...Z"``); ``None`` stays None. A time without
    an offset is a :class:`UsageError` (whose 09:00?)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(
                f"{what}: {value!r} is not an ISO 8601 time like 2026-12-01T09:00:00+05:30"
            ) from None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise UsageError(f"{what} must be a datetime or ISO 8601 text, not {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise UsageError(
            f"{what} {value.isoformat()} has no time zone: give one "
            "(e.g. 2026-12-01T09:00:00+05:30, or datetime(..., tzinfo=ZoneInfo('Asia/Kolkata')))"
        )
    return value.timestamp()


def parse_holidays(holidays: object) -> frozenset[date]:
    """Local dates from a list (or Series) of dates, datetimes or ``"2026-12-25"`` text."""
    if holidays is None:
        return frozenset()
    if isinstance(holidays, str | date):
        holidays = [holidays]
    if not isinstance(holidays, Iterable):
        raise UsageError(f"holidays is a list of dates like '2026-12-25', not {holidays!r}")
    out: set[date] = set()
    for h in holidays:
        if isinstance(h, datetime | pd.Timestamp):
            out.add(h.date())
        elif isinstance(h, date):
            out.add(h)
        else:
            try:
                out.add(date.fromisoformat(str(h).strip()))
            except ValueError:
                raise UsageError(f"holidays: {h!r} is not a date like 2026-12-25") from None
    return frozenset(out)


# -- a group of recipients sharing a window -----------------------------------------------------
@dataclass(frozen=True)
class WindowGroup:
    """Recipients whose window is the same: ``window`` must hold in every one of ``zones``
    (one zone, or all the zones an uncertain number may be in), clipped to ``not_before``
    and ``expire_at``. ``margin``: a window counts as open only this long before it closes.
    """

    zones: tuple[str, ...]
    window: Window
    not_before: float | None = None
    expire_at: float | None = None
    margin: float = CLOSING_MARGIN_S

    @property
    def key(self) -> str:
        return group_key(",".join(self.zones), self.window.text)

    def intervals(self, t0: float, t1: float) -> list[tuple[float, float]]:
        """Open intervals (all zones at once) overlapping ``[t0, t1)``, clipped."""
        per_zone = [self.window.occurrences(z, t0, t1) for z in self.zones]
        out = per_zone[0]
        for other in per_zone[1:]:
            out = _intersect(out, other)
        lo = -np.inf if self.not_before is None else self.not_before
        hi = np.inf if self.expire_at is None else self.expire_at
        clipped = [(max(a, lo), min(b, hi)) for a, b in out if min(b, hi) > max(a, lo)]
        merged: list[tuple[float, float]] = []
        for a, b in clipped:  # back-to-back windows (all day, every day) are one
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged

    def next_open(self, now: float) -> tuple[float, float] | None:
        """The first (open, close) with time left to send at or after ``now`` (``open`` is
        ``now`` when the window is open now); None if none within :data:`HORIZON_DAYS`."""
        step = 8 * 86400.0
        t = now
        while t < now + HORIZON_DAYS * 86400:
            for a, b in self.intervals(t, t + step):
                if b - self.margin > now and b - self.margin > a:
                    return max(a, now), b
            if self.expire_at is not None and t + step >= self.expire_at:
                return None
            t += step
        return None

    def is_open(self, now: float) -> bool:
        """True when a request made now leaves (and is answered) inside the window."""
        found = self.next_open(now)
        return found is not None and found[0] <= now

    def target(self, ref: float) -> tuple[float, float] | None:
        """The window meant for a campaign that starts at ``ref``: the one open at ``ref``,
        else the one that opened earlier on ``ref``'s local date (already passed), else the
        next one."""
        tz = _zone(self.zones[0])
        today = datetime.fromtimestamp(ref, tz).date()
        for a, b in self.intervals(ref - 2 * 86400, ref + 1):
            if a <= ref < b - self.margin:
                return a, b
        passed = [
            (a, b) for a, b in self.intervals(ref - 2 * 86400, ref)
            if datetime.fromtimestamp(a, tz).date() == today and b - self.margin <= ref
        ]  # fmt: skip
        if passed:
            return passed[-1]
        return self.next_open(ref)


def _intersect(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    out = []
    for a0, a1 in a:
        for b0, b1 in b:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                out.append((lo, hi))
    return sorted(out)


def group_key(tz: str, window_text: str) -> str:
    """The text that names a window group: ``"America/New_York|09:00-20:00 mon-sat"``."""
    return f"{tz}|{window_text}"


# -- the schedule settings ----------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    """A plan's window settings, kept in ``plan.settings["schedule"]`` (and so in the ledger).

    ``window``: ``"09:00-20:00"`` or ``"promotional"`` (:mod:`.quiet_hours` per country).
    """

    window: str
    days: frozenset[int] | None = None
    not_before: float | None = None
    expire_at: float | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)
    late: str = "next_window"
    tz_col: Any = None
    default_tz: str | None = None
    margin: float = CLOSING_MARGIN_S

    @classmethod
    def of(
        cls,
        *,
        window: object = None,
        days: object = None,
        not_before: object = None,
        expire_at: object = None,
        tz_col: Any = None,
        default_tz: str | None = None,
        holidays: object = None,
        late: str = "next_window",
    ) -> Schedule | None:
        """Checked settings from ``plan_campaign``'s keywords; None when none was given.

        Raises :class:`UsageError` (one line) for a bad window, days, time, zone, policy.
        """
        given = (window, days, not_before, expire_at, holidays, tz_col, default_tz)
        if all(v is None for v in given):
            if late not in LATE_POLICIES:
                raise UsageError(f"late must be 'next_window' or 'skip', not {late!r}")
            return None
        if late not in LATE_POLICIES:
            raise UsageError(f"late must be 'next_window' or 'skip', not {late!r}")
        hol = parse_holidays(holidays)
        if window is None:
            text = "00:00-24:00"
        elif isinstance(window, str) and window.strip().lower() == "promotional":
            text = "promotional"
        else:
            text = Window.parse(window).text
        day_set = parse_days(days)
        if text != "promotional":
            Window.parse(text, days=days)  # the window's own days and days= share one
        nb = parse_moment(not_before, "not_before")
        ex = parse_moment(expire_at, "expire_at")
        if nb is not None and ex is not None and ex <= nb:
            raise UsageError("expire_at must be after not_before")
        tz = None if default_tz is None else check_zone(default_tz)
        return cls(text, day_set, nb, ex, hol, late, tz_col, tz)

    def window_for(self, calling_code: int) -> Window:
        """The window of a recipient of this country (promotional presets) or everyone's."""
        if self.window == "promotional":
            p = preset_for(calling_code)
            own = parse_days(p.days)
            try:
                days = _and_days(own, self.days)
            except UsageError:
                days = frozenset()  # no common day: this country's window never opens
            w = Window.parse(p.window, holidays=self.holidays)
            return Window(w.start, w.end, days, self.holidays)
        return Window.parse(self.window, days=self.days, holidays=self.holidays)

    def group(self, tz: str, window_text: str) -> WindowGroup:
        """The :class:`WindowGroup` of recipients with this ``tz`` and window text."""
        w = Window.parse(window_text, holidays=self.holidays)
        if w.days == frozenset():  # pragma: no cover - guarded by window_for
            w = Window(w.start, w.end, frozenset(), self.holidays)
        return WindowGroup(tuple(tz.split(",")), w, self.not_before, self.expire_at, self.margin)

    def to_settings(self) -> dict[str, Any]:
        """JSON-ready settings (what the ledger keeps)."""
        return {
            "window": self.window,
            "days": days_text(self.days) or None,
            "not_before": self.not_before,
            "expire_at": self.expire_at,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "late": self.late,
            "tz_col": self.tz_col
            if isinstance(self.tz_col, str | int | None)
            else str(self.tz_col),
            "default_tz": self.default_tz,
            "margin_s": self.margin,
        }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> Schedule | None:
        """The schedule a plan (or a ledger's plan) carries, or None."""
        s = (settings or {}).get("schedule")
        if not s:
            return None
        return cls(
            str(s["window"]), parse_days(s.get("days")), s.get("not_before"), s.get("expire_at"),
            parse_holidays(s.get("holidays") or ()), str(s.get("late") or "next_window"),
            s.get("tz_col"), s.get("default_tz"), float(s.get("margin_s", CLOSING_MARGIN_S)),
        )  # fmt: skip

    def describe(self) -> str:
        """One line: ``09:00-20:00 mon-sat local time, from ..., expires ...``."""
        text = "promotional presets per country" if self.window == "promotional" else self.window
        d = days_text(self.days)
        parts = [f"{text}{' ' + d if d else ''} in each recipient's local time"]
        if self.not_before is not None:
            parts.append(f"not before {_iso(self.not_before)}")
        if self.expire_at is not None:
            parts.append(f"expires {_iso(self.expire_at)}")
        if self.holidays:
            parts.append(f"{len(self.holidays)} holiday(s)")
        parts.append(f"late: {self.late}")
        return "; ".join(parts)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def row_windows(schedule: Schedule, calling_codes: np.ndarray) -> np.ndarray:
    """The window text of each row from its country calling code (one per distinct code)."""
    out = np.empty(len(calling_codes), dtype=object)
    for cc in np.unique(calling_codes):
        w = schedule.window_for(int(cc))
        out[calling_codes == cc] = w.text if w.days != frozenset() else ""
    return out


# -- the dry run: per zone, when it opens, how long it takes ------------------------------------
SCHEDULE_COLUMNS = (
    "tz", "window", "tz_source", "recipients", "opens_at", "closes_at", "est_send_s", "fits",
    "left_over",
)  # fmt: skip


def schedule_frame(
    recipients: pd.DataFrame,
    schedule: Schedule,
    *,
    ready: np.ndarray,
    now: float | None = None,
    rate: float | None = None,
) -> pd.DataFrame:
    """One row per window group of the ``ready`` recipients, in opening order.

    ``opens_at``/``closes_at``: the group's next window (or the one open now) as aware UTC
    datetimes (NaT if none before ``expire_at``); ``est_send_s``: seconds to send them at
    ``rate`` SMS per second (default :data:`ASSUMED_RATE`); groups are sent one after another,
    opening first, then closing first (as sending does), so ``fits`` is False and
    ``left_over`` > 0 when the rest would not fit before the window closes or
    ``expire_at`` (with ``late="skip"``, the window meant for the campaign's day, which may
    have passed already: those count as left over).
    """
    now = _time.time() if now is None else float(now)
    rate = ASSUMED_RATE if not rate else float(rate)
    sub = recipients.loc[ready, ["tz", "window", "tz_source"]].astype(str)
    if len(sub) == 0:
        return pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
    grouped = sub.groupby(["tz", "window"], sort=True)
    rows: list[dict[str, Any]] = []
    start = schedule.not_before if schedule.not_before is not None else now
    start = max(start, now)
    for (tz, window_text), part in grouped:
        group = schedule.group(str(tz), str(window_text))
        if schedule.late == "skip":
            found = group.target(start)
            if found is not None and found[1] - group.margin <= now:
                found = (found[0], found[0])  # passed: nothing fits
        else:
            found = group.next_open(start)
        sources = part["tz_source"].value_counts()
        rows.append({
            "tz": tz, "window": window_text, "tz_source": str(sources.index[0]),
            "recipients": len(part), "_open": None if found is None else found[0],
            "_close": None if found is None else found[1],
        })  # fmt: skip
    # in the order sending takes them: opening first, then closing first
    rows.sort(key=lambda r: (r["_open"] is None, r["_open"] or 0.0, r["_close"] or 0.0, r["tz"]))
    cursor = start
    out: list[dict[str, Any]] = []
    for r in rows:
        n = r["recipients"]
        est = n / rate
        if r["_open"] is None:
            sent = 0
        else:
            cursor = max(cursor, r["_open"])
            room = max(0.0, r["_close"] - schedule.margin - cursor)
            sent = min(n, int(room * rate))
            cursor += sent / rate
        out.append({
            "tz": r["tz"], "window": r["window"], "tz_source": r["tz_source"],
            "recipients": n,
            "opens_at": None if r["_open"] is None else datetime.fromtimestamp(r["_open"], UTC),
            "closes_at": None if r["_close"] is None else datetime.fromtimestamp(r["_close"], UTC),
            "est_send_s": round(est, 1), "fits": sent >= n, "left_over": n - sent,
        })  # fmt: skip
    return pd.DataFrame(out, columns=list(SCHEDULE_COLUMNS))


def schedule_warnings(frame: pd.DataFrame, schedule: Schedule) -> list[str]:
    """The dry run's warnings: groups whose volume does not fit, and how many are left."""
    out = []
    for r in frame.to_dict("records"):
        if r["left_over"] <= 0:
            continue
        if pd.isna(r["opens_at"]):
            out.append(f"{_short_tz(r['tz'])} ({r['window']}): {r['left_over']:,} recipients "
                       "have no window before expire_at")  # fmt: skip
            continue
        then = (
            "are skipped (late='skip')" if schedule.late == "skip" else "wait for the next window"
        )
        closes = r["closes_at"]
        if schedule.expire_at is not None and closes.timestamp() >= schedule.expire_at:
            then = "expire"
        out.append(
            f"{_short_tz(r['tz'])} ({r['window']}): {r['left_over']:,} of {r['recipients']:,} "
            f"do not fit before {closes:%Y-%m-%d %H:%M} UTC and {then}"
        )
    return out


def _short_tz(tz: str) -> str:
    zones = tz.split(",")
    return tz if len(zones) == 1 else f"{zones[0]} and {len(zones) - 1} more zones"


__all__ = [
    "ASSUMED_RATE",
    "CLOSING_MARGIN_S",
    "LATE_POLICIES",
    "SCHEDULE_COLUMNS",
    "Schedule",
    "Window",
    "WindowGroup",
    "days_text",
    "group_key",
    "parse_days",
    "parse_holidays",
    "parse_moment",
    "parse_window",
    "row_windows",
    "schedule_frame",
    "schedule_warnings",
]
