"""The report's Experiment sheet: a real A/B campaign with a holdout on the sandbox, written,
then read back with openpyxl: the tables hold by_variant and the lift, and the native charts'
ranges point at those cells (error bars at the intervals' distances)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.delivery import refresh_delivery
from itnio_campaign.errors import UsageError
from itnio_campaign.excel import write_report
from itnio_campaign.experiment import measure_lift
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import send_campaign

VARIANTS = {"A": "Hi {name}, 20% off this weekend", "B": "{name}: your weekend code is inside"}


def contacts(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "name": [f"Cust{i}" for i in range(n)],
            "customer_id": [f"C{i:05d}" for i in range(n)],
        }
    )


async def experiment_result(client: AsyncClient, n: int = 600) -> Any:
    plan = plan_campaign(contacts(n), number_col="phone", variants=VARIANTS, holdout=0.2,
                         split_seed=7, prices=0.005)  # fmt: skip
    result = await send_campaign(plan, client, progress=False)
    await refresh_delivery(result, client)
    return result


def outcomes_for(result: Any, seed: int = 3) -> pd.DataFrame:
    """Who converted: 5% of the holdout, 10% of A, 6% of B (drawn with a seed)."""
    variant = result.plan.recipients["variant"].astype(str).to_numpy()
    p = pd.Series(variant).map({"holdout": 0.05, "A": 0.10, "B": 0.06}).to_numpy()
    converted = np.random.default_rng(seed).random(len(p)) < p
    return pd.DataFrame({"customer_id": result.plan.source["customer_id"], "converted": converted})


def cells(ws: Any, ref: str) -> list[Any]:
    """The values of a one-column range like ``'Experiment'!$D$6:$D$8``."""
    m = re.fullmatch(r"'?(.+?)'?!\$([A-Z]+)\$(\d+):\$([A-Z]+)\$(\d+)", ref)
    assert m, ref
    assert m[1] == ws.title and m[2] == m[4], ref
    return [c.value for (c,) in ws[f"{m[2]}{m[3]}:{m[4]}{m[5]}"]]


def table_at(ws: Any, title_prefix: str) -> tuple[int, list[str], list[tuple[Any, ...]]]:
    """(first data row, header, rows) of the table under the heading starting so."""
    rows = list(ws.iter_rows(values_only=True))
    at = next(i for i, r in enumerate(rows) if r and str(r[0] or "").startswith(title_prefix))
    header = [h for h in rows[at + 1] if h is not None]
    data = []
    for r in rows[at + 2 :]:
        if not r or r[0] is None:
            break
        data.append(r[: len(header)])
    return at + 3, header, data


def close(a: Any, b: Any) -> bool:
    """A cell read back equals the frame's value (a missing value is an empty cell)."""
    if b is None or b is pd.NA or (isinstance(b, float) and np.isnan(b)):
        return a is None
    if isinstance(b, float | int | np.floating | np.integer):
        return bool(a == pytest.approx(float(b), abs=1e-9))
    return bool(str(a) == str(b))


