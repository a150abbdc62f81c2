"""The "arrow" frame format: a pandas frame as one Arrow IPC stream, each column stored cheaply.

Why not Parquet: Parquet re-encodes every value; the plan's frames are already Arrow arrays
in memory (pandas string columns), and an IPC stream writes their buffers as they are. Each
column is then stored the cheapest exact way, decided per column:

- ``ref``: equal to a column of another frame of the same ledger (the recipients' normalized
  numbers are the user's phone column itself when it holds them normalized already):
  stored once, in that frame;
- ``ree``: run-end encoded when it is repetitive (one message text, one state, empty
  reasons): a million equal values become one run;
- ``raw``: the array itself (large strings with 32-bit offsets when they fit).

The stream is zstd-compressed (level 1: a million distinct phone numbers in ~35 ms to ~3 MB;
every megabyte the ledger writes costs about as much CPU as compressing it). The schema, with
pandas' own metadata, is kept so decoding rebuilds the very same table and converts it as
``pandas.read_parquet`` would. The caller (:func:`.codecs.encode_frame`) checks the round trip.

>>> import pandas as pd
>>> df = pd.DataFrame({"n": ["+91", "+92"], "c": ["Hi", "Hi"]})
>>> decode_arrow(encode_arrow(df)).equals(df)
True
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

_META_KEY = b"itnio_campaign_arrow"
#: Run-end encode a column when its first rows have at most this share of runs.
_RUN_SHARE = 1 / 16
_PROBE_ROWS = 4096


def frame_table(df: pd.DataFrame) -> Any:
    """The frame as a pyarrow Table (pandas metadata included), as ``to_parquet`` makes it."""
    import pyarrow as pa  # type: ignore[import-untyped]

    table = pa.Table.from_pandas(df, preserve_index=None)
    if df.attrs:
        meta = {**(table.schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(df.attrs).encode()}
        table = table.replace_schema_metadata(meta)
    return table


def encode_arrow(df: pd.DataFrame, like: Any = None, *, table: Any = None) -> bytes:
    """``df`` as the "arrow" format; columns equal to one of ``like``'s (a Table) are refs.

    ``table``: ``frame_table(df)`` when the caller already has it.
    """
    import pyarrow as pa

    table = frame_table(df) if table is None else table
    codecs: list[Any] = []
    arrays: list[Any] = []
    for i in range(table.num_columns):
        column = _one_chunk(table.column(i))
        ref = _find_ref(column, like)
        if ref is not None:
            codecs.append(["ref", ref])
            continue
        encoded = _run_end_encoded(column)
        if encoded is not None:
            codecs.append(["ree"])
            arrays.append(encoded)
            continue
        codecs.append(["raw"])
        arrays.append(_narrow(column))
    meta = {"codecs": codecs, "schema": table.schema.serialize().to_pybytes().hex()}
    names = [f"c{i}" for i in range(len(arrays))]
    stored = pa.Table.from_arrays(arrays, names=names) if arrays else pa.table({})
    stored = stored.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, stored.schema, options=_write_options()) as writer:
        writer.write_table(stored)
    return bytes(sink.getvalue())


def _write_options() -> Any:
    import pyarrow as pa

    return pa.ipc.IpcWriteOptions(compression=pa.Codec("zstd", 1))


def arrow_table(data: bytes, like: Callable[[], Any] | None = None) -> Any:
    """The stored frame's pyarrow Table (``like()`` gives the referenced frame's table)."""
    import pyarrow as pa

    stored = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    meta = json.loads(stored.schema.metadata[_META_KEY])
    schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(meta["schema"])))
    other = None
    columns = []
    k = 0
    for field, (kind, *arg) in zip(schema, meta["codecs"], strict=True):
        if kind == "ref":
            if other is None:
                other = like() if like is not None else None
                if other is None:
                    raise ValueError("a column refers to another frame, which is missing")
            columns.append(_one_chunk(other.column(int(arg[0]))))
            continue
        column = _one_chunk(stored.column(k))
        k += 1
        if kind == "ree":
            import pyarrow.compute as pc  # type: ignore[import-untyped]

            column = pc.run_end_decode(column)
        columns.append(column.cast(field.type) if column.type != field.type else column)
    if not columns:
        return schema.empty_table()
    return pa.Table.from_arrays(columns, schema=schema)


def decode_arrow(data: bytes, like: Callable[[], Any] | None = None) -> pd.DataFrame:
    """Inverse of :func:`encode_arrow`."""
    table = arrow_table(data, like)
    frame = _to_pandas(table)
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


def _to_pandas(table: Any) -> pd.DataFrame:
    try:  # pandas' own conversion, as read_parquet does it
        from pandas.io._util import arrow_table_to_pandas  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - another pandas
        return table.to_pandas()
    return arrow_table_to_pandas(table)


def _one_chunk(column: Any) -> Any:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def _find_ref(column: Any, like: Any) -> int | None:
    """The index of a column of ``like`` with exactly ``column``'s values and type."""
    if like is None or len(column) == 0 or like.num_rows != len(column):
        return None
    first = column[0]
    for j in range(like.num_columns):
        other = like.column(j)
        if other.type != column.type or not other[0].equals(first):  # cheap rejection first
            continue
        if _one_chunk(other).equals(column):
            return j
    return None


def _run_end_encoded(column: Any) -> Any | None:
    """The column run-end encoded, if it is repetitive enough to be worth it (else None)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    if n < 64 or not _ree_type(column.type):
        return None
    try:
        probe = pc.run_end_encode(column.slice(0, _PROBE_ROWS))
        if len(probe.values) > _RUN_SHARE * min(n, _PROBE_ROWS):
            return None
        encoded = pc.run_end_encode(column, run_end_type=pa.int32() if n < 2**31 else pa.int64())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if len(encoded.values) > _RUN_SHARE * n:
        return None
    return encoded


def _ree_type(t: Any) -> bool:
    import pyarrow as pa

    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
    )  # not floats: a run would merge 0.0 and -0.0


def _narrow(column: Any) -> Any:
    """Large strings with 32-bit offsets when they fit: a third less to compress and store."""
    import pyarrow as pa

    if pa.types.is_large_string(column.type) and column.nbytes < 2**31 - 2**20:
        return column.cast(pa.string())
    if pa.types.is_large_binary(column.type) and column.nbytes < 2**31 - 2**20:
        return column.cast(pa.binary())
    return column
