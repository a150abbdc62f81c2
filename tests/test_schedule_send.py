"""Sending inside the recipients' windows, against the sandbox over loopback, on a fake clock.

The sandbox and the client share the test's clock, so the sandbox records each acceptance at
the campaign's time: every test proves each acceptance fell inside that recipient's window.
Nothing sleeps for real: the campaign's ``sleep`` advances the clock.

Run as a script, this file is the sending process the SIGKILL test kills while it waits::

    python tests/test_schedule_send.py LEDGER START_EPOCH
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.errors import UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.recovery import load_campaign, resume_campaign
from itnio_campaign.result import CampaignResult
from itnio_campaign.runner import ProgressEvent, send_campaign
from itnio_campaign.sandbox import Sandbox, SandboxThread
from itnio_campaign.schedule_send import load_marks, remaining_schedule, waiting_info

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from conftest import FAST_SETTINGS, kill_when  # noqa: E402

NY, IN = "America/New_York", "Asia/Kolkata"


class FakeTime:
    """The campaign's, the client's and the sandbox's clock; ``sleep`` moves it on."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def at(zone: str, *args: int) -> float:
    return datetime(*args, tzinfo=ZoneInfo(zone)).timestamp()


def contacts(ny: int = 1200, india: int = 900, la: int = 300) -> pd.DataFrame:
    phones = (
        [f"+1 212 555 {i:04d}" for i in range(ny)]
        + [f"+91 98{i:08d}" for i in range(india)]
        + [f"+1 650 555 {i:04d}" for i in range(la)]
    )
    return pd.DataFrame({"phone": phones, "name": [f"C{i}" for i in range(len(phones))]})


@pytest.fixture
async def world() -> AsyncIterator[Callable[..., Any]]:
    """Start a sandbox and a client on a fake clock: ``sb, client, clock = await world(t)``."""
    opened: list[Any] = []

    async def start(t: float, **knobs: Any) -> tuple[Sandbox, AsyncClient, FakeTime]:
        clock = FakeTime(t)
        sb = Sandbox(seed=2, clock=clock, delivery_delay=(0.0, 0.0), reply_rate=0.0, **knobs)
        await sb.__aenter__()
        opened.append(sb)
        client = AsyncClient(sb.credentials, FAST_SETTINGS, clock=clock)
        await client.__aenter__()
        opened.append(client)
        return sb, client, clock

    yield start
    for thing in reversed(opened):
        await thing.__aexit__(None, None, None)


def assert_inside_windows(
    sb: Sandbox | SandboxThread, plan: Plan, start: int = 9 * 60, end: int = 20 * 60
) -> None:
    """Every acceptance the sandbox recorded is inside its recipient's local window."""
    rec = plan.recipients.dropna(subset=["tz"])
    zone = dict(zip(rec["number"], rec["tz"], strict=True))
    assert len(sb.accepted) > 0
    for m in sb.accepted:
        local = datetime.fromtimestamp(m.accepted_at, ZoneInfo(zone[m.number]))
        minute = local.hour * 60 + local.minute
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        assert inside, f"{m.number} accepted at {local.isoformat()}, outside its window"


def assert_once(sb: Sandbox | SandboxThread) -> None:
    twice = [k for k, v in sb.accept_counts().items() if v > 1]
    assert not twice, f"accepted more than once: {twice[:5]}"


async def send(plan: Plan, client: AsyncClient, clock: FakeTime, ledger: Path, **kw: Any) -> Any:
    return await send_campaign(
        plan, client, ledger=ledger, clock=clock, sleep=clock.sleep, progress=False, **kw
    )


# -- the tests ------------------------------------------------------------------------------------
async def test_every_acceptance_falls_inside_its_recipients_window_across_three_zones(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 22, 0)  # NY closed, LA open until 23:00 NY time, India closed
    sb, client, clock = await world(start)
    plan = plan_campaign(contacts(), content="Hi {name}", window="09:00-20:00")
    waits: list[str] = []
    done_while_waiting: list[int] = []

    def progress(event: ProgressEvent) -> None:
        if event.waiting:
            waits.append(event.waiting)
            done_while_waiting.append(event.done)

    result = await send(plan, client, clock, tmp_path / "c.sqlite", on_progress=progress)
    assert result.status == "completed" and result.counts() == {"submitted": 2400}
    # a wait keeps the count already sent (LA before India, then India before New York)
    assert done_while_waiting[0] > 0 and done_while_waiting[1] > done_while_waiting[0]
    assert_once(sb)
    assert_inside_windows(sb, plan)
    # LA first (open now), then India (03:30 UTC = 09:00 IST), then New York (13:00 UTC)
    assert [w.split(" (")[0] for w in waits] == [f"waiting for {IN}", f"waiting for {NY}"]
    assert "opens at 2026-05-05 03:30 UTC for 900 recipients" in waits[0]
    first = {}
    for m in sb.accepted:
        first.setdefault(m.number[:2], m.accepted_at)
    assert first["16"] == start and first["91"] == at(IN, 2026, 5, 5, 9, 0)
    assert first["12"] == at(NY, 2026, 5, 5, 9, 0)
    assert clock.slept == pytest.approx(at(NY, 2026, 5, 5, 9, 0) - start)
    assert load_campaign(tmp_path / "c.sqlite").status == "completed"


