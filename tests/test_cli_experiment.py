"""Experiments from the command line: the demo's A/B test with a holdout, and the
``--variant``/``--holdout`` flags of plan and send, run as real subprocesses."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd
from test_cli import CONTENT, api_number, contacts, number_counts, run, sandbox_env

from itnio_campaign.sandbox import SandboxThread

B = "B=Hello {first_name}, your code for {store} is inside"


def by_variant_lines(stdout: str) -> dict[str, list[str]]:
    """The demo's/send's "Results by variant" table: variant -> its printed fields."""
    block = stdout[stdout.index("Results by variant") :].splitlines()[2:]
    rows = {}
    for line in block:
        fields = line.split()
        if not fields or fields[0] not in ("A", "B", "holdout"):
            break
        rows[fields[0]] = fields[1:]
    return rows


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_demo_plans_two_variants_with_a_holdout_and_prints_them(tmp_path: Path) -> None:
    report = tmp_path / "demo.xlsx"
    proc = run(["demo", "--report", str(report), "--no-progress"], tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    dry_run = out[out.index("Sending with smart encoding") :]
    # The dry run: each variant's SMS, segments and cost; the holdout; the detectable lift.
    to_send = {
        m[1]: number(m[2])
        for m in re.finditer(r"variant (A|B)\s+([\d,]+) to send, [\d,]+ seg", dry_run)
    }
    assert set(to_send) == {"A", "B"} and abs(to_send["A"] - to_send["B"]) <= 4
    holdout = number(re.search(r"holdout\s+([\d,]+) \(never sent\)", dry_run)[1])  # type: ignore[index]
    assert holdout == number(re.search(r"skipped_holdout\s+([\d,]+)", dry_run)[1])  # type: ignore[index]
    assert re.search(r"smallest detectable lift, A\s+\+\d", dry_run)
    # After sending: results by variant add up to what was sent, and the holdout got nothing.
    rows = by_variant_lines(out)
    assert set(rows) == {"A", "B", "holdout"}
    final = out[out.rindex("status") :]
    settled = sum(number(re.search(rf"{s}\s+([\d,]+)", final)[1])  # type: ignore[index]
                  for s in ("delivered", "undelivered"))  # fmt: skip
    assert number(rows["A"][0]) + number(rows["B"][0]) == settled
    assert number(rows["A"][0]) == to_send["A"] and number(rows["B"][0]) == to_send["B"]
    assert rows["holdout"][:2] == ["0", "0"]
    wb = openpyxl.load_workbook(report)
    assert "Experiment" in wb.sheetnames and len(wb["Experiment"]._charts) == 1


def test_plan_with_variant_and_holdout_flags_shows_the_experiment(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    contacts(200).to_csv(path, index=False)
    args = ["plan", str(path), "--content", CONTENT, "--variant", B, "--holdout", "20%"]
    first = run([*args, "--split-seed", "3"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert re.search(r"skipped_holdout\s+40\b", first.stdout)
    assert re.search(r"variant A\s+80 to send", first.stdout)
    assert re.search(r"variant B\s+80 to send", first.stdout)
    assert "seed 3" in first.stdout
    again = run([*args, "--split-seed", "3"], tmp_path)
    assert again.stdout == first.stdout  # the same seed, the same split


def test_bad_experiment_flags_are_one_line_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    contacts(10).to_csv(path, index=False)
    for flags, words in (
        (["--variant", "B"], "NAME=TEXT"),
        (["--variant", "A=again"], "given twice"),
        (["--holdout", "150%"], "--holdout takes a share"),
    ):
        proc = run(["plan", str(path), "--content", CONTENT, *flags], tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr and "Traceback" not in proc.stderr


def test_send_with_a_holdout_never_sends_to_it_and_prints_by_variant(
    sandbox: SandboxThread, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    contacts(100).to_csv(path, index=False)
    proc = run(
        ["send", str(path), "--content", CONTENT, "--variant", B, "--holdout", "10%", "--yes",
         "--no-progress", "--ledger", str(tmp_path / "x.sqlite")],
        tmp_path, sandbox_env(sandbox),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = by_variant_lines(proc.stdout)
    assert number(rows["A"][0]) + number(rows["B"][0]) == 90 and rows["holdout"][0] == "0"
    sent = number_counts(sandbox)
    assert len(sent) == 90 and set(sent.values()) == {1}
    assert {api_number(i) for i in range(100)} >= set(sent)
    plan_rows = pd.read_csv(path)
    assert len(plan_rows) - len(sent) == 10
