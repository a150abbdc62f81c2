"""The campaign's pictures: outcomes by state, delivery over time, rates per variant, lift.

Each function takes what a notebook already holds (a result, ``result.by_variant()``,
``measure_lift(...)``) and returns a :class:`~itnio_campaign.charts.svg.Chart` that renders
inline in Jupyter and in the form, with no plotting package:

* :func:`outcome_chart` — one bar per state (``result.counts()``);
* :func:`delivery_chart` — accepted and delivered recipients over time (UTC);
* :func:`variant_chart` — each variant's delivered (or other) rate with its 95% interval;
* :func:`lift_chart` — each variant's lift over the holdout with its interval (forest plot).

Example::

    from itnio_campaign.charts import outcome_chart, lift_chart
    outcome_chart(result)                  # the last expression of a cell shows it
    lift_chart(measure_lift(result, orders, on="customer_id", metric="converted"))
    lift_chart(lift).save("lift.svg")

Inputs are duck-typed (a frame with the documented columns is enough), so this module
depends on no campaign module and any of them may import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import models as m
from .svg import Chart, Interval, bar_chart, interval_chart, line_chart

__all__ = [
    "HOLDOUT",
    "ResultCharts",
    "delivery_chart",
    "lift_chart",
    "outcome_chart",
    "variant_chart",
]

#: The name of the group that gets no message (``recipients["variant"]``).
HOLDOUT = "holdout"

_GOOD, _BAD, _WAIT, _SKIP, _PLAN = "#009E73", "#D55E00", "#E69F00", "#999999", "#56B4E9"
_STATE_COLOURS: dict[str, str] = {
    m.DELIVERED: _GOOD,
    m.SUBMITTED: "#7fcfb9",
    m.SENDING: _WAIT,
    m.PENDING: _WAIT,
    m.UNKNOWN: _WAIT,
    m.MISSING: _WAIT,
    m.REJECTED: _BAD,
    m.UNDELIVERED: _BAD,
    m.READY: _PLAN,
    m.HELD_FOR_ROLLOUT: _PLAN,  # waiting for the winner, not skipped
}


def state_colour(state: str) -> str:
    """The fill of a state's bar: green delivered, red failed, amber unsettled, grey skipped.

    >>> state_colour("delivered"), state_colour("skipped_holdout")
    ('#009E73', '#999999')
    """
    return _STATE_COLOURS.get(state, _SKIP)


def outcome_chart(source: Any, *, title: str = "Outcomes by state") -> Chart:
    """One bar per state with its number of rows (``result.counts()``, zeros left out).

    ``source`` is a result (anything with ``counts()``), a plan (its ``recipients``' states)
    or a ``{state: rows}`` mapping.

    >>> chart = outcome_chart({"delivered": 8, "undelivered": 2})
    >>> chart.svg.count("class='bar'")
    2
    """
    counts = _counts_of(source)
    labels = list(counts)
    colours = {s: state_colour(s) for s in labels}
    return bar_chart(labels, [counts[s] for s in labels], title=title, y_label="rows",
                     colours=colours)  # fmt: skip


def _counts_of(source: Any) -> dict[str, int]:
    if isinstance(source, Mapping):
        raw = {str(k): int(v) for k, v in source.items()}
    elif hasattr(source, "counts"):
        raw = {str(k): int(v) for k, v in source.counts().items()}
    elif hasattr(source, "recipients"):
        raw = {str(k): int(v) for k, v in source.recipients["state"].value_counts().items()}
    else:
        raise TypeError(f"outcome_chart needs a result, a plan or a mapping, not {source!r}")
    ordered = {s: raw.pop(s) for s in m.ALL_STATES if raw.get(s)}
    ordered.update({s: n for s, n in sorted(raw.items()) if n})
    return ordered


def delivery_chart(result: Any, *, title: str = "Delivery over time (UTC)") -> Chart:
    """Recipients accepted by the provider and delivered, cumulated over time.

    Reads ``result.frame``'s ``submitted_at`` and ``delivered_at`` columns (by their real
    names, ``result.columns``); refresh delivery first for the delivered line to grow.
    Each line's ``data-last`` is its total.
    """
    frame = result.frame
    names = result.columns
    series: dict[str, tuple[list[float], list[float]]] = {}
    delivered = frame[names.state] == m.DELIVERED
    for label, column, mask in (
        ("accepted", names.submitted_at, None),
        ("delivered", names.delivered_at, delivered),
    ):
        times = pd.to_datetime(frame[column], utc=True)
        if mask is not None:
            times = times[mask]
        series[label] = _cumulative(times)
    return line_chart(series, title=title, y_label="recipients")


def _cumulative(times: pd.Series) -> tuple[list[float], list[float]]:
    """Step points (epoch seconds, running count) of the non-missing ``times``."""
    stamps = np.sort(times.dropna().to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9)
    if not len(stamps):
        return [], []
    unique, counts = np.unique(stamps, return_counts=True)
    running = np.cumsum(counts)
    xs = [float(unique[0])]
    ys = [0.0]
    for x, before, after in zip(unique, [0, *running[:-1]], running, strict=True):
        xs += [float(x), float(x)]
        ys += [float(before), float(after)]
    return xs, ys


def _table_of(source: Any, method: str) -> pd.DataFrame:
    """A frame as given, else ``source.<method>()`` or ``source.table``."""
    if isinstance(source, pd.DataFrame):
        table = source
    elif hasattr(source, method):
        table = getattr(source, method)()
    elif isinstance(getattr(source, "table", None), pd.DataFrame):
        table = source.table
    else:
        raise TypeError(f"expected a DataFrame or an object with {method}(), not {source!r}")
    if "variant" not in table.columns and table.index.name == "variant":
        table = table.reset_index()  # by_variant() and measure_lift() index by variant
    return table


def variant_chart(source: Any, *, metric: str = "delivered", title: str | None = None) -> Chart:
    """Each variant's ``<metric>_rate`` as a dot with its 95% interval
    (``<metric>_low``..``<metric>_high``) as an error bar.

    ``source`` is a result (its ``by_variant()``) or that frame. The holdout, sent nothing,
    has no delivered rate and is left out.

    >>> frame = pd.DataFrame({"variant": ["A", "B"], "sent": [100, 100],
    ...     "delivered_rate": [0.9, 0.8], "delivered_low": [0.83, 0.71],
    ...     "delivered_high": [0.94, 0.87]})
    >>> variant_chart(frame).svg.count("class='interval'")
    2
    """
    table = _table_of(source, "by_variant")
    rate, low, high = f"{metric}_rate", f"{metric}_low", f"{metric}_high"
    missing = [c for c in ("variant", rate, low, high) if c not in table.columns]
    if missing:
        raise ValueError(f"variant_chart: the table has no column {', '.join(missing)}")
    table = table[table["variant"].astype(str) != HOLDOUT]
    base = "sent" if "sent" in table.columns else None
    rows = []
    for _, row in table.iterrows():
        note = _percent(row[rate])
        if base is not None and _finite(row[rate]):
            note += f" of {int(row[base]):,}"
        rows.append(Interval(str(row["variant"]), _float(row[rate]), _float(row[low]),
                             _float(row[high]), note))  # fmt: skip
    return interval_chart(
        rows,
        title=title or f"{metric.capitalize()} rate by variant (95% interval)",
        x_label=f"{metric} rate",
    )


def lift_chart(lift: Any, *, title: str | None = None) -> Chart:
    """Each variant's absolute lift over the holdout (``abs_lift``) with its 95% interval
    (``abs_lift_low``..``abs_lift_high``): a forest plot; the dashed line at 0 is the holdout.

    An interval that crosses the line means the data cannot tell the variant from sending
    nothing. ``lift`` is what ``measure_lift`` returns, or its ``.table``. The note beside
    each row is the relative lift and the p-value.

    >>> table = pd.DataFrame({"variant": ["A", "holdout"], "n": [900, 100],
    ...     "rate": [0.06, 0.04], "abs_lift": [0.02, float("nan")],
    ...     "abs_lift_low": [-0.01, float("nan")], "abs_lift_high": [0.05, float("nan")],
    ...     "rel_lift": [0.5, float("nan")], "p_value": [0.3, float("nan")]})
    >>> lift_chart(table).svg.count("class='estimate'")
    1
    """
    table = _table_of(lift, "__no_method__")
    needed = ("variant", "abs_lift", "abs_lift_low", "abs_lift_high")
    missing = [c for c in needed if c not in table.columns]
    if missing:
        raise ValueError(f"lift_chart: the table has no column {', '.join(missing)}")
    table = table[table["variant"].astype(str) != HOLDOUT]
    rows = []
    for _, row in table.iterrows():
        parts = []
        if "rel_lift" in row and _finite(row["rel_lift"]):
            parts.append(f"{row['rel_lift'] * 100:+.0f}% relative")
        if "p_value" in row and _finite(row["p_value"]):
            parts.append(f"p={row['p_value']:.2g}")
        rows.append(Interval(str(row["variant"]), _float(row["abs_lift"]),
                             _float(row["abs_lift_low"]), _float(row["abs_lift_high"]),
                             ", ".join(parts)))  # fmt: skip
    metric = getattr(lift, "metric", None)
    what = f" in {metric}" if isinstance(metric, str) else ""
    # A conversion's lift is in rate points; a value's (revenue) in the value's own units.
    rates = getattr(lift, "kind", "binary") == "binary" and "mean" not in table.columns
    return interval_chart(
        rows,
        title=title or f"Lift{what} over the holdout (95% interval)",
        x_label="absolute lift (percentage points)" if rates else "absolute lift (mean per person)",
        reference=0.0,
        reference_label="holdout",
        percent=rates,
    )


class ResultCharts:
    """A result's pictures as methods: ``ResultCharts(result).outcomes()`` and so on.

    Example::

        charts = ResultCharts(result)
        charts.outcomes(); charts.delivery(); charts.variants()
    """

    def __init__(self, result: Any) -> None:
        self.result = result

    def outcomes(self) -> Chart:
        """:func:`outcome_chart` of the result."""
        return outcome_chart(self.result)

    def delivery(self) -> Chart:
        """:func:`delivery_chart` of the result."""
        return delivery_chart(self.result)

    def variants(self, metric: str = "delivered") -> Chart:
        """:func:`variant_chart` of the result's ``by_variant()``."""
        return variant_chart(self.result, metric=metric)

    def __repr__(self) -> str:
        return "<ResultCharts: outcomes(), delivery(), variants()>"


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _float(value: Any) -> float:
    return float(value) if _finite(value) else math.nan


def _percent(value: Any) -> str:
    return f"{float(value) * 100:.1f}%" if _finite(value) else "no data"
