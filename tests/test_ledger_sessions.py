"""The ledger counts the time spent sending, session by session, not the time between them."""

from __future__ import annotations

from pathlib import Path

from test_ledger import accepted, parts

from itnio_campaign.ledger import Ledger


def test_sending_time_adds_sessions_not_the_gap_between_them(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.mark_running(100.0)
        ledger.finish("stopped", "Stop pressed", now=130.0)
    with Ledger.open(path) as ledger:  # resumed a day later
        ledger.mark_running(86_500.0)
        ledger.finish("completed", now=86_510.0)
        assert ledger.active_seconds == 40.0
        assert (ledger.started_at, ledger.finished_at) == (100.0, 86_510.0)  # first / last


def test_a_killed_session_counts_up_to_its_last_journal_entry(tmp_path: Path) -> None:
    p = parts()
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:  # a session that is never finished (SIGKILL)
        ledger.start(p, {})  # type: ignore[arg-type]
        ledger.mark_running(1000.0)
        ledger.begin(p.batches[0], 1001.0)
        ledger.complete(accepted(p.batches[0], 1001.0))  # finished at 1001.5
        ledger.begin(p.batches[1], 1007.0)  # in flight when it died
    with Ledger.open(path) as ledger:
        assert ledger.active_seconds == 0.0  # not counted before the next session starts
        ledger.settle_in_flight(now=9000.0)
        assert ledger.active_seconds == 7.0  # up to the in-flight request's start
        ledger.mark_running(9000.0)
        ledger.finish("completed", now=9002.0)
        assert ledger.active_seconds == 9.0


def test_mark_running_counts_a_dead_session_too(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.mark_running(10.0)  # died before any request: nothing to count
    with Ledger.open(path) as ledger:
        ledger.mark_running(50.0)
        ledger.finish("completed", now=53.0)
        assert ledger.active_seconds == 3.0
