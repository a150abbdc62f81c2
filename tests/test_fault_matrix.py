"""Every fault class, 20,000 recipients each: resume and reconcile as a user would, then check
the sandbox's own record — no orderId accepted twice, and in the end every ready recipient
accepted exactly once.

The full matrix is ``slow``; two ambiguous faults and one SIGKILL run by default.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_SETTINGS, kill_when
from crash_worker import build_plan

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials, Timeouts
from itnio_campaign.plan import Plan
from itnio_campaign.recovery import load_campaign, reconcile_campaign, resume_campaign
from itnio_campaign.result import CampaignResult
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox, SandboxThread

N = 20_000
TESTS = Path(__file__).resolve().parent
SEND_ENDPOINTS = frozenset({"sendSms", "sendSms/batch"})
QUIET = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0}

_PLAN: dict[int, Plan] = {}


def plan_of(n: int = N) -> Plan:
    if n not in _PLAN:  # planning 20k rows once per session keeps the matrix quick
        _PLAN[n] = build_plan(n)
    return _PLAN[n]


def ready_order_ids(plan: Plan) -> np.ndarray:
    rec = plan.recipients
    return rec["order_id"][(rec["state"] == "ready").to_numpy()].to_numpy(dtype=object)


def check_no_double_accept(sb: Sandbox | SandboxThread) -> None:
    counts = sb.accept_counts()
    twice = [k for k, v in counts.items() if v > 1]
    assert not twice, f"accepted more than once: {twice[:5]}"


def check_states(result: CampaignResult, *, reconciled: bool) -> None:
    """Every ready row is submitted, rejected with a reason, or (before reconcile) unknown."""
    frame = result.frame
    ready = (result.plan.recipients["state"] == "ready").to_numpy()
    states = frame["state"].to_numpy(dtype=object)[ready]
    allowed = {"submitted", "rejected"} | (set() if reconciled else {"unknown"})
    assert set(states) <= allowed, pd.Series(states).value_counts().to_dict()
    reasons = frame["reason"].to_numpy(dtype=object)[ready][states == "rejected"]
    assert all(isinstance(r, str) and r for r in reasons)


def check_each_accepted_once(sb: Sandbox | SandboxThread, plan: Plan) -> None:
    counts = sb.accept_counts()
    check_no_double_accept(sb)
    never = [o for o in ready_order_ids(plan) if counts[o] != 1]
    assert not never, f"{len(never)} ready recipients not accepted exactly once: {never[:5]}"


async def finish_like_a_user(
    path: Path, client: AsyncClient, sb: Sandbox | SandboxThread, plan: Plan
) -> dict[str, int]:
    """Resume until nothing is pending, then reconcile + resend_missing until all accepted."""
    seen = {"found": 0, "missing": 0, "resumes": 0}
    result = load_campaign(path)
    for _ in range(15):
        if not len(result.positions_in("pending")):
            break
        result = await resume_campaign(path, client, progress=False)
        seen["resumes"] += 1
        check_no_double_accept(sb)
    check_states(result, reconciled=False)
    pd.testing.assert_frame_equal(load_campaign(path).frame, result.frame)
    for _ in range(15):
        report = await reconcile_campaign(path, client, min_age_s=0)
        seen["found"] += report.found
        seen["missing"] += report.missing
        assert report.still_unknown == 0
        result = await resume_campaign(path, client, resend_missing=True, progress=False)
        check_no_double_accept(sb)
        if set(result.frame["state"]) == {"submitted"}:
            break
    check_states(result, reconciled=True)
    check_each_accepted_once(sb, plan)
    # Asking again sends nothing new.
    requests = len(sb.requests)
    await reconcile_campaign(path, client, min_age_s=0)
    again = await resume_campaign(path, client, resend_missing=True, progress=False)
    assert len(sb.requests) == requests
    pd.testing.assert_frame_equal(load_campaign(path).frame, again.frame)
    return seen


# -- HTTP and API faults, lost and late answers -----------------------------------------------
FAULTS = [
    pytest.param("http_500", 0.2, "ambiguous", id="http_500"),
    pytest.param("drop_after_accept", 0.2, "ambiguous", id="drop_after_accept"),
    pytest.param("http_503", 0.5, "retry", id="http_503", marks=pytest.mark.slow),
    pytest.param("http_429", 0.5, "retry", id="http_429", marks=pytest.mark.slow),
    pytest.param("api_-15", 0.5, "retry", id="api_-15", marks=pytest.mark.slow),
    pytest.param("api_-16", 0.5, "retry", id="api_-16", marks=pytest.mark.slow),
    pytest.param("delay_after_accept", 0.2, "ambiguous", id="delay_after_accept",
                 marks=pytest.mark.slow),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "rate", "kind"), FAULTS)
@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
async def test_fault_class(fault: str, rate: float, kind: str, seed: int, tmp_path: Path) -> None:
    plan = plan_of()
    path = tmp_path / "campaign.sqlite"
    knobs = {"seed": seed, "fault_rates": {fault: rate}, "fault_endpoints": SEND_ENDPOINTS}
    settings = FAST_SETTINGS
    if fault == "delay_after_accept":  # the answer comes after the client gave up
        knobs["slow_answer_seconds"] = 0.6
        settings = replace(FAST_SETTINGS, timeouts=Timeouts(connect=2.0, read=0.2))
    async with Sandbox(**knobs, **QUIET) as sb, AsyncClient(sb.credentials, settings) as client:
        for endpoint in SEND_ENDPOINTS:  # at least once for sure, then at random
            sb.inject(endpoint, "none", fault, fault)
        result = await send_campaign(plan, client, ledger=path, progress=False)
        check_no_double_accept(sb)
        pd.testing.assert_frame_equal(load_campaign(path).frame, result.frame)
        outcomes = {o.kind for o in result.outcomes}
        if kind == "ambiguous":
            assert "unknown" in outcomes  # the fault really happened
        else:
            assert result.retries > 0
            assert "unknown" not in outcomes  # retryable faults are never ambiguous
        seen = await finish_like_a_user(path, client, sb, plan)
    if fault == "http_500":
        assert seen["missing"] > 0 and seen["found"] == 0
    elif kind == "ambiguous":
        assert seen["found"] > 0


@pytest.mark.slow
async def test_balance_exhausted_mid_campaign(tmp_path: Path) -> None:
    plan = plan_of()
    path = tmp_path / "campaign.sqlite"
    cost = Decimal("0.005") * int(plan.recipients["segments"].sum())
    async with (
        Sandbox(seed=3, balance=cost / 3, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        result = await send_campaign(plan, client, concurrency=4, ledger=path, progress=False)
        assert result.status == "halted" and "-10" in (result.halt_reason or "")
        loaded = load_campaign(path)
        assert (loaded.status, loaded.halt_reason) == ("halted", result.halt_reason)
        check_no_double_accept(sb)
        assert 0 < len(result.positions_in("pending")) < N
        sb.balance = cost
        await finish_like_a_user(path, client, sb, plan)


# -- the sending process killed with SIGKILL ------------------------------------------------
def _kill_after(path: Path, creds: Credentials, k: int) -> str:
    """Run the worker; SIGKILL it once it has journaled k requests; return its last line."""
    lines = kill_when(
        [str(TESTS / "crash_worker.py"), str(path), str(N), "8"], creds,
        lambda line: line.startswith("requests ") and int(line.split()[1]) >= k,
    )  # fmt: skip
    return lines[-1] if lines else ""


@pytest.mark.parametrize(
    "seed", [11, pytest.param(12, marks=pytest.mark.slow), pytest.param(13, marks=pytest.mark.slow)]
)
async def test_sigkill_at_a_random_moment(seed: int, tmp_path: Path) -> None:
    plan = plan_of()
    path = tmp_path / "campaign.sqlite"
    k = random.Random(seed).randint(1, 15)
    with SandboxThread(seed=seed, latency=(0.005, 0.04), **QUIET) as sb:
        last = _kill_after(path, sb.credentials, k)
        assert last.startswith("requests "), f"the worker ended before the kill: {last!r}"
        check_no_double_accept(sb)
        killed = load_campaign(path)
        assert killed.plan.fingerprint == plan.fingerprint
        assert killed.status == "stopped"  # status was "running", and its writer is gone
        # Requests journaled in flight at the kill show as unknown, never as sendable.
        assert killed.summary().counts.get("unknown", 0) > 0
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            resumed = await resume_campaign(path, client, progress=False)
            check_no_double_accept(sb)
            check_states(resumed, reconciled=False)
            await finish_like_a_user(path, client, sb, plan)


# -- answers that name no usable numbers ------------------------------------------------------
async def test_answers_without_arrays_or_with_reformatted_numbers(tmp_path: Path) -> None:
    """The provider may omit ``array`` or echo numbers as ``+91…`` without orderIds: nobody
    accepted is called rejected (a user resending "rejected" rows would send duplicates)."""
    plan = plan_of()
    path = tmp_path / "campaign.sqlite"
    rates = {"accept_without_array": 0.3, "accept_plus_numbers": 0.3}
    knobs = {"seed": 5, "fault_rates": rates, "fault_endpoints": SEND_ENDPOINTS}
    async with (
        Sandbox(**knobs, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        for endpoint in SEND_ENDPOINTS:  # each shape at least once for sure
            sb.inject(endpoint, "accept_without_array", "accept_plus_numbers")
        result = await send_campaign(plan, client, ledger=path, progress=False)
        assert {r.fault for r in sb.requests} >= {"accept_without_array", "accept_plus_numbers"}
        check_no_double_accept(sb)
        ready = (plan.recipients["state"] == "ready").to_numpy()
        states = result.frame["state"].to_numpy(dtype=object)[ready]
        assert set(states) == {"submitted"}, pd.Series(states).value_counts().to_dict()
        assert result.status == "completed"
        await finish_like_a_user(path, client, sb, plan)


# -- the form: halted or stopped, then Send again ---------------------------------------------
@pytest.mark.parametrize("how", ["halt", "stop"])
async def test_form_send_again_after_halt_or_stop_continues_the_campaign(
    how: str, tmp_path: Path
) -> None:
    from crash_worker import contacts

    from itnio_campaign.widgets import CampaignForm

    df = contacts(5000)
    balance = Decimal("0.005") * 1500 if how == "halt" else Decimal(1000)
    async with Sandbox(seed=4, balance=balance, **QUIET) as sb:
        form = CampaignForm(df, sb.credentials, ledger_dir=tmp_path, report_dir=tmp_path,
                            client_settings=FAST_SETTINGS, concurrency=1)  # fmt: skip
        form.content.value = "Hi {first_name}, see you in {city}"
        form.dry_run_button.click()
        await form.balance_task  # type: ignore[misc]
        if how == "stop":
            form.progress.observe(
                lambda change: form.stop_button.click() if change["new"] else None, "value"
            )
        form.confirm.value = True
        form.send_button.click()
        await form.sending_task  # type: ignore[misc]
        assert form.result is not None
        assert form.result.status == ("halted" if how == "halt" else "stopped")
        first = sum(sb.accept_counts().values())
        assert 0 < first < 5000
        check_no_double_accept(sb)

        sb.balance = Decimal(1000)  # the user tops up (or changes their mind), then
        form.progress.unobserve_all("value")
        form.dry_run_button.click()  # plans again: the same plan
        await form.balance_task  # type: ignore[misc]
        left = int((form.plan.recipients["state"] == "ready").sum()) - first
        assert form.confirm.description == f"Send the {left:,} not sent yet"
        form.confirm.value = True
        form.send_button.click()
        await form.sending_task  # type: ignore[misc]
        assert form.result.status == "completed", form.result.halt_reason
        check_each_accepted_once(sb, form.plan)
        assert len(list(tmp_path.glob("*.sqlite"))) == 1  # one campaign, one ledger


# -- a second writer through another path to the same ledger ---------------------------------
@pytest.mark.parametrize("link", ["symlink", "hardlink"])
async def test_second_writer_through_a_link_is_refused(link: str, tmp_path: Path) -> None:
    """One process sends; a resume through a symlink or hard link to its ledger must be
    refused while it runs (before: both ran and thousands got the SMS twice)."""
    from itnio_campaign.errors import LedgerError

    plan = plan_of()
    path = tmp_path / "campaign.sqlite"
    other = tmp_path / "elsewhere" / "same.sqlite"
    other.parent.mkdir()
    with SandboxThread(seed=6, **QUIET) as sb:
        sb.hold_sends(after=2)  # the worker is provably mid-campaign while we try
        env = {
            **os.environ,
            "ITNIO_API_KEY": sb.credentials.api_key,
            "ITNIO_API_SECRET": sb.credentials.api_secret,
            "ITNIO_APP_ID": sb.credentials.app_id,
            "ITNIO_BASE_URL": sb.credentials.base_url,
        }
        proc = subprocess.Popen(
            [sys.executable, str(TESTS / "crash_worker.py"), str(path), str(N), "1"],
            stdout=subprocess.PIPE, env=env, cwd=TESTS.parent, text=True,
        )  # fmt: skip
        try:
            while sb.held < 1:
                assert proc.poll() is None, "the worker ended early"
                await asyncio.sleep(0.01)
            if link == "symlink":
                other.symlink_to(path)
            else:
                os.link(path, other)
            async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
                with pytest.raises(LedgerError) as err:
                    await resume_campaign(other, client, progress=False)
            assert str(other) in str(err.value)
        finally:
            sb.release_sends()
            out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "done completed" in out, out[-300:]
        check_each_accepted_once(sb, plan)
