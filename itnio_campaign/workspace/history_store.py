"""The contact history, stored as column blocks: what each campaign sent, to whom, when.

Why blocks and not a row per recipient: the history is written a campaign at a time (a
million recipients at once) and read in bulk as a recent window (every plan's caps and
repeat guard read the last 30 days, about a million rows). Rows cost a Python tuple each way
(recording a million took 7 s, a plan's window read 1 s); a block is a few ``bytes`` per
column that numpy reads without copying. A block holds up to :data:`BLOCK_ROWS` recipients of
one campaign in time order; its table row carries the time range, so a window read skips
older blocks unread, and each column is its own blob, so the caps read no msgIds.

Columns (little-endian): ``number``, ``content_hash``, ``pos`` as int64, ``sent_at`` as
float64 (Unix seconds), ``state`` as one byte (an index into :data:`STATE_CODES`), ``msg_id``
as UTF-8 text joined by NUL ('' for none; a NUL inside an id is stored as U+FFFD).

>>> states = np.array(["delivered", "unknown"], dtype=object)
>>> decode_column("state", encode_column("state", states), 2).tolist()
['delivered', 'unknown']
>>> decode_column("msg_id", encode_column("msg_id", np.array(["m1", None])), 2).tolist()
['m1', None]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .backend import Backend, Cursor, WorkspaceError

#: Recipients per block: small enough that a delivery update rewrites little, large enough
#: that a million recipients are 16 table rows.
BLOCK_ROWS = 65_536
#: The stored state codes. A storage format: append only, never reorder.
STATE_CODES = ("submitted", "sending", "delivered", "undelivered", "unknown")
#: Every column, in the table's order.
COLUMNS = ("number", "content_hash", "sent_at", "pos", "state", "msg_id")
_NUMERIC = {"number": "<i8", "content_hash": "<i8", "pos": "<i8", "sent_at": "<f8"}
_CODE = {name: i for i, name in enumerate(STATE_CODES)}
_SEP = "\x00"


# -- the codec ---------------------------------------------------------------------------------
def encode_column(name: str, values: np.ndarray) -> bytes:
    """One column of a block as bytes."""
    if name in _NUMERIC:
        return np.ascontiguousarray(values, dtype=_NUMERIC[name]).tobytes()
    if name == "state":
        codes = [_CODE.get(v, -1) for v in values.tolist()]
        if -1 in codes:
            bad = values[np.asarray(codes) == -1][0]
            raise ValueError(f"history state {bad!r} is not one of {STATE_CODES}")
        return np.asarray(codes, dtype=np.uint8).tobytes()
    texts = ["" if v is None or v != v else str(v) for v in values.tolist()]
    joined = _SEP.join(texts)
    if joined.count(_SEP) != max(len(texts) - 1, 0):  # a NUL inside an id: never lose a row
        joined = _SEP.join(t.replace(_SEP, "\ufffd") for t in texts)
    return joined.encode("utf-8", "surrogatepass")  # any str round-trips


def decode_column(name: str, data: bytes, rows: int) -> np.ndarray:
    """The values of one column of a block of ``rows`` recipients; :class:`WorkspaceError`
    if the bytes cannot be that (a damaged file, a foreign write)."""
    size = len(data)
    if name in _NUMERIC and size == rows * 8:
        return np.frombuffer(data, dtype=_NUMERIC[name], count=rows)
    if name == "state" and size == rows:
        codes = np.frombuffer(data, np.uint8, count=rows)
        if not rows or codes.max() < len(STATE_CODES):
            return np.asarray(STATE_CODES, dtype=object)[codes]
    if name == "msg_id":
        try:
            texts = bytes(data).decode("utf-8", "surrogatepass").split(_SEP) if rows else []
        except UnicodeDecodeError:
            texts = []
        if len(texts) == rows:
            out = np.asarray(texts, dtype=object)
            out[out == ""] = None
            return out
    raise WorkspaceError(
        f"the workspace's history is damaged (a block's {name} column holds {size:,} bytes "
        f"that are not {rows:,} values); restore the workspace from a backup, or move it "
        "away to start a new one"
    )


# -- reading and writing -----------------------------------------------------------------------
def write_blocks(
    cur: Cursor, campaign_id: int, columns: Mapping[str, np.ndarray], first: int = 0
) -> None:
    """Store ``columns`` (every name of :data:`COLUMNS`, in time order) as blocks
    ``first``, ``first + 1``, ... of ``campaign_id``."""
    total = len(columns["sent_at"])
    marks = ", ".join("?" * (len(COLUMNS) + 5))
    sql = (
        f"INSERT INTO history_blocks(campaign_id, block, first_at, last_at, row_count, "
        f"{', '.join(COLUMNS)}) VALUES ({marks})"
    )
    for k, start in enumerate(range(0, total, BLOCK_ROWS)):
        part = {name: np.asarray(columns[name])[start : start + BLOCK_ROWS] for name in COLUMNS}
        at = part["sent_at"]
        cur.execute(
            sql,
            (campaign_id, first + k, float(at.min()), float(at.max()), len(at),
             *(encode_column(name, part[name]) for name in COLUMNS)),
        )  # fmt: skip


def delete_blocks(cur: Cursor, campaign_id: int) -> None:
    cur.execute("DELETE FROM history_blocks WHERE campaign_id=?", (campaign_id,))


def next_block(cur: Cursor, campaign_id: int) -> int:
    cur.execute(
        "SELECT coalesce(max(block) + 1, 0) FROM history_blocks WHERE campaign_id=?",
        (campaign_id,),
    )
    return int((cur.fetchone() or (0,))[0])


def read_window(
    db: Backend,
    since: float,
    names: Sequence[str],
    *,
    ignore_key: str | None = None,
) -> dict[str, np.ndarray]:
    """Columns ``names`` (plus ``campaign_id``) of every recipient sent at or after ``since``
    (``-inf``: all), but those of the campaign keyed ``ignore_key``."""
    sql = f"SELECT campaign_id, row_count, {', '.join(_with_time(names))} FROM history_blocks " \
          "WHERE last_at >= ?"  # fmt: skip
    args: list[Any] = [since if np.isfinite(since) else -1e300]
    if ignore_key is not None:
        sql += " AND campaign_id NOT IN (SELECT campaign_id FROM campaigns WHERE campaign_key=?)"
        args.append(ignore_key)
    return _decode(db.query(sql + " ORDER BY first_at, campaign_id, block", args), names, since)


def read_blocks(
    cur: Cursor, keys: Iterable[tuple[int, int]], lock: str = ""
) -> list[tuple[Any, ...]]:
    """Whole blocks ``(campaign_id, block)`` inside transaction ``cur``; ``lock``: the
    backend's :func:`~.backend.row_lock` for a read-modify-write."""
    out = []
    for campaign_id, block in keys:
        cur.execute(
            f"SELECT row_count, {', '.join(COLUMNS)} FROM history_blocks WHERE campaign_id=? "
            f"AND block=?{lock}",
            (campaign_id, block),
        )
        row = cur.fetchone()
        if row is not None:
            out.append((campaign_id, block, row))
    return out


