"""The SVG charts, parsed back with xml.etree: each mark must sit where its number says.

Positions are checked through the chart's own axis (two ticks give the pixel map), so a bar
drawn at the wrong height or an error bar at the wrong end fails, whatever the layout.
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.charts import (
    Chart,
    ResultCharts,
    bar_chart,
    delivery_chart,
    lift_chart,
    outcome_chart,
    variant_chart,
)
from itnio_campaign.client import AsyncClient
from itnio_campaign.delivery import refresh_delivery
from itnio_campaign.models import ALL_STATES
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox

NS = {"s": "http://www.w3.org/2000/svg"}


def parse(chart: Chart) -> ET.Element:
    root = ET.fromstring(chart._repr_svg_())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def marks(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iterfind(f".//s:{tag}", NS) if e.get("class") == cls]


def axis_map(root: ET.Element, axis: str) -> tuple[float, float]:
    """(slope, offset) of pixel = slope * value + offset, read from the axis' ticks."""
    ticks = [t for t in marks(root, "line", "tick") if t.get("data-axis") == axis]
    assert len(ticks) >= 2, "an axis needs ticks"
    coord = "y1" if axis == "y" else "x1"
    (v0, p0), (v1, p1) = [(float(t.get("data-value", "")), float(t.get(coord, ""))) for t in
                          (ticks[0], ticks[-1])]  # fmt: skip
    slope = (p1 - p0) / (v1 - v0)
    # Every tick lies on the same line: the axis is linear.
    for t in ticks:
        assert float(t.get(coord, "")) == pytest.approx(slope * float(t.get("data-value", "")) +
                                                        p0 - slope * v0, abs=0.02)  # fmt: skip
    return slope, p0 - slope * v0


def phones(n: int) -> list[str]:
    return [f"+91 98{i:08d}" for i in range(n)]


async def sent_result(sb: Sandbox, client: AsyncClient):  # type: ignore[no-untyped-def]
    """A real campaign: 40 good rows, 3 invalid, 2 duplicates; delivery refreshed."""
    numbers = [*phones(40), "12", "abc", "", phones(1)[0], phones(2)[1]]
    df = pd.DataFrame({"phone": numbers, "name": [f"c{i}" for i in range(len(numbers))]})
    plan = plan_campaign(df, number_col="phone", content="Hello {name}")
    result = await send_campaign(plan, client, progress=False)
    await refresh_delivery(result, client)
    return result


# --- outcomes by state ----------------------------------------------------------------------
async def test_outcome_chart_has_one_bar_per_state_heights_proportional_to_counts(
    client: AsyncClient, sb: Sandbox
) -> None:
    result = await sent_result(sb, client)
    counts = result.counts()
    assert len(counts) >= 3  # delivered (or undelivered), skipped_invalid, skipped_duplicate
    root = parse(outcome_chart(result))
    bars = marks(root, "rect", "bar")
    assert [b.get("data-label") for b in bars] == list(counts)
    assert [int(b.get("data-value", "")) for b in bars] == list(counts.values())
    slope, offset = axis_map(root, "y")
    base = offset  # the pixel of zero rows
    for bar in bars:
        n = counts[bar.get("data-label", "")]
        top, height = float(bar.get("y", "")), float(bar.get("height", ""))
        assert top + height == pytest.approx(base, abs=0.02)  # every bar stands on zero
        assert top == pytest.approx(slope * n + offset, abs=0.02)
    ratios = {round(float(b.get("height", "")) / counts[b.get("data-label", "")], 3) for b in bars}
    assert len(ratios) == 1, "heights are proportional to the counts"


def test_outcome_chart_accepts_a_mapping_and_orders_states_as_the_vocabulary() -> None:
    root = parse(outcome_chart({"delivered": 5, "skipped_invalid": 2, "rejected": 0, "x": 1}))
    labels = [b.get("data-label") for b in marks(root, "rect", "bar")]
    assert labels == [*sorted(["delivered", "skipped_invalid"], key=ALL_STATES.index), "x"]


