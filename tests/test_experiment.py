"""Experiments in the plan: variants, the holdout, the seeded stratified split (issue 17)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_SETTINGS
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_confint

from itnio_campaign import plan_campaign, resume_campaign, send_campaign
from itnio_campaign.client import AsyncClient
from itnio_campaign.delivery import refresh_delivery
from itnio_campaign.errors import UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import load_plan
from itnio_campaign.recovery import load_campaign
from itnio_campaign.sandbox import Sandbox

VARIANTS = {"A": "Hi {first_name}, 20% off today", "B": "{first_name}: your coupon is waiting"}


def people(n: int, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "first_name": [f"Name{i}" for i in range(n)],
            "country": rng.choice(["IN", "US", "GB", "DE"], size=n, p=[0.6, 0.25, 0.1, 0.05]),
        }
    )


def groups(plan: object) -> pd.Series:
    return plan.recipients["variant"]  # type: ignore[attr-defined]


# -- the split --------------------------------------------------------------------------------
def test_the_split_is_reproducible_from_the_seed() -> None:
    df = people(2000)
    one = plan_campaign(df, variants=VARIANTS, holdout=0.1, split_seed=7)
    two = plan_campaign(df, variants=VARIANTS, holdout=0.1, split_seed=7)
    other = plan_campaign(df, variants=VARIANTS, holdout=0.1, split_seed=8)
    assert groups(one).tolist() == groups(two).tolist()
    assert one.fingerprint == two.fingerprint
    assert groups(one).tolist() != groups(other).tolist()
    assert one.settings["experiment"]["split_seed"] == 7


def test_without_a_seed_one_is_drawn_and_recorded_so_the_split_can_be_redone() -> None:
    df = people(500)
    plan = plan_campaign(df, variants=VARIANTS, holdout=0.2)
    seed = plan.settings["experiment"]["split_seed"]
    again = plan_campaign(df, variants=VARIANTS, holdout=0.2, split_seed=seed)
    assert groups(plan).tolist() == groups(again).tolist()


@pytest.mark.parametrize("test_share", [None, 0.3])
def test_each_stratum_gets_every_group_share_within_rounding(test_share: float | None) -> None:
    df = people(3001, seed=3)
    plan = plan_campaign(
        df, variants={**VARIANTS, "C": "Hello {first_name}"}, holdout=0.15, split_seed=11,
        stratify="country", test_share=test_share,
    )  # fmt: skip
    shares = dict(_arms(plan))
    table = pd.crosstab(df["country"].to_numpy(), groups(plan).to_numpy())
    for country, row in table.iterrows():
        size = int(row.sum())
        for group, share in shares.items():
            assert abs(int(row.get(group, 0)) - share * size) < 1, (country, group)


def _arms(plan: object) -> list[tuple[str, float]]:
    from itnio_campaign.experiment import ExperimentSpec

    exp = plan.settings["experiment"]  # type: ignore[attr-defined]
    spec = ExperimentSpec.of(
        exp["variants"], holdout=exp["holdout"], test_share=exp["test_share"],
        seed=exp["split_seed"],
    )  # fmt: skip
    return spec.arms()


def test_states_follow_the_groups_and_only_variant_rows_are_requested() -> None:
    plan = plan_campaign(people(1000), variants=VARIANTS, holdout=0.1, split_seed=1, test_share=0.4)
    rec = plan.recipients
    pairs = set(zip(rec["variant"], rec["state"], strict=True))
    assert pairs == {
        ("A", "ready"), ("B", "ready"), ("holdout", "skipped_holdout"),
        ("rollout", "held_for_rollout"),
    }  # fmt: skip
    requested = {p for b in plan.batches for p in b.positions}
    assert requested == set(np.flatnonzero((rec["state"] == "ready").to_numpy()))
    contents = dict(zip(rec["variant"], rec["content"], strict=True))
    assert contents["A"].startswith("Hi Name") and contents["B"].startswith("Name")
    assert pd.isna(contents["holdout"]) and pd.isna(contents["rollout"])


def test_variants_share_one_normalization_and_leave_later_plans_whole() -> None:
    """An experiment plans each variant with its numbers normalized once and without
    requests of their own; a plan made after it (even after one that failed in a variant)
    is a whole plan again, and the experiment equals its variants' rows."""
    df = people(400)
    with pytest.raises(UsageError, match="no_such_column"):
        plan_campaign(df, variants={"A": "Hi", "B": "Hi {no_such_column}"}, split_seed=1)
    plain = plan_campaign(df, content=VARIANTS["A"])
    assert plain.batches and plain.recipients["order_id"].notna().all()
    exp = plan_campaign(
        df, variants=VARIANTS, holdout=0.1, split_seed=7, order_id_col="customer_id"
    )
    pd.testing.assert_series_equal(exp.recipients["number"], plain.recipients["number"])
    sent = exp.recipients[exp.recipients["state"] == "ready"]
    assert (sent["order_id"] == df.loc[sent.index, "customer_id"]).all()
    assert sum(b.size for b in exp.batches) == len(sent)