async def test_zones_interleave_over_days_when_the_volume_does_not_fit_one_window(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 12, 0)  # both closed: India opens first (03:30 UTC)
    sb, _client, clock = await world(start)

    def slow_clock() -> float:  # each request "takes" 30 s
        clock.now += 30
        return clock.now

    plan = plan_campaign(contacts(10_000, 10_000, 0), content="Hi", window="09:00-09:05")
    frame = plan.schedule(now=start, rate=1000 / 30)
    assert frame["tz"].tolist() == [IN, NY] and not frame["fits"].any()
    waits: list[str] = []

    def progress(event: ProgressEvent) -> None:
        if event.waiting:
            waits.append(event.waiting.split(" (")[0].removeprefix("waiting for "))

    async with AsyncClient(sb.credentials, FAST_SETTINGS, clock=slow_clock) as slow:
        result = await send(plan, slow, clock, tmp_path / "c.sqlite", concurrency=1,
                            on_progress=progress)  # fmt: skip
    assert result.status == "completed" and result.counts() == {"submitted": 20_000}
    assert waits == [IN, NY, IN, NY]  # the left-overs wait for the next day's window
    assert_once(sb)
    assert_inside_windows(sb, plan, 9 * 60, 9 * 60 + 5)
    days = {(m.number[:2], datetime.fromtimestamp(m.accepted_at, UTC).date()) for m in sb.accepted}
    assert len(days) == 4


