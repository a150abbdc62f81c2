"""``itnio-campaign test`` and ``send --trial --gate``, as real subprocesses on loopback."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from test_cli import no_traceback, run, sandbox_env

from itnio_campaign.ledger import Ledger
from itnio_campaign.recovery import load_campaign
from itnio_campaign.sandbox import SandboxThread
from itnio_campaign.trial_store import load_trial

CONTENT = "Hi {first_name}, see you at {store}"


def test_cli_test_send_then_trial_gated_send(
    tmp_path: Path, csv_file: Path, sandbox: SandboxThread
) -> None:
    env = sandbox_env(sandbox)
    ledger = tmp_path / "c.sqlite"
    seeds = "+91 90000 00001,+91 90000 00002"
    test = run(["test", str(csv_file), "--content", CONTENT, "--seeds", seeds,
                "--ledger", str(ledger)], tmp_path, env)  # fmt: skip
    no_traceback(test)
    assert test.returncode == 0, test.stdout + test.stderr
    assert "test send passed" in test.stdout
    assert "longest message" in test.stdout
    sent = run(["send", str(csv_file), "--content", CONTENT, "--ledger", str(ledger), "--yes",
                "--no-progress", "--trial", "2%", "--gate", "delivered>=90%,rejected<=2%",
                "--gate-wait", "1m", "--require-test"], tmp_path, env)  # fmt: skip
    no_traceback(sent)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    counts = Counter(m.number for m in sandbox.accepted)
    assert counts["919000000001"] > 0  # the seeds got the test
    assert counts["919000000001"] == counts["919000000002"]  # one per representative
    customers = {n: k for n, k in counts.items() if not n.startswith("919000")}
    assert len(customers) == 2500 and set(customers.values()) == {1}
    result = load_campaign(ledger)
    assert result.status == "completed"
    with Ledger.open(ledger, create=False) as book:
        trial = load_trial(book)
    assert trial is not None and trial.decision is not None and trial.decision["passed"]
    assert len(trial.positions) == 50  # 2% of 2,500


def test_cli_bad_gate_is_a_one_line_error(tmp_path: Path, csv_file: Path) -> None:
    proc = run(["send", str(csv_file), "--content", CONTENT, "--yes", "--trial", "2%",
                "--gate", "delivered=>90"], tmp_path)  # fmt: skip
    no_traceback(proc)
    assert proc.returncode != 0
    assert "could not read" in proc.stderr