async def test_experiment_sheet_holds_by_variant_and_lift_with_native_charts(
    client: AsyncClient, tmp_path: Path
) -> None:
    result = await experiment_result(client)
    lift = measure_lift(result, outcomes_for(result), on="customer_id", metric="converted")
    path = write_report(result, tmp_path / "r.xlsx", lift=lift)
    wb = openpyxl.load_workbook(path)
    assert "Experiment" in wb.sheetnames
    ws = wb["Experiment"]

    by_variant = result.by_variant().reset_index()  # the sheet shows the variant as a column
    first, header, rows = table_at(ws, "Results by variant")
    assert header == [str(c) for c in by_variant.columns]
    assert len(rows) == len(by_variant)
    for got, (_, want) in zip(rows, by_variant.iterrows(), strict=True):
        assert all(close(g, w) for g, w in zip(got, want.tolist(), strict=True)), (got, want)

    lift_first, lift_header, lift_rows = table_at(ws, "Lift over the holdout")
    lift_frame = lift.table.reset_index()
    assert lift_header == [str(c) for c in lift_frame.columns]
    assert [r[0] for r in lift_rows] == lift_frame["variant"].astype(str).tolist()

    charts = ws._charts
    assert len(charts) == 2
    rate_chart, lift_chart = charts
    for chart, table, est, low, high, top in (
        (rate_chart, by_variant, "delivered_rate", "delivered_low", "delivered_high", first),
        (lift_chart, lift_frame, "abs_lift", "abs_lift_low", "abs_lift_high", lift_first),
    ):
        (series,) = chart.series
        values = cells(ws, series.val.numRef.f)
        categories = cells(ws, (series.cat.numRef or series.cat.strRef).f)
        assert categories == table["variant"].astype(str).tolist()
        assert all(close(v, w) for v, w in zip(values, table[est], strict=True))
        rows_of = re.findall(r"\$(\d+)", series.val.numRef.f)
        assert [int(r) for r in rows_of] == [top, top + len(table) - 1]  # the table's rows
        bars = series.errBars
        assert bars.errValType == "cust" and bars.errBarType == "both"
        minus, plus = cells(ws, bars.minus.numRef.f), cells(ws, bars.plus.numRef.f)
        for m_, p_, (_, row) in zip(minus, plus, table.iterrows(), strict=True):
            if np.isnan(row[est]):
                assert m_ is None and p_ is None
                continue
            assert m_ == pytest.approx(row[est] - row[low], abs=1e-9)
            assert p_ == pytest.approx(row[high] - row[est], abs=1e-9)


async def test_report_without_an_experiment_has_no_experiment_sheet(
    client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(20), number_col="phone", content="Hello {name}")
    result = await send_campaign(plan, client, progress=False)
    path = write_report(result, tmp_path / "plain.xlsx")
    assert "Experiment" not in openpyxl.load_workbook(path, read_only=True).sheetnames


async def test_report_refuses_a_lift_that_is_not_one(client: AsyncClient, tmp_path: Path) -> None:
    result = await experiment_result(client, 50)
    with pytest.raises(UsageError, match="measure_lift"):
        write_report(result, tmp_path / "x.xlsx", lift=[1, 2])
    assert not (tmp_path / "x.xlsx").exists()


async def test_a_revenue_lift_is_written_in_its_units_not_as_a_rate(
    client: AsyncClient, tmp_path: Path
) -> None:
    result = await experiment_result(client, 200)
    outcomes = outcomes_for(result).assign(amount=lambda f: f["converted"] * 250.0)
    lift = measure_lift(result, outcomes, on="customer_id", metric="amount", window=None)
    path = write_report(result, tmp_path / "v.xlsx", lift=lift)
    ws = openpyxl.load_workbook(path)["Experiment"]
    first, header, _ = table_at(ws, "Lift over the holdout")
    column = header.index("abs_lift") + 1
    assert "%" not in ws.cell(first, column).number_format  # e.g. +12.5 rupees, not 1250%
    assert ws.cell(first, header.index("rel_lift") + 1).number_format == "0.0%"
    _, lift_chart = ws._charts
    assert lift_chart.y_axis.numFmt.formatCode == "#,##0.00"


async def test_rows_held_for_the_rollout_are_counted_on_the_summary(
    client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(100), number_col="phone", variants=VARIANTS, holdout=0.1,
                         test_share=0.4, split_seed=7)  # fmt: skip
    result = await send_campaign(plan, client, progress=False, ledger=tmp_path / "t.sqlite")
    held = result.counts()["held_for_rollout"]
    assert held == 50
    path = write_report(result, tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(path, read_only=True)
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if len(r) > 1}
    assert summary["Held for rollout (rollout_winner sends them)"] == held
    groups = [r[0] for r in wb["Experiment"].iter_rows(values_only=True) if r and r[0]]
    assert "rollout" in groups
