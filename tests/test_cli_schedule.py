"""Send windows on the command line: the flags, ``plan --save-for-run``, ``run`` and ``status``.

Real subprocesses against a loopback sandbox. ``run`` waits for windows on the real clock, so
the tests choose windows relative to now: one zone open, another closed for hours.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_cli import CLI, clean_env, no_traceback, run, sandbox_env, wait_for

from itnio_campaign.ledger import Ledger
from itnio_campaign.plan import load_plan
from itnio_campaign.sandbox import SandboxThread

CONTENT = "Hi {first_name}, 20% off this weekend"
#: Four zones by number: India, London, New York (212), Los Angeles (415).
ZONE_NUMBERS = {
    "Asia/Kolkata": ("+91 98{:08d}", "9198{:08d}"),
    "Europe/London": ("+44 7400 {:06d}", "447400{:06d}"),
    "America/New_York": ("+1 212 20{:05d}", "121220{:05d}"),
    "America/Los_Angeles": ("+1 415 20{:05d}", "141520{:05d}"),
}
#: A zone whose local time is 12 hours ahead of UTC (fixed: no DST).
FAR_ZONE = "Etc/GMT-12"


def world_csv(path: Path, n: int = 5) -> Path:
    phones = [f.format(i) for f, _ in ZONE_NUMBERS.values() for i in range(1, n + 1)]
    pd.DataFrame({"phone": phones, "first_name": [f"N{i}" for i in range(len(phones))]}).to_csv(
        path, index=False
    )
    return path


def zoned_csv(path: Path, zones: dict[str, int]) -> tuple[Path, dict[str, list[str]]]:
    """Indian numbers with a ``tz`` column: ``zones[name]`` rows in each zone; the API
    numbers per zone."""
    rows, numbers, i = [], {}, 0
    for zone, n in zones.items():
        numbers[zone] = []
        for _ in range(n):
            i += 1
            rows.append({"phone": f"+91 98{i:08d}", "first_name": f"N{i}", "tz": zone})
            numbers[zone].append(f"9198{i:08d}")
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, numbers


def open_window_now() -> str:
    """A window (UTC local time) open now, for a few hours; closed 12 hours ahead."""
    now = datetime.now(UTC)
    start, end = now - timedelta(hours=1), now + timedelta(hours=3)
    return f"{start:%H:%M}-{end:%H:%M}"


def status(ledger: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = run(["status", str(ledger)], cwd)
    no_traceback(proc)
    return proc


# -- flags and help ---------------------------------------------------------------------------
def test_run_and_status_help_have_an_example(tmp_path: Path) -> None:
    for name in ("run", "status"):
        proc = run([name, "--help"], tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert f"example:\n  itnio-campaign {name}" in proc.stdout
    for name in ("plan", "send"):
        out = run([name, "--help"], tmp_path).stdout
        for flag in ("--window", "--days", "--holidays", "--not-before", "--expire-at"):
            assert flag in out, (name, flag)
        for flag in ("--tz-col", "--default-tz", "--late"):
            assert flag in out, (name, flag)
    assert "SIGTERM" in run(["run", "--help"], tmp_path).stdout


def test_help_with_the_schedule_commands_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom itnio_campaign.cli import main\n"
        "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted({'pandas', 'aiohttp', 'numpy'} & set(sys.modules))\n"
        "print('heavy:', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert "heavy: []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("flags", "code", "words"),
    [
        (["--late", "whenever"], 2, "invalid choice"),
        (["--expire-at", "next tuesday"], 2, "not a date/time"),
        (["--not-before", "soon"], 2, "not a date/time"),
        (["--window", "25:00-26:00"], 1, "window"),
        (["--days", "someday"], 1, "days"),
        (["--holidays", " , "], 1, "holidays"),
        (["--default-tz", "Mars/Olympus"], 1, "Mars/Olympus"),
    ],
)
def test_bad_schedule_flags_are_one_line_errors(
    tmp_path: Path, flags: list[str], code: int, words: str
) -> None:
    csv = world_csv(tmp_path / "world.csv")
    proc = run(["plan", str(csv), "--content", CONTENT, *flags], tmp_path)
    no_traceback(proc)
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr


def test_plan_with_a_window_prints_the_schedule_per_zone(tmp_path: Path) -> None:
    csv = world_csv(tmp_path / "world.csv")
    proc = run(["plan", str(csv), "--content", CONTENT, "--window", "09:00-20:00",
                "--days", "mon-sat"], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    schedule = proc.stdout[proc.stdout.index("send window") :]
    assert "09:00-20:00 mon-sat" in schedule
    for zone in ("Asia/Kolkata", "America/New_York", "America/Los_Angeles"):
        assert zone in schedule
    assert "Europe/Guernsey +2 zones" in schedule  # a UK mobile: London, Guernsey or Man
    # without a window there is no schedule to show
    plain = run(["plan", str(csv), "--content", CONTENT], tmp_path)
    assert plain.returncode == 0 and "send window" not in plain.stdout


def test_plan_save_for_run_keeps_the_schedule_in_the_ledger(tmp_path: Path) -> None:
    csv = world_csv(tmp_path / "world.csv")
    holidays = tmp_path / "holidays.txt"
    holidays.write_text("2026-12-25  # Christmas\n2027-01-01\n", "utf-8")
    ledger = tmp_path / "spring.sqlite"
    proc = run(["plan", str(csv), "--content", CONTENT, "--window", "09:00-20:00",
                "--days", "mon-fri", "--holidays", str(holidays), "--expire-at",
                "2030-01-01T00:00+00:00", "--save-for-run", str(ledger)], tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"itnio-campaign run {ledger}" in proc.stdout
    with Ledger.open(ledger, create=False, readonly=True) as store:
        plan = load_plan(store)
    settings = plan.settings["schedule"]
    assert settings["window"] == "09:00-20:00" and settings["days"] == "mon-fri"
    assert settings["holidays"] == ["2026-12-25", "2027-01-01"]
    assert settings["expire_at"] == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    zones = {z for tz in plan.recipients["tz"] for z in str(tz).split(",")}
    assert set(ZONE_NUMBERS) <= zones
    # a ledger holds one campaign: saving over it is refused
    again = run(["plan", str(csv), "--content", CONTENT, "--save-for-run", str(ledger)], tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_run_sends_a_planned_campaign_inside_its_window_and_then_says_done(
    tmp_path: Path,
) -> None:
    csv, numbers = zoned_csv(tmp_path / "c.csv", {"UTC": 7})
    ledger = tmp_path / "now.sqlite"
    planned = run(["plan", str(csv), "--content", CONTENT, "--tz-col", "tz", "--window",
                   open_window_now(), "--save-for-run", str(ledger)], tmp_path)  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    with SandboxThread(seed=1) as sb:
        env = sandbox_env(sb)
        proc = run(["run", str(ledger), "--no-progress"], tmp_path, env=env)
        no_traceback(proc)
        assert proc.returncode == 0, proc.stderr
        assert Counter(m.number for m in sb.accepted) == Counter(numbers["UTC"])
        again = run(["run", str(ledger), "--no-progress"], tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        assert len(sb.accepted) == 7  # nothing sent twice
    done = status(ledger, tmp_path)
    assert done.returncode == 0
    assert "completed" in done.stdout and "submitted" in done.stdout


def test_status_reads_while_run_waits_for_a_window_and_sigterm_stops_it_cleanly(
    tmp_path: Path,
) -> None:
    csv, numbers = zoned_csv(tmp_path / "c.csv", {"UTC": 6, FAR_ZONE: 4})
    ledger = tmp_path / "waiting.sqlite"
    planned = run(["plan", str(csv), "--content", CONTENT, "--tz-col", "tz", "--window",
                   open_window_now(), "--save-for-run", str(ledger)], tmp_path)  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    with SandboxThread(seed=1) as sb:
        runner = subprocess.Popen(
            [*CLI, "run", str(ledger), "--no-progress"], cwd=tmp_path, env=sandbox_env(sb),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            # The open zone is sent; the far zone's window is hours away: run waits for it.
            wait_for(lambda: len(sb.accepted) >= 6, timeout=60)

            def waiting() -> bool:
                out = status(ledger, tmp_path).stdout
                return "a process is sending it now" in out and FAR_ZONE in out

            wait_for(waiting, timeout=30)
            now = status(ledger, tmp_path)
            assert now.returncode == 0
            counts = dict(
                line.split()[:2]
                for line in now.stdout.splitlines()
                if line.startswith("  ")
                if len(line.split()) == 2
            )
            assert counts.get("submitted") == "6" and counts.get("pending") == "4", now.stdout
            assert runner.poll() is None, "status must not disturb the run"
            # a second run of the same ledger (cron starting it again) is refused, harmlessly
            second = run(["run", str(ledger), "--no-progress"], tmp_path, env=sandbox_env(sb))
            no_traceback(second)
            assert second.returncode == 1 and str(ledger) in second.stderr, second.stderr
            assert runner.poll() is None
            runner.send_signal(signal.SIGTERM)
            out, err = runner.communicate(timeout=60)
            assert "run ended" in out
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait()
        assert runner.returncode == 4, err
        assert "Traceback" not in err
        assert f"itnio-campaign run {ledger}" in err
        assert Counter(m.number for m in sb.accepted) == Counter(numbers["UTC"])
    after = status(ledger, tmp_path)
    assert "no process is sending it" in after.stdout
    assert "pending" in after.stdout


def test_run_expires_who_has_no_window_before_expire_at_and_status_counts_them(
    tmp_path: Path,
) -> None:
    csv, _ = zoned_csv(tmp_path / "c.csv", {"UTC": 3, FAR_ZONE: 2})
    ledger = tmp_path / "short.sqlite"
    now = datetime.now(UTC)
    later = f"{now + timedelta(hours=5):%H:%M}-{now + timedelta(hours=6):%H:%M}"  # closed now
    expire = now + timedelta(seconds=30)  # before either zone's window opens
    planned = run(["plan", str(csv), "--content", CONTENT, "--tz-col", "tz", "--window", later,
                   "--expire-at", expire.isoformat(), "--save-for-run", str(ledger)],
                  tmp_path)  # fmt: skip
    assert planned.returncode == 0, planned.stderr
    assert "no window before expire_at" in planned.stdout  # the dry run warns
    with SandboxThread(seed=1) as sb:
        proc = run(["run", str(ledger), "--no-progress"], tmp_path, env=sandbox_env(sb))
        no_traceback(proc)
        assert proc.returncode == 0, proc.stderr  # expired is final: nobody is left
        assert len(sb.accepted) == 0
    out = status(ledger, tmp_path).stdout
    counts = {p[0]: p[1] for p in (ln.split() for ln in out.splitlines()) if len(p) == 2}
    assert counts.get("expired") == "5" and "pending" not in counts, out
    assert "completed" in out


def test_status_of_a_file_that_is_not_a_ledger_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "x.sqlite"
    bogus.write_text("hello", "utf-8")
    proc = run(["status", str(bogus)], tmp_path)
    no_traceback(proc)
    assert proc.returncode == 1
    missing = run(["status", str(tmp_path / "nope.sqlite")], tmp_path)
    assert missing.returncode == 1 and "no ledger" in missing.stderr


def test_run_without_credentials_fails_before_sending(tmp_path: Path) -> None:
    csv, _ = zoned_csv(tmp_path / "c.csv", {"UTC": 2})
    ledger = tmp_path / "l.sqlite"
    run(["plan", str(csv), "--content", CONTENT, "--tz-col", "tz", "--save-for-run",
         str(ledger)], tmp_path)  # fmt: skip
    proc = run(["run", str(ledger)], tmp_path, env=clean_env())
    no_traceback(proc)
    assert proc.returncode == 1 and "credentials" in proc.stderr


# -- the demo -----------------------------------------------------------------------------------
def test_demo_dry_run_shows_a_schedule_over_three_zones_and_finishes_fast(tmp_path: Path) -> None:
    proc = run(["demo", "--no-progress", "--report", str(tmp_path / "d.xlsx")], tmp_path,
               timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    block = proc.stdout[proc.stdout.rindex("send window") : proc.stdout.index("fast clock")]
    zones = {z for z in ZONE_NUMBERS if z in block} | {
        z for z in ("Europe/Berlin", "America/Sao_Paulo", "Africa/Lagos") if z in block
    }
    assert len(zones) >= 3, block
    seconds = float(proc.stdout.rsplit("demo finished in ", 1)[1].split()[0])
    assert seconds < 60
