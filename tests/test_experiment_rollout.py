"""Winner rollout against the sandbox over loopback: chosen by metric, sent once, resumable."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_SETTINGS, kill_when

from itnio_campaign import plan_campaign, rollout_winner, send_campaign
from itnio_campaign.client import AsyncClient
from itnio_campaign.delivery import refresh_delivery
from itnio_campaign.errors import UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import Plan, load_plan
from itnio_campaign.recovery import load_campaign
from itnio_campaign.result import Stopper
from itnio_campaign.rollout import load_rollout
from itnio_campaign.sandbox import Sandbox, SandboxThread

VARIANTS = {"A": "Hi {first_name}, 20% off today", "B": "{first_name}: your promo coupon waits"}
QUIET = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0}


def people(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "first_name": [f"Name{i}" for i in range(n)],
        }
    )


def ab_plan(n: int = 3000, test_share: float = 0.2) -> Plan:
    return plan_campaign(
        people(n), variants=VARIANTS, holdout=0.1, split_seed=17, test_share=test_share
    )


def numbers_of(plan: Plan, group: str) -> set[str]:
    rec = plan.recipients
    return set(rec["number"][rec["variant"] == group])


def check_rollout_sent_once(sb: Sandbox, plan: Plan, winner: str) -> None:
    """Every variant and rollout number got exactly one SMS; the rollout got the winner's."""
    counts = sb.number_counts()
    assert set(counts.values()) == {1}, "someone got the SMS twice"
    wanted = numbers_of(plan, "A") | numbers_of(plan, "B") | numbers_of(plan, "rollout")
    assert set(counts) == wanted  # the holdout got nothing
    rollout = numbers_of(plan, "rollout")
    texts = {m.number: m.content for m in sb.accepted if m.number in rollout}
    assert len(texts) == len(rollout)
    for text in texts.values():  # A says "Hi ...", B "...: your promo coupon waits"
        assert text.startswith("Hi ") if winner == "A" else "coupon" in text, text