def test_labels_are_escaped_and_the_svg_stays_well_formed(tmp_path: Path) -> None:
    chart = bar_chart(["<b>&'\"", "ok"], [1, 2], title="Tom & Jerry's <chart>")
    root = parse(chart)
    assert marks(root, "rect", "bar")[0].get("data-label") == "<b>&'\""
    assert "Tom & Jerry's <chart>" in "".join(root.itertext())
    saved = chart.save(tmp_path / "c.svg")
    assert ET.parse(saved).getroot().tag.endswith("svg")
    assert chart._repr_html_().startswith("<div class='itnio-chart'><svg")


def test_all_zero_bars_still_draw_an_axis() -> None:
    root = parse(bar_chart(["a"], [0], title="t"))
    assert float(marks(root, "rect", "bar")[0].get("height", "")) == 0
    axis_map(root, "y")


# --- delivery over time ---------------------------------------------------------------------
async def test_delivery_chart_lines_end_at_the_accepted_and_delivered_totals(
    client: AsyncClient, sb: Sandbox
) -> None:
    result = await sent_result(sb, client)
    frame = result.frame
    root = parse(delivery_chart(result))
    lines = {ln.get("data-series"): ln for ln in marks(root, "polyline", "line")}
    assert set(lines) == {"accepted", "delivered"}
    delivered = int((frame["state"] == "delivered").sum())
    accepted = int(frame["submitted_at"].notna().sum())
    assert accepted == 40 and delivered > 0
    assert int(lines["accepted"].get("data-last", "")) == accepted
    assert int(lines["delivered"].get("data-last", "")) == delivered
    slope, offset = axis_map(root, "y")
    for name, total in (("accepted", accepted), ("delivered", delivered)):
        points = [tuple(map(float, p.split(","))) for p in lines[name].get("points", "").split()]
        ys = [(y - offset) / slope for _, y in points]
        assert ys[0] == pytest.approx(0, abs=0.01) and ys[-1] == pytest.approx(total, abs=0.01)
        assert all(b >= a - 1e-6 for a, b in itertools.pairwise(ys)), "cumulative"
        xs = [x for x, _ in points]
        assert xs == sorted(xs), "time runs left to right"


# --- per-variant rates and lift ---------------------------------------------------------------
def by_variant_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": ["A", "B", "holdout"],
            "sent": [400, 380, 0],
            "delivered_rate": [0.9, 0.8, math.nan],
            "delivered_low": [0.867, 0.757, math.nan],
            "delivered_high": [0.925, 0.837, math.nan],
        }
    )


def test_variant_chart_error_bars_match_the_intervals() -> None:
    table = by_variant_frame()
    root = parse(variant_chart(table))
    slope, offset = axis_map(root, "x")
    dots = marks(root, "circle", "estimate")
    bars = marks(root, "line", "interval")
    assert [d.get("data-label") for d in dots] == ["A", "B"]  # the holdout sent nothing
    for dot, bar, (_, row) in zip(dots, bars, table.head(2).iterrows(), strict=True):
        assert float(dot.get("cx", "")) == pytest.approx(slope * row.delivered_rate + offset,
                                                         abs=0.02)  # fmt: skip
        x1, x2 = float(bar.get("x1", "")), float(bar.get("x2", ""))
        assert x1 == pytest.approx(slope * row.delivered_low + offset, abs=0.02)
        assert x2 == pytest.approx(slope * row.delivered_high + offset, abs=0.02)
        assert float(bar.get("data-low", "")) == row.delivered_low
        assert float(bar.get("data-high", "")) == row.delivered_high
        assert x1 < float(dot.get("cx", "")) < x2


def test_variant_chart_names_a_missing_metric() -> None:
    with pytest.raises(ValueError, match="replied_rate"):
        variant_chart(by_variant_frame(), metric="replied")


