"""The workspace at the command line (issue 13), run as real subprocesses in a temp folder:
``itnio-campaign workspace ...``, the workspace flags of plan/send/demo, and the demo's STOPs
honoured by its next run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pandas as pd
import pytest
from test_cli import CONTENT, clean_env, no_traceback, number_counts, run, sandbox_env

from itnio_campaign.sandbox import SandboxThread
from itnio_campaign.workspace import Workspace

WS_COMMANDS = [
    ["campaigns"], ["history"], ["optouts", "list"], ["optouts", "add"], ["optouts", "remove"],
    ["optouts", "import"], ["optouts", "export"], ["review"], ["keywords"], ["sync"],
]  # fmt: skip


def small_csv(folder: Path, n: int = 5) -> Path:
    path = folder / "contacts.csv"
    pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "first_name": [f"Name{i}" for i in range(n)],
            "store": ["Pune"] * n,
        }
    ).to_csv(path, index=False)
    return path


def excluded(stdout: str) -> tuple[int, int, int]:
    """(opted out, over the cap, already sent) of the last dry run's workspace line."""
    found = re.findall(
        r"([\d,]+) opted out \(workspace\), ([\d,]+) over the frequency cap, ([\d,]+) already "
        r"sent this content",
        stdout,
    )
    assert found, stdout
    a, b, c = (int(g.replace(",", "")) for g in found[-1])
    return a, b, c


# -- help ----------------------------------------------------------------------------------
def test_every_workspace_command_has_help_with_an_example(tmp_path: Path) -> None:
    for words in WS_COMMANDS:
        proc = run(["workspace", *words, "--help"], tmp_path)
        assert proc.returncode == 0, words
        assert f"example:\n  itnio-campaign workspace {' '.join(words)}" in proc.stdout, words
        assert "--workspace LOCATION" in proc.stdout
    for name in ("plan", "send"):
        helptext = run([name, "--help"], tmp_path).stdout
        for flag in ("--workspace", "--no-workspace", "--frequency-cap", "--repeat-guard"):
            assert flag in helptext, (name, flag)
    for name in ("demo", "resume"):
        assert "--no-workspace" in run([name, "--help"], tmp_path).stdout, name


