"""Regressions of the adversarial review (issue 11): one campaign per plan, answers joined on
(orderId, number), runs that leave anyone behind are not "completed", user columns kept.

Every test talks to the sandbox over real loopback HTTP and checks the sandbox's own record of
what it accepted.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.engine import SendOptions
from itnio_campaign.errors import UsageError
from itnio_campaign.plan import plan_campaign
from itnio_campaign.recovery import (
    AlreadySentError,
    load_campaign,
    reconcile_campaign,
    resume_campaign,
    sent_ledgers,
)
from itnio_campaign.runner import build_batches, join_responses, send_batches, send_campaign
from itnio_campaign.sandbox import Sandbox


def contacts(n: int) -> pd.DataFrame:
    return pd.DataFrame({"phone": [f"+91 98{i:08d}" for i in range(n)], "name": "Ann"})


def accepted_per_number(sb: Sandbox) -> Counter[str]:
    return Counter(m.number for m in sb.accepted)


# -- one campaign per plan ----------------------------------------------------------------------
async def test_same_plan_to_a_new_ledger_in_the_same_folder_is_refused(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(30), "phone", "Hello {name}")
    await send_campaign(plan, client, ledger=tmp_path / "first.sqlite", progress=False)
    with pytest.raises(AlreadySentError) as err:
        await send_campaign(plan, client, ledger=tmp_path / "second.sqlite", progress=False)
    assert "first.sqlite" in str(err.value) and "send_again" in str(err.value)
    assert not (tmp_path / "second.sqlite").exists()  # refused before anything was created
    assert set(accepted_per_number(sb).values()) == {1}
    # Another plan (another message) is another campaign: allowed.
    other = plan_campaign(contacts(30), "phone", "Bye {name}")
    await send_campaign(other, client, ledger=tmp_path / "third.sqlite", progress=False)
    assert set(accepted_per_number(sb).values()) == {2}


async def test_send_again_is_an_explicit_choice_and_uses_a_new_ledger(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(20), "phone", "Hello")
    await send_campaign(plan, client, ledger=tmp_path / "a.sqlite", progress=False)
    with pytest.raises(UsageError, match="new ledger"):
        await send_campaign(
            plan, client, ledger=tmp_path / "a.sqlite", send_again=True, progress=False
        )
    again = await send_campaign(
        plan, client, ledger=tmp_path / "b.sqlite", send_again=True, progress=False
    )
    assert again.status == "completed"
    assert set(accepted_per_number(sb).values()) == {2}
    assert set(sent_ledgers(tmp_path, plan.fingerprint)) == {
        tmp_path / "a.sqlite",
        tmp_path / "b.sqlite",
    }


async def test_send_campaign_again_after_a_halt_continues_the_same_ledger(
    tmp_path: Path,
) -> None:
    plan = plan_campaign(contacts(3000), "phone", "Hello")
    path = tmp_path / "promo.sqlite"
    async with (
        Sandbox(seed=1, balance=Decimal("0.005") * 1000, reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        first = await send_campaign(plan, client, ledger=path, concurrency=1, progress=False)
        assert first.status == "halted" and "-10" in (first.halt_reason or "")
        assert sum(accepted_per_number(sb).values()) == 1000
        sb.balance = Decimal(100)  # the user tops up, plans again and sends again
        replanned = plan_campaign(contacts(3000), "phone", "Hello")
        second = await send_campaign(replanned, client, ledger=path, progress=False)
        assert second.status == "completed"
        counts = accepted_per_number(sb)
    assert len(counts) == 3000 and set(counts.values()) == {1}
    assert second.counts() == {"submitted": 3000}


async def test_resume_of_a_complete_campaign_says_so_and_sends_nothing(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(10), "phone", "Hello")
    path = tmp_path / "done.sqlite"
    first = await send_campaign(plan, client, ledger=path, progress=False)
    requests = len(sb.requests)
    again = await resume_campaign(path, client, progress=False)
    assert len(sb.requests) == requests
    assert again.notice is not None and "already complete" in again.notice
    assert "already complete" in str(again.summary())
    assert again.status == "completed"
    assert again.summary().wall_time_s == pytest.approx(first.summary().wall_time_s, abs=0.05)


# -- answers that cannot be joined number by number ---------------------------------------------
@pytest.mark.parametrize("shape", ["accept_without_array", "accept_plus_numbers"])
async def test_an_accepted_answer_that_lists_no_usable_numbers_is_never_rejected(
    sb: Sandbox, client: AsyncClient, shape: str, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(3), "phone", "Hello")
    sb.inject("sendSms", shape)
    result = await send_campaign(plan, client, ledger=tmp_path / "x.sqlite", progress=False)
    assert result.counts() == {"submitted": 3}, result.frame[["state", "reason"]]
    assert result.status == "completed"
    if shape == "accept_plus_numbers":  # echoed as +91..., no orderIds: matched on the number
        assert result.frame["msg_id"].notna().all()
    # A user who resends "rejected" rows would find none; resume sends nothing.
    requests = len(sb.requests)
    await resume_campaign(tmp_path / "x.sqlite", client, progress=False)
    assert len(sb.requests) == requests
    assert set(accepted_per_number(sb).values()) == {1}


async def test_partly_accepted_answer_without_array_is_unknown_then_reconciled(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    # "12" is refused by the provider; without an array nobody can tell which one was.
    frame = pd.DataFrame({"number": ["919800000001", "12"]})
    batches = build_batches(frame, content="Hello")
    sb.inject("sendSms", "accept_without_array")
    report = await send_batches(client, batches)
    joined = join_responses(frame, batches, report.outcomes)
    assert list(joined["state"]) == ["unknown", "unknown"]
    assert "reconcile" in joined["reason"].iloc[0]


async def test_answer_with_an_order_id_but_another_number_is_not_joined(
    sb: Sandbox, client: AsyncClient
) -> None:
    from itnio_campaign.result import Accepted, BatchOutcome

    frame = pd.DataFrame({"number": ["919800000001", "919800000002"]})
    batches = build_batches(frame, content="Hello")
    outcome = BatchOutcome(
        0, "accepted", "0", "", 1, 0.0, 1.0, success=2, fail=0,
        accepted=Accepted(("r0", "r1"), ("919800000002", "919800000001"), ("m1", "m2")),
    )  # fmt: skip
    joined = join_responses(frame, batches, [outcome])
    # Both accepted (success=2 of 2) but neither answer matches its orderId's number.
    assert list(joined["state"]) == ["submitted", "submitted"]
    assert joined["msg_id"].isna().all()


# -- runs that leave recipients behind ----------------------------------------------------------
async def test_a_request_refused_on_every_retry_leaves_the_run_incomplete(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(2500), "phone", "Hello")
    sb.inject("sendSms", *["http_503"] * FAST_SETTINGS.retry.max_attempts)
    path = tmp_path / "c.sqlite"
    result = await send_campaign(plan, client, ledger=path, concurrency=1, progress=False)
    assert result.status == "incomplete"
    assert result.remaining() == {"pending": 1000}
    assert "1,000 pending" in (result.halt_reason or "")
    assert load_campaign(path).status == "incomplete"
    resumed = await resume_campaign(path, client, progress=False)
    assert resumed.status == "completed" and resumed.remaining() == {}
    assert len(accepted_per_number(sb)) == 2500 and set(accepted_per_number(sb).values()) == {1}


async def test_an_unreachable_provider_leaves_everyone_pending_not_completed(
    tmp_path: Path,
) -> None:
    async with Sandbox() as sb:  # a port that surely refuses: the sandbox's, after it stopped
        url = sb.credentials.base_url
    creds = Credentials("k" * 16, "s" * 16, "app", base_url=url)
    plan = plan_campaign(contacts(1500), "phone", "Hello")
    async with AsyncClient(creds, FAST_SETTINGS) as client:
        result = await send_campaign(plan, client, options=SendOptions(max_failed_batches=None))
    assert result.status == "incomplete"
    assert result.remaining() == {"pending": 1500}


async def test_unknown_recipients_make_the_run_incomplete_until_reconciled(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(50), "phone", "Hello")
    path = tmp_path / "u.sqlite"
    sb.inject("sendSms", "drop_after_accept")
    result = await send_campaign(plan, client, ledger=path, progress=False)
    assert result.status == "incomplete" and result.remaining() == {"unknown": 50}
    await reconcile_campaign(path, client, min_age_s=0)
    assert load_campaign(path).status == "completed"


# -- the user's columns -------------------------------------------------------------------------
async def test_user_columns_named_like_outcomes_are_kept_intact(
    sb: Sandbox, client: AsyncClient
) -> None:
    df = contacts(4).assign(state=["KA", "MH", "DL", "TN"], sms_state=["a", "b", "c", "d"])
    plan = plan_campaign(df, "phone", "Hello")
    result = await send_campaign(plan, client, progress=False)
    frame = result.frame
    assert list(frame["state"]) == ["KA", "MH", "DL", "TN"]
    assert list(frame["sms_state"]) == ["a", "b", "c", "d"]
    assert result.columns.state == "sms_state_2"
    assert set(frame[result.columns.state]) == {"submitted"}
    assert list(frame.columns[: len(df.columns)]) == list(df.columns)


def test_send_options_are_keyword_only_and_validated() -> None:
    with pytest.raises(TypeError):
        send_campaign(object(), object(), 8)  # type: ignore[arg-type, misc]
    with pytest.raises(UsageError, match="request_rate"):
        SendOptions(request_rate=0)
    with pytest.raises(UsageError, match="unknown send option"):
        SendOptions.of(None, concurency=3)
    assert SendOptions.of(SendOptions(rate=5), concurrency=2) == SendOptions(rate=5, concurrency=2)


# -- time: only sending counts ------------------------------------------------------------------
def test_a_reloaded_campaign_counts_only_its_sending_sessions(tmp_path: Path) -> None:
    """Two sessions of 60 s and 30 s, a day apart: the wall time is 90 s, not a day."""
    from itnio_campaign.ledger import Ledger

    plan = plan_campaign(contacts(10), "phone", "Hello")
    path = tmp_path / "two-sessions.sqlite"
    day = 86_400.0
    with Ledger.open(path) as ledger:
        ledger.start(plan)
        ledger.mark_running(1_000.0)
        ledger.finish("stopped", "on request", now=1_060.0)
        ledger.mark_running(1_000.0 + day)
        ledger.finish("completed", now=1_030.0 + day)
    summary = load_campaign(path).summary()
    assert summary.wall_time_s == pytest.approx(90.0)
    assert summary.started_at is not None and summary.finished_at is not None
    assert (summary.finished_at - summary.started_at).total_seconds() == pytest.approx(day + 30)


async def test_a_resumed_campaign_adds_only_the_new_session(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    from itnio_campaign.ledger import Ledger

    plan = plan_campaign(contacts(2500), "phone", "Hello")
    path = tmp_path / "resumed.sqlite"
    sb.inject("sendSms", *["http_503"] * FAST_SETTINGS.retry.max_attempts)
    await send_campaign(plan, client, ledger=path, concurrency=1, progress=False)
    with Ledger.open(path, create=False) as ledger:
        first = ledger.active_seconds
    resumed = await resume_campaign(path, client, progress=False)
    assert resumed.status == "completed"
    assert resumed.started_at is not None and resumed.finished_at is not None
    session = resumed.finished_at - resumed.session_started_at  # type: ignore[operator]
    assert resumed.summary().wall_time_s == pytest.approx(first + session, abs=1e-6)
    with Ledger.open(path, create=False) as ledger:
        total = ledger.active_seconds
    # the loaded campaign reports the ledger's sessions; the ledger's second session encloses
    # the resumed send (it starts before the first request and ends after the last answer)
    assert load_campaign(path).summary().wall_time_s == pytest.approx(total, abs=1e-6)
    assert total - first >= session


async def test_loading_a_complete_campaign_says_so_in_one_line(
    sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    plan = plan_campaign(contacts(5), "phone", "Hello")
    path = tmp_path / "done.sqlite"
    await send_campaign(plan, client, ledger=path, progress=False)
    loaded = load_campaign(path)
    assert loaded.notice is not None and "complete" in loaded.notice
    assert "sends nothing" in str(loaded.summary()).splitlines()[0]
