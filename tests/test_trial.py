"""The trial batch and its gate, against the sandbox on loopback, on an injected clock.

Also a worker for the SIGKILL test: ``python tests/test_trial.py LEDGER`` sends the trial
campaign and prints ``waiting`` when the gate's wait begins (then waits an hour).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import ClientSettings, Credentials, RetryPolicy, Timeouts
from itnio_campaign.errors import UsageError
from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.recovery import load_campaign, resume_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox, SandboxThread
from itnio_campaign.trial import Gate, parse_duration, parse_gate, parse_share, trial_positions
from itnio_campaign.trial_store import load_trial

FAST = ClientSettings(
    retry=RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.01, retry_after_cap=0.01),
    timeouts=Timeouts(connect=2.0, read=5.0),
)
QUIET = {"reply_rate": 0.0, "delivery_delay": (0.0, 0.0), "undelivered_rate": 0.0}
#: Every UK message fails delivery: half the campaign, so a 90% gate fails.
UK_FAILS = {"undelivered_by_prefix": {"44": 1.0}}


def build_plan(n: int = 400) -> Plan:
    phones = [f"+91 98{i:08d}" if i % 2 else f"+44 7911 {i:06d}" for i in range(n)]
    df = pd.DataFrame({"phone": phones, "name": [f"N{i}" for i in range(n)]})
    return plan_campaign(df, content="Hi {name}, spring offer")


class FakeTime:
    """A clock the test owns: ``sleep`` advances it instantly and remembers the waits."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def accepted_numbers(sb: Sandbox | SandboxThread) -> list[str]:
    return [m.number for m in sb.accepted]


def assert_nobody_twice(sb: Sandbox | SandboxThread) -> None:
    twice = [n for n, k in Counter(accepted_numbers(sb)).items() if k > 1]
    assert not twice, f"sent twice: {twice[:5]}"


def numbers_at(plan: Plan, positions: list[int]) -> set[str]:
    return set(plan.recipients["number"].iloc[positions])


async def test_gate_passes_then_the_rest_is_sent_once(tmp_path: Path) -> None:
    plan = build_plan()
    fake = FakeTime()
    async with Sandbox(seed=3, **QUIET) as sb, AsyncClient(sb.credentials, FAST) as client:
        result = await send_campaign(
            plan, client, ledger=tmp_path / "c.sqlite", trial="5%",
            gate=Gate(min_delivered=0.9, max_rejected=0.02, wait="15m"),
            clock=fake.clock, sleep=fake.sleep, progress=False,
        )  # fmt: skip
        assert result.status == "completed", result.halt_reason
        assert result.notice is not None and "trial gate passed: delivered 100%" in result.notice
        assert_nobody_twice(sb)
        assert len(sb.accepted) == 400
        with Ledger.open(tmp_path / "c.sqlite", create=False) as ledger:
            record = load_trial(ledger)
        assert record is not None and record.decision is not None
        assert record.decision["passed"] is True
        trial = numbers_at(plan, record.positions)
        assert len(trial) == 20
        # The trial went first, then getReport, then the rest.
        assert set(accepted_numbers(sb)[:20]) == trial
        kinds = [r.endpoint for r in sb.requests]
        first_report = kinds.index("getReport")
        sends_before = [k for k in kinds[:first_report] if k.startswith("sendSms")]
        assert len(sends_before) == len(record.trial_ids)
        # Stratified: both countries are in the trial, half each.
        assert sum(n.startswith("44") for n in trial) == 10


async def test_failed_gate_halts_with_rates_and_override_sends_the_rest(tmp_path: Path) -> None:
    plan = build_plan()
    path = tmp_path / "c.sqlite"
    fake = FakeTime()
    async with (
        Sandbox(seed=3, **QUIET, **UK_FAILS) as sb,
        AsyncClient(sb.credentials, FAST) as client,
    ):
        halted = await send_campaign(
            plan, client, ledger=path, trial=0.05, gate=parse_gate("delivered>=90%"),
            clock=fake.clock, sleep=fake.sleep, progress=False,
        )  # fmt: skip
        assert halted.status == "halted"
        reason = halted.halt_reason or ""
        assert "trial gate failed: delivered 50% (10 of 20; needed ≥ 90%)" in reason
        assert "rejected 0% (0; allowed ≤ 2%)" in reason
        assert "380 recipients stay pending" in reason and "override_gate=True" in reason
        assert len(sb.accepted) == 20
        assert halted.counts()["pending"] == 380
        assert load_campaign(path).status == "halted"
        # Resuming without the override judges the gate again: still failed, nothing sent.
        again = await resume_campaign(path, client, clock=fake.clock, sleep=fake.sleep,
                                      progress=False)  # fmt: skip
        assert again.status == "halted" and len(sb.accepted) == 20
        forced = await resume_campaign(path, client, override_gate=True, progress=False)
        assert forced.status == "completed", forced.halt_reason
        assert forced.notice is not None and "gate overridden" in forced.notice
        assert len(sb.accepted) == 400
        assert_nobody_twice(sb)


async def test_wait_ends_on_the_injected_clock_with_reports_not_final(tmp_path: Path) -> None:
    plan = build_plan()
    fake = FakeTime()
    slow = {**QUIET, "delivery_delay": (7200.0, 7200.0)}  # no report is final for 2 hours
    async with Sandbox(seed=3, **slow) as sb, AsyncClient(sb.credentials, FAST) as client:
        started = time.monotonic()
        result = await send_campaign(
            plan, client, ledger=tmp_path / "c.sqlite", trial="5%",
            gate=Gate(wait="15m", poll=60), clock=fake.clock, sleep=fake.sleep, progress=False,
        )  # fmt: skip
        assert time.monotonic() - started < 30  # no real wait of 15 minutes
        assert result.status == "halted"
        assert "20 without a final delivery report after 15m" in (result.halt_reason or "")
        assert sum(fake.slept) == pytest.approx(900)
        assert max(fake.slept) == 60
        reports = sum(r.endpoint == "getReport" for r in sb.requests)
        assert reports == 16  # one at once, then one after each of 15 minute-long sleeps
        assert len(sb.accepted) == 20


