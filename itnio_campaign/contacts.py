"""Read contact and number tables (a path or uploaded bytes) and find their phone column.

Phone numbers stay text: CSV and Excel cells are read as ``str`` (no ``9.19e+11``, no lost
leading zero) and Parquet whole-number columns become text.

    >>> df = read_table(b"name;Mobile No\\nAnn;+91 98765 43210\\n", name="contacts.csv")
    >>> guess_number_column(df)
    'Mobile No'
    >>> read_numbers(b"919800000001\\n919800000002\\n", name="opt_outs.txt")  # no header row
    ['919800000001', '919800000002']
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import UsageError
from .numbers import value_to_text

#: Column names that are taken for the phone column at once, in this order (case, spaces and
#: dashes ignored: "Phone Number" is ``phone_number``).
PHONE_COLUMN_NAMES = ("number", "phone", "phone_number", "mobile", "msisdn", "numbers")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Every file type :func:`read_table` reads.
SUFFIXES = CSV_SUFFIXES + EXCEL_SUFFIXES + PARQUET_SUFFIXES
#: Rows looked at when guessing the phone column by its values.
GUESS_SAMPLE_ROWS = 200
#: Share of a column's values that must look like phone numbers for a guess by values.
GUESS_MIN_SHARE = 0.5

#: Column names that usually hold phone numbers (weaker than :data:`PHONE_COLUMN_NAMES`).
_PHONE_NAME = re.compile(
    r"phone|mobile|msisdn|number|cell|(?<![a-z])tel(?![a-z])|whatsapp|contact_no", re.I
)
_PHONE_VALUE = re.compile(r"\+?\d{7,15}")
_PHONE_JUNK = re.compile(r"[\s\-().']")
_SEPARATORS = (",", ";", "\t")

Source = str | os.PathLike[str] | bytes


def read_table(source: Source, *, name: str | None = None) -> pd.DataFrame:
    """A CSV/TSV/TXT, XLSX or Parquet file (a path, or its bytes) as a DataFrame of text.

    ``name`` is the uploaded file's name (its suffix picks the reader; without one the
    bytes are sniffed: Excel, Parquet, else CSV). CSV separators ``,`` ``;`` and tab are
    detected. Raises :class:`UsageError` for a missing, unsupported, unreadable or empty file.

    >>> read_table(b"phone,name\\n0091987654321,Ann\\n", name="c.csv")["phone"].tolist()
    ['0091987654321']
    """
    data, kind, label = _open(source, name)
    frame = _parse(data, kind, label, header=0)
    if frame.empty:
        raise UsageError(f"{label} has no rows (it needs a header row and at least one row)")
    return frame


def guess_number_column(df: pd.DataFrame) -> Hashable | None:
    """The column most likely to hold phone numbers, or ``None`` if nothing looks like one.

    By name first (``phone``, ``number``, ``mobile``, ... exactly; then names that contain
    such a word, the most phone-like values winning), then by values: the column where at
    least half of the first rows look like phone numbers.

    >>> guess_number_column(pd.DataFrame({"name": ["Ann"], "Mobile No": ["+91 98765 43210"]}))
    'Mobile No'
    >>> guess_number_column(pd.DataFrame({"who": ["Ann"], "x": ["98765-43210"]}))
    'x'
    >>> guess_number_column(pd.DataFrame({"who": ["Ann"], "city": ["Pune"]})) is None
    True
    """
    pos = _guess_position(df)
    return None if pos is None else df.columns[pos]


def read_numbers(source: Any, *, name: str | None = None, what: str = "numbers") -> list[str]:
    """A list of numbers (e.g. to suppress), as text, from a file or from values in memory.

    ``source``: a path or file bytes (see :func:`read_table`; a file without a header row
    works too, and a header-only file is an empty list), a DataFrame (its only column or
    its guessed phone column), a Series, or any iterable of values. Blanks are dropped;
    floats that cannot be exact phone numbers (``9.19e+11``) are dropped, never guessed.
    ``what`` names the input in error messages.

    >>> read_numbers(b"phone;why\\n+91 98000 00001;stop\\n", name="opt_outs.csv")
    ['+91 98000 00001']
    >>> read_numbers([919800000001, None, " 0091 98000 00002 "])
    ['919800000001', '0091 98000 00002']
    """
    if isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        data, kind, label = _open(source, name)
        frame = _parse(data, kind, label, header=0)
        if kind != "parquet" and any(_looks_like_phone(str(c)) for c in frame.columns):
            frame = _parse(data, kind, label, header=None)  # no header row: a name is a number
        return _column_numbers(frame, label, "head the phone column e.g. phone")
    if isinstance(source, pd.DataFrame):
        return _column_numbers(source, what, "pass one column, e.g. opt_outs['phone']")
    if isinstance(source, pd.Series):
        return _texts(source)
    if isinstance(source, Iterable) and not isinstance(source, Mapping):
        return _texts(source)
    raise UsageError(
        f"{what} must be a Series, a one-column DataFrame, a list/set, or a "
        f"CSV/XLSX/Parquet path or file bytes; got {type(source).__name__}"
    )


# --- helpers ------------------------------------------------------------------------------


def _guess_position(df: pd.DataFrame) -> int | None:
    """:func:`guess_number_column` as a position (column names may repeat)."""
    names = [str(c).strip().lower().replace(" ", "_").replace("-", "_") for c in df.columns]
    for wanted in PHONE_COLUMN_NAMES:
        if wanted in names:
            return names.index(wanted)
    sample = df.head(GUESS_SAMPLE_ROWS)
    by_name = [i for i, c in enumerate(df.columns) if _PHONE_NAME.search(str(c))]
    if by_name:
        return max(by_name, key=lambda i: _phone_share(sample.iloc[:, i]))
    shares = [_phone_share(sample.iloc[:, i]) for i in range(len(df.columns))]
    if shares and max(shares) >= GUESS_MIN_SHARE:
        return shares.index(max(shares))
    return None


def _open(source: Any, name: str | None) -> tuple[Path | bytes, str, str]:
    """(the path or bytes, ``csv``/``tsv``/``excel``/``parquet``, a label for messages)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        if not path.exists():
            raise UsageError(f"no such file: {label} (the path does not exist)")
        if not path.is_file():
            raise UsageError(f"{label} is not a file")
        with path.open("rb") as f:
            head = f.read(8)
        return path, _kind(path.suffix if name is None else Path(name).suffix, head, label), label
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "the uploaded file"
        return data, _kind(Path(name or "").suffix, data[:8], label), label
    raise UsageError(f"read a table from a path or the file's bytes; got {type(source).__name__}")


