"""measure_lift: the analyst's outcomes joined to variants and holdout (issue 17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_SETTINGS
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from itnio_campaign import measure_lift, plan_campaign, send_campaign
from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import UsageError
from itnio_campaign.recovery import load_campaign
from itnio_campaign.result import CampaignResult
from itnio_campaign.sandbox import Sandbox

VARIANTS = {"A": "Hi {first_name}, 20% off today", "B": "{first_name}: a gift waits for you"}
TRUE_RATE = {"A": 0.10, "B": 0.14, "holdout": 0.06}


def people(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "first_name": [f"Name{i}" for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> CampaignResult:
    """4,000 people: A and B sent, 20% holdout; the campaign loaded back from its ledger."""
    import asyncio

    plan = plan_campaign(people(4000), variants=VARIANTS, holdout=0.2, split_seed=5, prices=0.01)
    path = tmp_path_factory.mktemp("lift") / "lift.sqlite"

    async def send() -> None:
        async with (
            Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb,
            AsyncClient(sb.credentials, FAST_SETTINGS) as client,
        ):
            await send_campaign(plan, client, ledger=path, progress=False)

    asyncio.run(send())
    return load_campaign(path)


def orders_with_known_effect(result: CampaignResult, seed: int = 0) -> pd.DataFrame:
    """Orders: each recipient buys with its group's true rate, at most once, within 3 days;
    plus orders 10 days later (outside a 7-day window) for everyone in the holdout."""
    rng = np.random.default_rng(seed)
    groups = result.plan.recipients["variant"].to_numpy(dtype=object)
    ids = result.plan.source["customer_id"].to_numpy()
    start = pd.Timestamp(result.started_at, unit="s", tz="UTC")
    rows = []
    for cid, group in zip(ids, groups, strict=True):
        if group in TRUE_RATE and rng.random() < TRUE_RATE[group]:
            rows.append((cid, start + pd.Timedelta(hours=rng.uniform(1, 72)), rng.gamma(2.0, 20.0)))
        if group == "holdout":
            rows.append((cid, start + pd.Timedelta(days=10), 99.0))
    return pd.DataFrame(rows, columns=["customer_id", "ordered_at", "amount"])


def test_conversion_lift_matches_statsmodels_on_the_joined_counts(sent: CampaignResult) -> None:
    orders = orders_with_known_effect(sent)
    orders["converted"] = True
    lift = measure_lift(sent, orders, on="customer_id", metric="converted", window="7d",
                        time_col="ordered_at")  # fmt: skip
    table = lift.table
    assert lift.kind == "binary" and list(table.index) == ["A", "B", "holdout"]
    groups = sent.plan.recipients["variant"]
    in_window = orders[orders["ordered_at"] <= pd.Timestamp(sent.started_at, unit="s", tz="UTC")
                       + pd.Timedelta(days=7)]  # fmt: skip
    buyers = set(in_window["customer_id"])
    ids = sent.plan.source["customer_id"]
    k = {g: int(ids[(groups == g).to_numpy()].isin(buyers).sum()) for g in TRUE_RATE}
    n = {g: int((groups == g).sum()) for g in TRUE_RATE}
    for g in ("A", "B"):
        row = table.loc[g]
        assert row["n"] == n[g] and row["rate"] == pytest.approx(k[g] / n[g])
        assert row["abs_lift"] == pytest.approx(k[g] / n[g] - k["holdout"] / n["holdout"])
        low, high = confint_proportions_2indep(
            k[g], n[g], k["holdout"], n["holdout"], method="newcomb", compare="diff"
        )
        assert (row["abs_lift_low"], row["abs_lift_high"]) == pytest.approx((low, high))
        p = proportions_ztest([k[g], k["holdout"]], [n[g], n["holdout"]])[1]
        assert row["p_value"] == pytest.approx(p)
        assert row["rel_lift"] == pytest.approx(row["abs_lift"] / table.loc["holdout", "rate"])
        assert row["incremental"] == pytest.approx(row["abs_lift"] * n[g])
        assert row["cost"] == pytest.approx(0.01 * n[g])  # every variant row was sent
        assert row["cost_per_incremental"] == pytest.approx(row["cost"] / row["incremental"])
        # the known effect lies in the interval
        assert row["abs_lift_low"] <= TRUE_RATE[g] - TRUE_RATE["holdout"] <= row["abs_lift_high"]
    assert table.loc["B", "p_value"] < 0.001
    assert "outside the window" in " ".join(lift.notes)
    assert "B:" in str(lift) and "<table" in lift._repr_html_()


def test_orders_after_the_window_do_not_count(sent: CampaignResult) -> None:
    orders = orders_with_known_effect(sent)
    narrow = measure_lift(sent, orders, metric="converted", window="7d", time_col="ordered_at")
    wide = measure_lift(sent, orders, metric="converted", window="30d", time_col="ordered_at")
    # everyone in the holdout ordered on day 10: inside 30 days, outside 7
    assert wide.table.loc["holdout", "rate"] == 1.0
    assert narrow.table.loc["holdout", "rate"] < 0.1
    # without a time column every order counts, and the result says so
    everything = measure_lift(sent, orders, metric="converted")
    assert everything.table.loc["holdout", "rate"] == 1.0
    assert any("no time_col" in note for note in everything.notes)


def test_revenue_lift_is_a_seeded_bootstrap_over_each_customers_total(
    sent: CampaignResult,
) -> None:
    orders = orders_with_known_effect(sent, seed=3)
    lift = measure_lift(sent, orders, metric="amount", window="7d", time_col="ordered_at", seed=4)
    again = measure_lift(sent, orders, metric="amount", window="7d", time_col="ordered_at", seed=4)
    assert lift.kind == "value"
    pd.testing.assert_frame_equal(lift.table, again.table)
    kept = orders[orders["ordered_at"] < pd.Timestamp(sent.started_at, unit="s", tz="UTC")
                  + pd.Timedelta(days=7)]  # fmt: skip
    per = kept.groupby("customer_id")["amount"].sum()
    ids = sent.plan.source["customer_id"]
    groups = sent.plan.recipients["variant"]
    mean_b = ids[(groups == "B").to_numpy()].map(per).fillna(0).mean()
    assert lift.table.loc["B", "mean"] == pytest.approx(mean_b)
    row = lift.table.loc["B"]
    assert row["abs_lift_low"] < row["abs_lift"] < row["abs_lift_high"]
    true_lift = (TRUE_RATE["B"] - TRUE_RATE["holdout"]) * 40.0  # gamma(2, 20) has mean 40
    assert row["abs_lift_low"] <= true_lift <= row["abs_lift_high"]


def test_converted_means_any_outcome_row_when_there_is_no_such_column(
    sent: CampaignResult,
) -> None:
    orders = orders_with_known_effect(sent)[["customer_id", "ordered_at"]]
    lift = measure_lift(sent, orders, window="7d", time_col="ordered_at")
    assert lift.kind == "binary"
    assert any("at least one outcome row" in note for note in lift.notes)
    assert 0.08 < lift.table.loc["A", "rate"] < 0.12


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"on": "email"}, "not a column of the campaign"),
        ({"metric": "profit"}, "metric='profit' is not a column"),
        ({"time_col": "when"}, "time_col='when' is not a column"),
        ({"time_col": "ordered_at", "window": "soon"}, "window is like"),
    ],
)
def test_unusable_arguments_get_one_clear_line(
    sent: CampaignResult, kwargs: dict, words: str
) -> None:
    orders = orders_with_known_effect(sent)
    with pytest.raises(UsageError, match=words) as info:
        measure_lift(sent, orders, **kwargs)
    assert "\n" not in str(info.value)


async def test_a_campaign_without_a_holdout_has_no_lift(tmp_path: Path) -> None:
    plan = plan_campaign(people(50), variants=VARIANTS, split_seed=1)
    async with (
        Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        result = await send_campaign(plan, client, progress=False)
    with pytest.raises(UsageError, match="no holdout"):
        measure_lift(result, pd.DataFrame({"customer_id": ["c1"]}))
    plain = plan_campaign(people(5), content="Hi")
    async with (
        Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        result = await send_campaign(plain, client, progress=False)
    with pytest.raises(UsageError, match="no variants or holdout"):
        measure_lift(result, pd.DataFrame({"customer_id": ["c1"]}))
    with pytest.raises(UsageError, match="no variants or holdout"):
        result.by_variant()


def test_a_ledger_path_instead_of_a_result_says_how_to_load_it(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"load_campaign\(path\)"):
        measure_lift(tmp_path / "x.sqlite", pd.DataFrame({"customer_id": ["c1"]}))  # type: ignore[arg-type]


def test_windows_are_read_in_days_hours_weeks_or_seconds(sent: CampaignResult) -> None:
    orders = orders_with_known_effect(sent)
    by_text = measure_lift(sent, orders, window="1d12h", time_col="ordered_at").table
    by_seconds = measure_lift(sent, orders, window=36 * 3600, time_col="ordered_at").table
    pd.testing.assert_frame_equal(by_text, by_seconds)
    two_weeks = measure_lift(sent, orders, window="2w", time_col="ordered_at").table
    assert two_weeks.loc["holdout", "rate"] == 1.0  # the day-10 orders are inside 14 days
