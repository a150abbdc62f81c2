"""A campaign's schedule as a timeline: one lane per time zone, drawn as inline SVG.

Each lane shows the zone's send window (light bar, from ``opens_at`` to ``closes_at``) and the
estimated sending time at the configured rate (dark bar, ``est_send_s`` from the opening); a
window the volume does not fit in is drawn red and says how many would be left. No plotting
package: the SVG is a few dozen lines of text that Jupyter, Voilà and a browser show as is.

>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "tz": ["Asia/Kolkata", "Europe/London"], "recipients": [900, 40],
...     "opens_at": pd.to_datetime(["2026-12-01 03:30", "2026-12-01 09:00"], utc=True),
...     "closes_at": pd.to_datetime(["2026-12-01 14:30", "2026-12-01 20:00"], utc=True),
...     "est_send_s": [4.5, 0.2], "fits": [True, True], "left_over": [0, 0]})
>>> svg = timeline_svg(frame)
>>> svg.count('class="itnio-lane"')
2
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

#: The columns :func:`timeline_svg` reads (``plan.schedule()``'s).
COLUMNS = ("tz", "recipients", "opens_at", "closes_at", "est_send_s", "fits", "left_over")

LABEL_W = 190  # the zone names' column
LANE_H = 30
AXIS_H = 34
PAD = 10
RIGHT_W = 70  # room for "1,234 left" after the last bar
WINDOW_FILL = "#cfe3f7"
SEND_FILL = "#2f6fae"
LATE_FILL = "#c62828"
NOW_STROKE = "#8a5a00"


@dataclass(frozen=True)
class _Bar:
    """One row of the schedule: a zone's window and its estimated send."""

    tz: str
    recipients: int
    send: float
    fits: bool
    left_over: int
    opens: datetime
    closes: datetime | None


