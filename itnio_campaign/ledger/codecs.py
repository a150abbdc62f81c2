"""The ledger's three encoder/decoder pairs; each ``decode(encode(x)) == x``.

- requests: :func:`encode_batches` / :func:`decode_batches` (table rows of ``batches``),
- accepted numbers of one answer: :func:`encode_accepted` / :func:`decode_accepted`,
- frames: :func:`encode_frame` / :func:`decode_frame` (Parquet; never pickle).

No SQLite here: the store (:mod:`.store`) decides where the bytes go.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import warnings
from collections.abc import Callable, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from ..errors import LedgerError
from ..models import Batch, BatchItem
from ..result import Accepted
from .arrowframe import decode_arrow, encode_arrow


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


# -- requests ---------------------------------------------------------------------------------
def encode_batches(
    batches: Sequence[Batch], recipients: pd.DataFrame, *, known_match: bool = False
) -> list[tuple[Any, ...]]:
    """Table rows for ``batches``: layout only, where the frame holds their numbers and ids.

    Storing a request's numbers and order ids again would double the plan's cost, so a request
    whose numbers (and ids) are the recipients frame's at its positions — always so for a
    planned campaign, checked here in one vectorised pass — keeps just its item layout.
    ``known_match``: they are, by construction (:meth:`~itnio_campaign.plan.Plan.\
requests_match_recipients`), so the values are not compared again.
    """
    if not batches:
        return []
    sizes = [len(b.positions) for b in batches]
    flat = np.fromiter(chain.from_iterable(b.positions for b in batches), "<i4", sum(sizes))
    pos = np.split(flat, np.cumsum(sizes[:-1]))
    by_frame = [known_match] * len(batches)
    if not known_match and _could_be_frames(batches, flat, recipients):
        items = [it for b in batches for it in b.items]
        num_texts = [",".join(it.numbers) for it in items]
        oid_texts = [None if it.order_ids is None else ",".join(it.order_ids) for it in items]
        if _joined_same(num_texts, recipients["number"], flat) and _joined_same(
            [t for t in oid_texts if t is not None],
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
    firsts: list[int] = []  # first row position of every item, for its content
    if any(by_frame):
        offsets = np.cumsum([0, *sizes[:-1]]).tolist()
        for b, at in zip(batches, offsets, strict=True):
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
                [_csv(it.numbers), it.content, it.sender_id,
                 None if it.order_ids is None else _csv(it.order_ids)]
                for it in b.items
            ])  # fmt: skip
        rows.append((b.batch_id, b.endpoint, items_text, p.tobytes()))
    return rows


def _could_be_frames(batches: Sequence[Batch], flat: np.ndarray, recipients: pd.DataFrame) -> bool:
    """Can the requests be the frame's rows at all (positions in range, as many numbers as
    positions, the frame has the columns)? Then it is worth comparing their values."""
    in_range = flat.size == 0 or (int(flat.min()) >= 0 and int(flat.max()) < len(recipients))
    sizes_ok = all(sum(len(it.numbers) for it in b.items) == len(b.positions) for b in batches)
    return in_range and sizes_ok and {"number", "order_id", "content"} <= set(recipients.columns)


def _csv(values: Sequence[str]) -> str | list[str]:
    """Values as one comma-joined text, or as a JSON list when a value is empty or holds a
    comma (the text could not tell them apart)."""
    text = ",".join(values)
    if not values or (all(values) and text.count(",") == len(values) - 1):
        return text
    return list(values)


def _uncsv(stored: str | list[str]) -> tuple[str, ...]:
    if isinstance(stored, list):
        return tuple(stored)
    return tuple(stored.split(",")) if stored else ()


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


def _joined_same(texts: list[str], column: pd.Series, positions: np.ndarray) -> bool:
    """Are ``texts`` (each values joined by commas) exactly ``column`` at ``positions``?

    Compared as one comma-joined text on each side (a C-level join here, an Arrow join of
    the frame's values there): equal texts of equally many values are equal values when
    the given ones hold no comma, which the count of commas proves.
    """
    count = len(positions)
    if count == 0:
        return not any(texts)
    try:
        import pyarrow as pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        text = ",".join([t for t in texts if t])
        if text.count(",") != count - 1:
            return False
        values = _arrow_strings(column)
        first, last = int(positions[0]), int(positions[-1])
        if last - first + 1 == count and bool((np.diff(positions) == 1).all()):
            taken = values.slice(first, count)  # the usual plan: rows in order, no copy
        else:
            taken = values.take(pa.array(positions))
        if taken.null_count:
            return False
        joined = pc.binary_join(
            pa.LargeListArray.from_arrays(pa.array([0, count], pa.int64()), taken),
            pa.scalar(",", pa.large_string()),
        )[0]
        return bool(joined.as_buffer().equals(pa.py_buffer(text.encode("utf-8"))))
    except Exception:  # not strings, unencodable text, or no pyarrow: compare one by one
        return False


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
    """The content at each position (None at -1), taken in one pass, not value by value."""
    at = np.asarray(positions, dtype=np.int64)
    valid = np.flatnonzero(at >= 0)
    taken = np.asarray(recipients["content"].array.take(at[valid]), dtype=object).tolist()
    out: list[Any] = [None] * len(positions)
    for i, value in zip(valid.tolist(), taken, strict=True):
        out[i] = value
    return out


def decode_batches(
    rows: Sequence[tuple[int, str, str, bytes]], recipients: pd.DataFrame | None
) -> list[Batch]:
    """Inverse of :func:`encode_batches` (``recipients`` needed for layout-only rows)."""
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
                    _uncsv(nums),
                    content,
                    sender_id,
                    None if order_ids is None else _uncsv(order_ids),
                )
                for nums, content, sender_id, order_ids in spec
            )
        out.append(Batch(int(batch_id), endpoint, parsed, tuple(p.tolist())))  # type: ignore[arg-type]
    return out


def encode_accepted(
    batch: Batch | None, accepted: Accepted
) -> tuple[bytes | None, str | bytes | None, str | None]:
    """(acc_rows, acc_ids, accepted JSON) for a journal row; see the schema.

    The common answer — every number accepted, in the request's order — costs one join
    (and a zstd pass over the msgIds: a 20 kB answer written as 0.5–9 kB is cheaper to
    commit, and to checkpoint, than its compression costs).
    """
    if not accepted:
        return None, None, None
    oids, nums, mids = accepted.order_ids, accepted.numbers, accepted.msg_ids
    ids_text = "\n".join(mids)
    if batch is not None and ids_text.count("\n") == len(mids) - 1:
        b_nums = batch.numbers
        b_oids = batch.order_ids
        # The engine hands the request's own tuples when the answer matches it: `is` first.
        if (nums is b_nums or nums == b_nums) and (oids is b_oids or oids == b_oids):
            return None, _pack_ids(ids_text), None
        index = {(o, n): i for i, (o, n) in enumerate(zip(b_oids, b_nums, strict=True))}
        rows = [index.get(pair, -1) for pair in zip(oids, nums, strict=True)]
        if -1 not in rows:
            return np.asarray(rows, dtype="<i4").tobytes(), _pack_ids(ids_text), None
    return None, None, _json(list(accepted))


#: msgIds texts shorter than this stay text (compressing a few ids gains nothing).
_PACK_FROM = 1024
_ZSTD: list[Any] = []  # the pyarrow zstd codec, made once


def _zstd() -> Any:
    if not _ZSTD:
        import pyarrow as pa

        _ZSTD.append(pa.Codec("zstd", 1))
    return _ZSTD[0]


def _pack_ids(text: str) -> str | bytes:
    """The msgIds text, or (long enough) its UTF-8 zstd-compressed behind its 4-byte length."""
    if len(text) < _PACK_FROM:
        return text
    try:
        raw = text.encode("utf-8")
        return len(raw).to_bytes(4, "little") + _zstd().compress(raw, asbytes=True)
    except Exception:  # no pyarrow, or text UTF-8 cannot hold: stored as it is
        return text


def _unpack_ids(value: str | bytes) -> str:
    if isinstance(value, str):  # short, or written by schema version 2
        return value
    size = int.from_bytes(value[:4], "little")
    try:
        return bytes(_zstd().decompress(value[4:], decompressed_size=size, asbytes=True)).decode()
    except ImportError:
        raise LedgerError(
            "this ledger's answers are compressed with pyarrow's zstd: pip install pyarrow "
            "(or itnio-campaign[fast]) to read it"
        ) from None
    except Exception as exc:  # damaged bytes: zstd's OSError, a bad size, broken UTF-8
        raise LedgerError(
            f"a stored answer cannot be read (msgIds: {exc}); the ledger is damaged"
        ) from None


def decode_accepted(
    batch: Batch | None, rows: bytes | None, ids: str | bytes | None, accepted: str | None
) -> Accepted:
    if accepted:
        return Accepted.of((str(a), str(b), str(c)) for a, b, c in json.loads(accepted))
    if ids is None:
        return Accepted()
    if batch is None:
        raise LedgerError("a journal row names a request the ledger does not hold")
    mids = tuple(_unpack_ids(ids).split("\n"))
    nums, oids = batch.numbers, batch.order_ids
    if rows is None:
        return Accepted(oids, nums, mids)
    idx = np.frombuffer(rows, dtype="<i4").tolist()
    return Accepted(tuple(oids[i] for i in idx), tuple(nums[i] for i in idx), mids)


# -- frames -----------------------------------------------------------------------------------
#: Frame formats: "arrow" (Arrow IPC, see :mod:`.arrowframe`), "typed" (Parquet whose object
#: columns, labels and index are stored value by value with their Python type, see
#: :func:`_tag`), "json" (the last resort for values no format can hold exactly, with a
#: warning), "parquet" (plain Parquet: read only, written by schema version 2).
FRAME_FORMATS = ("arrow", "typed", "json", "parquet")
_META_KEY = b"itnio_campaign"


def encode_frame(
    df: pd.DataFrame, *, check_rows: int = 2000, like: Any = None, table: Any = None
) -> tuple[str, bytes]:
    """The frame as ``(format, bytes)``, decoded exactly by :func:`decode_frame`.

    The "arrow" format (:mod:`.arrowframe`: the frame's Arrow buffers, each column stored the
    cheapest exact way) when the frame's own columns survive it: string column labels, and
    object columns that hold only text or only bytes (checked over the whole column; a full
    decode check would cost more than sending a million numbers, so the decode is checked on
    the first ``check_rows`` rows). ``like``: another frame of the same ledger, as a pyarrow
    Table (columns equal to one of its columns are stored once, there); ``table``:
    ``frame_table(df)``, when the caller has it. Otherwise the "typed" format: every object
    column, column label and index value keeps its Python type (floats and text in one phone
    column, bytes, Decimals, integer column names). Only values of other types (lists, custom
    objects) fall back to a JSON table, with a warning that they come back changed.

    >>> fmt, data = encode_frame(pd.DataFrame({0: [1.5, "+91 98", b"x"]}))
    >>> fmt, decode_frame(fmt, data)[0].tolist()
    ('typed', [1.5, '+91 98', b'x'])
    """
    head = df.iloc[:check_rows]
    errors: list[str] = []
    if _plain_parquet_fits(df):
        try:
            _assert_same(head, decode_frame("arrow", encode_arrow(head)))
            full = len(df) > len(head)
            return "arrow", encode_arrow(df, like, table=table) if full else encode_arrow(head)
        except ImportError:
            return _json_fallback(df, ["arrow: pyarrow is not installed"])
        except Exception as exc:  # the plain format lost something: the typed one keeps it
            errors.append(f"arrow: {type(exc).__name__}: {str(exc)[:200]}")
    try:
        data = _to_typed_bytes(df)
        _assert_same(head, decode_frame("typed", _to_typed_bytes(head)))
        return "typed", data
    except ImportError:
        errors.append("typed: pyarrow is not installed")
    except Exception as exc:
        errors.append(f"typed: {type(exc).__name__}: {str(exc)[:200]}")
    return _json_fallback(df, errors)


def decode_frame(fmt: str, data: bytes, like: Callable[[], Any] | None = None) -> pd.DataFrame:
    """Inverse of :func:`encode_frame` (``like()``: the table its ``like`` frame was)."""
    try:
        if fmt == "arrow":
            return decode_arrow(data, like)
        if fmt == "parquet":  # written by schema version 2
            return pd.read_parquet(io.BytesIO(data))
        if fmt == "typed":
            return _from_typed_bytes(data)
        if fmt == "json":
            return pd.read_json(io.StringIO(data.decode("utf-8")), orient="table")
    except Exception as exc:
        raise LedgerError(f"a stored frame cannot be read ({fmt}): {exc}") from exc
    raise LedgerError(f"unknown frame format {fmt!r} in the ledger")


def _json_fallback(df: pd.DataFrame, errors: list[str]) -> tuple[str, bytes]:
    # Store what JSON can hold; a warning beats refusing the campaign.
    warnings.warn(
        "the frame could not be stored exactly (" + "; ".join(errors) + "); a reloaded "
        "campaign may show different dtypes",
        stacklevel=3,
    )
    named = df.set_axis([str(c) for c in df.columns], axis=1)
    return "json", named.to_json(orient="table", date_unit="ns").encode("utf-8")


def _plain_parquet_fits(df: pd.DataFrame) -> bool:
    """Can plain Parquet hold this frame's labels and object columns? (no decode needed)"""
    if isinstance(df.columns, pd.MultiIndex) or df.columns.has_duplicates:
        return False
    if not all(type(c) is str for c in df.columns):
        return False
    if not all(n is None or isinstance(n, str) for n in df.index.names):
        return False
    levels = [df.index.get_level_values(i) for i in range(df.index.nlevels)]
    return all(_pure(df.iloc[:, i]) for i in range(df.shape[1])) and all(map(_pure, levels))


def _pure(values: pd.Series | pd.Index) -> bool:
    """Not an object column, or one of only text (or only bytes) with None as its only null."""
    if values.dtype != object:
        return True
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind not in ("string", "bytes"):
        return False
    nulls = pd.isna(values)
    return not nulls.any() or all(v is None for v in np.asarray(values, dtype=object)[nulls])


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal frames, and in object columns equal values of the same Python types."""
    pd.testing.assert_frame_equal(a, b, check_exact=True, check_flags=True)
    pairs: list[tuple[Any, Any]] = [(a.iloc[:, i], b.iloc[:, i]) for i in range(a.shape[1])]
    pairs += [
        (a.index.get_level_values(i), b.index.get_level_values(i)) for i in range(a.index.nlevels)
    ]
    pairs.append((a.columns, b.columns))
    for x, y in pairs:
        if x.dtype == object and list(map(type, x)) != list(map(type, y)):
            raise AssertionError("a value came back as another Python type")


# The typed format: a Parquet table of plain columns c0, c1, ... (index levels i0, i1, ...);
# object ones hold one tagged text per value. The labels, names and dtypes of the columns
# and the index are in the schema's metadata, tagged the same way.
def _to_typed_bytes(df: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if isinstance(df.columns, pd.MultiIndex):
        raise TypeError("column labels of several levels")
    data: dict[str, Any] = {}
    tagged: list[str] = []

    def put(name: str, values: pd.Series | pd.Index) -> None:
        if values.dtype == object:
            data[name] = pd.Series(_tag_all(values), dtype=object)
            tagged.append(name)
        else:
            data[name] = pd.Series(values, copy=False).reset_index(drop=True)

    for i in range(df.shape[1]):
        put(f"c{i}", df.iloc[:, i])
    index = df.index
    meta: dict[str, Any] = {
        "columns": _tag_all(df.columns),
        "columns_dtype": str(df.columns.dtype),
        "columns_name": _tag(df.columns.name),
        "index_names": [_tag(n) for n in index.names],
    }
    if isinstance(index, pd.RangeIndex):
        meta["range"] = [index.start, index.stop, index.step]
    else:
        for k in range(index.nlevels):
            put(f"i{k}", index.get_level_values(k))
    meta["tagged"] = tagged
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(df)))
    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema_meta = {**(table.schema.metadata or {}), _META_KEY: _json(meta).encode()}
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(schema_meta), buf, write_statistics=False)
    return buf.getvalue()


def _from_typed_bytes(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    meta = json.loads(table.schema.metadata[_META_KEY])
    flat = table.to_pandas()
    tagged = set(meta["tagged"])

    def get(name: str) -> Any:
        if name in tagged:  # object dtype, stated: pandas would infer text from the values
            return pd.Series(_untag_all(flat[name]), dtype=object)
        return flat[name]

    labels = _untag_all(meta["columns"])
    names = [_untag(n) for n in meta["index_names"]]
    if "range" in meta:
        start, stop, step = meta["range"]
        index: pd.Index = pd.RangeIndex(start, stop, step, name=names[0])
    else:
        levels = [
            pd.Index(get(f"i{k}"), name=names[k], dtype=None if f"i{k}" not in tagged else object)
            for k in range(len(names))
        ]
        index = levels[0] if len(levels) == 1 else pd.MultiIndex.from_arrays(levels, names=names)
    out = pd.DataFrame({i: get(f"c{i}").set_axis(index) for i in range(len(labels))}, index=index)
    col_dtype = meta["columns_dtype"]
    out.columns = pd.Index(labels, dtype=col_dtype if col_dtype != "object" else object,
                           name=_untag(meta["columns_name"]))  # fmt: skip
    return out


def _tag_all(values: Any) -> list[str]:
    return [_tag(v) for v in values]


def _untag_all(values: Any) -> list[Any]:
    return [_untag(v) for v in values]


def _tag(v: Any) -> str:
    """One value as text that keeps its Python type: a one-letter tag, then the value."""
    tagger = _TAGGERS.get(type(v))
    if tagger is not None:
        return tagger(v)
    if isinstance(v, np.generic) and v.dtype.kind in "biuf":
        return f"g{v.dtype.str}:{v.item()!r}"
    raise TypeError(f"a value of type {type(v).__name__} has no exact stored form")


def _untag(text: str) -> Any:
    tag, body = text[:1], text[1:]
    if tag == "g":
        dtype, _, value = body.partition(":")
        return np.dtype(dtype).type(_literal(value))
    return _UNTAGGERS[tag](body)


def _literal(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    if text.lstrip("-").isdigit():
        return int(text)
    return float(text)


def _timestamp_tag(v: pd.Timestamp) -> str:
    return "T" + _json([v.value, str(v.unit), None if v.tz is None else str(v.tz)])


def _timestamp(body: str) -> pd.Timestamp:
    value, unit, tz = json.loads(body)
    return (
        pd.Timestamp(value, unit="ns", tz="UTC").tz_convert(tz).as_unit(unit)
        if tz
        else (pd.Timestamp(value, unit="ns").as_unit(unit))
    )


def _datetime_tag(v: dt.datetime) -> str:
    if v.tzinfo is not None and not isinstance(v.tzinfo, dt.timezone):
        raise TypeError("a datetime with a named time zone has no exact stored form")
    return "D" + v.isoformat()


_TAGGERS: dict[type, Callable[[Any], str]] = {
    type(None): lambda v: "N",
    str: lambda v: "s" + v,
    bool: lambda v: "B1" if v else "B0",
    int: lambda v: "i" + str(v),
    float: lambda v: "f" + repr(v),
    bytes: lambda v: "b" + base64.b64encode(v).decode("ascii"),
    Decimal: lambda v: "d" + str(v),
    type(pd.NA): lambda v: "A",
    type(pd.NaT): lambda v: "n",
    pd.Timestamp: _timestamp_tag,
    pd.Timedelta: lambda v: "t" + str(v.value),
    dt.datetime: _datetime_tag,
    dt.date: lambda v: "Y" + v.isoformat(),
}
_UNTAGGERS: dict[str, Callable[[str], Any]] = {
    "N": lambda b: None,
    "s": lambda b: b,
    "B": lambda b: b == "1",
    "i": int,
    "f": float,
    "b": base64.b64decode,
    "d": Decimal,
    "A": lambda b: pd.NA,
    "n": lambda b: pd.NaT,
    "T": _timestamp,
    "t": lambda b: pd.Timedelta(int(b), unit="ns"),
    "D": dt.datetime.fromisoformat,
    "Y": dt.date.fromisoformat,
}
