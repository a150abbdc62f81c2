"""Delivery reports, replies and opt-outs against the real sandbox over loopback HTTP."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.delivery import (
    REPLY_COLUMNS,
    fetch_replies,
    opt_outs,
    refresh_delivery,
    watch_delivery,
)
from itnio_campaign.errors import FatalApiError, UsageError
from itnio_campaign.models import SKIPPED_SUPPRESSED, Reply
from itnio_campaign.plan import plan_campaign
from itnio_campaign.result import CampaignResult
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox


class FakeClock:
    """The sandbox's clock, advanced by the test: delivery settles when we say so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def phones(n: int, start: int = 0) -> list[str]:
    """Valid Indian mobiles as people type them: '+91 98xxxxxxxx'."""
    return [f"+91 98{i:08d}" for i in range(start, start + n)]


def api(number: str) -> str:
    return number.replace("+", "").replace(" ", "")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def open_sandbox() -> AsyncIterator[Callable[..., Any]]:
    """Start a sandbox with the test's knobs; returns (sandbox, client)."""
    opened: list[Any] = []

    async def start(**knobs: Any) -> tuple[Sandbox, AsyncClient]:
        knobs = {"seed": 3, "reply_rate": 0.0, "undelivered_rate": 0.0, **knobs}
        sb = Sandbox(**knobs)
        await sb.__aenter__()
        opened.append(sb)
        client = AsyncClient(sb.credentials, FAST_SETTINGS)
        await client.__aenter__()
        opened.append(client)
        return sb, client

    yield start
    for thing in reversed(opened):
        await thing.__aexit__(None, None, None)


async def send(client: AsyncClient, n: int, **send_kwargs: Any) -> CampaignResult:
    df = pd.DataFrame({"name": [f"c{i}" for i in range(n)], "phone": phones(n)})
    plan = plan_campaign(df, number_col="phone", content="Hello from the shop")
    result = await send_campaign(plan, client, progress=False, **send_kwargs)
    assert result.counts() == {"submitted": n}
    return result


def report_calls(sb: Sandbox) -> int:
    return sum(1 for r in sb.requests if r.endpoint == "getReport")


# --- refresh_delivery ---------------------------------------------------------------------
async def test_states_converge_when_the_clock_passes_delivery(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(5.0, 10.0))
    result = await send(client, 6)

    await refresh_delivery(result, client)
    assert result.counts() == {"sending": 6}
    assert len(result.pending_delivery_ids()) == 6
    assert result.frame["delivered_at"].isna().all()

    clock.advance(11)
    assert await refresh_delivery(result, client) is result
    frame = result.frame
    assert result.counts() == {"delivered": 6}
    assert frame["delivery_status"].tolist() == ["delivered"] * 6
    assert result.pending_delivery_ids() == []
    # delivered_at is the provider's receiveTime: the sandbox's settle time of each msgId
    truth = {m.msg_id: m.settles_at for m in sb.accepted}
    expected = [datetime.fromtimestamp(int(truth[m]), UTC) for m in frame["msg_id"]]
    assert list(frame["delivered_at"]) == expected


async def test_at_most_200_ids_per_call_and_only_pending_ids(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0))
    result = await send(client, 600)
    clock.advance(1)

    before = report_calls(sb)
    await refresh_delivery(result, client)
    # 600 ids → exactly 3 calls only with chunks of 200..299; over 200 is refused (UsageError)
    assert report_calls(sb) - before == 3
    assert result.counts() == {"delivered": 600}

    # nothing pending: a second pass asks nothing
    await refresh_delivery(result, client)
    assert report_calls(sb) - before == 3


async def test_report_calls_in_flight_are_bounded(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0), latency=0.02)
    result = await send(client, 1000)
    clock.advance(1)

    await refresh_delivery(result, client, concurrency=2)
    calls = [r for r in sb.requests if r.endpoint == "getReport"]
    assert len(calls) == 5
    # the most calls overlapping at any moment, from the sandbox's own start/finish times
    overlap = max(sum(1 for o in calls if o.started <= c.started < o.finished) for c in calls)
    assert overlap <= 2
    assert result.counts() == {"delivered": 1000}


