"""The workspace at send time, across processes: re-check before sending and on resume,
recording after, crash repair, and nothing sent when the workspace cannot be read.

Other processes are real (``tests/workspace_worker.py``), synchronised by waiting for them to
finish or by the lines they print, never by sleeping.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.delivery import refresh_delivery
from itnio_campaign.plan import plan_campaign
from itnio_campaign.recovery import load_campaign, resume_campaign
from itnio_campaign.result import Stopper
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import Sandbox, SandboxThread
from itnio_campaign.workspace import Workspace, WorkspaceError, history_store
from itnio_campaign.workspace.core import Workspace as WorkspaceNoRepair

pytest_plugins = ("workspace_fixtures",)

TESTS = Path(__file__).resolve().parent
WORKER = TESTS / "workspace_worker.py"


def numbers(n: int) -> list[str]:
    return [f"9198{i:08d}" for i in range(n)]


def worker(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """Run the worker to its end; its output lines (it prints ``done`` last)."""
    out = subprocess.run(
        [sys.executable, str(WORKER), *args], capture_output=True, text=True, timeout=120,
        cwd=TESTS.parent, env={**os.environ, "PYTHONPATH": str(TESTS.parent), **(env or {})},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[-1] == "done", out.stdout
    return lines[:-1]


def started(*args: str) -> subprocess.Popen[str]:
    """The worker, started (several run at once); :func:`finished` waits for it."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=TESTS.parent, env={**os.environ, "PYTHONPATH": str(TESTS.parent)},
    )  # fmt: skip


def finished(proc: subprocess.Popen[str]) -> None:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and out.split()[-1] == "done", err


def plan_of(n: int, ws: Workspace | str) -> pd.DataFrame:
    return plan_campaign(pd.DataFrame({"phone": numbers(n)}), content="Hi", workspace=ws)


async def stopped_after_one_request(plan: object, client: AsyncClient, ledger: Path) -> object:
    stopper = Stopper()
    result = await send_campaign(
        plan, client, ledger=ledger, concurrency=1, progress=False, stopper=stopper,  # type: ignore[arg-type]
        on_progress=lambda event: stopper.stop(),
    )  # fmt: skip
    assert result.status == "stopped"
    return result