def lift_table() -> pd.DataFrame:
    nan = math.nan
    return pd.DataFrame(
        {
            "variant": ["A", "B", "holdout"],
            "n": [900, 880, 200],
            "rate": [0.081, 0.052, 0.05],
            "abs_lift": [0.031, 0.002, nan],
            "abs_lift_low": [0.0, -0.033, nan],
            "abs_lift_high": [0.062, 0.037, nan],
            "rel_lift": [0.62, 0.04, nan],
            "p_value": [0.11, 0.91, nan],
        }
    )


def test_lift_chart_is_a_forest_plot_around_the_holdout() -> None:
    table = lift_table()
    root = parse(lift_chart(table))
    slope, offset = axis_map(root, "x")
    (ref,) = marks(root, "line", "reference")
    assert float(ref.get("x1", "")) == pytest.approx(offset, abs=0.02)  # lift 0 = the holdout
    bars = {b.get("data-label"): b for b in marks(root, "line", "interval")}
    assert set(bars) == {"A", "B"}
    for _, row in table.head(2).iterrows():
        bar = bars[row.variant]
        assert float(bar.get("x1", "")) == pytest.approx(slope * row.abs_lift_low + offset,
                                                         abs=0.02)  # fmt: skip
        assert float(bar.get("x2", "")) == pytest.approx(slope * row.abs_lift_high + offset,
                                                         abs=0.02)  # fmt: skip
    # B's interval crosses the holdout's line; A's starts on it.
    assert (
        float(bars["B"].get("x1", "")) < float(ref.get("x1", "")) < float(bars["B"].get("x2", ""))
    )
    text = "".join(root.itertext())
    assert "+62% relative" in text and "p=0.11" in text


def test_lift_chart_shows_a_variant_without_data_as_such() -> None:
    table = lift_table()
    table.loc[1, ["abs_lift", "abs_lift_low", "abs_lift_high"]] = math.nan
    root = parse(lift_chart(table))
    assert [e.get("data-label") for e in marks(root, "text", "no-data")] == ["B"]
    assert [e.get("data-label") for e in marks(root, "circle", "estimate")] == ["A"]


def test_result_charts_bundle_calls_the_same_functions() -> None:
    class Result:
        def counts(self) -> dict[str, int]:
            return {"delivered": 3}

        def by_variant(self) -> pd.DataFrame:
            return by_variant_frame()

    charts = ResultCharts(Result())
    assert charts.outcomes().svg == outcome_chart(Result()).svg
    assert charts.variants().svg == variant_chart(by_variant_frame()).svg


async def test_lift_chart_of_a_real_measure_lift_matches_its_table(client: AsyncClient) -> None:
    from itnio_campaign.experiment import measure_lift

    n = 400
    df = pd.DataFrame({"phone": phones(n), "customer_id": range(n)})
    plan = plan_campaign(df, number_col="phone", variants={"A": "Hi", "B": "Hello"},
                         holdout=0.25, split_seed=5)  # fmt: skip
    result = await send_campaign(plan, client, progress=False)
    orders = pd.DataFrame({"customer_id": range(0, n, 7)})  # every 7th customer ordered
    lift = measure_lift(result, orders, on="customer_id", window=None)
    root = parse(lift_chart(lift))
    slope, offset = axis_map(root, "x")
    table = lift.table
    bars = {b.get("data-label"): b for b in marks(root, "line", "interval")}
    assert set(bars) == {"A", "B"}  # the holdout is the dashed line, not a row
    for name, bar in bars.items():
        low, high = table.loc[name, "abs_lift_low"], table.loc[name, "abs_lift_high"]
        assert float(bar.get("x1", "")) == pytest.approx(slope * low + offset, abs=0.02)
        assert float(bar.get("x2", "")) == pytest.approx(slope * high + offset, abs=0.02)