def test_a_row_that_cannot_take_every_variant_stays_out_of_the_draw() -> None:
    df = people(400)
    df["coupon"] = ["X1" if i % 4 else None for i in range(len(df))]
    plan = plan_campaign(
        df, variants={"A": "Hi {first_name}", "B": "Code {coupon}"}, holdout=0.25, split_seed=2
    )
    rec = plan.recipients
    no_coupon = df["coupon"].isna().to_numpy()
    assert (rec["state"][no_coupon] == "skipped_missing_field").all()
    assert rec["variant"][no_coupon].isna().all()  # neither in a variant nor in the holdout
    assert rec["variant"][~no_coupon].notna().all()


def test_holdout_alone_tests_one_message_against_no_message() -> None:
    plan = plan_campaign(people(200), content="Hi {first_name}", holdout=0.5, split_seed=4)
    assert Counter(groups(plan)) == {"A": 100, "holdout": 100}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"content": "Hi", "variants": VARIANTS}, "not both"),
        ({"variants": VARIANTS, "holdout": 1.0}, "holdout"),
        ({"variants": VARIANTS, "holdout": 0.5, "test_share": 0.5}, "rollout"),
        ({"variants": {"holdout": "Hi"}}, "reserved"),
        ({"variants": {"A": ""}}, "template"),
        ({"variants": VARIANTS, "stratify": "region"}, "not a column"),
        ({"variants": VARIANTS, "split_seed": -1}, "split_seed"),
        ({"content": "Hi", "split_seed": 3}, "variants= or holdout="),
        ({"holdout": 0.1}, "content="),
    ],
)
def test_unusable_experiment_settings_get_one_clear_line(kwargs: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words) as info:
        plan_campaign(people(20), **kwargs)
    assert "\n" not in str(info.value)


# -- the dry run ------------------------------------------------------------------------------
def test_the_dry_run_gives_cost_per_variant_and_the_smallest_detectable_lift() -> None:
    plan = plan_campaign(
        people(3000), variants=VARIANTS, holdout=0.1, split_seed=5, prices=0.01, test_share=0.5
    )
    summary = plan.summary()
    exp = summary.experiment
    assert exp is not None
    counts = Counter(groups(plan))
    for line in exp.variants:
        assert line.to_send == counts[line.name]
        assert line.cost == Decimal("0.01") * line.segments
    assert exp.holdout == counts["holdout"] and exp.held_for_rollout == counts["rollout"]
    assert set(exp.rollout_cost) == {"A", "B"}
    text = str(summary)
    assert "variant A" in text and "smallest detectable lift, B" in text
    # the power calculation, as statsmodels solves it (Cohen's h, two-sided, alpha .05, power .8)
    table = plan.min_detectable_lift(baseline=0.1)
    n_a, n_h = counts["A"], counts["holdout"]
    h = NormalIndPower().solve_power(nobs1=n_a, ratio=n_h / n_a, alpha=0.05, power=0.8)
    expected = np.sin(np.arcsin(np.sqrt(0.1)) + h / 2) ** 2 - 0.1
    assert table.loc["A", "min_abs_lift"] == pytest.approx(expected, rel=1e-4)
    at_5 = plan.min_detectable_lift().loc["A", "min_abs_lift"]  # the summary's 5% baseline
    assert summary.as_dict()["experiment"]["min_detectable_lift"]["A"] == pytest.approx(at_5)