async def test_a_dst_change_while_waiting_sends_at_the_new_local_time(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    friday = at(NY, 2026, 3, 6, 21, 0)  # EST; DST starts Sunday 2026-03-08
    sb, client, clock = await world(friday)
    plan = plan_campaign(contacts(300, 0, 0), content="Hi", window="09:00-20:00", days="mon-fri")
    result = await send(plan, client, clock, tmp_path / "c.sqlite")
    assert result.status == "completed"
    times = {m.accepted_at for m in sb.accepted}
    # Monday 09:00 EDT is 13:00 UTC (it was 14:00 UTC the week before)
    assert times == {datetime(2026, 3, 9, 13, 0, tzinfo=UTC).timestamp()}
    assert_inside_windows(sb, plan)


async def test_days_and_holidays_are_waited_out_in_local_time(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    saturday = at(IN, 2026, 5, 9, 11, 0)
    sb, client, clock = await world(saturday)
    plan = plan_campaign(
        contacts(0, 200, 0), content="Hi", window="10:00-21:00", days="mon-fri",
        holidays=["2026-05-11"],
    )  # fmt: skip
    await send(plan, client, clock, tmp_path / "c.sqlite")
    assert {m.accepted_at for m in sb.accepted} == {at(IN, 2026, 5, 12, 10, 0)}  # Tuesday
    assert_inside_windows(sb, plan, 10 * 60, 21 * 60)


async def test_a_window_crossing_midnight_sends_at_night(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    noon = at(IN, 2026, 5, 4, 12, 0)
    sb, client, clock = await world(noon)
    plan = plan_campaign(contacts(0, 300, 0), content="Hi", window="22:00-06:00")
    await send(plan, client, clock, tmp_path / "c.sqlite")
    assert {m.accepted_at for m in sb.accepted} == {at(IN, 2026, 5, 4, 22, 0)}
    assert_inside_windows(sb, plan, 22 * 60, 6 * 60)


async def test_expire_at_in_the_middle_of_sending_expires_the_rest_for_good(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 10, 0)
    sb, client, clock = await world(start)

    def slow_clock() -> float:  # each request "takes" 30 s: read once per request
        clock.now += 30
        return clock.now

    expire = start + 300
    plan = plan_campaign(
        contacts(10_000, 0, 0), content="Hi", window="09:00-20:00",
        expire_at=datetime.fromtimestamp(expire, UTC),
    )  # fmt: skip
    path = tmp_path / "c.sqlite"
    async with AsyncClient(sb.credentials, FAST_SETTINGS, clock=slow_clock) as slow:
        result = await send(plan, slow, clock, path, concurrency=1)
    counts = result.counts()
    assert counts["submitted"] > 0 and counts["expired"] > 0
    assert counts["submitted"] + counts["expired"] == 10_000
    assert result.status == "completed"  # expired is final: nobody is left to send
    # requests leave only while the window (clipped at expire_at, minus the margin) is open
    assert max(m.accepted_at for m in sb.accepted) <= expire
    expired = result.frame[result.frame["state"] == "expired"]
    assert expired["reason"].str.contains("expire_at").all()
    before = len(sb.accepted)
    again = await resume_campaign(path, client, clock=clock, sleep=clock.sleep, progress=False)
    assert len(sb.accepted) == before and "nothing" in (again.notice or "")
    assert again.counts() == counts
    assert load_campaign(path).counts() == counts
    with Ledger.open(path, readonly=True) as ledger:
        assert {s for s, _ in load_marks(ledger).values()} == {"expired"}


async def test_late_skip_marks_those_whose_window_passed_and_sends_the_rest(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 21, 0)  # New York's window of the day closed at 20:00
    sb, client, clock = await world(start)
    plan = plan_campaign(contacts(500, 400, 0), content="Hi", window="09:00-20:00", late="skip")
    path = tmp_path / "c.sqlite"
    result = await send(plan, client, clock, path)
    assert result.counts() == {"submitted": 400, "skipped_window_passed": 500}
    assert {m.number[:2] for m in sb.accepted} == {"91"}
    assert_inside_windows(sb, plan)
    again = await resume_campaign(path, client, clock=clock, sleep=clock.sleep, progress=False)
    assert again.counts() == result.counts() and len(sb.accepted) == 400


async def test_stop_while_waiting_ends_the_wait_and_resume_sends_inside_the_window(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 19, 0)  # New York open, India closed until 03:30 UTC
    sb, client, clock = await world(start)
    plan = plan_campaign(contacts(300, 300, 0), content="Hi", window="09:00-20:00")
    path = tmp_path / "c.sqlite"
    naps = 0

    async def sleep_then_stop(seconds: float) -> None:
        nonlocal naps
        naps += 1
        await clock.sleep(seconds)
        result_box["stopper"].stop()  # the user presses Stop during the wait

    from itnio_campaign.result import Stopper

    result_box = {"stopper": Stopper()}
    result = await send_campaign(
        plan, client, ledger=path, clock=clock, sleep=sleep_then_stop, progress=False,
        stopper=result_box["stopper"],
    )  # fmt: skip
    assert result.status == "stopped" and naps == 1
    assert result.counts() == {"submitted": 300, "pending": 300}
    assert load_campaign(path).status == "stopped"
    clock.now = at(NY, 2026, 5, 4, 22, 0)
    resumed = await resume_campaign(path, client, clock=clock, sleep=clock.sleep, progress=False)
    assert resumed.status == "completed" and resumed.counts() == {"submitted": 600}
    assert_once(sb)
    assert_inside_windows(sb, plan)


async def test_a_trial_waits_for_the_window_too_and_the_rest_follows_inside_it(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    start = at(NY, 2026, 5, 4, 23, 0)
    sb, client, clock = await world(start, undelivered_rate=0.0)
    plan = plan_campaign(contacts(2000, 0, 0), content="Hi", window="09:00-20:00")
    result = await send(
        plan, client, clock, tmp_path / "c.sqlite", trial="5%", gate="delivered>=90%"
    )
    assert result.status == "completed" and result.counts() == {"delivered": 100, "submitted": 1900}
    assert_once(sb)
    assert_inside_windows(sb, plan)
    first = min(m.accepted_at for m in sb.accepted)
    assert first == at(NY, 2026, 5, 5, 9, 0)


async def test_a_windowed_plan_needs_a_ledger(world: Callable[..., Any]) -> None:
    _, client, clock = await world(at(NY, 2026, 5, 4, 10, 0))
    plan = plan_campaign(contacts(10, 0, 0), content="Hi", window="09:00-20:00")
    with pytest.raises(UsageError, match="needs ledger="):
        await send_campaign(plan, client, clock=clock, sleep=clock.sleep, progress=False)


async def test_the_same_campaign_with_other_windows_is_refused_on_its_ledger(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    _, client, clock = await world(at(NY, 2026, 5, 4, 3, 0))
    path = tmp_path / "spring.sqlite"
    plan = plan_campaign(contacts(10, 0, 0), content="Hi", window="09:00-20:00")
    assert plan.save_for_run(path) == f"itnio-campaign run {path}"
    other = plan_campaign(contacts(10, 0, 0), content="Hi", window="10:00-20:00")
    assert other.fingerprint == plan.fingerprint  # the same requests, other windows
    with pytest.raises(UsageError, match="other send windows"):
        await send(other, client, clock, path)
    with pytest.raises(UsageError, match="other send windows"):
        other.save_for_run(path)
    assert plan.save_for_run(path)  # the same plan again: fine, nothing sent
    result = await resume_campaign(path, client, clock=clock, sleep=clock.sleep, progress=False)
    assert result.counts() == {"submitted": 10}


# -- killed while waiting -------------------------------------------------------------------------
KILL_START = at(NY, 2026, 5, 4, 19, 30)  # New York open for 30 minutes; India opens 03:30 UTC


def kill_plan() -> Plan:
    return plan_campaign(contacts(600, 500, 0), content="Hi {name}", window="09:00-20:00")


def _kill_while_waiting(path: Path, creds: Credentials) -> list[str]:
    return kill_when(
        [str(Path(__file__)), str(path), repr(KILL_START)], creds,
        lambda line: line.startswith("waiting"),
    )  # fmt: skip


async def test_kill_while_waiting_then_resume_sends_nobody_twice_nor_outside_the_window(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.sqlite"
    clock = FakeTime(KILL_START)
    plan = kill_plan()
    with SandboxThread(seed=4, clock=clock, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb:
        lines = _kill_while_waiting(path, sb.credentials)
        assert lines and lines[-1].startswith("waiting for Asia/Kolkata"), lines
        assert len(sb.accepted) == 600  # New York's, in its window
        killed = load_campaign(path)
        assert killed.status == "stopped"  # it was waiting, and its process is gone
        assert killed.counts() == {"submitted": 600, "pending": 500}
        with Ledger.open(path, readonly=True) as ledger:
            info = waiting_info(ledger)
            assert info is not None and info["until"] == at(IN, 2026, 5, 5, 9, 0)
        left = remaining_schedule(killed, now=KILL_START + 60)  # what `status` shows
        assert left[["tz", "recipients"]].values.tolist() == [[IN, 500]]
        assert left["opens_at"].iloc[0].timestamp() == at(IN, 2026, 5, 5, 9, 0)
        clock.now = KILL_START + 3600  # later, still before India's window
        async with AsyncClient(sb.credentials, FAST_SETTINGS, clock=clock) as client:
            result = await resume_campaign(
                path, client, clock=clock, sleep=clock.sleep, progress=False
            )
        assert result.status == "completed" and result.counts() == {"submitted": 1100}
        assert_once(sb)
        assert_inside_windows(sb, plan)
        assert plan.fingerprint == killed.plan.fingerprint


async def _worker(path: str, start: float) -> None:
    """The killed process: sends New York now, then waits for India (forever)."""
    clock = FakeTime(start)

    async def sleep_forever(seconds: float) -> None:
        await asyncio.Event().wait()

    def progress(event: ProgressEvent) -> None:
        if event.waiting:
            print(event.waiting, flush=True)

    async with AsyncClient(Credentials.from_env(None), FAST_SETTINGS, clock=clock) as client:
        result: CampaignResult = await send_campaign(
            kill_plan(), client, ledger=path, clock=clock, sleep=sleep_forever,
            progress=False, on_progress=progress,
        )  # fmt: skip
    print(f"done {result.status}", flush=True)


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1], float(sys.argv[2])))


async def test_wall_time_counts_every_window_sent_not_only_the_last(
    world: Callable[..., Any], tmp_path: Path
) -> None:
    _sb, client, clock = await world(at(NY, 2026, 5, 4, 22, 0))
    plan = plan_campaign(contacts(), content="Hi {name}", window="09:00-20:00")
    result = await send(plan, client, clock, tmp_path / "c.sqlite", concurrency=1)
    assert result.status == "completed"
    # one request at a time: sending took at least as long as all its requests, in every
    # window (the waits between windows, on the fake clock, are not sending time)
    busy = sum(o.finished_at - o.started_at for o in result.outcomes)
    assert result.summary().wall_time_s >= busy