def _kind(suffix: str, head: bytes, label: str) -> str:
    suffix = suffix.lower()
    if suffix == ".tsv":
        return "tsv"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix:
        raise UsageError(
            f"unsupported file type {suffix}: {label} (use .csv, .tsv, .txt, .xlsx or .parquet)"
        )
    if head.startswith(b"PK\x03\x04"):  # no suffix: sniff (an .xlsx is a zip)
        return "excel"
    return "parquet" if head.startswith(b"PAR1") else "csv"


def _parse(data: Path | bytes, kind: str, label: str, header: int | None) -> pd.DataFrame:
    """The table as text; any reader failure becomes one :class:`UsageError`."""
    src: Path | io.BytesIO = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        if kind in ("csv", "tsv"):
            return pd.read_csv(
                src,
                dtype=str,
                keep_default_na=False,  # "NA", "null" stay text; only empty cells are missing
                na_values=[""],
                sep="\t" if kind == "tsv" else _separator(data),
                header=header,
                encoding="utf-8-sig",  # Excel's CSV export starts with a BOM
            )
        if kind == "excel":  # same missing-value rule as CSV, so both read alike
            return pd.read_excel(
                src, dtype=str, header=header, keep_default_na=False, na_values=[""]
            )
        frame = pd.read_parquet(src)
        for col in frame.columns:
            # whole-number phone columns: text, like every CSV/XLSX cell
            if pd.api.types.is_integer_dtype(frame[col]) and not pd.api.types.is_bool_dtype(
                frame[col]
            ):
                frame[col] = frame[col].astype(str)
        return frame
    except (ValueError, OSError, ImportError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"cannot read {label}: {exc}") from exc


def _separator(data: Path | bytes) -> str:
    """The most frequent of ``,`` ``;`` tab on the first line (``,`` on a tie or none)."""
    if isinstance(data, Path):
        with data.open("rb") as f:
            first = f.readline(65_536)
    else:
        first = data.split(b"\n", 1)[0]
    counts = [first.count(sep.encode()) for sep in _SEPARATORS]
    return _SEPARATORS[counts.index(max(counts))]


def _cleaned(values: pd.Series) -> pd.Series:
    text = values.dropna().astype(str).str.replace(_PHONE_JUNK, "", regex=True)
    return text.str.removesuffix(".0")


def _phone_share(values: pd.Series) -> float:
    text = _cleaned(values)
    return float(text.str.fullmatch(_PHONE_VALUE).mean()) if len(text) else 0.0


def _looks_like_phone(text: str) -> bool:
    return bool(_PHONE_VALUE.fullmatch(_PHONE_JUNK.sub("", text).removesuffix(".0")))


def _column_numbers(frame: pd.DataFrame, label: str, advice: str) -> list[str]:
    """The numbers in ``frame``'s only column, or in its guessed phone column."""
    if frame.empty and len(frame.columns) >= 1:
        return []  # a header-only file: nothing to suppress
    if len(frame.columns) == 1:
        return _texts(frame.iloc[:, 0])
    pos = _guess_position(frame)
    if pos is None:
        columns = ", ".join(map(repr, frame.columns)) or "none"
        raise UsageError(
            f"{label}: cannot tell which column holds the phone numbers (columns: {columns}); "
            f"{advice}"
        )
    return _texts(frame.iloc[:, pos])


def _texts(values: Iterable[Any]) -> list[str]:
    """Each value as number text; blanks and inexact floats dropped."""
    out = []
    for value in values:
        text, _reason = value_to_text(value)
        if text:
            out.append(text)
    return out


__all__ = [
    "PHONE_COLUMN_NAMES",
    "SUFFIXES",
    "guess_number_column",
    "read_numbers",
    "read_table",
]
