"""The campaign ledger: one SQLite file that lets a campaign survive a crash without double sends.

It holds the plan (the user's frame losslessly, the recipients and the requests), the
settings (never a credential), and **one journal row per request**: written *in flight* and
committed before the request leaves, completed with a compact record of the answer after
(docs/architecture.md, invariant 1); that record is committed with the next write (the next
request's in-flight row, at the latest the session's end), one transaction per request.
Per request, not per recipient: a million recipients are ~1000 rows.

Tables (schema version :data:`SCHEMA_VERSION`, also in ``PRAGMA user_version``)::

    meta(key, value)              app, schema version, fingerprint, status, times, settings
    frames(name, format, data)    "source" and "recipients": Arrow IPC ("arrow"; version 2
                                  wrote Parquet), "typed" Parquet or a JSON table, see .codecs
    batches(batch_id, endpoint, extra, items, positions)   every request the campaign may make;
                                  numbers and order ids are read from the recipients frame
    journal(seq, batch_id, started_at, finished_at, kind, code, reason, attempts,
            success, fail, acc_rows, acc_ids, accepted)   kind NULL = in flight
    reconcile(seq, after_seq, batch_id, at, found, missing)   what getSentRcd proved
    deliveries(msg_id, number, status, receive_time, raw_status)

One ledger, one writer: :meth:`Ledger.open` locks the database file itself (see
:mod:`.lockfile`), so no second writer gets in through any other path to it, and the OS
releases the lock when the process dies, even by SIGKILL. A file that is not a ledger of
this schema raises :class:`~itnio_campaign.errors.LedgerError` and is left untouched. A
ledger closed cleanly leaves no file beside it (no ``-wal``, ``-shm`` or lock file).
The package's docstring (:mod:`itnio_campaign.ledger`) has an example.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..config import public_settings
from ..errors import LedgerError, UsageError
from ..models import Batch, DeliveryRecord
from ..result import BatchOutcome
from .arrowframe import arrow_table, frame_table
from .codecs import (
    _json,
    decode_accepted,
    decode_batches,
    decode_frame,
    encode_accepted,
    encode_batches,
    encode_frame,
)
from .lockfile import (
    APP_NAME,
    APPLICATION_ID,
    SCHEMA_VERSION,
    FileHold,
    check_ledger_file,
    connect_reader,
    connect_writer,
    remove_created,
    remove_legacy_lock,
    sqlite_error,
    upgrade_schema,
)

if TYPE_CHECKING:
    from ..plan import Plan

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
    -- Accepted numbers, cheaply: their msgIds one per line (acc_ids, a BLOB when long: the
    -- text's UTF-8 byte count as 4 bytes little-endian, then the text zstd-compressed),
    -- aligned with the request's numbers in order (acc_rows NULL) or with int32 indexes into
    -- them (acc_rows), each one's (order_id, number) being the request's. Anything else:
    -- JSON `accepted`. (No index on batch_id: every read scans the journal in seq order,
    -- and an index page more to write per request costs more than it ever saves.)
    acc_rows BLOB, acc_ids,
    accepted TEXT                       -- [[order_id, number, msg_id], ...]
);
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
    with ``with``. All writes are one short transaction each (WAL, ``synchronous=NORMAL``;
    the plan goes through a rollback journal, written once), except :meth:`complete`, which
    rides on the next one.

    >>> with Ledger.open("promo.sqlite") as ledger:               # doctest: +SKIP
    ...     ledger.start(plan, {"concurrency": 8})
    ...     ledger.begin(batch, time.time()); ledger.complete(outcome)
    """

    def __init__(
        self, path: Path, conn: sqlite3.Connection, hold: FileHold, *, writer: bool
    ) -> None:
        self.path = path  # as the user gave it: every message names this path
        self._conn = conn
        self._hold = hold
        self.readonly = not writer
        self._closed = False
        self._mutex = threading.Lock()  # the runner may call from another thread
        # batch_id -> (journal seq of its in-flight row, the batch): complete() encodes the
        # accepted numbers against the batch.
        self._open_rows: dict[int, tuple[int, Batch]] = {}
        # Journal statements complete() staged; the next transaction writes them first.
        self._staged: list[tuple[str, tuple[Any, ...]]] = []
        self._recipients: pd.DataFrame | None = None  # decoded once, for the stored batches
        self._batch_cache: dict[int, Batch] | None = None
        self._session_start: float | None = None  # this object's sending session, if any

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, create: bool = True, readonly: bool = False
    ) -> Ledger:
        """Open (or, with ``create``, create) the ledger at ``path`` for writing.

        ``readonly=True`` opens an existing ledger for reading only, without the writer lock
        (a consistent snapshot even while another process sends).

        Raises :class:`LedgerError` (one line naming ``path``) when another process or
        ledger object writes to the same file (by any path: symlink, hard link, ``..``),
        when the file is not an itnio-campaign ledger, is corrupt or truncated, has another
        schema version, or cannot be written (read-only file or folder).
        """
        p = Path(path)
        if p.is_dir():
            raise LedgerError(f"{p} is a directory, not a ledger file; give a file name")
        hold, created = FileHold.take(p, create=create and not readonly)
        conn: sqlite3.Connection | None = None
        try:
            if readonly:
                check_ledger_file(p, hold)
                return cls(p, connect_reader(p), hold, writer=False)
            if not hold.lock_writer():
                raise _in_use(p, _holder(p) if not created else None)
            if not remove_legacy_lock(p):
                raise _in_use(p, "a process of an older itnio-campaign release")
            if not created:
                check_ledger_file(p, hold)
            conn = connect_writer(p)
            if created:
                _create_schema(p, conn)
            else:
                upgrade_schema(p, conn)  # a version 2 ledger is written as version 3
            ledger = cls(p, conn, hold, writer=True)
            ledger._claim()
            return ledger
        except BaseException:
            # Refused: release everything, and leave no trace beside a file that is not ours.
            if conn is not None:
                conn.close()
            hold.release()
            if created:
                remove_created(p)
            raise

    def _claim(self) -> None:
        """Write who writes (shown to a refused second writer); fails early if read-only."""
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        with self._write() as cur:
            _put_meta(cur, writer=_json(owner))

    def writer_alive(self) -> bool:
        """True when some process holds this ledger open for writing right now."""
        return not self.readonly or self._hold.writer_alive()

    def close(self) -> None:
        """Close the database and release the writer lock (idempotent).

        The last connection to close checkpoints the WAL and removes ``-wal`` and ``-shm``:
        a ledger closed cleanly is one file. The lock's descriptor is closed after the
        connection (closing it earlier would drop SQLite's own locks, see :mod:`.lockfile`).
        """
        if self._closed:
            return
        if not self.readonly:
            try:
                with self._write() as cur:
                    cur.execute("DELETE FROM meta WHERE key='writer'")
            except LedgerError:
                pass  # closing must not fail: the lock, not this row, is what counts
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            try:
                self._conn.close()
            finally:
                self._hold.release()

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
                    f"ledger file for a new campaign, or resume that one (itnio-campaign "
                    f"resume {self.path}, or resume_campaign() in Python)"
                )
            if settings:
                self.set_settings(settings)
            return
        frames = _encode_plan_frames(plan.source, plan.recipients)
        vouches = getattr(plan, "requests_match_recipients", None)  # a Plan; not stored parts
        known = bool(vouches()) if callable(vouches) else False
        batch_rows = encode_batches(plan.batches, plan.recipients, known_match=known)
        with self._bulk_mode(), self._write() as cur:
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
        """Record what the request came to (its row stops being in flight).

        While other requests are in flight it is staged, not committed on its own: the next
        write of this ledger (the next request's :meth:`begin`, :meth:`finish`,
        :meth:`close`, any other write) commits it in its own transaction, and every read
        of the journal commits it first. One transaction per request instead of two; the
        in-flight mark of :meth:`begin` stays durable before its request leaves. A process
        killed in between leaves the staged answers' requests in flight: ``unknown`` on
        resume, reconciled, never resent (as a request whose answer never came). The
        answer of the only request in flight is committed at once.
        """
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
            *encode_accepted(batch, outcome.accepted),
        )
        staged: tuple[str, tuple[Any, ...]]
        if seq is None:  # completed without begin (never left): journal it whole
            staged = (
                "INSERT INTO journal(batch_id, started_at, finished_at, kind, code, reason,"
                " attempts, success, fail, acc_rows, acc_ids, accepted)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (outcome.batch_id, outcome.started_at, *values),
            )
        else:
            staged = (
                "UPDATE journal SET finished_at=?, kind=?, code=?, reason=?, attempts=?,"
                " success=?, fail=?, acc_rows=?, acc_ids=?, accepted=? WHERE seq=?",
                (*values, seq),
            )
        self._check_writable()
        with self._mutex:
            self._staged.append(staged)
            alone = not self._open_rows
        if alone:  # no other request in flight, so no begin() soon to carry it: commit now
            self._commit_staged()

    def _commit_staged(self) -> None:
        """Commit answers :meth:`complete` staged (before a read of the journal)."""
        if self._staged:
            with self._write():
                pass  # the transaction writes them

    def finish(self, status: str, reason: str | None = None, *, now: float | None = None) -> None:
        """Record how the run ended: ``completed``, ``stopped`` or ``halted`` (with why).

        Ends the sending session :meth:`mark_running` began: its duration is added to
        :attr:`active_seconds`. ``now``: the end time (default ``time.time()``).
        """
        end = time.time() if now is None else now
        with self._write() as cur:
            values = {"status": status, "halt_reason": reason or "", "finished_at": repr(end)}
            start = _float(self.meta("session_started_at"))
            if start is not None:
                values["active_seconds"] = repr(self.active_seconds + max(0.0, end - start))
                values["session_started_at"] = ""
            _put_meta(cur, **values)
        self._session_start = None

    # -- more writes -----------------------------------------------------------------------
    def mark_running(self, started_at: float) -> None:
        """Note that a sending session starts at ``started_at``.

        Keeps the first start time of the campaign (:attr:`started_at`). A session that a
        dead process never finished is counted first, up to its last journal entry.
        """
        with self._write() as cur:
            self._end_dead_session(cur)
            first = self.meta("started_at")
            _put_meta(
                cur,
                status="running",
                halt_reason="",
                started_at=first or repr(started_at),
                session_started_at=repr(started_at),
            )
        self._session_start = started_at

    def _end_dead_session(self, cur: sqlite3.Cursor) -> None:
        """Add an unfinished session of a dead process, up to its last journal entry."""
        start = _float(self.meta("session_started_at"))
        if start is None or self._session_start is not None:  # none, or ours and still going
            return
        last = cur.execute(
            "SELECT max(coalesce(finished_at, started_at)) FROM journal WHERE started_at >= ?",
            (start,),
        ).fetchone()[0]
        spent = max(0.0, float(last) - start) if last is not None else 0.0
        _put_meta(cur, active_seconds=repr(self.active_seconds + spent), session_started_at="")

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
            self._end_dead_session(cur)  # before its rows get `now` as their finish time
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
        rows = encode_batches(batches, self._recipients_frame()) if batches else []
        with self._write() as cur:
            cur.executemany(
                "INSERT INTO batches(batch_id, endpoint, extra, items, positions) "
                "VALUES (?, ?, 1, ?, ?)",
                rows,
            )
        self._batch_cache = None

    def amend_plan(
        self,
        recipients: pd.DataFrame,
        batches: Iterable[Batch],
        also: Callable[[sqlite3.Cursor], None] | None = None,
    ) -> None:
        """Replace the stored recipients frame and add ``batches`` (extra requests) in one
        transaction, with ``also(cursor)`` (a module's own rows) in the same one.

        A winner rollout gives held rows their text this way: either the decision, the rows'
        new text and their requests are all stored, or none of them is.
        """
        batches = list(batches)
        fmt, data = encode_frame(recipients, check_rows=100, like=self._source_table())
        rows = encode_batches(batches, recipients) if batches else []
        with self._write() as cur:
            cur.execute("UPDATE frames SET format=?, data=? WHERE name='recipients'", (fmt, data))
            cur.executemany(
                "INSERT INTO batches(batch_id, endpoint, extra, items, positions) "
                "VALUES (?, ?, 1, ?, ?)",
                rows,
            )
            if also is not None:
                also(cur)
        self._recipients = None  # the cached copies are stale now
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
    def active_seconds(self) -> float:
        """Seconds spent sending, over every finished session (not the time between them).

        A session is :meth:`mark_running` … :meth:`finish`; one a crash cut short counts up to
        its last journal entry, from the next :meth:`mark_running` or
        :meth:`settle_in_flight` on. A ledger written before sessions were counted gives
        ``finished_at - started_at``.

        >>> with Ledger.open("promo.sqlite") as ledger:              # doctest: +SKIP
        ...     ledger.mark_running(100.0); ledger.finish("stopped", now=130.0)
        ...     ledger.mark_running(5000.0); ledger.finish("completed", now=5010.0)
        ...     ledger.active_seconds
        40.0
        """
        stored = _float(self.meta("active_seconds"))
        if stored is not None:
            return stored
        first, last = self.started_at, self.finished_at
        return max(0.0, last - first) if first is not None and last is not None else 0.0

    @property
    def settings(self) -> dict[str, Any]:
        return dict(json.loads(self.meta("settings") or "{}"))

    def load_frame(self, name: str) -> pd.DataFrame:
        row = self._conn.execute("SELECT format, data FROM frames WHERE name=?", (name,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path} holds no {name} frame: no campaign was started in it")
        return decode_frame(row[0], row[1], like=self._source_table if name != "source" else None)

    def _source_table(self) -> Any:
        """The stored source frame as a pyarrow Table (None unless in the "arrow" format):
        the recipients frame stores columns equal to one of its columns as references."""
        row = self._conn.execute("SELECT format, data FROM frames WHERE name='source'").fetchone()
        if row is None or row[0] != "arrow":
            return None
        return arrow_table(row[1])

    def batches(self, *, extra: bool | None = None) -> list[Batch]:
        """The stored requests in batch order (``extra``: only resends / only planned)."""
        sql = "SELECT batch_id, endpoint, items, positions FROM batches"
        if extra is not None:
            sql += f" WHERE extra={int(extra)}"
        rows = self._conn.execute(sql + " ORDER BY batch_id").fetchall()
        needs_frame = any(items.startswith("{") for _, _, items, _ in rows)
        return decode_batches(rows, self._recipients_frame() if needs_frame else None)

    def _recipients_frame(self) -> pd.DataFrame:
        if self._recipients is None:
            self._recipients = self.load_frame("recipients")
        return self._recipients

    def _batch_map(self) -> dict[int, Batch]:
        if self._batch_cache is None:
            self._batch_cache = {b.batch_id: b for b in self.batches()}
        return self._batch_cache

    def plan_parts(self) -> dict[str, Any]:
        """The stored plan's parts (source, recipients, batches, settings, fingerprint), as
        :meth:`Plan.restore <itnio_campaign.plan.Plan.restore>` takes them: the ledger does
        not import the plan layer (see :func:`itnio_campaign.plan.load_plan`)."""
        fingerprint = self.meta("fingerprint")
        if fingerprint is None:
            raise LedgerError(f"{self.path} holds no campaign yet")
        return dict(
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
        self._commit_staged()
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
                    decode_accepted(batches.get(batch_id) if batches else None, *acc),
                )  # fmt: skip
            yield int(seq), outcome, int(batch_id), float(started)

    def last_kinds(self) -> dict[int, str]:
        """batch_id -> the kind of its latest journal row (``unknown`` while in flight)."""
        self._commit_staged()
        rows = self._conn.execute("SELECT batch_id, kind FROM journal ORDER BY seq")
        return {int(b): k or "unknown" for b, k in rows}

    def outcomes(self) -> list[BatchOutcome]:
        """Every completed request's outcome, in journal order; in-flight rows as ``unknown``."""
        out = []
        for _, outcome, batch_id, started in self.journal_rows():
            out.append(outcome or in_flight_outcome(batch_id, started))
        return out

    def in_flight(self) -> list[int]:
        """Batches whose request left but whose answer was never recorded."""
        self._commit_staged()
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
        self._commit_staged()
        return int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM journal").fetchone()[0])

    def extension(self, *, write: bool = False) -> Any:
        """A cursor for modules that keep their own tables in this ledger (trial_store).

        ``write=True``: a context manager holding one write transaction (as the ledger's
        own writes); otherwise a context manager giving a plain cursor for reads.
        """
        if write:
            return self._write()
        if self.closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        self._commit_staged()
        return contextlib.nullcontext(self._conn.cursor())

    # -- internals -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _bulk_mode(self) -> Iterator[None]:
        """Write the plan (megabytes) once, not twice: in a rollback journal, then WAL again.

        In WAL mode every page goes to the ``-wal`` file and is copied again at the checkpoint;
        in a rollback journal, pages appended to the file are written once (there is nothing
        to roll back for them). A crash (even SIGKILL) mid-plan leaves a hot journal that the
        next open rolls back: no plan, nothing sent. ``synchronous`` stays NORMAL, as for the
        journal. Needs the file to ourselves; when a reader is in (SQLite refuses the switch),
        the plan goes through WAL as before.
        """
        with self._mutex:
            # A reader holding the file makes the switch fail: give up at once, do not wait.
            timeout = self._conn.execute("PRAGMA busy_timeout").fetchone()[0]
            self._conn.execute("PRAGMA busy_timeout=0")
            try:
                mode = self._conn.execute("PRAGMA journal_mode=TRUNCATE").fetchone()[0]
            except sqlite3.Error:
                mode = "wal"
            finally:
                self._conn.execute(f"PRAGMA busy_timeout={int(timeout)}")
        try:
            yield
        finally:
            if mode == "truncate":
                with self._mutex, contextlib.suppress(sqlite3.Error):
                    self._conn.execute("PRAGMA journal_mode=WAL")

    def _check_writable(self) -> None:
        if self.closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        if self.readonly:
            raise LedgerError(f"the ledger {self.path} was opened read-only")

    def _write(self) -> _Transaction:
        self._check_writable()
        return _Transaction(self._conn, self._mutex, self.path, self._staged)


class _Transaction:
    """``with`` block = one committed transaction (rolled back on error), which first
    writes the statements ``staged`` (see :meth:`Ledger.complete`; dropped once committed).

    SQLite errors become a :class:`LedgerError` naming the ledger's path.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        mutex: threading.Lock,
        path: Path,
        staged: list[tuple[str, tuple[Any, ...]]] | None = None,
    ) -> None:
        self._conn, self._mutex, self._path = conn, mutex, path
        self._staged = staged if staged is not None else []
        self._written = 0

    def __enter__(self) -> sqlite3.Cursor:
        self._mutex.acquire()
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._mutex.release()
            raise sqlite_error(self._path, exc) from exc
        except BaseException:
            self._mutex.release()
            raise
        cur = self._conn.cursor()
        try:
            for sql, params in self._staged:
                cur.execute(sql, params)
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        self._written = len(self._staged)
        return cur

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
            if not exc_type:
                del self._staged[: self._written]  # committed: no longer staged
        except sqlite3.Error as error:
            if exc is None:
                raise sqlite_error(self._path, error) from error
        finally:
            self._mutex.release()
        if isinstance(exc, sqlite3.Error):
            raise sqlite_error(self._path, exc) from exc


# -- helpers ---------------------------------------------------------------------------------
def _create_schema(path: Path, conn: sqlite3.Connection) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from exc
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        cur = conn.cursor()
        _put_meta(cur, app=APP_NAME, schema_version=str(SCHEMA_VERSION))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
        conn.execute("COMMIT")
    except BaseException as exc:
        conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise sqlite_error(path, exc) from exc
        raise


def _in_use(path: Path, holder: str | None) -> LedgerError:
    who = f" ({holder})" if holder else ""
    return LedgerError(
        f"the ledger {path} is in use by another writer{who}; one campaign ledger allows one "
        "sender at a time. Let the other finish (or stop it), then resume."
    )


def _holder(path: Path) -> str | None:
    """Who writes the ledger, from its owner row ("process 123 on host"), if readable."""
    try:
        conn = sqlite3.connect(f"{Path(os.path.realpath(path)).as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key='writer'").fetchone()
        finally:
            conn.close()
        owner = json.loads(row[0])
        since = datetime.fromtimestamp(float(owner["since"])).strftime("%Y-%m-%d %H:%M:%S")
        return f"process {int(owner['pid'])} on {owner['host']}, writing since {since}"
    except Exception:  # no row yet, or unreadable: the refusal stands without the detail
        return None


def _encode_plan_frames(
    source: pd.DataFrame, recipients: pd.DataFrame
) -> dict[str, tuple[str, bytes]]:
    """The plan's two frames; the recipients' columns equal to a source column are refs."""
    try:
        table = frame_table(source)
    except Exception:  # not for Arrow: the typed or JSON format, without references
        table = None
    fmt, data = encode_frame(source, table=table)
    like = table if fmt == "arrow" else None
    return {
        "source": (fmt, data),
        "recipients": encode_frame(recipients, check_rows=100, like=like),
    }


def _put_meta(cur: sqlite3.Cursor, **values: str) -> None:
    cur.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        list(values.items()),
    )


def _float(text: str | None) -> float | None:
    return float(text) if text else None


def _safe_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Settings without credentials (see :func:`~itnio_campaign.config.public_settings`),
    as JSON keeps them: unusual values become their str()."""
    return dict(json.loads(_json(public_settings(settings))))


def in_flight_outcome(batch_id: int, started: float) -> BatchOutcome:
    """The outcome of a request whose answer was never recorded: ``unknown``, reconcilable.

    >>> in_flight_outcome(3, 10.0).kind
    'unknown'
    """
    return BatchOutcome(batch_id, "unknown", IN_FLIGHT_CODE, IN_FLIGHT_REASON, 1, started, started)


_in_flight_outcome = in_flight_outcome  # the old private name, still imported by recovery.py
