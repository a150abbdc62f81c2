"""A plan as plan_campaign made it vouches for its requests (numbers and orderIds are the
recipients frame's at their positions), so the ledger stores it without comparing a million
values; any change to the plan withdraws that, and the ledger compares again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign import plan_campaign
from itnio_campaign.ledger import Ledger
from itnio_campaign.ledger.codecs import encode_batches
from itnio_campaign.plan import Plan, load_plan

VARIANTS = {"A": "Hi {name}, 20% off today", "B": "{name}: your coupon is waiting"}


def _people(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(n)]
            + [f"+1 212 555 {i:04d}" for i in range(n)],
            "name": ["Ann", "Raj", "Bo", "Zoë"] * (n // 2),
            "ref": [f"R{i}" for i in range(2 * n)],
        }
    )


PLANS = {
    "one text": lambda df: plan_campaign(df, content="Spring sale"),
    "personal texts": lambda df: plan_campaign(df, content="Hi {name}"),
    "own order ids": lambda df: plan_campaign(df, content="Hi {name}", order_id_col="ref"),
    "send windows": lambda df: plan_campaign(df, content="Hi {name}", window="09:00-20:00"),
    "experiment": lambda df: plan_campaign(
        df, variants=VARIANTS, holdout=0.1, test_share=0.4, split_seed=3
    ),
}


@pytest.mark.parametrize("kind", list(PLANS))
def test_every_kind_of_plan_vouches_truly(kind: str) -> None:
    """What the plan vouches for is what a value-by-value comparison finds."""
    plan: Plan = PLANS[kind](_people(1300))
    assert len(plan.batches) > 1
    assert plan.requests_match_recipients()
    compared = encode_batches(plan.batches, plan.recipients)
    vouched = encode_batches(plan.batches, plan.recipients, known_match=True)
    assert vouched == compared
    assert all(items.startswith('{"f"') for _, _, items, _ in compared)  # layout only


def _changed_number(plan: Plan) -> None:
    row = plan.recipients.index[plan.batches[0].positions[0]]
    plan.recipients.loc[row, "number"] = "919800000999"


def _changed_order_id(plan: Plan) -> None:
    plan.recipients.iloc[plan.batches[0].positions[0], 1] = "edited"


def _new_requests(plan: Plan) -> None:
    plan.batches = [*plan.batches[:-1], dataclasses.replace(plan.batches[-1])]


@pytest.mark.parametrize("change", [_changed_number, _changed_order_id, _new_requests])
def test_a_changed_plan_no_longer_vouches_and_is_stored_as_sent(
    change: object, tmp_path: Path
) -> None:
    plan = plan_campaign(_people(700), content="Hi {name}")
    sent = [b.numbers for b in plan.batches]
    assert plan.requests_match_recipients()
    change(plan)  # type: ignore[operator]
    assert not plan.requests_match_recipients()
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        ledger.start(plan, {})
    with Ledger.open(tmp_path / "l.sqlite", readonly=True) as ledger:
        stored = load_plan(ledger)
    assert [b.numbers for b in stored.batches] == sent  # the requests' own numbers
    assert [b.order_ids for b in stored.batches] == [b.order_ids for b in plan.batches]


def test_a_plan_restored_from_a_ledger_does_not_vouch(tmp_path: Path) -> None:
    plan = plan_campaign(_people(50), content="Hi")
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        ledger.start(plan, {})
        assert not load_plan(ledger).requests_match_recipients()