async def test_the_variant_with_more_deliveries_is_rolled_out_once(tmp_path: Path) -> None:
    plan = ab_plan()
    path = tmp_path / "ab.sqlite"
    # the carriers filter B (it says "coupon"): far fewer of its messages arrive
    async with (
        Sandbox(
            seed=2, undelivered_rate=0.02, undelivered_by_content={"coupon": 0.5}, **QUIET
        ) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        sb.settle_all()
        rollout = await rollout_winner(path, client, metric="delivered", min_n=100, progress=False)
        assert rollout.winner == "A" and not rollout.already_done
        assert "A had the highest delivered" in rollout.reason
        assert "significant at 5%" in rollout.reason
        assert rollout.sent_now == len(numbers_of(plan, "rollout"))
        assert rollout.result.status == "completed"
        check_rollout_sent_once(sb, plan, "A")
        requests = len(sb.requests)
        again = await rollout_winner(path, client, metric="replied", min_n=1, progress=False)
        assert len(sb.requests) == requests  # a second call sends nothing...
        assert again.already_done and again.sent_now == 0
        assert (again.winner, again.metric) == ("A", "delivered")  # ...and decides nothing new
    with Ledger.open(path, readonly=True) as ledger:
        record = load_rollout(ledger)
        stored = load_plan(ledger).recipients
    assert record is not None and record.winner == "A" and record.reason == rollout.reason
    assert set(record.rates) == {"A", "B"} and record.rates["A"]["n"] == len(numbers_of(plan, "A"))
    # the split is unchanged; the rollout rows now hold the winner's text
    assert stored["variant"].tolist() == plan.recipients["variant"].tolist()
    rolled = (stored["variant"] == "rollout").to_numpy()
    assert stored["content"][rolled].str.startswith("Hi Name").all()
    loaded = load_campaign(path)
    assert loaded.by_variant().loc["rollout", "sent"] == rolled.sum()


async def test_rollout_by_replies_read_from_the_provider(tmp_path: Path) -> None:
    plan = ab_plan(1500)
    path = tmp_path / "replies.sqlite"
    async with (
        Sandbox(seed=3, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        b_numbers = sorted(numbers_of(plan, "B"))
        for number in b_numbers[:40]:
            sb.add_reply(number, "YES")
        for number in sorted(numbers_of(plan, "A"))[:5]:
            sb.add_reply(number, "yes")
        rollout = await rollout_winner(path, client, metric="replied", min_n=50, progress=False)
        assert rollout.winner == "B"
        assert rollout.rates.loc["B", "total"] == 40 and rollout.rates.loc["A", "total"] == 5
        check_rollout_sent_once(sb, plan, "B")


async def test_rollout_by_an_outcome_column_of_the_analysts_frame(tmp_path: Path) -> None:
    plan = ab_plan(2000)
    path = tmp_path / "outcome.sqlite"
    rec = plan.recipients
    source = plan.source
    clicked = np.where(
        rec["variant"] == "B", np.arange(len(rec)) % 3 == 0, np.arange(len(rec)) % 9 == 0
    )
    outcomes = pd.DataFrame({"customer_id": source["customer_id"], "clicked": clicked})
    async with (
        Sandbox(seed=4, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        with pytest.raises(UsageError, match="give outcomes="):
            await rollout_winner(path, client, metric="clicked")
        rollout = await rollout_winner(
            path, client, metric="clicked", outcomes=outcomes, min_n=100, progress=False
        )
        assert rollout.winner == "B"
        check_rollout_sent_once(sb, plan, "B")


async def test_too_few_recipients_decide_nothing_and_send_nothing(tmp_path: Path) -> None:
    plan = ab_plan(600)
    path = tmp_path / "small.sqlite"
    async with (
        Sandbox(seed=5, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        requests = len(sb.requests)
        with pytest.raises(UsageError, match="min_n=500") as info:
            await rollout_winner(path, client, min_n=500)
        assert "A has 60" in str(info.value) and "\n" not in str(info.value)
        assert len(sb.requests) == requests  # refused before any call
    with Ledger.open(path, readonly=True) as ledger:
        assert load_rollout(ledger) is None
        assert (load_plan(ledger).recipients["state"] == "held_for_rollout").sum() == 420


async def test_a_campaign_without_a_test_share_has_nothing_to_roll_out(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(people(100), variants=VARIANTS, holdout=0.1, split_seed=1)
    path = tmp_path / "plain.sqlite"
    await send_campaign(plan, client, ledger=path, progress=False)
    with pytest.raises(UsageError, match="test_share"):
        await rollout_winner(path, client)
    with pytest.raises(UsageError, match="no campaign ledger"):
        await rollout_winner(tmp_path / "nothing.sqlite", client)


async def test_a_stopped_rollout_continues_where_it_stopped(tmp_path: Path) -> None:
    plan = ab_plan(4000, test_share=0.1)  # 2,800 rollout rows: three requests
    path = tmp_path / "stopped.sqlite"
    async with (
        Sandbox(seed=6, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        stopper = Stopper()
        first = await rollout_winner(
            path, client, min_n=100, stopper=stopper, concurrency=1, progress=False,
            on_progress=lambda event: stopper.stop(),
        )  # fmt: skip
        assert first.result.status == "stopped"
        assert 0 < first.sent_now < first.rollout_rows
        second = await rollout_winner(path, client, min_n=100, progress=False)
        assert second.already_done and second.winner == first.winner
        assert second.sent_now == second.rollout_rows - first.sent_now
        assert second.result.status == "completed"
        check_rollout_sent_once(sb, plan, first.winner)


async def test_an_answer_lost_mid_rollout_is_never_resent(tmp_path: Path) -> None:
    plan = ab_plan(4000, test_share=0.1)
    path = tmp_path / "lost.sqlite"
    async with (
        Sandbox(seed=7, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        tested = len(sb.requests)
        sb.inject("sendSms", "drop_after_accept")  # the provider accepts; the answer is lost
        sb.inject("sendSms/batch", "drop_after_accept")
        first = await rollout_winner(path, client, min_n=100, concurrency=1, progress=False)
        assert len(sb.requests) > tested
        assert first.result.counts().get("unknown", 0) > 0
        again = await rollout_winner(path, client, min_n=100, progress=False)
        assert again.sent_now == 0
        check_rollout_sent_once(sb, plan, first.winner)  # the unknown ones were not resent


_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from itnio_campaign import rollout_winner
    from itnio_campaign.client import AsyncClient
    from itnio_campaign.config import Credentials

    async def main(path):
        def report(event):
            print(f"requests {event.requests}", flush=True)
        async with AsyncClient(Credentials.from_env(None)) as client:
            await rollout_winner(path, client, min_n=100, concurrency=1, progress=False,
                                 on_progress=report)
        print("done", flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_a_rollout_killed_mid_way_resumes_without_resending(tmp_path: Path) -> None:
    plan = ab_plan(6000, test_share=0.1)  # 4,800 rollout rows: five requests
    path = tmp_path / "killed.sqlite"
    with SandboxThread(seed=8, latency=(0.005, 0.02), **QUIET) as sb:
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            await send_campaign(plan, client, ledger=path, progress=False)
        lines = kill_when(["-c", _WORKER, str(path)], sb.credentials, "requests 2".__eq__)
        last = lines[-1] if lines else ""
        assert last == "requests 2", last
        killed = load_campaign(path)
        assert killed.by_variant().loc["rollout", "sent"] > 0
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            resumed = await rollout_winner(path, client, min_n=100, progress=False)
        assert resumed.already_done
        counts = sb.number_counts()
        assert set(counts.values()) == {1}
        rollout = numbers_of(plan, "rollout")
        states = resumed.result.frame["state"][(plan.recipients["variant"] == "rollout").to_numpy()]
        # everyone in the rollout was sent once, or is unknown (in flight at the kill: never resent)
        assert set(states) <= {"submitted", "unknown"}
        assert {n for n in counts if n in rollout} >= set(
            plan.recipients["number"][(plan.recipients["variant"] == "rollout").to_numpy()][
                (states == "submitted").to_numpy()
            ]
        )


async def test_a_rollout_decided_but_not_sent_is_sent_by_the_next_call(tmp_path: Path) -> None:
    plan = ab_plan(4000, test_share=0.1)
    path = tmp_path / "refused.sqlite"
    async with (
        Sandbox(seed=9, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        await send_campaign(plan, client, ledger=path, progress=False)
        sb.settle_all()
        await refresh_delivery(
            path, client
        )  # the test's reports are in: the decision needs no call
        tested = sum(sb.number_counts().values())
        down = replace(sb.credentials, base_url="http://127.0.0.1:9")  # nothing listens there
        async with AsyncClient(down, FAST_SETTINGS) as unreachable:
            first = await rollout_winner(path, unreachable, min_n=100, progress=False)
        assert sum(sb.number_counts().values()) == tested  # nothing of the rollout got through
        assert first.sent_now == 0 and first.result.status != "completed"
        loaded = load_campaign(path)
        assert loaded.by_variant().loc["rollout", "sent"] == 0
        rollout_rows = (plan.recipients["variant"] == "rollout").to_numpy()
        assert set(loaded.frame["state"][rollout_rows]) == {"pending"}  # decided, resumable
        second = await rollout_winner(path, client, min_n=100, progress=False)
        assert second.already_done and second.winner == first.winner
        assert second.sent_now == second.rollout_rows == rollout_rows.sum()
        check_rollout_sent_once(sb, plan, first.winner)
