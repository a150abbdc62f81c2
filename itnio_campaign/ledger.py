"""The campaign ledger: one SQLite file that lets a campaign survive a crash without double sends.

It holds the plan (the user's frame losslessly, the recipients and the requests), the
settings (never a credential), and **one journal row per request**: written *in flight* and
committed before the request leaves, completed with a compact record of the answer after
(DESIGN invariant 1). Per request, not per recipient: a million recipients are ~1000 rows.

Tables (schema version :data:`SCHEMA_VERSION`, also in ``PRAGMA user_version``)::

    meta(key, value)              app, schema version, fingerprint, status, times, settings
    frames(name, format, data)    "source" and "recipients" as Parquet (or JSON table) bytes
    batches(batch_id, endpoint, extra, items, positions)   every request the campaign may make;
                                  numbers and order ids are read from the recipients frame
    journal(seq, batch_id, started_at, finished_at, kind, code, reason, attempts,
            success, fail, acc_rows, acc_ids, accepted)   kind NULL = in flight
    reconcile(seq, after_seq, batch_id, at, found, missing)   what getSentRcd proved
    deliveries(msg_id, number, status, receive_time, raw_status)

One ledger, one writer: :meth:`Ledger.open` takes an exclusive ``flock`` on ``<path>.lock``
(released by the OS when the process dies, even by SIGKILL). A file that is not a ledger of
this schema raises :class:`~itnio_campaign.errors.LedgerError` and is left untouched.

>>> with Ledger.open("spring-promo.sqlite") as ledger:           # doctest: +SKIP
...     ledger.status, len(ledger.outcomes())
('completed', 1000)
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import pandas as pd

from .config import public_settings
from .errors import LedgerError, UsageError
from .models import Batch, BatchItem, DeliveryRecord
from .result import Accepted, BatchOutcome

if TYPE_CHECKING:
    from .plan import Plan

#: Bumped whenever the tables change; a ledger of another version is refused, not guessed at.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id``: "ITNC". Marks the file as ours for tools like ``file(1)``.
APPLICATION_ID = 0x49544E43
APP_NAME = "itnio-campaign-ledger"
SQLITE_HEADER = b"SQLite format 3\x00"

#: Settings whose names look like credentials are never written.

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE frames(name TEXT PRIMARY KEY, format TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE batches(
    batch_id INTEGER PRIMARY KEY,
    endpoint TEXT NOT NULL,
    extra INTEGER NOT NULL DEFAULT 0,   -- 1: added after planning (a resend of missing)
    -- {"f": [[count, sender_id, content or null (= the frame's), has_order_ids], ...]}:
    --   numbers and order ids are the recipients frame's at `positions` (checked on storing),
    -- or [[numbers_csv, content, sender_id, order_ids_csv], ...] when they are not.
    items TEXT NOT NULL,
    positions BLOB NOT NULL             -- little-endian int32 row positions
);
CREATE TABLE journal(
    seq INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL,
    started_at REAL NOT NULL,
    finished_at REAL,
    kind TEXT,                          -- NULL while the request is in flight
    code TEXT, reason TEXT, attempts INTEGER, success INTEGER, fail INTEGER,
    -- Accepted numbers, cheaply: their msgIds one per line (acc_ids), aligned with the
    -- request's numbers in order (acc_rows NULL) or with int32 indexes into them (acc_rows),
    -- each one's (order_id, number) being the request's. Anything else: JSON `accepted`.
    acc_rows BLOB, acc_ids TEXT,
    accepted TEXT                       -- [[order_id, number, msg_id], ...]
);
CREATE INDEX journal_batch ON journal(batch_id);
CREATE TABLE reconcile(
    seq INTEGER PRIMARY KEY,
    after_seq INTEGER NOT NULL,         -- applies after journal rows up to this seq
    batch_id INTEGER NOT NULL,
    at REAL NOT NULL,
    found TEXT NOT NULL,                -- [[position, msg_id], ...]
    missing TEXT NOT NULL               -- [position, ...]
);
CREATE TABLE deliveries(
    msg_id TEXT PRIMARY KEY, number TEXT, status TEXT, receive_time TEXT, raw_status TEXT
) WITHOUT ROWID;
"""

IN_FLIGHT_CODE = "in flight"
IN_FLIGHT_REASON = "the sending process ended before the answer was recorded"