def test_workspace_without_what_is_a_usage_error(tmp_path: Path) -> None:
    for args in (["workspace"], ["workspace", "optouts"]):
        proc = run(args, tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "optouts list" in proc.stderr
        no_traceback(proc)
    assert list(tmp_path.iterdir()) == []  # no workspace created for nothing


# -- opt-outs ------------------------------------------------------------------------------
def test_optouts_add_list_export_remove_one_person_in_any_notation(tmp_path: Path) -> None:
    ws = ["--workspace", str(tmp_path / "team.sqlite")]
    added = run(["workspace", "optouts", "add", "+91 98765 43210", "919876543211;+91 98765 43212",
                 *ws], tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("3 numbers opted out"), added.stdout
    # The same person typed another way is no new opt-out.
    again = run(["workspace", "optouts", "add", "919876543210", *ws], tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("0 numbers"), again.stdout
    listed = run(["workspace", "optouts", "list", *ws], tmp_path)
    assert listed.stdout.startswith("3 opted-out numbers")
    assert "919876543210" in listed.stdout and "manual" in listed.stdout
    csv, txt = tmp_path / "optouts.csv", tmp_path / "optouts.txt"
    assert run(["workspace", "optouts", "export", str(csv), *ws], tmp_path).returncode == 0
    assert run(["workspace", "optouts", "export", str(txt), *ws], tmp_path).returncode == 0
    frame = pd.read_csv(csv, dtype=str)
    assert {"number", "source", "reason", "opted_out_at"} <= set(frame.columns)
    assert sorted(frame["number"]) == ["919876543210", "919876543211", "919876543212"]
    assert sorted(txt.read_text("utf-8").split()) == sorted(frame["number"])
    removed = run(["workspace", "optouts", "remove", "+91 98765 43211", *ws], tmp_path)
    assert removed.returncode == 0 and removed.stdout.startswith("1 number opted back in")
    listed = run(["workspace", "optouts", "list", *ws], tmp_path)
    assert listed.stdout.startswith("2 opted-out numbers") and "919876543211" not in listed.stdout
    bad = run(["workspace", "optouts", "export", str(tmp_path / "o.json"), *ws], tmp_path)
    assert bad.returncode == 2 and ".csv or .txt" in bad.stderr
    no_traceback(bad)


def test_imported_optouts_are_skipped_by_plan_unless_no_workspace(tmp_path: Path) -> None:
    contacts = small_csv(tmp_path)
    (tmp_path / "crm-optouts.csv").write_text("phone\n+91 9800000001\n919800000003\n", "utf-8")
    imported = run(["workspace", "optouts", "import", "crm-optouts.csv", "--source", "crm-export"],
                   tmp_path)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "itnio-workspace.sqlite").is_file()  # the default: in the current folder
    plan = run(["plan", str(contacts), "--content", CONTENT, "--show", "5"], tmp_path)
    assert plan.returncode == 0, plan.stderr
    assert excluded(plan.stdout) == (2, 0, 0)
    assert re.search(r"ready\s+3\b", plan.stdout), plan.stdout
    assert re.search(r"skipped_opted_out \(crm-export\)\s+2\b", plan.stdout), plan.stdout
    without = run(["plan", str(contacts), "--content", CONTENT, "--no-workspace"], tmp_path)
    assert without.returncode == 0, without.stderr
    assert "no workspace: " in without.stdout and "opted out (workspace)" not in without.stdout
    assert re.search(r"ready\s+5\b", without.stdout), without.stdout


def test_optouts_import_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    proc = run(["workspace", "optouts", "import", "nope.csv"], tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("error: no file nope.csv")
    no_traceback(proc)


# -- bad input -----------------------------------------------------------------------------
def test_a_corrupt_workspace_stops_the_send_with_one_clear_line(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    contacts = small_csv(tmp_path)
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"this is not a database\n" * 100)
    proc = run(["send", str(contacts), "--content", CONTENT, "--yes", "--no-progress",
                "--workspace", str(broken)], tmp_path, sandbox_env(sandbox))  # fmt: skip
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.startswith("error: ") and "--no-workspace" in proc.stderr
    no_traceback(proc)
    assert len(sandbox.accepted) == 0  # nothing sent when the workspace cannot be read
    # Saying so explicitly sends without it.
    ok = run(["send", str(contacts), "--content", CONTENT, "--yes", "--no-progress",
              "--no-workspace"], tmp_path, sandbox_env(sandbox))  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert set(number_counts(sandbox).values()) == {1} and len(sandbox.accepted) == 5


@pytest.mark.parametrize(
    "flags",
    [
        ["--no-workspace", "--frequency-cap", "1/24h"],
        ["--no-workspace", "--workspace", "x.sqlite"],
    ],
)
def test_contradicting_workspace_flags_are_usage_errors(tmp_path: Path, flags: list[str]) -> None:
    proc = run(["plan", str(small_csv(tmp_path)), "--content", CONTENT, *flags], tmp_path)
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith("error: ")
    no_traceback(proc)


def test_a_bad_frequency_cap_is_one_line(tmp_path: Path) -> None:
    proc = run(["plan", str(small_csv(tmp_path)), "--content", CONTENT, "--frequency-cap",
                "often"], tmp_path)  # fmt: skip
    assert proc.returncode in (1, 2), proc.stdout
    assert proc.stderr.startswith("error: ") and "often" in proc.stderr
    no_traceback(proc)


# -- send, history, caps, sync -------------------------------------------------------------
def test_a_sent_campaign_is_in_the_history_and_guards_the_next_plans(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    contacts = small_csv(tmp_path)
    env = sandbox_env(sandbox)
    sent = run(["send", str(contacts), "--content", CONTENT, "--yes", "--no-progress"], tmp_path,
               env)  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert excluded(sent.stdout) == (0, 0, 0)
    campaigns = run(["workspace", "campaigns"], tmp_path)
    assert campaigns.returncode == 0 and campaigns.stdout.startswith("1 campaign\n"), campaigns
    history = run(["workspace", "history", "+91 98 0000 0002"], tmp_path)
    assert history.returncode == 0, history.stderr
    assert history.stdout.startswith("1 message to"), history.stdout
    assert (
        "Name2" in history.stdout
        or "submitted" in history.stdout
        or "delivered" in (history.stdout)
    )
    # The same content again: the repeat guard skips everyone, unless turned off.
    again = run(["plan", str(contacts), "--content", CONTENT], tmp_path)
    assert excluded(again.stdout) == (0, 0, 5)
    off = run(["plan", str(contacts), "--content", CONTENT, "--repeat-guard", "off"], tmp_path)
    assert excluded(off.stdout) == (0, 0, 0)
    # Another message within a day: the frequency cap skips them.
    capped = run(["plan", str(contacts), "--content", "Other news, {first_name}",
                  "--frequency-cap", "1/24h"], tmp_path)  # fmt: skip
    assert capped.returncode == 0, capped.stderr
    assert excluded(capped.stdout) == (0, 5, 0)
    assert "1/24h" in capped.stdout or re.search(r"skipped_frequency_cap\s+5", capped.stdout)


def test_sync_applies_stop_and_queues_a_sentence_for_review(
    tmp_path: Path, sandbox: SandboxThread
) -> None:
    env = sandbox_env(sandbox)
    sandbox.add_reply("919800000001", "STOP")
    sandbox.add_reply("919800000002", "please stop sending me this bill")
    synced = run(["workspace", "sync"], tmp_path, env)
    assert synced.returncode == 0, synced.stderr
    assert len(synced.stdout.strip().splitlines()) == 1  # the report is one line
    listed = run(["workspace", "optouts", "list"], tmp_path)
    assert "919800000001" in listed.stdout and "919800000002" not in listed.stdout
    review = run(["workspace", "review"], tmp_path)
    assert review.stdout.startswith("1 reply awaits review"), review.stdout
    assert "please stop sending me this bill" in review.stdout
    with Workspace(tmp_path / "itnio-workspace.sqlite") as ws:
        review_id = ws.optout_review()["id"].iloc[0]
    decided = run(["workspace", "review", "--opt-out", str(review_id)], tmp_path)
    assert decided.returncode == 0, decided.stderr
    assert "0 replies await review" in decided.stdout
    listed = run(["workspace", "optouts", "list"], tmp_path)
    assert "919800000002" in listed.stdout
    # Twice is idempotent: nothing new.
    assert run(["workspace", "sync"], tmp_path, env).returncode == 0
    assert run(["workspace", "optouts", "list"], tmp_path).stdout.startswith("2 opted-out")


def test_sync_without_credentials_is_one_clear_line(tmp_path: Path) -> None:
    proc = run(["workspace", "sync"], tmp_path, clean_env())
    assert proc.returncode == 1 and "ITNIO_API_KEY" in proc.stderr
    no_traceback(proc)


def test_workspace_help_examples_run_as_shown(tmp_path: Path, sandbox: SandboxThread) -> None:
    (tmp_path / "crm-optouts.csv").write_text("phone\n+91 9800000001\n", "utf-8")
    env = sandbox_env(sandbox)
    for words in WS_COMMANDS:
        helptext = run(["workspace", *words, "--help"], tmp_path).stdout
        example = helptext.split("example:\n", 1)[1].splitlines()[0].strip()
        argv = shlex.split(example)[1:]
        proc = run(argv, tmp_path, env)
        if words == ["review"]:  # its example decides replies 12 and 13, which do not exist
            assert proc.returncode == 1 and "12" in proc.stderr, proc.stderr
        else:
            assert proc.returncode == 0, (example, proc.stdout[-500:], proc.stderr)
        no_traceback(proc)


# -- the demo ------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_second_demo_run_excludes_the_first_runs_stops(tmp_path: Path) -> None:
    first = run(["demo", "--no-progress"], tmp_path, timeout=180)
    assert first.returncode == 0, first.stderr
    assert excluded(first.stdout.split("Sending with")[0]) == (0, 0, 0)
    stops = re.search(r"([\d,]+) numbers? (?:is|are) opted out in the workspace", first.stdout)
    assert stops, first.stdout
    n_stops = int(stops[1].replace(",", ""))
    assert n_stops > 0  # the sandbox's replies include STOPs
    with Workspace(tmp_path / "itnio-workspace.sqlite") as ws:  # closed: no -wal left open
        assert ws.review_count() == 1
    second = run(["demo", "--no-progress"], tmp_path, timeout=180)
    assert second.returncode == 0, second.stderr
    dry_run = second.stdout.split("Sending with")[0]
    opted_out = excluded(dry_run)
    assert opted_out[0] >= n_stops and opted_out[1:] == (0, 0)  # a number may be on two rows
    assert re.search(r"already sent this content; \d+ repl(y awaits|ies await) review", dry_run)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["campaign_report.xlsx", "itnio-workspace.sqlite"], names
    # The report of the second run lists the excluded rows with their reasons.
    import openpyxl

    book = openpyxl.load_workbook(tmp_path / "campaign_report.xlsx", read_only=True)
    try:
        rows = list(book["Excluded"].iter_rows(values_only=True))
    finally:
        book.close()
    header = list(rows[0])
    states = {r[header.index("state")] for r in rows[1:]}
    assert states == {"skipped_opted_out"} and len(rows) - 1 == opted_out[0]


def test_demo_with_no_workspace_keeps_nothing(tmp_path: Path) -> None:
    proc = run(["demo", "--no-progress", "--no-workspace"], tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "no workspace: " in proc.stdout and "opted out (workspace)" not in proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign_report.xlsx"]


def test_resume_honours_an_opt_out_recorded_after_the_halt(tmp_path: Path) -> None:
    contacts = small_csv(tmp_path)
    with SandboxThread(seed=1, balance="0", reply_rate=0.0) as sb:
        env = sandbox_env(sb)
        halted = run(["send", str(contacts), "--content", CONTENT, "--yes", "--no-progress"],
                     tmp_path, env)  # fmt: skip
        assert halted.returncode == 3, halted.stderr
        # Meanwhile a colleague records a STOP in the same (default) workspace.
        added = run(["workspace", "optouts", "add", "+91 98 0000 0003"], tmp_path)
        assert added.returncode == 0, added.stderr
        sb.balance = "1000"
        ledger = tmp_path / "contacts.csv.campaign.sqlite"
        both = run(["resume", str(ledger), "--no-workspace", "--workspace", "x.sqlite"],
                   tmp_path, env)  # fmt: skip
        assert both.returncode == 2 and both.stderr.startswith("error: ")
        resumed = run(["resume", str(ledger), "--no-progress"], tmp_path, env)
        assert resumed.returncode == 0, resumed.stderr
        assert set(number_counts(sb)) == {f"9198{i:08d}" for i in (0, 1, 2, 4)}
        assert set(number_counts(sb).values()) == {1}
    assert "skipped_opted_out" in resumed.stdout


def test_keywords_languages_are_the_teams_and_read_old_replies_again(tmp_path: Path) -> None:
    from itnio_campaign.models import Reply

    location = tmp_path / "team.sqlite"
    with Workspace(location) as ws:  # an "ARRET" synced while only English words applied
        ws.apply_replies([Reply("919800000001", "", None, "Arrêt")])
        assert ws.optouts().empty
    args = ["workspace", "keywords", "--workspace", str(location)]
    proc = run([*args, "--languages", "fr"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "1 stored reply read again: 1 opted out" in proc.stdout
    shown = run(args, tmp_path).stdout  # another process: the setting is the workspace's
    assert "languages: English, fr" in shown and "ARRET" in shown.split("opt in:")[0]
    with Workspace(location) as ws:
        assert ws.optouts()["number"].tolist() == ["919800000001"]
    bad = run([*args, "--languages", "fr,xx"], tmp_path)
    assert bad.returncode == 2 and "no keyword list for ['xx']" in bad.stderr
    no_traceback(bad)
    assert "languages: English, fr" in run(args, tmp_path).stdout  # unchanged by the error
