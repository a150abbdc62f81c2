"""Regressions of the adversarial review (issue 11) at the command line: exit codes that tell
the truth, options that reach the send, one clear line instead of a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from test_cli import (
    CONTENT,
    clean_env,
    no_traceback,
    number_counts,
    run,
    sandbox_env,
)

from itnio_campaign.recovery import load_campaign
from itnio_campaign.sandbox import SandboxThread


def test_a_run_with_unknown_recipients_exits_4_with_the_reconcile_line(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    sandbox.inject("sendSms/batch", "drop_after_accept")  # the first answer is lost
    proc = run(["send", str(csv_file), "--content", CONTENT, "--yes", "--no-progress"],
               tmp_path, sandbox_env(sandbox))  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    assert "incomplete" in proc.stderr
    assert "itnio-campaign reconcile" in proc.stderr
    no_traceback(proc)


def test_resume_passes_request_rate_and_the_other_send_options_on(
    tmp_path: Path, csv_file: Path
) -> None:
    with SandboxThread(seed=1, balance="0", reply_rate=0.0) as sb:
        sent = run(["send", str(csv_file), "--content", CONTENT, "--yes"], tmp_path,
                   sandbox_env(sb))  # fmt: skip
        assert sent.returncode == 3, sent.stderr
        sb.balance = "1000"
        ledger = tmp_path / "contacts.csv.campaign.sqlite"
        resumed = run(
            ["resume", str(ledger), "--request-rate", "50", "--concurrency", "2",
             "--max-failed-batches", "7", "--no-progress"],
            tmp_path, sandbox_env(sb),
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert set(number_counts(sb).values()) == {1}
    settings = load_campaign(ledger).settings
    assert settings["request_rate"] == 50.0
    assert settings["concurrency"] == 2
    assert settings["max_failed_batches"] == 7


def test_sending_the_same_file_again_never_sends_twice_without_send_again(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    env = sandbox_env(sandbox)
    send = ["send", str(csv_file), "--content", CONTENT, "--yes", "--no-progress"]
    assert run(send, tmp_path, env).returncode == 0
    again = run(send, tmp_path, env)  # the same ledger: continues, nothing left
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stdout
    other = run([*send, "--ledger", str(tmp_path / "other.sqlite")], tmp_path, env)
    assert other.returncode == 1 and "already sent from the ledger" in other.stderr
    no_traceback(other)
    assert set(number_counts(sandbox).values()) == {1}
    everyone = run([*send, "--send-again"], tmp_path, env)
    assert everyone.returncode == 0, everyone.stderr
    assert "contacts.csv.campaign-2.sqlite" in everyone.stdout
    assert set(number_counts(sandbox).values()) == {2}


def test_a_report_that_cannot_be_written_keeps_the_outcome_and_says_how_to_retry(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    report = tmp_path / "r.xlsx"
    report.mkdir()  # a folder where the file should go: the report cannot be written
    proc = run(["send", str(csv_file), "--content", CONTENT, "--yes", "--no-progress",
                "--report", str(report)], tmp_path, sandbox_env(sandbox))  # fmt: skip
    assert proc.returncode == 1
    assert "submitted" in proc.stdout  # the campaign's outcome was printed first
    assert "could not be written" in proc.stderr
    assert "itnio-campaign report" in proc.stderr
    no_traceback(proc)
    assert set(number_counts(sandbox).values()) == {1}


def test_content_file_that_is_not_utf8_is_one_clear_line(tmp_path: Path, csv_file: Path) -> None:
    message = tmp_path / "message.txt"
    message.write_bytes("Café olé {first_name}".encode("latin-1"))
    proc = run(["plan", str(csv_file), "--content-file", str(message)], tmp_path)
    assert proc.returncode == 1
    assert "not UTF-8" in proc.stderr and "message.txt" in proc.stderr
    no_traceback(proc)


def test_a_plain_http_base_url_is_refused_without_a_credentials_hint(
    tmp_path: Path, csv_file: Path
) -> None:
    env = clean_env(ITNIO_API_KEY="k" * 16, ITNIO_API_SECRET="s" * 16, ITNIO_APP_ID="app")
    proc = run(["balance", "--base-url", "http://example.com/sms"], tmp_path, env)
    assert proc.returncode == 1
    assert "refusing plain http" in proc.stderr
    assert "ITNIO_API_KEY" not in proc.stderr  # the problem is the URL, not missing credentials
    no_traceback(proc)


def test_resume_of_a_read_only_ledger_copy_is_a_clear_line(tmp_path: Path, csv_file: Path) -> None:
    not_a_ledger = tmp_path / "x.sqlite"
    pd.DataFrame({"a": [1]}).to_csv(not_a_ledger)
    proc = run(["resume", str(not_a_ledger)], tmp_path, clean_env())
    assert proc.returncode == 1
    assert "x.sqlite" in proc.stderr
    no_traceback(proc)


def test_demo_runs_twice_in_one_folder(tmp_path: Path) -> None:
    # Without a workspace: the same story twice (with one, the second run skips the first
    # run's STOPs: test_cli_workspace.py).
    outcomes = []
    for _ in range(2):
        proc = run(["demo", "--no-progress", "--no-workspace"], tmp_path, timeout=180)
        assert proc.returncode == 0, proc.stderr
        outcomes.append([ln for ln in proc.stdout.splitlines() if ln.startswith("  ")][:12])
    assert outcomes[0] == outcomes[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign_report.xlsx"]


def test_plan_reads_a_cp1252_csv_with_trailing_commas_and_says_how(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    rows = "".join(f"+91 98{i:08d},Zoë{i},Café,\n" for i in range(5))
    path.write_bytes(("phone,first_name,store,\n" + rows).encode("cp1252"))
    proc = run(["plan", str(path), "--content", CONTENT, "--show", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "read as cp1252" in proc.stdout
    assert "Hi Zoë0, 20% off at Café" in proc.stdout
    assert re.search(r"ready\s+5", proc.stdout), proc.stdout


def test_plan_reads_the_sheet_and_header_row_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="Info", index=False)
        frame = pd.DataFrame([["Customer list", None], ["phone", "first_name"]]
                             + [[f"+91 98{i:08d}", f"N{i}"] for i in range(4)])  # fmt: skip
        frame.to_excel(writer, sheet_name="Contacts", index=False, header=False)
    args = ["plan", str(path), "--content", "Hi {first_name}", "--number-col", "phone"]
    wrong = run(args, tmp_path)
    assert wrong.returncode == 1 and "no column 'phone'" in wrong.stderr
    by_name = run([*args, "--sheet", "Contacts", "--header-row", "2"], tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    assert re.search(r"ready\s+4", by_name.stdout), by_name.stdout
    by_number = run([*args, "--sheet", "2", "--header-row", "2"], tmp_path)
    assert by_number.returncode == 0 and by_number.stdout == by_name.stdout
    unknown = run([*args, "--sheet", "Nope"], tmp_path)
    assert unknown.returncode == 1 and "'Contacts'" in unknown.stderr
    no_traceback(unknown)


def test_suppression_that_suppresses_nothing_is_an_input_error(
    tmp_path: Path, csv_file: Path
) -> None:
    (tmp_path / "somedir").mkdir()
    plan = ["plan", str(csv_file), "--content", CONTENT]
    for bad in ("opt_outs_2024", str(tmp_path / "somedir"), "919800000001;oops"):
        proc = run([*plan, "--suppress", bad], tmp_path)
        assert proc.returncode == 1, (bad, proc.stdout)
        assert proc.stderr.startswith("error: ") and "--suppress" in proc.stderr
        no_traceback(proc)
    both = run([*plan, "--suppress", "+91 9800000001;+91 9800000002"], tmp_path)
    assert both.returncode == 0, both.stderr
    assert re.search(r"suppression\s+2 entries read, 2 valid numbers, removed 2 rows",
                     both.stdout), both.stdout  # fmt: skip


def test_a_parquet_with_a_bytes_column_sends_and_reports(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    path = tmp_path / "contacts.parquet"
    pd.DataFrame({
        "phone": ["+91 9800000001", "+91 9800000002"],
        "blob": [b"\xff\xfe raw", b"caf\xc3\xa9"],
    }).to_parquet(path)  # fmt: skip
    report = tmp_path / "r.xlsx"
    proc = run(["send", str(path), "--content", "Hello", "--yes", "--no-progress",
                "--report", str(report)], tmp_path, sandbox_env(sandbox))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert report.is_file()
    ledger = tmp_path / "contacts.parquet.campaign.sqlite"
    again = run(["report", str(ledger), "--report", str(tmp_path / "again.xlsx")], tmp_path)
    assert again.returncode == 0, again.stderr
    no_traceback(again)
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "again.xlsx")["Recipients"]
    header = [c.value for c in sheet[1]]
    blobs = [r[header.index("blob")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert blobs[1] == "café" and "raw" in blobs[0]
    assert set(number_counts(sandbox).values()) == {1}


@pytest.mark.slow
def test_every_help_example_runs_as_shown(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    """Each subcommand's ``--help`` example, copied as a user would (``--yes`` added to
    ``send``, which refuses to ask without a terminal), works against the sandbox."""
    import shlex

    (tmp_path / "message.txt").write_text("Hi {first_name}, 20% off at {store}", "utf-8")
    env = sandbox_env(sandbox)
    for name in ("plan", "send", "resume", "reconcile", "delivery", "replies", "balance",
                 "report"):  # fmt: skip
        helptext = run([name, "--help"], tmp_path).stdout
        example = helptext.split("example:\n", 1)[1].splitlines()[0].strip()
        argv = shlex.split(example)[1:] + (["--yes"] if name == "send" else [])
        proc = run(argv, tmp_path, env)
        assert proc.returncode == 0, (example, proc.stdout[-500:], proc.stderr)
        no_traceback(proc)
        assert "%%" not in helptext  # argparse shows descriptions as written
    assert set(number_counts(sandbox).values()) == {1}
