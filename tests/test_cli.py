"""The ``itnio-campaign`` command, run as a real subprocess against a loopback sandbox."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from itnio_campaign.sandbox import DEMO_API_KEY, DEMO_API_SECRET, SandboxThread

CLI = [sys.executable, "-m", "itnio_campaign.cli"]
CONTENT = "Hi {first_name}, 20% off at {store} this weekend"
SUBCOMMANDS = (
    "demo", "plan", "send", "resume", "reconcile", "delivery", "replies", "balance", "report",
)  # fmt: skip


def contacts(n: int, start: int = 0) -> pd.DataFrame:
    """``n`` valid Indian mobile numbers written the way people type them."""
    return pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(start, start + n)],
            "first_name": [f"Name{i}" for i in range(n)],
            "store": ["Pune Central"] * n,
        }
    )


def api_number(i: int) -> str:
    return f"9198{i:08d}"


def number_counts(sb: SandboxThread) -> Counter[str]:
    """How many times the sandbox accepted each phone number."""
    return Counter(m.number for m in sb.accepted)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ITNIO_")}
    env.update(extra)
    return env


def sandbox_env(sb: SandboxThread) -> dict[str, str]:
    return clean_env(
        ITNIO_BASE_URL=sb.credentials.base_url,
        ITNIO_API_KEY=DEMO_API_KEY,
        ITNIO_API_SECRET=DEMO_API_SECRET,
        ITNIO_APP_ID=sb.credentials.app_id,
    )


def run(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=cwd,
        env=env or clean_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll a condition on real state (not a sleep standing in for synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


# -- help and usage ---------------------------------------------------------------------------
def test_every_subcommand_help_has_an_example(tmp_path: Path) -> None:
    top = run(["--help"], tmp_path)
    assert top.returncode == 0
    assert "itnio-campaign demo" in top.stdout
    for name in SUBCOMMANDS:
        proc = run([name, "--help"], tmp_path)
        assert proc.returncode == 0, name
        assert f"example:\n  itnio-campaign {name}" in proc.stdout, name


def test_sandbox_help_is_the_sandbox_servers(tmp_path: Path) -> None:
    proc = run(["sandbox", "--help"], tmp_path)
    assert proc.returncode == 0
    assert "--latency" in proc.stdout


@pytest.mark.parametrize(
    "args",
    [[], ["plan"], ["send"], ["plan", "x.csv", "--bogus"], ["send", "x.csv", "--concurrency", "0"]],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    proc = run(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    no_traceback(proc)


def test_missing_content_is_a_usage_error(tmp_path: Path, csv_file: Path) -> None:
    proc = run(["plan", str(csv_file)], tmp_path)
    assert proc.returncode == 2
    assert "--content" in proc.stderr
    no_traceback(proc)


# -- plan (dry run) ---------------------------------------------------------------------------
def test_plan_csv_prints_the_dry_run(tmp_path: Path, csv_file: Path) -> None:
    proc = run(["plan", str(csv_file), "--content", CONTENT], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"ready\s+2,500", proc.stdout), proc.stdout


def test_plan_reads_xlsx_and_parquet_numbers_as_text(tmp_path: Path) -> None:
    # A phone column stored as numbers (how Excel keeps it) must not become 9.19e+11.
    df = pd.DataFrame({"number": [919812345670, 919812345671], "first_name": ["A", "B"],
                       "store": ["X", "Y"]})  # fmt: skip
    xlsx, parquet = tmp_path / "c.xlsx", tmp_path / "c.parquet"
    df.to_excel(xlsx, index=False)
    df.to_parquet(parquet)
    for path in (xlsx, parquet):
        proc = run(["plan", str(path), "--content", CONTENT, "--show"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert re.search(r"ready\s+2\b", proc.stdout), proc.stdout
        assert "919812345670" in proc.stdout


def test_plan_suppress_file(tmp_path: Path, csv_file: Path) -> None:
    stop = tmp_path / "stop.txt"
    stop.write_text("+91 9800000000\n919800000001\n")
    proc = run(["plan", str(csv_file), "--content", CONTENT, "--suppress", str(stop)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"ready\s+2,498", proc.stdout), proc.stdout


@pytest.mark.parametrize(
    ("name", "body", "needle"),
    [
        ("missing.csv", None, "no such file"),
        ("contacts.docx", b"whatever", "unsupported file type"),
        ("broken.xlsx", b"not a zip", "cannot read"),
        ("nophone.csv", b"name,city\nA,B\n", "--number-col"),
    ],
)
def test_bad_input_file_exits_1_with_a_hint(
    tmp_path: Path, name: str, body: bytes | None, needle: str
) -> None:
    path = tmp_path / name
    if body is not None:
        path.write_bytes(body)
    proc = run(["plan", str(path), "--content", "Hi"], tmp_path)
    assert proc.returncode == 1
    assert needle in proc.stderr
    assert proc.stderr.startswith("error: ")
    no_traceback(proc)


def test_unknown_placeholder_is_an_input_error(tmp_path: Path, csv_file: Path) -> None:
    proc = run(["plan", str(csv_file), "--content", "Hi {nope}"], tmp_path)
    assert proc.returncode == 1
    assert "nope" in proc.stderr
    no_traceback(proc)


# -- credentials --------------------------------------------------------------------------------
def test_send_without_credentials_exits_1_and_names_the_variables(
    tmp_path: Path, csv_file: Path
) -> None:
    proc = run(["send", str(csv_file), "--content", CONTENT, "--yes"], tmp_path)
    assert proc.returncode == 1
    assert "ITNIO_API_KEY" in proc.stderr
    no_traceback(proc)


def test_balance(tmp_path: Path, sandbox: SandboxThread) -> None:
    sandbox.balance = "123.45"
    proc = run(["balance"], tmp_path, sandbox_env(sandbox))
    assert proc.returncode == 0, proc.stderr
    assert "balance 123.45" in proc.stdout
    assert DEMO_API_SECRET not in proc.stdout + proc.stderr


# -- send -------------------------------------------------------------------------------------
def test_send_refuses_without_yes_when_stdin_is_not_a_tty(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    proc = run(["send", str(csv_file), "--content", CONTENT], tmp_path, sandbox_env(sandbox))
    assert proc.returncode == 2
    assert "--yes" in proc.stderr
    assert sum(sandbox.accept_counts().values()) == 0
    assert not (tmp_path / "contacts.csv.campaign.sqlite").exists()


def test_send_yes_sends_each_number_once_and_writes_ledger_and_report(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    report = tmp_path / "out.xlsx"
    args = ["send", str(csv_file), "--content", CONTENT, "--yes", "--report", str(report)]
    proc = run(args, tmp_path, sandbox_env(sandbox))
    assert proc.returncode == 0, proc.stderr
    counts = number_counts(sandbox)
    assert set(counts) == {api_number(i) for i in range(2500)}
    assert set(counts.values()) == {1}
    assert set(sandbox.accept_counts().values()) == {1}  # by orderId too
    assert (tmp_path / "contacts.csv.campaign.sqlite").is_file()
    assert report.is_file()
    assert re.search(r"submitted\s+2,500", proc.stdout), proc.stdout

    # The ledger serves the offline report and the delivery command afterwards.
    ledger = str(tmp_path / "contacts.csv.campaign.sqlite")
    again = run(["report", ledger, "--report", str(tmp_path / "again.xlsx")], tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.xlsx").is_file()
    sandbox.settle_all()
    delivery = run(["delivery", ledger], tmp_path, sandbox_env(sandbox))
    assert delivery.returncode == 0, delivery.stderr
    assert "submitted" not in delivery.stdout.split("requests")[0]
    assert re.search(r"delivered\s+\d", delivery.stdout), delivery.stdout


def test_send_halted_by_the_provider_exits_3_with_the_resume_command(
    tmp_path: Path, csv_file: Path
) -> None:
    with SandboxThread(seed=1, balance="0") as sb:  # -10 balance insufficient: fatal
        proc = run(["send", str(csv_file), "--content", CONTENT, "--yes"], tmp_path,
                   sandbox_env(sb))  # fmt: skip
        assert sum(sb.accept_counts().values()) == 0
    assert proc.returncode == 3, proc.stderr
    assert "balance insufficient" in proc.stderr
    assert "itnio-campaign resume" in proc.stderr
    no_traceback(proc)


@pytest.mark.slow
def test_sigint_stops_cleanly_then_resume_completes_without_duplicates(
    tmp_path: Path, csv_file: Path
) -> None:
    # One request at a time; the third is held in the sandbox until the stop is in effect,
    # so the SIGINT provably lands while requests remain, however busy the machine is.
    with SandboxThread(seed=1, reply_rate=0.0) as sb:
        env = sandbox_env(sb)
        args = ["send", str(csv_file), "--content", CONTENT, "--yes", "--concurrency", "1",
                "--no-progress"]  # fmt: skip
        contacts(20_000).to_csv(csv_file, index=False)
        sb.hold_sends(after=2)
        proc = subprocess.Popen(
            [*CLI, *args], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        wait_for(lambda: sb.held == 1)
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        for line in proc.stderr:  # printed once the stop flag is set
            if "stopping: no new requests" in line:
                break
        sb.release_sends()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 4, err
        ledger = tmp_path / "contacts.csv.campaign.sqlite"
        assert f"itnio-campaign resume {ledger}" in err
        sent_before = sum(sb.accept_counts().values())
        assert sent_before == 3000  # two answered, the held one finished, nothing new

        resumed = run(["resume", str(ledger), "--no-progress", "--concurrency", "8"], tmp_path,
                      env)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        counts = number_counts(sb)
    assert set(counts) == {api_number(i) for i in range(20_000)}
    assert set(counts.values()) == {1}


@pytest.mark.slow
def test_sigkill_mid_send_then_resume_sends_nobody_twice(tmp_path: Path) -> None:
    csv_file = tmp_path / "contacts.csv"
    contacts(20_000).to_csv(csv_file, index=False)
    with SandboxThread(seed=2, latency=0.1, reply_rate=0.0) as sb:
        env = sandbox_env(sb)
        proc = subprocess.Popen(
            [*CLI, "send", str(csv_file), "--content", CONTENT, "--yes", "--concurrency", "2",
             "--no-progress"],
            cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: sum(sb.accept_counts().values()) >= 3000)
        proc.kill()
        proc.wait(timeout=10)
        ledger = tmp_path / "contacts.csv.campaign.sqlite"
        status = run(["report", str(ledger), "--report", str(tmp_path / "r.xlsx")], tmp_path)
        assert status.returncode == 0, status.stderr
        assert "stopped" in status.stdout

        resumed = run(["resume", str(csv_file), "--no-progress"], tmp_path, env)
        counts = number_counts(sb)
    # Requests in flight at the kill are unknown: not done, so exit 4 with the reconcile line.
    assert resumed.returncode == 4, resumed.stderr
    assert "itnio-campaign reconcile" in resumed.stderr
    assert set(counts.values()) == {1}  # nobody twice
    # Everyone but the requests in flight at the kill (now "unknown", never resent) got it.
    unknown = re.search(r"unknown\s+([\d,]+)", resumed.stdout)
    n_unknown = int(unknown.group(1).replace(",", "")) if unknown else 0
    assert n_unknown <= 2 * 1000
    assert len(counts) >= 20_000 - n_unknown


# -- demo ---------------------------------------------------------------------------------------
def summary_sheet(path: Path) -> dict[str, object]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True)
                if row and row[0] is not None and len(row) > 1}  # fmt: skip
    finally:
        wb.close()


def recipient_states(path: Path) -> Counter[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = wb["Recipients"].iter_rows(values_only=True)
        header = list(next(rows))
        col = header.index("state")
        return Counter(str(r[col]) for r in rows)
    finally:
        wb.close()


def printed_counts(stdout: str) -> dict[str, int]:
    """The state counts of the last summary table the command printed."""
    block = stdout[stdout.rindex("status") :]
    return {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^  (\w+)\s+([\d,]+)$",
                                                                 block, re.M)}  # fmt: skip


def test_demo_end_to_end_writes_a_report_matching_its_summary(tmp_path: Path) -> None:
    report = tmp_path / "demo.xlsx"
    proc = run(["demo", "--report", str(report), "--no-progress"], tmp_path, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert report.is_file()
    assert str(report) in proc.stdout
    printed = printed_counts(proc.stdout)
    states = recipient_states(report)
    assert dict(states) == printed
    summary = summary_sheet(report)
    assert summary["Rows"] == sum(printed.values())
    assert summary["Delivered"] == printed.get("delivered", 0)
    assert summary["Undelivered"] == printed.get("undelivered", 0)
    assert summary["Status"] == "completed"
    # Delivery was waited for: nothing left merely submitted.
    assert printed.get("delivered", 0) > 0
    assert printed.get("submitted", 0) == 0


def test_demo_refuses_a_report_that_is_not_xlsx(tmp_path: Path) -> None:
    proc = run(["demo", "--report", "demo.csv"], tmp_path)
    assert proc.returncode == 2
    assert ".xlsx" in proc.stderr
