"""Whole campaigns end to end: plan → send_campaign / run_campaign → result, against the sandbox."""

from __future__ import annotations

import threading
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.models import PENDING, REJECTED, SUBMITTED
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import ProgressEvent, Stopper, run_campaign, send_campaign
from itnio_campaign.sandbox import Sandbox, SandboxThread

STORES = ["Andheri", "Bandra", "Colaba", "Dadar"]


def contacts(n: int, seed: int = 0) -> pd.DataFrame:
    """A messy list: personalised names, a few bad numbers, duplicates, a missing name."""
    rng = np.random.default_rng(seed)
    phones = [f"+91 98{i:08d}" for i in range(n)]
    df = pd.DataFrame(
        {
            "phone": phones,
            "first_name": [f"Name{i % 997}" for i in range(n)],
            "store": rng.choice(STORES, n),
        },
        index=pd.RangeIndex(10, 10 + n),
    )
    df.loc[df.index[::500], "phone"] = "12345"  # invalid: skipped at plan time
    df.loc[df.index[1::700], "phone"] = df["phone"].iloc[0]  # duplicates of row 0
    df.loc[df.index[3], "first_name"] = None  # missing field: skipped
    return df


@pytest.mark.slow
async def test_personalised_20k_campaign_with_partial_failures() -> None:
    df = contacts(20_000)
    before = df.copy(deep=True)
    # Numbers whose prefix the sandbox treats as invalid are refused one by one.
    async with (
        Sandbox(seed=5, invalid_prefixes=("919800000",), reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        plan = plan_campaign(df, "phone", "Hi {first_name}, 20% off today at {store}!")
        ready = plan.recipients["state"] == "ready"
        events: list[ProgressEvent] = []
        result = await send_campaign(plan, client, concurrency=8, progress=False,
                                     on_progress=events.append)  # fmt: skip
        out = result.frame
        pd.testing.assert_frame_equal(df, before)
        assert list(out.index) == list(df.index)
        assert list(out.columns[:3]) == ["phone", "first_name", "store"]
        # every ready row was attempted exactly once; no skipped row was sent
        counts = sb.accept_counts()
        sent_ids = set(plan.recipients.loc[ready, "order_id"])
        assert set(counts) <= sent_ids and max(counts.values()) == 1
        refused = out["number"].str.startswith("919800000") & ready
        assert (out.loc[refused, "state"] == REJECTED).all()
        assert (out.loc[ready & ~refused, "state"] == SUBMITTED).all()
        assert len(counts) == int((ready & ~refused).sum())
        assert not (out.loc[~ready, "state"].isin([SUBMITTED, REJECTED])).any()
        summary = result.summary()
        assert sum(summary.counts.values()) == len(df)
        assert summary.requests == len(plan.batches) and result.status == "completed"
        assert events[-1].done == int(ready.sum())


async def test_fatal_mid_campaign_halts_with_reason() -> None:
    df = contacts(3000)
    async with (
        Sandbox(seed=1, reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        plan = plan_campaign(df, "phone", "Sale today at {store}")
        sb.inject("sendSms/batch", "none", "api_-10")
        result = await send_campaign(plan, client, concurrency=1, progress=False)
        assert result.status == "halted" and "balance" in (result.halt_reason or "")
        assert "halted" in str(result.summary())
        states = result.frame["state"]
        assert (states == PENDING).sum() > 0
        assert len(sb.requests) == 2


async def test_stop_from_the_progress_callback() -> None:
    df = contacts(3000)
    async with (
        Sandbox(seed=1, reply_rate=0.0) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        plan = plan_campaign(df, "phone", "Hi {first_name}")
        stopper = Stopper()  # what result.stop() / a Stop button sets

        result = await send_campaign(
            plan, client, concurrency=1, progress=False,
            on_progress=lambda event: stopper.stop(), stopper=stopper,
        )  # fmt: skip
        assert result.status == "stopped"
        assert len(sb.requests) == 1 and (result.frame["state"] == PENDING).any()
        assert "stopped" in str(result.summary())


def test_run_campaign_from_a_script() -> None:
    with SandboxThread(seed=2, reply_rate=0.0) as sbt:
        plan = plan_campaign(contacts(1200), "phone", "Hello from {store}")
        result = run_campaign(plan, sbt.credentials, progress=False, settings=FAST_SETTINGS)
        assert result.status == "completed"
        assert (
            sum(sbt.sandbox.accept_counts().values()) == (result.frame["state"] == SUBMITTED).sum()
        )


async def test_run_campaign_inside_a_running_loop_like_jupyter() -> None:
    threads_before = threading.active_count()
    with SandboxThread(seed=3, reply_rate=0.0) as sbt:
        plan = plan_campaign(contacts(1500), "phone", "Hello {first_name}")
        # This test body runs inside an event loop, as a notebook cell does.
        result = run_campaign(plan, sbt.credentials, progress=False, settings=FAST_SETTINGS)
        assert result.status == "completed"
        assert max(sbt.sandbox.accept_counts().values()) == 1
    assert threading.active_count() == threads_before


async def test_real_result_exports_to_excel(tmp_path) -> None:
    from openpyxl import load_workbook

    df = contacts(1200)
    df.loc[df.index[5], "first_name"] = '=HYPERLINK("http://x","y")'
    async with (
        Sandbox(seed=4, reply_rate=0.0, invalid_prefixes=("9198000001",)) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        plan = plan_campaign(df, "phone", "Hi {first_name}")
        result = await send_campaign(plan, client, progress=False)
    path = result.to_excel(tmp_path / "report.xlsx")
    book = load_workbook(path)
    recipients = book["Recipients"]
    header = [c.value for c in recipients[1]]
    rows = list(recipients.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(df)
    states = [r[header.index("state")] for r in rows]
    assert states == list(result.frame["state"])
    formula_cell = recipients.cell(row=7, column=header.index("first_name") + 1)
    assert formula_cell.data_type == "s" and formula_cell.value.startswith("=HYPERLINK")
    failures = book["Failures"]
    assert failures.max_row - 1 == int((result.frame["state"] == REJECTED).sum()) > 0
    with zipfile.ZipFile(path) as archive:
        xml = b"".join(archive.read(name) for name in archive.namelist())
    assert sb.credentials.api_secret.encode() not in xml
    assert sb.credentials.api_key.encode() not in xml


_CTRL_C_SCRIPT = """
import sys
import pandas as pd
from itnio_campaign import plan_campaign, run_campaign
from itnio_campaign.sandbox import SandboxThread

def on_progress(event):
    print("progress", event.done, flush=True)
    if event.done == 2000:  # hold the sender until the test has seen the stop take effect
        sys.stdin.readline()

with SandboxThread(reply_rate=0.0) as sbt:
    df = pd.DataFrame({"phone": [f"+91 98{i:08d}" for i in range(6000)]})
    plan = plan_campaign(df, "phone", "Hello")  # 6 requests of 1000, one at a time
    result = run_campaign(plan, sbt.credentials, concurrency=1, progress=False,
                          on_progress=on_progress)
    accepted = sum(sbt.sandbox.accept_counts().values())
    state = result.frame["state"]
    print("status", result.status, "submitted", (state == "submitted").sum(),
          "accepted", accepted, "unknown", (state == "unknown").sum(), flush=True)
"""


@pytest.mark.slow
def test_ctrl_c_in_run_campaign_stops_cleanly_with_a_partial_result(tmp_path) -> None:
    """Deterministic on a busy machine: the sender waits after its second request until the
    SIGINT has set the stop flag (run_campaign logs its warning only after setting it)."""
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _CTRL_C_SCRIPT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None
    for line in proc.stdout:  # the second answer is in: press Ctrl-C
        if line.startswith("progress 2000"):
            proc.send_signal(signal.SIGINT)
            break
    for line in proc.stderr:  # the stop flag is set once this line is out
        if "interrupted: no new requests" in line:
            break
    proc.stdin.write("go\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    words = out.split()
    stats = dict(zip(words[::2], words[1::2], strict=False))
    assert stats["status"] == "stopped"
    assert int(stats["unknown"]) == 0  # the request in flight finished and was joined
    assert int(stats["submitted"]) == 2000  # nothing new after the stop
    assert int(stats["submitted"]) == int(stats["accepted"])