async def test_undelivered_maps_from_the_provider(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 1.0), undelivered_rate=0.5)
    result = await send(client, 40)
    clock.advance(2)

    await refresh_delivery(result, client)
    frame = result.frame
    truth = {m.msg_id: m.delivered for m in sb.accepted}
    expected = ["delivered" if truth[m] else "undelivered" for m in frame["msg_id"]]
    assert frame["state"].tolist() == expected
    assert frame["delivery_status"].tolist() == expected
    assert 0 < expected.count("undelivered") < 40  # the seed gives a real mix
    assert frame["delivered_at"].notna().all()  # failed reports carry a time too
    assert result.pending_delivery_ids() == []


async def test_ids_not_found_yet_stay_pending_and_are_asked_again(open_sandbox, clock) -> None:
    # report_lag: the provider answers "nofound" for ids accepted less than 60 s ago
    _sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0), report_lag=60.0)
    result = await send(client, 5)
    ids = sorted(result.pending_delivery_ids())

    await refresh_delivery(result, client)
    assert result.counts() == {"submitted": 5}
    assert sorted(result.pending_delivery_ids()) == ids

    clock.advance(61)
    await refresh_delivery(result, client)
    assert result.counts() == {"delivered": 5}


async def test_settle_all_then_refresh(open_sandbox) -> None:
    sb, client = await open_sandbox(delivery_delay=(3600.0, 7200.0))
    result = await send(client, 3)
    await refresh_delivery(result, client)
    assert result.counts() == {"sending": 3}
    sb.settle_all()
    await refresh_delivery(result, client)
    assert result.counts() == {"delivered": 3}


async def test_api_errors_propagate_and_keep_what_arrived(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0))
    result = await send(client, 3)
    clock.advance(1)
    sb.inject("getReport", "api_-1")
    with pytest.raises(FatalApiError):
        await refresh_delivery(result, client)
    assert result.counts() == {"submitted": 3}  # nothing half-applied
    await refresh_delivery(result, client)  # the next pass asks again
    assert result.counts() == {"delivered": 3}


async def test_reports_that_arrived_before_an_error_are_kept(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0))
    result = await send(client, 250)  # two calls: 200 then 50
    clock.advance(1)
    sb.inject("getReport", "none", "api_-1")  # the second call fails
    with pytest.raises(FatalApiError):
        await refresh_delivery(result, client, concurrency=1)
    assert result.counts() == {"submitted": 50, "delivered": 200}
    assert len(result.pending_delivery_ids()) == 50


async def test_bad_arguments_are_usage_errors(open_sandbox, tmp_path) -> None:
    sb, client = await open_sandbox()
    result = await send(client, 2)
    df = pd.DataFrame({"phone": phones(2)})
    with pytest.raises(UsageError, match="CampaignResult"):
        await refresh_delivery(df, client)
    with pytest.raises(UsageError, match="no campaign ledger"):
        await refresh_delivery(tmp_path / "nope.sqlite", client)
    with pytest.raises(UsageError, match="AsyncClient"):
        await refresh_delivery(result, "not a client")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="concurrency"):
        await refresh_delivery(result, client, concurrency=0)
    with pytest.raises(UsageError, match="interval"):
        await watch_delivery(result, client, interval=0)
    with pytest.raises(UsageError, match="timeout"):
        await watch_delivery(result, client, timeout=-1)
    assert report_calls(sb) == 0  # refused before any I/O


# --- watch_delivery -----------------------------------------------------------------------
async def test_watch_ends_when_settled(open_sandbox, capsys) -> None:
    _sb, client = await open_sandbox(delivery_delay=(0.05, 0.3), undelivered_rate=0.3)
    result = await send(client, 30)

    out = await watch_delivery(result, client, interval=0.05, timeout=30, progress=True)
    assert out is result
    assert result.pending_delivery_ids() == []
    assert set(result.counts()) <= {"delivered", "undelivered"}
    assert sum(result.counts().values()) == 30
    assert "delivery" in capsys.readouterr().err  # the tqdm bar was shown


async def test_watch_returns_at_timeout_with_rows_still_pending(open_sandbox) -> None:
    sb, client = await open_sandbox(delivery_delay=(3600.0, 3600.0))
    result = await send(client, 4)
    out = await watch_delivery(result, client, interval=0.05, timeout=0.3, progress=False)
    assert out.counts() == {"sending": 4}
    assert len(out.pending_delivery_ids()) == 4
    assert report_calls(sb) >= 1


