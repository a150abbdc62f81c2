"""The ledger's storage layer: schema, writer lock, refusing foreign files, the journal."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from itnio_campaign.errors import LedgerError, UsageError
from itnio_campaign.ledger import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    Ledger,
    Reconciliation,
    decode_frame,
    encode_frame,
)
from itnio_campaign.models import Batch, BatchItem, DeliveryRecord
from itnio_campaign.result import BatchOutcome

REPO = Path(__file__).resolve().parents[1]


@dataclass
class StoredParts:
    """The parts of a plan the ledger stores (the ledger is under test, not the planner)."""

    source: pd.DataFrame
    recipients: pd.DataFrame
    batches: list[Batch]
    fingerprint: str
    settings: dict[str, Any] = field(default_factory=dict)


def parts(n: int = 2500, fingerprint: str = "fp-1") -> StoredParts:
    source = pd.DataFrame(
        {
            "phone": [f"+9198{i:08d}" for i in range(n)],
            "name": pd.array([f"N{i}" if i % 7 else None for i in range(n)], dtype="string"),
            "tier": pd.Categorical(["a", "b", "c", "a", "b"] * (n // 5)),
            "score": np.linspace(0, 1, n),
            "joined": pd.date_range("2024-01-01", periods=n, freq="h", tz="Asia/Kolkata"),
        },
        index=pd.Index(np.arange(n) * 3 + 7, name="customer"),
    )
    numbers = [f"9198{i:08d}" for i in range(n)]
    recipients = pd.DataFrame(
        {
            "number": numbers,
            "order_id": [f"o{i}" for i in range(n)],
            "content": "Hi",
            "encoding": "GSM-7",
            "segments": 1,
            "state": "ready",
            "reason": None,
        },
        index=source.index,
    )
    batches = [
        Batch(
            b,
            "sendSms" if b % 2 else "sendSms/batch",
            (
                BatchItem(
                    tuple(numbers[s : s + 1000]),
                    "Hi, €5 off!",
                    "Shop",
                    tuple(f"o{i}" for i in range(s, min(s + 1000, n))),
                ),
            ),
            tuple(range(s, min(s + 1000, n))),
        )
        for b, s in enumerate(range(0, n, 1000))
    ]
    return StoredParts(source, recipients, batches, fingerprint, {"number_col": "phone"})


def accepted(batch: Batch, t: float) -> BatchOutcome:
    item = batch.items[0]
    triples = tuple(
        (oid, num, f"m{oid}") for oid, num in zip(item.order_ids or (), item.numbers, strict=True)
    )
    return BatchOutcome(
        batch.batch_id, "accepted", "0", "", 1, t, t + 0.5, len(triples), 0, triples
    )


# -- creating and reopening ------------------------------------------------------------------
def test_new_ledger_has_versioned_schema_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        assert ledger.status == "new" and not ledger.has_plan
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(conn.execute("SELECT key, value FROM meta"))
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    conn.close()


def test_plan_parts_round_trip(tmp_path: Path) -> None:
    p = parts()
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {"concurrency": 4, "rate": None})  # type: ignore[arg-type]
    with Ledger.open(path) as ledger:
        assert ledger.fingerprint == "fp-1"
        pd.testing.assert_frame_equal(ledger.load_frame("source"), p.source)
        pd.testing.assert_frame_equal(ledger.load_frame("recipients"), p.recipients)
        assert ledger.batches() == p.batches
        assert ledger.settings == {"concurrency": 4, "rate": None}


def test_same_plan_again_is_accepted_other_plan_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(parts(), {})  # type: ignore[arg-type]
        ledger.start(parts(), {})  # type: ignore[arg-type]  # same fingerprint: fine
        with pytest.raises(UsageError, match="another campaign"):
            ledger.start(parts(fingerprint="fp-2"), {})  # type: ignore[arg-type]
    with Ledger.open(path) as ledger:
        assert ledger.fingerprint == "fp-1"
        assert ledger.batches() == parts().batches


def test_settings_never_store_credentials(tmp_path: Path) -> None:
    from itnio_campaign.config import Credentials

    creds = Credentials("KEY-zq81", "SECRET-xy77", "app", base_url="http://127.0.0.1:1/sms")
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(  # type: ignore[arg-type]
            parts(),
            {"api_key": creds.api_key, "api_secret": creds.api_secret, "credentials": creds,
             "nested": {"apiKey": creds.api_key}, "app_id": "app"},
        )  # fmt: skip
        assert ledger.settings == {"nested": {}, "app_id": "app"}
    blob = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.is_file())
    assert b"SECRET-xy77" not in blob and b"KEY-zq81" not in blob


# -- the journal --------------------------------------------------------------------------
def test_journal_in_flight_is_committed_before_complete(tmp_path: Path) -> None:
    p = parts()
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        ledger.begin(p.batches[0], 100.0)
        # Another connection (as after a crash) already sees the row in flight.
        other = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = other.execute("SELECT batch_id, kind FROM journal").fetchall()
        other.close()
        assert rows == [(0, None)]
        assert ledger.in_flight() == [0]
        ledger.complete(accepted(p.batches[0], 100.0))
        assert ledger.in_flight() == []
        [outcome] = ledger.outcomes()
        assert outcome == accepted(p.batches[0], 100.0)


def test_one_journal_row_per_request_not_per_recipient(tmp_path: Path) -> None:
    p = parts(3000)
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        for b in p.batches:
            ledger.begin(b, 1.0)
            ledger.complete(accepted(b, 1.0))
        assert ledger.outcomes() == [accepted(b, 1.0) for b in p.batches]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM journal").fetchone()[0] == 3
    conn.close()


def test_settle_in_flight_turns_them_unknown(tmp_path: Path) -> None:
    p = parts()
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        ledger.begin(p.batches[1], 50.0)
        assert ledger.outcomes()[0].kind == "unknown"  # reported unknown even before settling
    with Ledger.open(path) as ledger:
        assert ledger.settle_in_flight(now=60.0) == [1]
        [o] = ledger.outcomes()
        assert (o.kind, o.batch_id, o.started_at, o.finished_at) == ("unknown", 1, 50.0, 60.0)
        assert ledger.settle_in_flight() == []


def test_complete_without_begin_is_journaled(tmp_path: Path) -> None:
    p = parts()
    with Ledger.open(tmp_path / "c.sqlite") as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        o = BatchOutcome(2, "not_sent", "HTTP 503", "busy", 4, 1.0, 2.0)
        ledger.complete(o)
        assert ledger.outcomes() == [o]


def test_finish_status_reconciliations_deliveries_persist(tmp_path: Path) -> None:
    p = parts()
    path = tmp_path / "c.sqlite"
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    recs = [DeliveryRecord("m1", "919800000001", "delivered", when, "0")]
    extra = Batch(9, "sendSms", (BatchItem(("919800000001",), "Hi", None, ("o1",)),), (1,))
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        ledger.mark_running(10.0)
        ledger.finish("halted", "-10 balance insufficient")
        ledger.record_delivery(recs)
        ledger.record_delivery(recs)  # idempotent: by msg_id
        ledger.record_reconciliation([Reconciliation(3, 0, 5.0, ((4, "mx"),), (5, 6))])
        ledger.add_batches([extra])
    with Ledger.open(path, readonly=True) as ledger:
        assert (ledger.status, ledger.halt_reason, ledger.started_at) == (
            "halted", "-10 balance insufficient", 10.0,
        )  # fmt: skip
        assert ledger.delivery_records() == recs
        assert ledger.reconciliations() == [Reconciliation(3, 0, 5.0, ((4, "mx"),), (5, 6))]
        assert ledger.batches(extra=True) == [extra]
        assert ledger.batches(extra=False) == p.batches
        with pytest.raises(LedgerError, match="read-only"):
            ledger.finish("completed", None)


# -- one writer -------------------------------------------------------------------------------
def test_second_writer_in_same_process_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path):
        with pytest.raises(LedgerError, match="in use"):
            Ledger.open(path)
        with Ledger.open(path, readonly=True) as reader:  # readers are welcome
            assert reader.writer_alive()
    with Ledger.open(path) as again:
        assert again.status == "new"


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    code = textwrap.dedent(
        f"""
        import sys
        from itnio_campaign.ledger import Ledger
        ledger = Ledger.open({str(path)!r})
        print("locked", flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=REPO
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"locked"
        held = rf"in use by another writer \(process {proc.pid} on "
        with pytest.raises(LedgerError, match=held):
            Ledger.open(path)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with Ledger.open(path) as ledger:  # the OS dropped the lock with the process
        assert not ledger.has_plan


# -- files that are not ledgers are refused and left untouched ------------------------------
def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def _refused_untouched(path: Path, match: str) -> None:
    before = _snapshot(path)
    siblings = sorted(p.name for p in path.parent.iterdir())
    with pytest.raises(LedgerError, match=match):
        Ledger.open(path)
    with pytest.raises(LedgerError, match=match):
        Ledger.open(path, readonly=True)
    assert _snapshot(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == siblings


def test_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("phone,name\n+919800000000,Asha\n")
    _refused_untouched(path, "not an SQLite file")


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    _refused_untouched(path, "empty file")


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE meta(key TEXT, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('app', 'someone-else')")
    conn.commit()
    conn.close()
    _refused_untouched(path, "another application")


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(parts(), {})  # type: ignore[arg-type]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    _refused_untouched(path, "schema version 99")


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_ledger_is_refused(tmp_path: Path, keep: float) -> None:
    full = tmp_path / "full.sqlite"
    with Ledger.open(full) as ledger:
        ledger.start(parts(5000), {})  # type: ignore[arg-type]
    data = full.read_bytes()
    path = tmp_path / "cut" / "cut.sqlite"
    path.parent.mkdir()
    path.write_bytes(data[: int(len(data) * keep)])
    _refused_untouched(path, "corrupt|truncated")


def test_corrupt_page_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(parts(5000), {})  # type: ignore[arg-type]
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : 3 * page] = bytes(range(256)) * (page // 256)  # garbage over a b-tree page
    path.write_bytes(bytes(data))
    _refused_untouched(path, "corrupt")


def test_missing_ledger_for_resume_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger at"):
        Ledger.open(tmp_path / "nope.sqlite", create=False)
    assert not any(tmp_path.iterdir())


# -- frames: exact, and never pickle ------------------------------------------------------------
def test_frame_codec_is_lossless_for_common_dtypes() -> None:
    df = parts(100).source.assign(
        flag=[True, False] * 50,
        count=pd.array([1, None] * 50, dtype="Int64"),
        dec=[1.5, float("nan")] * 50,
        ts_naive=pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(100), unit="s"),
    )
    fmt, data = encode_frame(df)
    assert fmt == "arrow" and b"pickle" not in data.lower()
    pd.testing.assert_frame_equal(decode_frame(fmt, data), df)


def test_frame_with_integer_column_names_round_trips_exactly() -> None:
    # Parquet refuses non-string column names; the typed format keeps them (and their dtype).
    df = pd.DataFrame({0: ["a", "b"], 1: [1.0, 2.0]}, index=pd.Index([5, 6], name="i"))
    fmt, data = encode_frame(df)
    assert fmt == "typed"
    pd.testing.assert_frame_equal(decode_frame(fmt, data), df, check_exact=True)


def test_unknown_frame_format_is_refused() -> None:
    with pytest.raises(LedgerError, match="unknown frame format 'pickle'"):
        decode_frame("pickle", b"\x80\x04")


# -- compact storage: lossless on every path ---------------------------------------------------
def test_batches_not_matching_the_frame_are_stored_explicitly(tmp_path: Path) -> None:
    p = parts(2500)
    odd = Batch(
        1, "sendSms/batch",
        (BatchItem(("447700900001",), "Other", None, None),
         BatchItem(p.batches[1].items[0].numbers[:2], "Hi", "S", ("x", "y"))),
        (5, 6, 7),
    )  # fmt: skip
    p.batches[1] = odd  # numbers/ids not the frame's at its positions; no ids on one item
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
    with Ledger.open(path) as ledger:
        assert ledger.batches() == p.batches
    conn = sqlite3.connect(path)
    layouts = [r[0][:1] for r in conn.execute("SELECT items FROM batches ORDER BY batch_id")]
    conn.close()
    assert layouts == ["{", "[", "{"]  # only the odd request carries its numbers


def test_accepted_partial_reordered_and_foreign_answers_round_trip(tmp_path: Path) -> None:
    p = parts(2500)
    b0, b1, b2 = p.batches
    full = accepted(b0, 1.0).accepted
    partial = BatchOutcome(
        1,
        "accepted",
        "0",
        "",
        1,
        2.0,
        3.0,
        2,
        998,
        (accepted(b1, 2.0).accepted[7], accepted(b1, 2.0).accepted[3]),
    )
    foreign = BatchOutcome(2, "accepted", "0", "", 1, 3.0, 4.0, 2, 0,
                           (("", "919800002000", "m\nx"), ("zz", "1", "m2")))  # fmt: skip
    outcomes = [BatchOutcome(0, "accepted", "0", "", 1, 1.0, 1.5, 1000, 0, full), partial, foreign]
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.start(p, {})  # type: ignore[arg-type]
        for b, o in zip((b0, b1, b2), outcomes, strict=True):
            ledger.begin(b, o.started_at)
            ledger.complete(o)
    with Ledger.open(path, readonly=True) as ledger:
        assert ledger.outcomes() == outcomes
    conn = sqlite3.connect(path)
    kinds = conn.execute(
        "SELECT acc_rows IS NULL, acc_ids IS NULL, accepted IS NULL FROM journal ORDER BY seq"
    ).fetchall()
    conn.close()
    # in order: ids only; partial: ids + indexes; unmatched/newline msgId: JSON triples
    assert kinds == [(1, 0, 1), (0, 0, 1), (1, 1, 0)]