def rows_of_number(db: Backend, number: int) -> dict[str, np.ndarray]:
    """Every column (plus ``campaign_id``) of the recipients with ``number``: the number
    column of every block is scanned, and only the blocks that hold it are read whole."""
    rows = db.query("SELECT campaign_id, block, row_count, number FROM history_blocks")
    hits = [
        (int(c), int(b)) for c, b, count, blob in rows
        if (decode_column("number", blob, int(count)) == number).any()
    ]  # fmt: skip
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*COLUMNS, "campaign_id")}
    with db.transaction() as cur:
        for campaign_id, _, row in read_blocks(cur, hits):
            cols = block_columns(row)
            _take(parts, campaign_id, cols, cols["number"] == number)
    return _joined(parts)


def msg_blocks(db: Backend, since: float, states: Sequence[str]) -> dict[str, tuple[int, int]]:
    """``{msg_id: (campaign_id, block)}`` of recipients sent since ``since`` in ``states``."""
    rows = db.query(
        "SELECT campaign_id, block, row_count, sent_at, state, msg_id FROM history_blocks "
        "WHERE last_at >= ?",
        (since,),
    )
    out: dict[str, tuple[int, int]] = {}
    for campaign_id, block, count, *blobs in rows:
        cols = _columns(("sent_at", "state", "msg_id"), blobs, count)
        msg = cols["msg_id"]
        wanted = (cols["sent_at"] >= since) & np.isin(cols["state"], list(states)) & pd.notna(msg)
        out.update(dict.fromkeys(msg[wanted].tolist(), (int(campaign_id), int(block))))
    return out


def block_columns(row: Sequence[Any]) -> dict[str, np.ndarray]:
    """The columns of a row read by :func:`read_blocks` (``row_count`` first)."""
    return _columns(COLUMNS, row[1:], row[0])


def rewrite_states(cur: Cursor, campaign_id: int, block: int, states: np.ndarray) -> None:
    cur.execute(
        "UPDATE history_blocks SET state=? WHERE campaign_id=? AND block=?",
        (encode_column("state", states), campaign_id, block),
    )


def _with_time(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(["sent_at", *names]))


def _decode(
    rows: list[tuple[Any, ...]], names: Sequence[str], since: float
) -> dict[str, np.ndarray]:
    read = _with_time(names)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in [*read, "campaign_id"]}
    for campaign_id, count, *blobs in rows:
        cols = _columns(read, blobs, count)
        _take(parts, campaign_id, cols, cols["sent_at"] >= since)
    return _joined(parts)


def _columns(names: Sequence[str], blobs: Sequence[bytes], count: Any) -> dict[str, np.ndarray]:
    """Columns ``names`` of one block of ``count`` recipients, from their blobs."""
    return {
        name: decode_column(name, blob, int(count)) for name, blob in zip(names, blobs, strict=True)
    }


def _take(
    parts: dict[str, list[np.ndarray]],
    campaign_id: int,
    cols: dict[str, np.ndarray],
    mask: np.ndarray,
) -> None:
    """Append the ``mask`` rows of one block's ``cols`` (and their campaign) to ``parts``."""
    for name, values in cols.items():
        parts[name].append(values[mask])
    parts["campaign_id"].append(np.full(int(mask.sum()), campaign_id, dtype=np.int64))


def _joined(parts: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    empty = {"state": object, "msg_id": object, "sent_at": np.float64}
    return {
        name: np.concatenate(chunks) if chunks else np.empty(0, dtype=empty.get(name, np.int64))
        for name, chunks in parts.items()
    }