async def test_watch_not_until_settled_ends_once_every_id_has_a_report(open_sandbox, clock) -> None:
    sb, client = await open_sandbox(clock=clock, delivery_delay=(3600.0, 3600.0))
    result = await send(client, 4)
    out = await watch_delivery(
        result, client, interval=0.05, until_settled=False, timeout=None, progress=False
    )
    assert out.counts() == {"sending": 4}
    assert report_calls(sb) == 1  # one pass answered every id, so it ended without timeout


# --- the ledger path ----------------------------------------------------------------------
async def test_ledger_path_keeps_delivery_state_after_reopen(
    open_sandbox, clock, tmp_path: Path
) -> None:
    from itnio_campaign.recovery import load_campaign

    sb, client = await open_sandbox(clock=clock, delivery_delay=(5.0, 5.0), undelivered_rate=0.5)
    path = tmp_path / "promo.sqlite"
    await send(client, 8, ledger=path)
    assert load_campaign(path).counts() == {"submitted": 8}

    first = await refresh_delivery(path, client)
    assert first.counts() == {"sending": 8}
    assert load_campaign(path).counts() == {"sending": 8}

    clock.advance(6)
    refreshed = await watch_delivery(path, client, interval=0.05, timeout=10, progress=False)
    reopened = load_campaign(path)
    assert reopened.counts() == refreshed.counts()
    assert set(reopened.counts()) == {"delivered", "undelivered"}
    cols = ["msg_id", "state", "delivery_status", "delivered_at"]
    pd.testing.assert_frame_equal(reopened.frame[cols], refreshed.frame[cols])
    assert reopened.pending_delivery_ids() == []

    calls = report_calls(sb)
    await refresh_delivery(path, client)  # settled in the ledger: nothing to ask
    assert report_calls(sb) == calls


async def test_an_open_ledger_is_refreshed_in_place(open_sandbox, clock, tmp_path: Path) -> None:
    from itnio_campaign.ledger import Ledger
    from itnio_campaign.recovery import load_campaign

    _sb, client = await open_sandbox(clock=clock, delivery_delay=(0.0, 0.0))
    path = tmp_path / "promo.sqlite"
    await send(client, 3, ledger=path)
    clock.advance(1)
    with Ledger.open(path, create=False) as ledger:
        result = await refresh_delivery(ledger, client)
    assert result.counts() == {"delivered": 3}
    assert load_campaign(path).counts() == {"delivered": 3}


async def test_a_ledger_in_use_is_refused_before_any_request(open_sandbox, tmp_path: Path) -> None:
    from itnio_campaign.errors import LedgerError
    from itnio_campaign.ledger import Ledger

    sb, client = await open_sandbox()
    path = tmp_path / "promo.sqlite"
    await send(client, 2, ledger=path)
    with Ledger.open(path, create=False), pytest.raises(LedgerError):
        await refresh_delivery(path, client)
    assert report_calls(sb) == 0


# --- replies ------------------------------------------------------------------------------
async def test_fetch_replies_reads_every_page(open_sandbox) -> None:
    sb, client = await open_sandbox()
    # the provider's times have whole seconds
    t0 = (datetime.now(UTC) - timedelta(hours=5)).replace(microsecond=0)
    for i in range(230):
        sb.add_reply(api(phones(1, i)[0]), f"reply {i}", at=t0 + timedelta(seconds=i))

    replies = await fetch_replies(client, t0 - timedelta(minutes=1), datetime.now(UTC))
    assert list(replies.columns) == list(REPLY_COLUMNS)
    assert len(replies) == 230
    assert replies["content"].tolist() == [f"reply {i}" for i in range(230)]
    assert replies["number"].iloc[0] == "919800000000"
    assert isinstance(replies["receive_time"].dtype, pd.DatetimeTZDtype)
    assert replies["receive_time"].iloc[5] == t0 + timedelta(seconds=5)
    assert replies["price"].iloc[0] == Decimal("0.005")
    assert replies["currency"].iloc[0] == "USD"
    pages = [r for r in sb.requests if r.endpoint == "recordMo"]
    assert len(pages) == 3  # 100 + 100 + 30