def test_a_bigger_holdout_detects_a_smaller_lift() -> None:
    df = people(4000)
    small = plan_campaign(df, variants=VARIANTS, holdout=0.05, split_seed=1)
    big = plan_campaign(df, variants=VARIANTS, holdout=0.3, split_seed=1)
    assert (
        big.min_detectable_lift().loc["A", "min_abs_lift"]
        < small.min_detectable_lift().loc["A", "min_abs_lift"]
    )


# -- sending ----------------------------------------------------------------------------------
async def test_holdout_and_held_rows_are_never_sent_and_by_variant_counts_each_group(
    tmp_path: Path,
) -> None:
    df = people(600)
    plan = plan_campaign(
        df, variants=VARIANTS, holdout=0.2, split_seed=3, test_share=0.5, prices=0.005
    )
    rec = plan.recipients
    async with (
        Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0, undelivered_rate=0.2) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        result = await send_campaign(plan, client, ledger=tmp_path / "ab.sqlite", progress=False)
        sb.settle_all()
        result = await refresh_delivery(tmp_path / "ab.sqlite", client)
        counts = sb.number_counts()
    sent_numbers = set(counts)
    for group in ("holdout", "rollout"):
        assert not sent_numbers & set(rec["number"][rec["variant"] == group])
    assert sent_numbers == set(rec["number"][rec["variant"].isin(["A", "B"])])
    assert set(counts.values()) == {1}
    table = result.by_variant()
    assert list(table.index) == ["A", "B", "holdout", "rollout"]
    for group in ("A", "B"):
        row = table.loc[group]
        states = result.frame["state"][(rec["variant"] == group).to_numpy()]
        assert row["recipients"] == row["sent"] == len(states)
        assert row["delivered"] == (states == "delivered").sum()
        low, high = proportion_confint(row["delivered"], row["sent"], method="wilson")
        assert (row["delivered_low"], row["delivered_high"]) == pytest.approx((low, high))
        assert row["cost"] == pytest.approx(0.005 * row["sent"])
        assert row["cost_per_delivered"] == pytest.approx(row["cost"] / row["delivered"])
    assert table.loc["holdout", "sent"] == 0 and np.isnan(table.loc["holdout", "delivered_rate"])
    assert table["replied"].isna().all()