@dataclass(frozen=True)
class Reconciliation:
    """What one reconcile proved about one ``unknown`` request."""

    after_seq: int
    batch_id: int
    at: float
    found: tuple[tuple[int, str], ...]  # (row position, msg_id)
    missing: tuple[int, ...]  # row positions


class Ledger:
    """One campaign's SQLite ledger; implements the runner's Journal protocol.

    Open it with :meth:`open` (creates the file when it does not exist) and close it, best
    with ``with``. All writes are one short transaction each (WAL, ``synchronous=NORMAL``).

    >>> with Ledger.open("promo.sqlite") as ledger:               # doctest: +SKIP
    ...     ledger.start(plan, {"concurrency": 8})
    ...     ledger.begin(batch, time.time()); ledger.complete(outcome)
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: BinaryIO | None) -> None:
        self.path = path
        self._conn = conn
        self._lock_file = lock
        self.readonly = lock is None
        self._closed = False
        self._mutex = threading.Lock()  # the runner may call from another thread
        # batch_id -> (journal seq of its in-flight row, the batch): complete() encodes the
        # accepted numbers against the batch.
        self._open_rows: dict[int, tuple[int, Batch]] = {}
        self._recipients: pd.DataFrame | None = None  # decoded once, for the stored batches
        self._batch_cache: dict[int, Batch] | None = None

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = True, readonly: bool = False
    ) -> Ledger:
        """Open (or, with ``create``, create) the ledger at ``path`` for writing.

        ``readonly=True`` opens an existing ledger for reading only, without the writer lock
        (a consistent snapshot even while another process sends).

        Raises :class:`LedgerError` when the file is in use by another writer, is not an
        itnio-campaign ledger, is corrupt or truncated, or has another schema version.
        """
        p = Path(path)
        if p.is_dir():
            raise LedgerError(f"{p} is a directory, not a ledger file")
        if not p.exists() and (readonly or not create):
            raise LedgerError(f"no ledger at {p}")
        if readonly:
            check_ledger_file(p)
            return cls(p, _connect(p, readonly=True), None)
        had_lock_file = _lock_path(p).exists()
        lock = _acquire_lock(p)
        created = not p.exists()
        try:
            if created:
                conn = _connect(p)
                _create_schema(conn)
            else:
                check_ledger_file(p)
                conn = _connect(p)
        except BaseException:
            # Refused: leave no trace beside a file that is not ours.
            _release_lock(lock, p, remove=not had_lock_file)
            if created:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{p}{suffix}").unlink(missing_ok=True)
            raise
        return cls(p, conn, lock)

    def writer_alive(self) -> bool:
        """True when some process holds this ledger open for writing right now."""
        if self._lock_file is not None:
            return True
        try:
            fh = _acquire_lock(self.path)
        except LedgerError:
            return True
        _release_lock(fh, self.path, remove=False)
        return False

    def close(self) -> None:
        """Close the database and release the writer lock (idempotent)."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            finally:
                if self._lock_file is not None:
                    _release_lock(self._lock_file, self.path, remove=False)
                    self._lock_file = None

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.meta("status") or "new"
        return f"<Ledger {str(self.path)!r} {state}>"

    # -- the Journal protocol --------------------------------------------------------------
    def start(self, plan: Plan, settings: Mapping[str, Any] | None = None) -> None:
        """Store ``plan`` and ``settings`` in a new ledger, or check it is the same plan.

        A ledger holding another plan (another ``plan.fingerprint``) raises
        :class:`~itnio_campaign.errors.UsageError`: one ledger per campaign.
        """
        stored = self.meta("fingerprint")
        if stored is not None:
            if stored != plan.fingerprint:
                raise UsageError(
                    f"the ledger {self.path} belongs to another campaign (plan fingerprint "
                    f"{stored[:12]}…, this plan's is {plan.fingerprint[:12]}…); use a new "
                    "ledger file for a new campaign, or resume_campaign() to continue that one"
                )
            if settings:
                self.set_settings(settings)
            return
        frames = {
            "source": encode_frame(plan.source),
            "recipients": encode_frame(plan.recipients, check_rows=100),
        }
        batch_rows = _batch_rows(plan.batches, plan.recipients)
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO frames(name, format, data) VALUES (?, ?, ?)",
                [(name, fmt, data) for name, (fmt, data) in frames.items()],
            )
            cur.executemany(
                "INSERT INTO batches(batch_id, endpoint, extra, items, positions) "
                "VALUES (?, ?, 0, ?, ?)",
                batch_rows,
            )
            _put_meta(
                cur,
                fingerprint=plan.fingerprint,
                plan_settings=_json(_safe_settings(getattr(plan, "settings", {}) or {})),
                settings=_json(_safe_settings(settings or {})),
                status="planned",
                created_at=repr(time.time()),
            )

    def begin(self, batch: Batch, started_at: float) -> None:
        """Record ``batch`` as in flight; committed before the request leaves."""
        with self._write() as cur:
            cur.execute(
                "INSERT INTO journal(batch_id, started_at) VALUES (?, ?)",
                (batch.batch_id, started_at),
            )
            self._open_rows[batch.batch_id] = (int(cur.lastrowid or 0), batch)

    def complete(self, outcome: BatchOutcome) -> None:
        """Record what the request came to (its row stops being in flight)."""
        with self._mutex:
            seq, batch = self._open_rows.pop(outcome.batch_id, (None, None))
        values = (
            outcome.finished_at,
            outcome.kind,
            outcome.code,
            outcome.reason,
            outcome.attempts,
            outcome.success,
            outcome.fail,
            *_encode_accepted(batch, outcome.accepted),
        )
        with self._write() as cur:
            if seq is None:  # completed without begin (never left): journal it whole
                cur.execute(
                    "INSERT INTO journal(batch_id, started_at, finished_at, kind, code, reason,"
                    " attempts, success, fail, acc_rows, acc_ids, accepted)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (outcome.batch_id, outcome.started_at, *values),
                )
            else:
                cur.execute(
                    "UPDATE journal SET finished_at=?, kind=?, code=?, reason=?, attempts=?,"
                    " success=?, fail=?, acc_rows=?, acc_ids=?, accepted=? WHERE seq=?",
                    (*values, seq),
                )

    def finish(self, status: str, reason: str | None = None) -> None:
        """Record how the run ended: ``completed``, ``stopped`` or ``halted`` (with why)."""
        with self._write() as cur:
            _put_meta(cur, status=status, halt_reason=reason or "", finished_at=repr(time.time()))

    # -- more writes -----------------------------------------------------------------------
    def mark_running(self, started_at: float) -> None:
        """Note that a run starts now (keeps the first start time of the campaign)."""
        with self._write() as cur:
            first = self.meta("started_at")
            _put_meta(
                cur,
                status="running",
                halt_reason="",
                started_at=first or repr(started_at),
            )

    def set_settings(self, settings: Mapping[str, Any]) -> None:
        """Merge ``settings`` into the stored ones (credential-like names are dropped)."""
        merged = {**self.settings, **_safe_settings(settings)}
        with self._write() as cur:
            _put_meta(cur, settings=_json(merged))

    def settle_in_flight(self, now: float | None = None) -> list[int]:
        """Turn rows left in flight by a dead process into ``unknown``; return their batches.

        Their answers were never recorded, so they may have been accepted: never resend them;
        reconcile decides.
        """
        now = time.time() if now is None else now
        with self._write() as cur:
            rows = cur.execute("SELECT seq, batch_id FROM journal WHERE kind IS NULL").fetchall()
            cur.executemany(
                "UPDATE journal SET kind='unknown', code=?, reason=?, attempts=1, success=0,"
                " fail=0, finished_at=? WHERE seq=?",
                [(IN_FLIGHT_CODE, IN_FLIGHT_REASON, now, seq) for seq, _ in rows],
            )
        return [int(b) for _, b in rows]

    def add_batches(self, batches: Iterable[Batch]) -> None:
        """Store extra requests (a resend of missing recipients) before they are sent."""
        batches = list(batches)
        rows = _batch_rows(batches, self._recipients_frame()) if batches else []
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO batches(batch_id, endpoint, extra, items, positions) "
                "VALUES (?, ?, 1, ?, ?)",
                rows,
            )
        self._batch_cache = None

    def record_reconciliation(self, entries: Iterable[Reconciliation]) -> None:
        """Store what reconcile proved (applied after the journal rows it saw)."""
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO reconcile(after_seq, batch_id, at, found, missing)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (e.after_seq, e.batch_id, e.at, _json([list(f) for f in e.found]),
                     _json(list(e.missing)))
                    for e in entries
                ],
            )  # fmt: skip

    def record_delivery(self, records: Iterable[DeliveryRecord]) -> int:
        """Keep delivery reports (by msgId, latest wins) so a reopened campaign has them."""
        rows = [
            (
                r.msg_id,
                r.number,
                r.status,
                r.receive_time.isoformat() if r.receive_time else None,
                r.raw_status,
            )
            for r in records
        ]
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO deliveries(msg_id, number, status, receive_time, raw_status)"
                " VALUES (?,?,?,?,?) ON CONFLICT(msg_id) DO UPDATE SET number=excluded.number,"
                " status=excluded.status, receive_time=excluded.receive_time,"
                " raw_status=excluded.raw_status",
                rows,
            )
        return len(rows)

    # -- reads -----------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @property
    def has_plan(self) -> bool:
        return self.meta("fingerprint") is not None

    @property
    def fingerprint(self) -> str | None:
        return self.meta("fingerprint")

    @property
    def status(self) -> str:
        return self.meta("status") or "new"

    @property
    def halt_reason(self) -> str | None:
        return self.meta("halt_reason") or None

    @property
    def started_at(self) -> float | None:
        return _float(self.meta("started_at"))

    @property
    def finished_at(self) -> float | None:
        return _float(self.meta("finished_at"))

    @property
    def settings(self) -> dict[str, Any]:
        return dict(json.loads(self.meta("settings") or "{}"))

    def load_frame(self, name: str) -> pd.DataFrame:
        row = self._conn.execute("SELECT format, data FROM frames WHERE name=?", (name,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path} holds no {name} frame: no campaign was started in it")
        return decode_frame(row[0], row[1])

    def batches(self, *, extra: bool | None = None) -> list[Batch]:
        """The stored requests in batch order (``extra``: only resends / only planned)."""
        sql = "SELECT batch_id, endpoint, items, positions FROM batches"
        if extra is not None:
            sql += f" WHERE extra={int(extra)}"
        rows = self._conn.execute(sql + " ORDER BY batch_id").fetchall()
        needs_frame = any(items.startswith("{") for _, _, items, _ in rows)
        return _batches_from_rows(rows, self._recipients_frame() if needs_frame else None)

    def _recipients_frame(self) -> pd.DataFrame:
        if self._recipients is None:
            self._recipients = self.load_frame("recipients")
        return self._recipients

    def _batch_map(self) -> dict[int, Batch]:
        if self._batch_cache is None:
            self._batch_cache = {b.batch_id: b for b in self.batches()}
        return self._batch_cache

    def load_plan(self) -> Plan:
        """The plan exactly as it was stored (same fingerprint, frames, requests)."""
        from .plan import Plan

        fingerprint = self.meta("fingerprint")
        if fingerprint is None:
            raise LedgerError(f"{self.path} holds no campaign yet")
        return Plan.restore(
            source=self.load_frame("source"),
            recipients=self.load_frame("recipients"),
            batches=self.batches(extra=False),
            settings=json.loads(self.meta("plan_settings") or "{}"),
            fingerprint=fingerprint,
        )

    def journal_rows(
        self, batches: Mapping[int, Batch] | None = None
    ) -> Iterator[tuple[int, BatchOutcome | None, int, float]]:
        """(seq, outcome or None while in flight, batch_id, started_at) in journal order.

        ``batches`` (batch_id -> Batch, e.g. the plan's) spares reading them from the file.
        """
        rows = self._conn.execute(
            "SELECT seq, batch_id, started_at, finished_at, kind, code, reason, attempts,"
            " success, fail, acc_rows, acc_ids, accepted FROM journal ORDER BY seq"
        ).fetchall()
        for seq, batch_id, started, finished, kind, code, reason, att, ok, fail, *acc in rows:
            outcome = None
            if kind is not None:
                if acc[1] is not None and (batches is None or batch_id not in batches):
                    batches = self._batch_map()
                outcome = BatchOutcome(
                    int(batch_id), kind, code or "", reason or "", int(att or 0),
                    float(started), float(finished if finished is not None else started),
                    int(ok or 0), int(fail or 0),
                    _decode_accepted(batches.get(batch_id) if batches else None, *acc),
                )  # fmt: skip
            yield int(seq), outcome, int(batch_id), float(started)

    def last_kinds(self) -> dict[int, str]:
        """batch_id -> the kind of its latest journal row (``unknown`` while in flight)."""
        rows = self._conn.execute("SELECT batch_id, kind FROM journal ORDER BY seq")
        return {int(b): k or "unknown" for b, k in rows}

    def outcomes(self) -> list[BatchOutcome]:
        """Every completed request's outcome, in journal order; in-flight rows as ``unknown``."""
        out = []
        for _, outcome, batch_id, started in self.journal_rows():
            out.append(outcome or _in_flight_outcome(batch_id, started))
        return out

    def in_flight(self) -> list[int]:
        """Batches whose request left but whose answer was never recorded."""
        rows = self._conn.execute("SELECT batch_id FROM journal WHERE kind IS NULL ORDER BY seq")
        return [int(r[0]) for r in rows]

    def reconciliations(self) -> list[Reconciliation]:
        rows = self._conn.execute(
            "SELECT after_seq, batch_id, at, found, missing FROM reconcile ORDER BY seq"
        )
        return [
            Reconciliation(
                int(a),
                int(b),
                float(at),
                tuple((int(p), str(m)) for p, m in json.loads(found)),
                tuple(int(p) for p in json.loads(missing)),
            )
            for a, b, at, found, missing in rows
        ]

    def delivery_records(self) -> list[DeliveryRecord]:
        rows = self._conn.execute(
            "SELECT msg_id, number, status, receive_time, raw_status FROM deliveries"
        )
        return [
            DeliveryRecord(m, n or "", s, datetime.fromisoformat(t) if t else None, r or "")
            for m, n, s, t, r in rows
        ]

    def last_seq(self) -> int:
        return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0])

    # -- internals -------------------------------------------------------------------------
    def _write(self) -> _Transaction:
        if self.closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        if self.readonly:
            raise LedgerError(f"the ledger {self.path} was opened read-only")
        return _Transaction(self._conn, self._mutex)