async def test_fetch_replies_spans_monthly_windows(open_sandbox) -> None:
    sb, client = await open_sandbox()
    now = datetime.now(UTC)
    days = (80, 45, 10)
    for d in days:
        sb.add_reply("919800000001", f"{d} days ago", at=now - timedelta(days=d))
    replies = await fetch_replies(client, now - timedelta(days=90))
    assert replies["content"].tolist() == [f"{d} days ago" for d in days]
    assert sum(1 for r in sb.requests if r.endpoint == "recordMo") == 3  # 31-day windows


async def test_fetch_replies_empty_has_the_columns(open_sandbox) -> None:
    _sb, client = await open_sandbox()
    replies = await fetch_replies(client, datetime.now(UTC) - timedelta(days=2))
    assert replies.empty and list(replies.columns) == list(REPLY_COLUMNS)
    assert isinstance(replies["receive_time"].dtype, pd.DatetimeTZDtype)
    assert opt_outs(replies).empty


async def test_fetch_replies_bad_window_is_a_usage_error(open_sandbox) -> None:
    sb, client = await open_sandbox()
    with pytest.raises(UsageError):
        await fetch_replies(client, "not a time", "2024-01-01T00:00:00+00:00")
    with pytest.raises(UsageError):
        await fetch_replies(client, 12345)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="after"):
        await fetch_replies(client, "2024-02-01T00:00:00+00:00", "2024-01-01T00:00:00+00:00")
    assert not sb.requests


async def test_stop_replies_become_a_suppression_list_the_next_plan_honours(
    open_sandbox,
) -> None:
    sb, client = await open_sandbox()
    result = await send(client, 6)
    numbers = [api(p) for p in phones(6)]
    t0 = datetime.now(UTC) - timedelta(minutes=10)
    for k, (i, text) in enumerate(
        [
            (0, "  stop "),  # mixed case and whitespace
            (1, "Stop."),
            (2, "UnSubscribe"),
            (3, "Stopping by later!"),  # not an opt-out
            (4, "thanks, STOP sending"),  # not the whole message
            (0, "STOP"),  # the same number twice
        ]
    ):
        sb.add_reply(numbers[i], text, at=t0 + timedelta(seconds=k))

    replies = await fetch_replies(client, t0 - timedelta(minutes=1))
    stops = opt_outs(replies)
    assert stops.name == "number"
    assert stops.tolist() == [numbers[0], numbers[1], numbers[2]]

    df = result.plan.source
    next_plan = plan_campaign(df, number_col="phone", content="Hello again", suppress=stops)
    states = next_plan.recipients["state"].tolist()
    assert states[:3] == [SKIPPED_SUPPRESSED] * 3
    assert SKIPPED_SUPPRESSED not in states[3:]


# --- opt_outs (pure) ----------------------------------------------------------------------
REPLIES = pd.DataFrame(
    {
        "number": ["919800000001", "919800000002", "919800000003", "12025550143", "919800000005"],
        "content": ["Stop please", "quit", "END!", "\tcancel\n", None],
    }
)


def test_opt_outs_exact_is_the_whole_trimmed_message() -> None:
    assert opt_outs(REPLIES).tolist() == ["919800000002", "919800000003", "12025550143"]


def test_opt_outs_first_word() -> None:
    got = opt_outs(REPLIES, match="first_word").tolist()
    assert got == ["919800000001", "919800000002", "919800000003", "12025550143"]


def test_opt_outs_custom_keywords_and_reply_objects() -> None:
    replies = [
        Reply("919800000001", "", None, "Ruko"),
        Reply("+91 98000 00002", "", None, "ruko "),
        Reply("919800000003", "", None, "STOP"),
    ]
    assert opt_outs(replies, keywords="RUKO").tolist() == ["919800000001", "919800000002"]


def test_opt_outs_bad_arguments() -> None:
    with pytest.raises(UsageError, match="match"):
        opt_outs(REPLIES, match="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="content"):
        opt_outs(pd.DataFrame({"number": ["919800000001"]}))
    with pytest.raises(UsageError, match="keywords"):
        opt_outs(REPLIES, keywords=[""])
    with pytest.raises(UsageError, match="fetch_replies"):
        opt_outs("STOP")  # type: ignore[arg-type]