def test_kill_during_the_trial_wait_then_resume_applies_the_gate(tmp_path: Path) -> None:
    """SIGKILL while the trial waits for reports; the resume still judges the gate and
    nobody is sent twice; the override then sends exactly the rest."""
    plan = build_plan()
    path = tmp_path / "c.sqlite"
    slow = {**QUIET, "delivery_delay": (60.0, 60.0)}  # reports not final at the first poll
    with SandboxThread(seed=3, **slow, **UK_FAILS) as sb:
        creds = sb.credentials
        env = {
            **os.environ, "ITNIO_API_KEY": creds.api_key, "ITNIO_API_SECRET": creds.api_secret,
            "ITNIO_APP_ID": creds.app_id, "ITNIO_BASE_URL": creds.base_url,
        }  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, __file__, str(path)], env=env, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
            assert line == "waiting", line
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        assert len(sb.accepted) == 20
        assert_nobody_twice(sb)
        assert load_campaign(path).counts()["pending"] == 380
        sb.settle_all()  # the reports are final by the time the resume asks
        fake = FakeTime(time.time() + 3600)  # the wait is over when the resume runs
        resumed = asyncio.run(_resume(path, creds, fake, override=False))
        assert resumed.status == "halted"
        assert "trial gate failed: delivered 50%" in (resumed.halt_reason or "")
        assert len(sb.accepted) == 20
        forced = asyncio.run(_resume(path, creds, fake, override=True))
        assert forced.status == "completed"
        assert len(sb.accepted) == 400
        assert_nobody_twice(sb)
        assert set(accepted_numbers(sb)) == set(plan.recipients["number"])


async def _resume(path: Path, creds: Credentials, fake: FakeTime, *, override: bool):
    async with AsyncClient(creds, FAST) as client:
        return await resume_campaign(
            path, client, override_gate=override, clock=fake.clock, sleep=fake.sleep,
            progress=False,
        )  # fmt: skip


async def test_trial_needs_a_ledger_and_a_fresh_campaign(tmp_path: Path) -> None:
    plan = build_plan(40)
    async with Sandbox(seed=3, **QUIET) as sb, AsyncClient(sb.credentials, FAST) as client:
        with pytest.raises(UsageError, match="need ledger="):
            await send_campaign(plan, client, trial=0.1, progress=False)
        with pytest.raises(UsageError, match="give trial= too"):
            await send_campaign(plan, client, ledger=tmp_path / "x.sqlite", gate=Gate())
        path = tmp_path / "c.sqlite"
        sb.inject("sendSms/batch", *["http_503"] * 4)  # never accepted
        first = await send_campaign(plan, client, ledger=path, progress=False)
        assert first.counts()["pending"] == 40 and len(sb.accepted) == 0
        with pytest.raises(UsageError, match="already started without a trial"):
            await send_campaign(plan, client, ledger=path, trial=0.1, progress=False)
        assert len(sb.accepted) == 0


def test_trial_share_gate_and_wait_are_read_or_refused_in_one_line() -> None:
    assert parse_share("2%") == 0.02 and parse_share(0.1) == 0.1
    assert parse_duration("1h30m") == 5400 and parse_duration(90) == 90
    gate = parse_gate("delivered>=95%, rejected<=1%", wait="10m")
    assert (gate.min_delivered, gate.max_rejected, gate.wait) == (0.95, 0.01, 600.0)
    for bad in ("0%", "100%", "lots", "-1"):
        with pytest.raises(UsageError, match="share"):
            parse_share(bad)
    with pytest.raises(UsageError, match="could not read"):
        parse_gate("delivered=>90")
    with pytest.raises(UsageError, match="a wait is like"):
        Gate(wait="soon")
    with pytest.raises(UsageError, match="min_delivered"):
        Gate(min_delivered=1.5)


def test_trial_is_stratified_by_country_and_content() -> None:
    n = 1000
    phones = [f"+91 98{i:08d}" if i % 4 else f"+44 7911 {i:06d}" for i in range(n)]
    content = ["Hi", "Hello", "Hey", "Yo"]
    df = pd.DataFrame({"phone": phones, "c": [content[(i // 4) % 4] for i in range(n)]})
    plan = plan_campaign(df, content="{c} there")
    chosen = trial_positions(plan, 0.04)
    assert len(chosen) == 40
    rec = plan.recipients.iloc[chosen]
    strata = Counter(zip(rec["number"].str[:2], rec["content"], strict=True))
    # 8 strata of (country, text): 62.5 UK and 187.5 Indian rows per text, 4% of each.
    assert len(strata) == 8
    uk = [v for k, v in strata.items() if k[0] == "44"]
    india = [v for k, v in strata.items() if k[0] == "91"]
    assert sum(uk) == 10 and sum(india) == 30
    assert set(uk) <= {2, 3} and set(india) <= {7, 8}
    assert trial_positions(plan, 0.04) == chosen  # the same draw for the same plan


async def _worker(path: str) -> None:
    async def announce_and_hang(seconds: float) -> None:
        print("waiting", flush=True)
        await asyncio.sleep(3600)

    async with AsyncClient(Credentials.from_env(None), FAST) as client:
        await send_campaign(
            build_plan(), client, ledger=path, trial=0.05, gate=Gate(wait="15m", poll=30),
            sleep=announce_and_hang, progress=False,
        )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1]))