class _Transaction:
    """``with`` block = one committed transaction (rolled back on error)."""

    def __init__(self, conn: sqlite3.Connection, mutex: threading.Lock) -> None:
        self._conn, self._mutex = conn, mutex

    def __enter__(self) -> sqlite3.Cursor:
        self._mutex.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._mutex.release()
            raise
        return self._conn.cursor()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._mutex.release()


# -- file checks, lock, connection ------------------------------------------------------------
def check_ledger_file(path: Path) -> None:
    """Raise :class:`LedgerError` unless ``path`` is a healthy ledger of this schema.

    Reads only: the file's bytes and modification time stay as they were.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            header = fh.read(100)
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc}") from exc
    if size == 0:
        raise LedgerError(f"{path} is an empty file, not a campaign ledger; refusing to touch it")
    if not header.startswith(SQLITE_HEADER):
        raise LedgerError(f"{path} is not a campaign ledger (not an SQLite file)")
    if size < 512 or len(header) < 100:
        raise LedgerError(f"{path} is truncated: {size} bytes")
    # A WAL-mode file without its -wal sidecar: read it as immutable so SQLite creates no
    # sidecar files next to a file that may not be ours.
    wal_mode = header[18] == 2
    immutable = wal_mode and not Path(f"{path}-wal").exists()
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open {path}: {exc}") from exc
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise LedgerError(
                f"{path} is an SQLite database of another application, not a campaign ledger"
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        meta = dict(conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("app") != APP_NAME:
            raise LedgerError(f"{path} is not a campaign ledger (no itnio-campaign meta table)")
        stored = meta.get("schema_version")
        if version != SCHEMA_VERSION or stored != str(SCHEMA_VERSION):
            raise LedgerError(
                f"{path} is a ledger of schema version {stored or version}; this version of "
                f"itnio-campaign reads version {SCHEMA_VERSION} only. Use the itnio-campaign "
                "release that wrote it."
            )
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise LedgerError(f"{path} is corrupt: {check}")
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{path} is corrupt or truncated: {exc}") from exc
    finally:
        conn.close()


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _acquire_lock(path: Path) -> BinaryIO:
    """Exclusive, non-blocking lock on ``<path>.lock``; the OS drops it if we die."""
    lock_path = _lock_path(path)
    fh = lock_path.open("a+b")
    try:
        _lock(fh)
    except OSError:
        fh.seek(0)
        holder = fh.read(64).decode(errors="replace").strip()
        fh.close()
        who = f" (process {holder})" if holder else ""
        raise LedgerError(
            f"the ledger {path} is in use by another writer{who}; one campaign ledger allows "
            "one sender at a time. Close the other (ledger.close() / let it finish) first."
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(str(os.getpid()).encode())
    fh.flush()
    return fh


def _release_lock(fh: BinaryIO, path: Path, *, remove: bool) -> None:
    try:
        if remove:  # we created it for a file we then refused: leave no trace
            _lock_path(path).unlink(missing_ok=True)
        else:
            fh.seek(0)
            fh.truncate()
    finally:
        fh.close()  # closing the descriptor releases the flock


try:
    import fcntl

    def _lock(fh: BinaryIO) -> None:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

except ImportError:  # pragma: no cover - Windows
    import msvcrt

    def _lock(fh: BinaryIO) -> None:
        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        uri = f"{path.resolve().as_uri()}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint (and fsync) rarely while sending: ~64 MB of journal between checkpoints.
    conn.execute("PRAGMA wal_autocheckpoint=16384")
    return conn


def _create_schema(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        cur = conn.cursor()
        _put_meta(cur, app=APP_NAME, schema_version=str(SCHEMA_VERSION))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _put_meta(cur: sqlite3.Cursor, **values: str) -> None:
    cur.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        list(values.items()),
    )


# -- encoding ---------------------------------------------------------------------------------
def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _float(text: str | None) -> float | None:
    return float(text) if text else None


def _safe_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without credentials (see :func:`~itnio_campaign.config.public_settings`),
    as JSON keeps them: unusual values become their str()."""
    return dict(json.loads(_json(public_settings(settings))))