async def test_by_variant_counts_replies_and_opt_outs_given(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(people(100), variants=VARIANTS, holdout=0.2, split_seed=9)
    result = await send_campaign(plan, client, progress=False)
    rec = plan.recipients
    a_numbers = rec["number"][rec["variant"] == "A"].tolist()
    replies = pd.DataFrame({"number": a_numbers[:3], "content": ["STOP", "yes", "STOP"]})
    table = result.by_variant(replies, opted_out=[a_numbers[0], "+" + a_numbers[2]])
    assert table.loc["A", "replied"] == 3 and table.loc["A", "opted_out"] == 2
    assert table.loc["B", "replied"] == 0 and table.loc["holdout", "opted_out"] == 0


async def test_the_split_is_unchanged_by_resume_and_nobody_is_sent_twice(tmp_path: Path) -> None:
    df = people(3000)
    plan = plan_campaign(df, variants=VARIANTS, holdout=0.1, split_seed=21, stratify="country")
    path = tmp_path / "resumed.sqlite"
    async with (
        Sandbox(seed=1, balance=Decimal("0.005") * 1000, reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        first = await send_campaign(plan, client, ledger=path, concurrency=1, progress=False)
        assert first.status == "halted"  # the balance ran out after the first request
        with Ledger.open(path, readonly=True) as ledger:
            stored = load_plan(ledger).recipients["variant"]
        assert stored.tolist() == groups(plan).tolist()
        sb.balance = Decimal(100)
        second = await resume_campaign(path, client, progress=False)
        counts = sb.number_counts()
    assert second.status == "completed"
    assert load_campaign(path).plan.recipients["variant"].tolist() == groups(plan).tolist()
    rec = plan.recipients
    assert set(counts) == set(rec["number"][rec["variant"].isin(["A", "B"])])
    assert set(counts.values()) == {1}
    # what each number got is its own variant's text
    sent_text = {m.number: m.content for m in sb.accepted}
    for number, group, content in zip(rec["number"], rec["variant"], rec["content"], strict=True):
        if group in ("A", "B"):
            assert sent_text[number] == content


def test_smart_encoding_saving_counts_the_rows_each_variant_sends() -> None:
    long_a = "Hi {first_name}, it’s here: " + "x" * 100  # 2 UCS-2 segments, 1 as GSM-7
    plan = plan_campaign(
        people(300), variants={"A": long_a, "B": "Hello {first_name}"}, holdout=0.2,
        split_seed=3, smart_encoding=True, prices=0.5,
    )  # fmt: skip
    summary = plan.summary()
    sent_a = int((groups(plan) == "A").sum())
    assert summary.smart_saving_segments == sent_a  # one segment per A row, none for B
    assert summary.smart_saving_cost == Decimal("0.5") * sent_a
    assert "’" not in "".join(plan.recipients["content"].dropna())


async def test_a_test_share_needs_a_ledger_and_the_result_points_to_the_rollout(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(people(200), variants=VARIANTS, holdout=0.1, split_seed=2, test_share=0.3)
    with pytest.raises(UsageError, match="test_share= needs ledger="):
        await send_campaign(plan, client, progress=False)
    assert not sb.requests  # refused before anything was sent
    path = tmp_path / "test-share.sqlite"
    result = await send_campaign(plan, client, ledger=path, progress=False)
    assert result.status == "completed"
    assert result.notice is not None and "120 recipients are held for the rollout" in result.notice
    again = await resume_campaign(path, client, progress=False)
    assert again.notice is not None and "rollout_winner(" in again.notice


def test_many_tiny_strata_still_give_each_group_its_share_overall() -> None:
    """Strata of one row each: rounding alone would never put anyone in a 10% holdout."""
    df = people(20_000)
    df["postcode"] = [f"p{i}" for i in range(len(df))]  # every row its own stratum
    plan = plan_campaign(df, variants=VARIANTS, holdout=0.1, split_seed=4, stratify="postcode")
    shares = groups(plan).value_counts(normalize=True)
    assert shares["holdout"] == pytest.approx(0.1, abs=0.01)
    assert shares["A"] == pytest.approx(0.45, abs=0.015)


def test_variants_with_send_windows_keep_each_request_inside_one_window() -> None:
    us_east = [f"+1212555{i:04d}" for i in range(30)]  # New York
    us_west = [f"+1415555{i:04d}" for i in range(30)]  # San Francisco
    df = pd.DataFrame({"phone": us_east + us_west})
    plan = plan_campaign(
        df, variants={"A": "Hi", "B": "Hello"}, holdout=0.2, split_seed=3, window="09:00-20:00"
    )
    rec = plan.recipients
    sent = rec["state"] == "ready"
    assert set(rec.loc[sent, "tz"]) == {"America/New_York", "America/Los_Angeles"}
    for batch in plan.batches:  # one zone per request, whichever variant
        assert rec["tz"].iloc[list(batch.positions)].nunique() == 1
    assert (rec["variant"] == "holdout").sum() == 12
    assert len(plan.schedule()) == 2


def test_a_winner_rollout_with_send_windows_is_refused_with_a_way_out() -> None:
    df = pd.DataFrame({"phone": [f"+9198765{i:05d}" for i in range(20)]})
    with pytest.raises(UsageError, match=r"rollout \(test_share=\) cannot have send windows yet"):
        plan_campaign(df, variants={"A": "Hi", "B": "Hello"}, test_share=0.2, window="09:00-20:00")