def timeline_svg(
    schedule: pd.DataFrame,
    *,
    now: datetime | None = None,
    width: int = 760,
    title: str = "When each time zone is sent (UTC)",
) -> str:
    """The schedule as an SVG timeline with one lane per time zone (``""`` when it is empty).

    ``schedule`` is ``plan.schedule()``: columns ``tz``, ``recipients``, ``opens_at``,
    ``closes_at`` (tz-aware or UTC; NaT ``closes_at``: no window, open until done),
    ``est_send_s``, ``fits``, ``left_over``; several rows of one zone share its lane.
    ``now`` draws a marker (e.g. the campaign's clock).

    Example::

        HTML(timeline_svg(plan.schedule()))     # in a notebook
    """
    missing = [c for c in COLUMNS if c not in schedule.columns]
    if missing:
        raise ValueError(f"a schedule needs the columns {', '.join(missing)}")
    bars = list(_bars(schedule))
    if not bars:
        return ""
    zones = list(dict.fromkeys(b.tz for b in bars))
    t0 = min([b.opens for b in bars] + ([_utc(now)] if now is not None else []))
    t1 = max(
        [b.closes or b.opens for b in bars]
        + [b.opens + timedelta(seconds=b.send) for b in bars]
        + ([_utc(now)] if now is not None else [])
    )
    span = max((t1 - t0).total_seconds(), 60.0)
    plot_w = width - LABEL_W - 2 * PAD - RIGHT_W
    bottom = PAD + AXIS_H + LANE_H * len(zones)  # the lanes end here
    height = bottom + PAD + (14 if now is not None else 0)  # room for "now" under the lanes

    def x(moment: datetime) -> float:
        return LABEL_W + PAD + plot_w * (moment - t0).total_seconds() / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="itnio-timeline" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{html.escape(title)}</title>",
        *_axis(t0, t1, x, bottom),
    ]
    for i, zone in enumerate(zones):
        top = PAD + AXIS_H + i * LANE_H
        lane = [b for b in bars if b.tz == zone]
        parts.append(_lane(zone, lane, top, x))
    if now is not None:
        nx = x(_utc(now))
        parts.append(
            f'<line class="itnio-now" x1="{nx:.1f}" y1="{PAD + AXIS_H - 4}" x2="{nx:.1f}" '
            f'y2="{bottom + 4}" stroke="{NOW_STROKE}" stroke-dasharray="3,2"/>'
            f'<text x="{nx:.1f}" y="{bottom + 16}" text-anchor="middle" '
            f'fill="{NOW_STROKE}">now</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def lanes(svg: str) -> list[str]:
    """The time zones of an SVG made by :func:`timeline_svg`, in lane order (for checks).

    >>> lanes('<g class="itnio-lane" data-tz="Asia/Tokyo"></g>')
    ['Asia/Tokyo']
    """
    import re

    return [html.unescape(m) for m in re.findall(r'class="itnio-lane" data-tz="([^"]*)"', svg)]


# -- drawing ------------------------------------------------------------------------------------
def _lane(zone: str, bars: list[_Bar], top: float, x: Callable[[datetime], float]) -> str:
    total = sum(b.recipients for b in bars)
    left = sum(b.left_over for b in bars)
    zones = zone.split(",")  # an uncertain number: every zone it may be in
    name = zone if len(zones) == 1 else f"{zones[0]} +{len(zones) - 1}"
    label = f"{name} · {total:,}"
    out = [
        f'<g class="itnio-lane" data-tz="{html.escape(zone, quote=True)}">',
        f'<text x="{PAD}" y="{top + LANE_H / 2 + 4:.1f}">{html.escape(_clip(label, 30))}</text>',
    ]
    for b in bars:
        x0 = x(b.opens)
        end = b.closes if b.closes is not None else b.opens + timedelta(seconds=b.send)
        x1 = max(x(end), x0 + 2)
        xs = min(x0 + max(x(b.opens + timedelta(seconds=b.send)) - x0, 2.0), x1)
        tip = _tip(b)
        out.append(
            f'<rect class="itnio-window" x="{x0:.1f}" y="{top + 5}" width="{x1 - x0:.1f}" '
            f'height="{LANE_H - 10}" fill="{WINDOW_FILL}" rx="3"><title>{tip}</title></rect>'
        )
        fill = SEND_FILL if b.fits else LATE_FILL
        out.append(
            f'<rect class="itnio-send" x="{x0:.1f}" y="{top + 9}" width="{xs - x0:.1f}" '
            f'height="{LANE_H - 18}" fill="{fill}" rx="2"><title>{tip}</title></rect>'
        )
    late = [b for b in bars if b.left_over]
    if late:  # after the last window that does not fit
        end = late[-1].closes or late[-1].opens
        out.append(
            f'<text class="itnio-left-over" x="{x(end) + 4:.1f}" '
            f'y="{top + LANE_H / 2 + 4:.1f}" fill="{LATE_FILL}">{left:,} left</text>'
        )
    out.append("</g>")
    return "".join(out)


def _axis(t0: datetime, t1: datetime, x: Callable[[datetime], float], bottom: int) -> list[str]:
    """Hour ticks (every 1, 2, 3, 6 or 12 h, or days) with UTC labels, and light grid lines."""
    hours = (t1 - t0).total_seconds() / 3600
    step = next((s for s in (1, 2, 3, 6, 12, 24, 48) if hours / s <= 8), 96)
    tick = t0.replace(minute=0, second=0, microsecond=0)
    if step >= 24:
        tick = tick.replace(hour=0)
    else:
        tick -= timedelta(hours=tick.hour % step)
    if tick < t0:
        tick += timedelta(hours=step)
    out = []
    shown_day = None
    while tick <= t1:
        tx = x(tick)
        label = tick.strftime("%H:%M")
        if tick.date() != shown_day:
            label = tick.strftime("%a %d %H:%M")
            shown_day = tick.date()
        out.append(
            f'<line x1="{tx:.1f}" y1="{PAD + AXIS_H - 4}" x2="{tx:.1f}" y2="{bottom}" '
            f'stroke="#ddd"/><text class="itnio-tick" x="{tx:.1f}" y="{PAD + AXIS_H - 8}" '
            f'text-anchor="middle" fill="#555">{label}</text>'
        )
        tick += timedelta(hours=step)
    return out


def _tip(b: _Bar) -> str:
    closes = f" to {b.closes:%a %d %H:%M}" if b.closes is not None else ""
    text = (
        f"{b.tz}: {b.recipients:,} recipients; window {b.opens:%a %d %H:%M}{closes} UTC; "
        f"about {_duration(b.send)} to send"
    )
    if not b.fits:
        text += f"; does not fit: {b.left_over:,} would be left"
    return html.escape(text)


# -- reading the frame ----------------------------------------------------------------------
def _bars(schedule: pd.DataFrame) -> Iterable[_Bar]:
    for row in schedule[list(COLUMNS)].to_dict("records"):
        opens = _moment(row["opens_at"])
        if opens is None:
            continue  # a zone with nobody to send has no window to draw
        send = _float(row["est_send_s"])
        left = int(_float(row["left_over"]))
        fits = left == 0 if row["fits"] is None or pd.isna(row["fits"]) else bool(row["fits"])
        yield _Bar(
            str(row["tz"]), int(_float(row["recipients"])), send, fits, left, opens,
            _moment(row["closes_at"]),
        )  # fmt: skip


def _moment(value: Any) -> datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _float(value: Any) -> float:
    """``value`` as a number; 0 for a missing one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["COLUMNS", "lanes", "timeline_svg"]
