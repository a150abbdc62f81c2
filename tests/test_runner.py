"""The send engine against the sandbox: batching, join by orderId, concurrency, rate, stop."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest
from conftest import FAST_SETTINGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itnio_campaign.client import AsyncClient
from itnio_campaign.models import REJECTED, SUBMITTED, UNKNOWN, Batch
from itnio_campaign.result import BatchOutcome
from itnio_campaign.runner import (
    Stopper,
    build_batches,
    join_responses,
    send_batches,
)
from itnio_campaign.sandbox import Sandbox


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"9198{i:08d}" for i in range(start, start + n)]


def frame(n: int, **extra) -> pd.DataFrame:
    return pd.DataFrame(
        {"number": numbers(n), "name": [f"n{i}" for i in range(n)], **extra},
        index=pd.Index([f"row{i}" for i in range(n)][::-1], name="id"),
    )


def test_build_batches_chunks_and_groups() -> None:
    df = frame(2500, text=["A"] * 2100 + ["B"] * 400)
    batches = build_batches(df, content_col="text")
    # full thousands of one content go alone; the leftovers share one sendSms/batch
    shapes = [(b.endpoint, [(i.content, len(i.numbers)) for i in b.items]) for b in batches]
    assert shapes == [
        ("sendSms", [("A", 1000)]),
        ("sendSms", [("A", 1000)]),
        ("sendSms/batch", [("A", 100), ("B", 400)]),
    ]
    positions = sorted(p for b in batches for p in b.positions)
    assert positions == list(range(2500))
    for b in batches:  # numbers and contents line up with the positions they came from
        pairs = [(num, item.content) for item in b.items for num in item.numbers]
        assert pairs == [(df["number"].iloc[p], df["text"].iloc[p]) for p in b.positions]


async def test_join_marks_accepted_and_refused_numbers(sb: Sandbox, client: AsyncClient) -> None:
    df = frame(6)
    df.loc["row2", "number"] = "12"  # the provider refuses this one number
    before = df.copy(deep=True)
    batches = build_batches(df, content="Hello")
    report = await send_batches(client, batches)
    out = join_responses(df, batches, report.outcomes)
    pd.testing.assert_frame_equal(df, before)  # the user's frame is untouched
    assert list(out.index) == list(df.index) and list(out["name"]) == list(df["name"])
    assert out.loc["row2", "state"] == REJECTED and "1 of 6" in out.loc["row2", "reason"]
    accepted = out[out["state"] == SUBMITTED]
    assert len(accepted) == 5 and accepted["msg_id"].notna().all()
    by_order = {m.order_id: m.msg_id for m in sb.accepted}
    batch = batches[0]
    oids = dict(zip(batch.positions, batch.items[0].order_ids or (), strict=True))
    for pos, msg_id in enumerate(out["msg_id"]):
        if pd.notna(msg_id):
            assert by_order[oids[pos]] == msg_id


async def test_whole_request_rejection_marks_every_recipient(
    sb: Sandbox, client: AsyncClient
) -> None:
    df = frame(3)
    batches = build_batches(df, content="Win big at the casino")
    report = await send_batches(client, batches)
    out = join_responses(df, batches, report.outcomes)
    assert (out["state"] == REJECTED).all()
    assert out["reason"].str.contains("-3 sensitive").all()


async def test_ambiguous_failure_marks_unknown_and_is_not_resent(
    sb: Sandbox, client: AsyncClient
) -> None:
    df = frame(2500)
    batches = build_batches(df, content="Hello")
    sb.inject("sendSms", "drop_after_accept")
    report = await send_batches(client, batches, concurrency=1)
    out = join_responses(df, batches, report.outcomes)
    assert list(out["state"].value_counts().sort_index().items()) == [
        (SUBMITTED, 1500),
        (UNKNOWN, 1000),
    ]
    assert len(sb.requests) == 3  # the dropped request was not retried
    assert max(sb.accept_counts().values()) == 1 and sum(sb.accept_counts().values()) == 2500


async def test_concurrency_is_bounded() -> None:
    async with (
        Sandbox() as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        batches = build_batches(frame(40), content="Hi", max_numbers=2)
        sb.hold_sends(after=0)  # every request waits in the server until released
        task = asyncio.ensure_future(send_batches(client, batches, concurrency=3))
        while sb.held < 3:  # three arrive; a fourth never does while they are held
            await asyncio.sleep(0.01)
        assert sb.max_in_flight == 3
        sb.release_sends()
        report = await task
        assert report.status == "completed" and len(report.outcomes) == 20
        assert sb.max_in_flight == 3


async def test_rate_is_respected() -> None:
    async with (
        Sandbox() as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        batches = build_batches(frame(500), content="Hi", max_numbers=100)
        await send_batches(client, batches, concurrency=4, rate=1000)  # 100 numbers per 0.1 s
        starts = sorted(r.started for r in sb.requests)
        span = starts[-1] - starts[0]
        assert span >= 0.4 * 0.95, span  # 5 requests: 4 gaps of 0.1 s


async def test_request_rate_is_respected() -> None:
    async with (
        Sandbox() as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        batches = build_batches(frame(6), content="Hi", max_numbers=1)
        await send_batches(client, batches, concurrency=6, request_rate=20)
        starts = sorted(r.started for r in sb.requests)
        assert starts[-1] - starts[0] >= 5 * 0.05 * 0.95


@pytest.mark.parametrize("code", ["-1", "-2", "-10", "-13"])
async def test_fatal_answer_halts_and_leaves_the_rest_pending(
    sb: Sandbox, client: AsyncClient, code: str
) -> None:
    df = frame(5000)
    batches = build_batches(df, content="Hello")
    sb.inject("sendSms", "none", f"api_{code}")
    report = await send_batches(client, batches, concurrency=1)
    assert report.status == "halted" and code in (report.halt_reason or "")
    assert len(sb.requests) == 2  # nothing after the fatal answer
    out = join_responses(df, batches, report.outcomes)
    counts = out["state"].value_counts().to_dict()
    assert counts == {"pending": 4000, SUBMITTED: 1000}


async def test_consecutive_failures_halt(sb: Sandbox, client: AsyncClient) -> None:
    batches = build_batches(frame(10), content="Hi", max_numbers=1)
    sb.inject("sendSms", "http_500", "api_-9", "http_500")
    report = await send_batches(client, batches, concurrency=1, max_failed_batches=3)
    assert report.status == "halted" and "3 requests in a row" in (report.halt_reason or "")
    assert len(sb.requests) == 3


async def test_stop_lets_in_flight_finish_and_starts_nothing_new() -> None:
    async with (
        Sandbox(latency=0.02) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        batches = build_batches(frame(30), content="Hi", max_numbers=1)
        stopper = Stopper()
        seen: list[BatchOutcome] = []

        def on_outcome(batch: Batch, outcome: BatchOutcome) -> None:
            seen.append(outcome)
            if len(seen) == 4:
                stopper.stop()

        report = await send_batches(
            client, batches, concurrency=3, stop=stopper, on_outcome=on_outcome
        )
        assert report.status == "stopped"
        # the 4th answer stopped it; at most the two other workers' requests were in flight
        assert 4 <= len(report.outcomes) <= 6
        assert len(sb.requests) == len(report.outcomes)
        assert all(o.kind == "accepted" for o in report.outcomes)


async def test_journal_sees_begin_before_the_request_and_complete_after(
    sb: Sandbox, client: AsyncClient
) -> None:
    events: list[tuple[str, int, int]] = []

    class Journal:
        def begin(self, batch: Batch, started_at: float) -> None:
            events.append(("begin", batch.batch_id, len(sb.requests)))

        def complete(self, outcome: BatchOutcome) -> None:
            events.append(("complete", outcome.batch_id, len(sb.requests)))

    batches = build_batches(frame(3), content="Hi", max_numbers=1)
    await send_batches(client, batches, concurrency=1, journal=Journal())
    assert events == [
        ("begin", 0, 0),
        ("complete", 0, 1),
        ("begin", 1, 1),
        ("complete", 1, 2),
        ("begin", 2, 2),
        ("complete", 2, 3),
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=60),
    refused=st.sets(st.integers(min_value=0, max_value=59)),
    index=st.sampled_from(["range", "strings", "duplicates"]),
)
def test_join_preserves_index_order_and_user_columns(n, refused, index) -> None:
    nums = numbers(n)
    df = pd.DataFrame({"number": nums, "state": "user's own", "x": range(n)})
    if index == "strings":
        df.index = [f"k{n - i}" for i in range(n)]
    elif index == "duplicates":
        df.index = [i % 3 for i in range(n)]
    batches = build_batches(df, content="Hi", max_numbers=7)
    # Answers as the provider gives them: accepted numbers only, in any order.
    outcomes = []
    for b in batches:
        oids = b.items[0].order_ids or ()
        accepted = tuple(
            (oid, num, f"m{pos}")
            for oid, num, pos in zip(oids, b.items[0].numbers, b.positions, strict=True)
            if pos not in refused
        )[::-1]
        outcomes.append(
            BatchOutcome(b.batch_id, "accepted", "0", "", 1, 0.0, 1.0, accepted=accepted)
        )
    before = df.copy(deep=True)
    out = join_responses(df, batches, outcomes)
    pd.testing.assert_frame_equal(df, before)
    assert list(out.index) == list(df.index)
    assert list(out["state"]) == ["user's own"] * n  # never overwritten
    assert list(out["x"]) == list(range(n))
    for pos in range(n):
        expected = REJECTED if pos in refused else SUBMITTED
        assert out["sms_state"].iloc[pos] == expected
        msg_id = out["msg_id"].iloc[pos]
        assert pd.isna(msg_id) if pos in refused else msg_id == f"m{pos}"


async def test_cancelled_send_marks_in_flight_unknown() -> None:
    async with (
        Sandbox(latency=5.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        batches = build_batches(frame(2), content="Hi", max_numbers=1)
        seen: list[BatchOutcome] = []
        task = asyncio.ensure_future(
            send_batches(client, batches, concurrency=2, on_outcome=lambda b, o: seen.append(o))
        )
        while sb.max_in_flight < 2:  # wait until both requests are in the server
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sorted(o.kind for o in seen) == ["unknown", "unknown"]