async def test_an_optout_from_another_process_after_planning_is_not_sent(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    ws = Workspace(ws_location)
    plan = plan_of(3, ws)
    a, b, c = numbers(3)
    assert plan.recipients["state"].tolist() == ["ready"] * 3
    worker("optout", ws_location, b, "crm-export")  # another analyst, another process
    ledger = tmp_path / "campaign.sqlite"
    result = await send_campaign(plan, client, ledger=ledger, progress=False)
    frame = result.frame.set_index("number")
    assert frame.loc[b, "state"] == "skipped_opted_out"
    assert frame.loc[b, "reason"].startswith("opted out (crm-export, ")
    assert frame.loc[[a, c], "state"].tolist() == ["submitted", "submitted"]
    assert sb.times_accepted(b) == 0 and sb.times_accepted(a) == 1
    assert "1 skipped_opted_out newly excluded, not sent" in (result.notice or "")
    assert result.status == "completed"
    # the ledger keeps it: a reload shows the same, and the workspace recorded the campaign
    again = load_campaign(ledger).frame.set_index("number")
    assert again.loc[b, "state"] == "skipped_opted_out"
    campaigns = ws.campaigns()
    assert campaigns[["ledger", "sent"]].values.tolist() == [[str(ledger.resolve()), 2]]
    assert ws.history(b).empty and len(ws.history(a)) == 1


async def test_the_next_plan_of_another_process_honours_an_optout(ws_location: str) -> None:
    a, b = numbers(2)
    with Workspace(ws_location) as ws:
        ws.add_optouts([b], source="manual")
    assert worker("plan", ws_location, a, "+" + b) == ["ready", "skipped_opted_out"]


async def test_resume_rechecks_optouts_recorded_while_stopped(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ITNIO_WORKSPACE", ws_location)  # a team's URL, password included
    plan = plan_of(2500, ws_location)
    ledger = tmp_path / "campaign.sqlite"
    await stopped_after_one_request(plan, client, ledger)
    first = {n for n, k in sb.number_counts().items() if k}
    late = [n for n in numbers(2500) if n not in first][-3:]
    worker("optout", ws_location, ",".join(late), "reply")
    result = await resume_campaign(ledger, client, progress=False)
    frame = result.frame.set_index("number")
    assert frame.loc[late, "state"].tolist() == ["skipped_opted_out"] * 3
    assert all(sb.times_accepted(n) == 0 for n in late)
    assert max(sb.number_counts().values()) == 1
    assert result.status == "completed"
    assert result.summary().counts == {"skipped_opted_out": 3, "submitted": 2497}
    with Workspace(ws_location) as ws:
        assert ws.campaigns()["sent"].tolist() == [2497]


async def test_an_unreadable_workspace_sends_nothing_until_told_to_go_without(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("ITNIO_WORKSPACE", ws_location)
    plan = plan_of(2500, ws_location)
    ledger = tmp_path / "campaign.sqlite"
    await stopped_after_one_request(plan, client, ledger)
    requests = len(sb.requests)
    with Workspace(ws_location) as ws, ws._db.transaction() as cur:
        cur.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(WorkspaceError, match="schema version 99"):
        await resume_campaign(ledger, client, progress=False)
    assert len(sb.requests) == requests  # nothing was sent
    result = await resume_campaign(ledger, client, progress=False, workspace=False)
    assert result.status == "completed" and max(sb.number_counts().values()) == 1


async def test_a_plan_without_ledger_is_rechecked_too(
    ws_location: str, sb: Sandbox, client: AsyncClient
) -> None:
    ws = Workspace(ws_location)
    plan = plan_of(2, ws)
    ws.add_optouts(numbers(2)[0], source="manual")
    result = await send_campaign(plan, client, progress=False)
    assert result.frame["state"].tolist() == ["skipped_opted_out", "submitted"]
    assert len(ws.campaigns()) == 1
    # workspace=False: no send-time check, explicitly (the plan's own skips stay)
    df = pd.DataFrame({"phone": numbers(3)})
    later = plan_campaign(df, content="Hi again", workspace=ws, repeat_guard="off")
    ws.add_optouts(numbers(3)[2], source="manual")
    explicit = await send_campaign(later, client, progress=False, workspace=False)
    assert explicit.frame["state"].tolist() == ["skipped_opted_out", "submitted", "submitted"]
    assert sb.times_accepted(numbers(3)[2]) == 1


def test_two_processes_writing_at_once(ws_location: str) -> None:
    Workspace(ws_location).close()  # created first: both workers open an existing workspace
    procs = [
        started("many", ws_location, str(first), "40") for first in (919811000000, 919822000000)
    ]
    for proc in procs:
        finished(proc)
    with Workspace(ws_location) as ws:
        assert len(ws.optouts()) == 80


async def test_two_processes_recording_one_campaign_at_once_keep_one_copy(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    ledger = tmp_path / "campaign.sqlite"
    plan = plan_campaign(pd.DataFrame({"phone": numbers(2500)}), content="Hi")
    await send_campaign(plan, client, ledger=ledger, progress=False)  # no workspace yet
    Workspace(ws_location).close()
    procs = [started("record", ws_location, str(ledger), "4") for _ in range(2)]
    for proc in procs:
        finished(proc)
    with Workspace(ws_location) as ws:
        assert ws.campaigns()["sent"].tolist() == [2500]
        everyone = history_store.read_window(ws._db, float("-inf"), ("number",))["number"]
        assert sorted(everyone.tolist()) == sorted(int(n) for n in numbers(2500))


async def test_a_crash_between_ledger_and_workspace_is_repaired_on_open(
    ws_location: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "campaign.sqlite"
    with SandboxThread(
        seed=3, latency=(0.005, 0.02), delivery_delay=(0.0, 0.0), reply_rate=0.0
    ) as sb:
        creds: Credentials = sb.credentials
        env = {
            "ITNIO_API_KEY": creds.api_key, "ITNIO_API_SECRET": creds.api_secret,
            "ITNIO_APP_ID": creds.app_id, "ITNIO_BASE_URL": creds.base_url,
            "PYTHONPATH": str(TESTS.parent),
        }  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, str(WORKER), "send", ws_location, str(ledger), "5000"],
            stdout=subprocess.PIPE, text=True, cwd=TESTS.parent, env={**os.environ, **env},
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("requests ") and int(line.split()[1]) >= 2:
                    os.kill(proc.pid, signal.SIGKILL)  # between the ledger and the workspace
                    break
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        accepted = sum(sb.number_counts().values())
    assert accepted >= 2000
    with WorkspaceNoRepair(ws_location) as raw:  # registered before sending, not recorded
        assert raw.campaigns()["sent"].tolist() == [0]
    with Workspace(ws_location) as ws:  # opening repairs it from the ledger
        assert ws.repair_notes == []
        killed = load_campaign(ledger)
        expected = int(killed.frame["state"].isin(["submitted", "unknown"]).sum())
        assert expected >= accepted
        assert ws.campaigns()["sent"].tolist() == [
            int((killed.frame["state"] == "submitted").sum())
        ]
        assert len(ws.history(numbers(1)[0])) == 1


async def test_a_delivery_refresh_of_the_ledger_reaches_the_workspace_on_open(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    ledger = tmp_path / "campaign.sqlite"
    with Workspace(ws_location) as ws:
        await send_campaign(plan_of(3, ws), client, ledger=ledger, progress=False)
        assert set(ws.history(numbers(3)[0])["state"]) == {"submitted"}
    sb.settle_all()
    await refresh_delivery(ledger, client)  # kept in the ledger only
    with Workspace(ws_location) as ws:
        states = {ws.history(n)["state"].iloc[0] for n in numbers(3)}
        assert states <= {"delivered", "undelivered"}
        assert ws.stale_ledgers() == []


class _FakeTime:
    """The trial's wait on a clock the test owns (sleep advances it at once)."""

    def __init__(self) -> None:
        import time

        self.now = time.time()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_a_trial_campaign_rechecks_trial_and_rest(
    ws_location: str, sb: Sandbox, client: AsyncClient, tmp_path: Path
) -> None:
    from itnio_campaign.ledger import Ledger
    from itnio_campaign.trial import trial_positions
    from itnio_campaign.trial_store import load_trial

    ws = Workspace(ws_location)
    plan = plan_of(400, ws)
    in_trial = trial_positions(plan, 0.05)
    rest = sorted(set(range(400)) - set(in_trial))
    out = [numbers(400)[in_trial[0]], numbers(400)[rest[-1]]]
    ws.add_optouts(out, source="reply")  # after planning
    fake = _FakeTime()
    ledger = tmp_path / "campaign.sqlite"
    result = await send_campaign(
        plan, client, ledger=ledger, trial=0.05, clock=fake.clock, sleep=fake.sleep,
        progress=False,
    )  # fmt: skip
    assert result.status == "completed", result.halt_reason
    # the trial (20 planned, 1 opted out) went first and was judged; the rest then
    counts = result.summary().counts
    assert counts == {"skipped_opted_out": 2, "delivered": 19, "submitted": 379}, counts
    assert all(sb.times_accepted(n) == 0 for n in out)
    assert max(sb.number_counts().values()) == 1
    with Ledger.open(ledger, create=False, readonly=True) as opened:
        record = load_trial(opened)
    assert record is not None and in_trial[0] not in record.positions
    assert len(record.positions) == len(in_trial) - 1
    assert record.decision is not None and record.decision["passed"] is True


async def test_a_plan_made_inside_a_with_block_is_checked_after_it(
    tmp_path: Path, sb: Sandbox, client: AsyncClient
) -> None:
    location = str(tmp_path / "ws.sqlite")
    with Workspace(location) as ws:
        plan = plan_of(2, ws)
    Workspace(location).add_optouts(numbers(2)[1], source="crm-export")
    result = await send_campaign(plan, client, progress=False)  # the workspace is reopened
    assert result.frame["state"].tolist() == ["submitted", "skipped_opted_out"]
    assert sb.times_accepted(numbers(2)[1]) == 0