def _in_flight_outcome(batch_id: int, started: float) -> BatchOutcome:
    return BatchOutcome(batch_id, "unknown", IN_FLIGHT_CODE, IN_FLIGHT_REASON, 1, started, started)


def _batch_rows(batches: Sequence[Batch], recipients: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Table rows for ``batches``: layout only, where the frame holds their numbers and ids.

    Storing a request's numbers and order ids again would double the plan's cost, so a request
    whose numbers (and ids) are the recipients frame's at its positions — always so for a
    planned campaign, checked here in one vectorised pass — keeps just its item layout.
    """
    if not batches:
        return []
    pos = [np.asarray(b.positions, dtype="<i4") for b in batches]
    flat = np.concatenate(pos)
    n = len(recipients)
    in_range = flat.size == 0 or (int(flat.min()) >= 0 and int(flat.max()) < n)
    sizes_ok = all(sum(len(it.numbers) for it in b.items) == len(b.positions) for b in batches)
    by_frame = [False] * len(batches)
    firsts: list[int] = []  # first row position of every item, for its content
    if in_range and sizes_ok and {"number", "order_id", "content"} <= set(recipients.columns):
        items = [it for b in batches for it in b.items]
        if _same_strings(
            list(chain.from_iterable(it.numbers for it in items)), recipients["number"], flat
        ) and _same_strings(
            list(chain.from_iterable(it.order_ids or () for it in items)),
            recipients["order_id"],
            flat[_with_ids_mask(batches)],
        ):
            by_frame = [True] * len(batches)
        else:  # some request differs from the frame: find which, one by one (rare)
            by_frame = [
                _same_strings([x for it in b.items for x in it.numbers], recipients["number"], p)
                and _same_strings(
                    [x for it in b.items for x in it.order_ids or ()],
                    recipients["order_id"],
                    p[_with_ids_mask([b])],
                )
                for b, p in zip(batches, pos, strict=True)
            ]
        offsets = np.cumsum([0] + [len(p) for p in pos])
        for b, at in zip(batches, offsets.tolist(), strict=False):
            for it in b.items:
                firsts.append(int(flat[at]) if it.numbers else -1)
                at += len(it.numbers)
    frame_contents = _contents_at(recipients, firsts) if firsts else []
    rows: list[tuple[Any, ...]] = []
    k = 0
    for b, p, frame in zip(batches, pos, by_frame, strict=True):
        if frame:
            layout = []
            for it in b.items:
                c = frame_contents[k]
                same = isinstance(c, str) and c == it.content
                layout.append([len(it.numbers), it.sender_id, None if same else it.content,
                               it.order_ids is not None])  # fmt: skip
                k += 1
            items_text = _json({"f": layout})
        else:
            k += len(b.items)
            items_text = _json([
                [",".join(it.numbers), it.content, it.sender_id,
                 None if it.order_ids is None else ",".join(it.order_ids)]
                for it in b.items
            ])  # fmt: skip
        rows.append((b.batch_id, b.endpoint, items_text, p.tobytes()))
    return rows


def _with_ids_mask(batches: Sequence[Batch]) -> np.ndarray:
    """Per number of ``batches`` (flattened): does its item carry order ids?"""
    flags = [it.order_ids is not None for b in batches for it in b.items]
    if all(flags):
        return np.ones(sum(len(b.positions) for b in batches), dtype=bool)
    sizes = [len(it.numbers) for b in batches for it in b.items]
    return np.repeat(np.asarray(flags, dtype=bool), sizes)


def _arrow_strings(values: Any) -> Any:
    """A pyarrow large_string Array of a pandas column (or list); raises if not strings."""
    import pyarrow as pa  # type: ignore[import-untyped]

    arr = pa.array(values.array if isinstance(values, pd.Series) else values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _same_strings(values: list[str], column: pd.Series, positions: np.ndarray) -> bool:
    """Is ``values`` exactly ``column`` at ``positions`` (all strings, no missing)?"""
    if len(values) != len(positions):
        return False
    if not values:
        return True
    try:
        import pyarrow as pa

        taken = _arrow_strings(column).take(pa.array(positions))
        given = pa.array(values, type=pa.large_string())
        return bool(taken.null_count == 0 and taken.equals(given))
    except Exception:  # not strings, or no pyarrow: store the request explicitly
        return False


def _contents_at(recipients: pd.DataFrame, positions: list[int]) -> list[Any]:
    col = recipients["content"].array
    return [None if p < 0 else col[p] for p in positions]


def _batches_from_rows(
    rows: Sequence[tuple[int, str, str, bytes]], recipients: pd.DataFrame | None
) -> list[Batch]:
    """Inverse of :func:`_batch_rows` (``recipients`` needed for layout-only rows)."""
    pos = [np.frombuffer(blob, dtype="<i4") for _, _, _, blob in rows]
    frame_rows = [i for i, (_, _, items, _) in enumerate(rows) if items.startswith("{")]
    numbers: list[Any] = []
    ids: list[Any] = []
    contents: Any = None
    if frame_rows:
        assert recipients is not None
        flat = np.concatenate([pos[i] for i in frame_rows])
        import pyarrow as pa

        take = pa.array(flat.astype(np.int64))
        numbers = _arrow_strings(recipients["number"]).take(take).to_pylist()
        ids = _arrow_strings(recipients["order_id"]).take(take).to_pylist()
        contents = recipients["content"].array
    out: list[Batch] = []
    at = 0
    for (batch_id, endpoint, items_text, _), p in zip(rows, pos, strict=True):
        spec = json.loads(items_text)
        if isinstance(spec, dict):
            items = []
            for count, sender_id, content, has_ids in spec["f"]:
                items.append(
                    BatchItem(
                        tuple(numbers[at : at + count]),
                        content if content is not None else contents[int(flat[at])],
                        sender_id,
                        tuple(ids[at : at + count]) if has_ids else None,
                    )
                )
                at += count
            parsed = tuple(items)
        else:
            parsed = tuple(
                BatchItem(
                    tuple(nums.split(",")) if nums else (),
                    content,
                    sender_id,
                    None if order_ids is None else tuple(order_ids.split(",")),
                )
                for nums, content, sender_id, order_ids in spec
            )
        out.append(Batch(int(batch_id), endpoint, parsed, tuple(p.tolist())))  # type: ignore[arg-type]
    return out


def _encode_accepted(
    batch: Batch | None, accepted: Accepted
) -> tuple[bytes | None, str | None, str | None]:
    """(acc_rows, acc_ids, accepted JSON) for a journal row; see the schema.

    The common answer — every number accepted, in the request's order — costs one join.
    """
    if not accepted:
        return None, None, None
    oids, nums, mids = accepted.order_ids, accepted.numbers, accepted.msg_ids
    ids_text = "\n".join(mids)
    if batch is not None and ids_text.count("\n") == len(mids) - 1:
        b_nums = batch.numbers
        b_oids = batch.order_ids
        if nums == b_nums and oids == b_oids:
            return None, ids_text, None
        index = {(o, n): i for i, (o, n) in enumerate(zip(b_oids, b_nums, strict=True))}
        rows = [index.get(pair, -1) for pair in zip(oids, nums, strict=True)]
        if -1 not in rows:
            return np.asarray(rows, dtype="<i4").tobytes(), ids_text, None
    return None, None, _json(list(accepted))


def _decode_accepted(
    batch: Batch | None, rows: bytes | None, ids_text: str | None, accepted: str | None
) -> Accepted:
    if accepted:
        return Accepted.of((str(a), str(b), str(c)) for a, b, c in json.loads(accepted))
    if ids_text is None:
        return Accepted()
    if batch is None:
        raise LedgerError("a journal row names a request the ledger does not hold")
    mids = tuple(ids_text.split("\n"))
    nums, oids = batch.numbers, batch.order_ids
    if rows is None:
        return Accepted(oids, nums, mids)
    idx = np.frombuffer(rows, dtype="<i4").tolist()
    return Accepted(tuple(oids[i] for i in idx), tuple(nums[i] for i in idx), mids)


def encode_frame(df: pd.DataFrame, *, check_rows: int = 2000) -> tuple[str, bytes]:
    """The frame as Parquet bytes (pyarrow) or, failing that, a JSON table — never pickle.

    Lossless for the dtypes pandas and Arrow share (numbers, strings, categoricals, nullable
    ints, tz-aware times, any index). Whether *this* frame's columns survive is checked by
    decoding the first ``check_rows`` rows (dtype losses show there; a full decode of a
    million rows would cost more than sending them). If neither format gives back an equal
    frame, the JSON table is stored and a warning says the dtypes may differ on reload.
    """
    errors: list[str] = []
    head = df.iloc[:check_rows]
    for fmt in ("parquet", "json"):
        try:
            _assert_same(head, decode_frame(fmt, _ENCODERS[fmt](head)))
            return fmt, (_ENCODERS[fmt](df) if len(df) > len(head) else _ENCODERS[fmt](head))
        except ImportError:
            continue
        except Exception as exc:  # any failure of a codec falls through to the next
            errors.append(f"{fmt}: {type(exc).__name__}: {str(exc)[:200]}")
    # Store what JSON can hold; a warning beats refusing the campaign.
    warnings.warn(
        "the frame could not be stored exactly (" + "; ".join(errors) + "); a reloaded "
        "campaign may show different dtypes",
        stacklevel=3,
    )
    return "json", _to_json_bytes(df.set_axis([str(c) for c in df.columns], axis=1))


def decode_frame(fmt: str, data: bytes) -> pd.DataFrame:
    """Inverse of :func:`encode_frame`."""
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "json":
            return pd.read_json(io.StringIO(data.decode("utf-8")), orient="table")
    except Exception as exc:
        raise LedgerError(f"a stored frame cannot be read ({fmt}): {exc}") from exc
    raise LedgerError(f"unknown frame format {fmt!r} in the ledger")


def _to_parquet_bytes(df: pd.DataFrame) -> bytes:
    import pyarrow  # noqa: F401  (ImportError: JSON instead)

    buf = io.BytesIO()
    # No min/max statistics (nobody queries the blob) and no futile dictionary attempt on
    # columns of mostly distinct values (numbers, order ids): a third faster to write.
    df.to_parquet(buf, engine="pyarrow", index=True, write_statistics=False,
                  use_dictionary=_dictionary_columns(df))  # fmt: skip
    return buf.getvalue()


def _dictionary_columns(df: pd.DataFrame) -> bool | list[str]:
    """Columns worth dictionary-encoding: repetitive in the first rows (all, if unsure)."""
    if not all(isinstance(c, str) for c in df.columns) or df.columns.has_duplicates:
        return True
    head = df.iloc[:2000]
    return [str(c) for c in df.columns if len(head) == 0 or head[c].nunique() <= len(head) // 2] + [
        str(n) for n in df.index.names if n is not None and str(n) not in df.columns
    ]


def _to_json_bytes(df: pd.DataFrame) -> bytes:
    return df.to_json(orient="table", date_unit="ns").encode("utf-8")


_ENCODERS = {"parquet": _to_parquet_bytes, "json": _to_json_bytes}


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_flags=True)


def positions_of(batches: Sequence[Batch]) -> np.ndarray:
    """All row positions of ``batches``, concatenated."""
    if not batches:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.asarray(b.positions, dtype=np.int64) for b in batches])


__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Ledger",
    "LedgerError",
    "Reconciliation",
    "check_ledger_file",
    "decode_frame",
    "encode_frame",
]
