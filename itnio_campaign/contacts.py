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

import codecs
import csv
import io
import os
import re
import warnings
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
#: Bytes sniffed for the file type, the encoding and the separator.
_HEAD_BYTES = 65_536
_ZIP, _PARQUET = b"PK\x03\x04", b"PAR1"
#: Byte order marks, longest first (a UTF-32-LE BOM starts like a UTF-16-LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
#: Without a BOM: the first of these that decodes the whole file (latin-1 decodes any byte).
_FALLBACK = ("utf-8", "cp1252", "latin-1")
#: Control bytes no text table holds (tab, newlines, VT, FF and DOS's end-of-file ^Z are fine).
_CONTROL = re.compile(rb"[\x00-\x08\x0e-\x19\x1b-\x1f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")
#: pandas' name for a column whose header cell is empty.
_UNNAMED = re.compile(r"Unnamed: \d+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")

Source = str | os.PathLike[str] | bytes


def read_table(
    source: Source,
    *,
    name: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
) -> pd.DataFrame:
    """A CSV/TSV/TXT, XLSX or Parquet file (a path, or its bytes) as a DataFrame of text.

    ``name`` is the uploaded file's name (its suffix picks the reader; without one the
    bytes are sniffed: Excel, Parquet, else CSV). CSV separators ``,`` ``;`` and tab are
    detected on the header line.

    Options (each refused with :class:`UsageError` for a file type it does not apply to):

    * ``encoding`` (CSV): a Python codec name (``"cp1252"``, ``"utf-16"``, ...) instead of
      the detection: a BOM picks UTF-8 or UTF-16/32; else UTF-8, then cp1252 (Windows
      Excel), then latin-1, the first that decodes the whole file (text with NUL bytes
      and no BOM: UTF-16 by where the NULs sit, else refused as binary).
    * ``sheet`` (Excel): a sheet name or 0-based position; ``None`` is the first sheet.
    * ``header_row`` (CSV, Excel): the 1-based row of the header as a spreadsheet shows it
      (blank rows count); rows above it are skipped. ``None`` is the first row.

    Ragged CSV rows: a row shorter than the header gets empty (missing) cells; a row longer
    than the header is read only if the extra cells are empty (a trailing separator, as many
    exports write), else :class:`UsageError` names its line. Columns with no name in the
    header and no value in any row (``"phone,name,"``) are dropped.

    What was used is in ``df.attrs``: ``"encoding"`` (the codec, valid as ``encoding=``)
    and ``"separator"`` for CSV; ``"sheet"`` (its name) and ``"sheets"`` (all names, in
    order) for Excel. Raises :class:`UsageError` for a missing, unsupported, unreadable or
    empty file, or a bad option.

    >>> read_table(b"phone,name\\n0091987654321,Ann\\n", name="c.csv")["phone"].tolist()
    ['0091987654321']
    >>> df = read_table("phone;name\\n0919;Zoë\\n".encode("cp1252"), name="c.csv")
    >>> df["name"].tolist(), df.attrs["encoding"], df.attrs["separator"]
    (['Zoë'], 'cp1252', ';')
    """
    data, kind, label, head = _open(source, name)
    _check_options(kind, label, encoding, sheet, header_row)
    skip = 0 if header_row is None else header_row - 1  # rows above the header
    frame = _parse(data, kind, label, head, 0, encoding=encoding, sheet=sheet, skip=skip)
    if frame.empty:
        raise UsageError(_no_rows(label, frame.attrs, sheet, header_row))
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
        data, kind, label, head = _open(source, name)
        frame = _parse(data, kind, label, head, header=0)
        if len(frame.columns) == 0:  # an empty sheet: say so (and name the other sheets)
            raise UsageError(_no_rows(label, frame.attrs, None, None))
        if kind != "parquet" and any(_looks_like_phone(str(c)) for c in frame.columns):
            frame = _parse(data, kind, label, head, header=None)  # no header: a name is a number
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


def _open(source: Any, name: str | None) -> tuple[Path | bytes, str, str, bytes]:
    """(the path or bytes, ``csv``/``tsv``/``excel``/``parquet``, a label, the first bytes)."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        label = name or str(path)
        try:
            exists, is_file = path.exists(), path.is_file()
            if is_file:
                with path.open("rb") as f:
                    head = f.read(_HEAD_BYTES)
        except (OSError, ValueError) as exc:  # permission denied, a name too long, ...
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _one_line(exc)
            raise UsageError(f"cannot open {label}: {why}") from exc
        if not exists:
            raise UsageError(f"no such file: {label} (the path does not exist)")
        if not is_file:
            raise UsageError(f"{label} is not a file")
        suffix = path.suffix if name is None else Path(name).suffix
        return path, _kind(suffix, head, label), label, head
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "the uploaded file"
        head = data[:_HEAD_BYTES]
        return data, _kind(Path(name or "").suffix, head, label), label, head
    raise UsageError(f"read a table from a path or the file's bytes; got {type(source).__name__}")


def _kind(suffix: str, head: bytes, label: str) -> str:
    suffix = suffix.lower()
    if suffix and suffix not in SUFFIXES:
        raise UsageError(
            f"unsupported file type {suffix}: {label} (use .csv, .tsv, .txt, .xlsx or .parquet)"
        )
    if not head:
        raise UsageError(f"{label} is empty (0 bytes)")
    if suffix == ".tsv":
        return "tsv"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in EXCEL_SUFFIXES:
        return "excel"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if head.startswith(_ZIP):  # no suffix: sniff (an .xlsx is a zip)
        return "excel"
    return "parquet" if head.startswith(_PARQUET) else "csv"


def _check_options(
    kind: str, label: str, encoding: str | None, sheet: str | int | None, header_row: int | None
) -> None:
    """Refuse an option the file type does not have (never ignore it silently)."""
    what = {"excel": "an Excel", "parquet": "a Parquet"}.get(kind, "a CSV")
    if encoding is not None and kind in ("excel", "parquet"):
        raise UsageError(f"encoding applies to CSV files only; {label} is {what} file")
    if sheet is not None and kind != "excel":
        raise UsageError(f"sheet applies to Excel files only; {label} is {what} file")
    if header_row is not None and kind == "parquet":
        raise UsageError(f"header_row applies to CSV and Excel files; {label} is {what} file")
    if sheet is not None and (isinstance(sheet, bool) or not isinstance(sheet, str | int)):
        raise UsageError(f"sheet must be a sheet name or a 0-based position; got {sheet!r}")
    if header_row is not None and (
        isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1
    ):
        raise UsageError(
            f"header_row must be a row number from 1 (the first row); got {header_row!r}"
        )


def _no_rows(
    label: str, attrs: Mapping[Any, Any], sheet: str | int | None, header_row: int | None
) -> str:
    """Why a table is empty, and for an Excel file which other sheets there are."""
    where = "" if header_row is None else f" below the header at row {header_row}"
    if "sheet" not in attrs:
        return f"{label} has no rows{where} (it needs a header row and at least one row)"
    others = [s for s in attrs["sheets"] if s != attrs["sheet"]]
    text = f"{label}: sheet {attrs['sheet']!r} has no rows{where}"
    if sheet is None and others:
        listed = ", ".join(map(repr, others))
        return f"{text}; its other sheets: {listed} (choose one with sheet= / --sheet)"
    return f"{text} (it needs a header row and at least one row)"


def _parse(
    data: Path | bytes,
    kind: str,
    label: str,
    head: bytes,
    header: int | None,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    skip: int = 0,
) -> pd.DataFrame:
    """The table as text; any reader failure becomes one :class:`UsageError`."""
    if kind in ("csv", "tsv"):
        frame = _read_csv(data, kind, label, head, header, encoding, skip)
    elif kind == "excel":
        frame = _read_excel(data, label, header, sheet, skip)
    else:
        frame = _read_parquet(data, label)
    return _drop_unnamed_empty(frame)


def _read_parquet(data: Path | bytes, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(data if isinstance(data, Path) else io.BytesIO(data))
    except Exception as exc:  # a corrupt file can raise anything from pyarrow
        raise UsageError(f"cannot read {label}: {_one_line(exc)}") from exc
    for col in frame.columns:
        # whole-number phone columns: text, like every CSV/XLSX cell
        if pd.api.types.is_integer_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            frame[col] = frame[col].astype(str)
    return frame


# --- Excel --------------------------------------------------------------------------------


def _read_excel(
    data: Path | bytes, label: str, header: int | None, sheet: str | int | None, skip: int
) -> pd.DataFrame:
    src: Path | io.BytesIO = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with pd.ExcelFile(src) as book:
            names = [str(n) for n in book.sheet_names]
            chosen = _pick_sheet(names, sheet, label)
            frame = pd.read_excel(  # same missing-value rule as CSV, so both read alike
                book,
                sheet_name=chosen,
                dtype=str,
                header=header,
                skiprows=skip,
                keep_default_na=False,
                na_values=[""],
            )
    except UsageError:
        raise
    except Exception as exc:  # openpyxl raises KeyError, zlib.error, XML ParseError, ...
        raise UsageError(f"cannot read {label}: {_one_line(exc)}") from exc
    frame.attrs.update(sheet=chosen, sheets=names)
    return frame


def _pick_sheet(names: list[str], sheet: str | int | None, label: str) -> str:
    """The sheet's name: by name (exact, else the one equal ignoring case) or 0-based position."""
    if not names:
        raise UsageError(f"{label} has no sheets")
    if sheet is None:
        return names[0]
    if isinstance(sheet, int):
        if 0 <= sheet < len(names):
            return names[sheet]
    elif sheet in names:
        return sheet
    else:
        folded = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
    listed = ", ".join(f"{n!r} ({i})" for i, n in enumerate(names))
    missing = (
        f"no sheet number {sheet} (from 0)" if isinstance(sheet, int) else f"no sheet {sheet!r}"
    )
    raise UsageError(f"{label} has {missing}; its sheets (position from 0): {listed}")


# --- CSV ----------------------------------------------------------------------------------


def _read_csv(
    data: Path | bytes,
    kind: str,
    label: str,
    head: bytes,
    header: int | None,
    encoding: str | None,
    skip: int,
) -> pd.DataFrame:
    """Try each candidate encoding in turn; the first that decodes the whole file wins."""
    candidates = [_given_encoding(encoding, head)] if encoding else _encodings(head, label)
    for enc in candidates:
        sep = "\t" if kind == "tsv" else _separator(head, enc, skip)
        try:
            frame = _read_csv_as(data, enc, sep, label, header, skip)
        except UnicodeError as exc:
            if encoding:
                raise UsageError(
                    f"{label} is not {encoding} text ({_decode_problem(exc)}); leave the encoding "
                    f"unset to detect it, or name the file's encoding (e.g. cp1252, utf-16)"
                ) from exc
            continue  # the next candidate; latin-1, the last, decodes any byte
        frame.attrs.update(encoding=enc, separator=sep)
        return frame
    raise UsageError(f"cannot read {label}: no text encoding fits")  # pragma: no cover


def _given_encoding(encoding: str, head: bytes) -> str:
    """A caller's encoding, checked; UTF-8/16 of a file with a BOM read without the BOM."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise UsageError(
            f"unknown encoding {encoding!r}: use e.g. utf-8, cp1252, latin-1 or utf-16"
        )
    if info.name == "utf-8" and head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return encoding


def _encodings(head: bytes, label: str) -> list[str]:
    """The encodings to try, in order, from the file's first bytes (see :func:`read_table`)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return [name]
    if b"\x00" in head:  # UTF-16 without a BOM has a NUL in every ASCII character
        even, odd = head[0::2].count(0), head[1::2].count(0)
        for name, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            text = _decoded(head, name) if nuls >= len(head) // 4 and nuls >= 4 * others else None
            if text is not None and not _CONTROL_TEXT.search(text):
                return [name]
    if _CONTROL.search(head):
        raise UsageError(f"{label} is not a text (CSV) file: {_binary_hint(head)}")
    # each candidate must at least decode the first bytes (a character may be cut at the end)
    return [e for e in _FALLBACK if _decoded(head, e) is not None] or ["latin-1"]


def _decoded(head: bytes, encoding: str) -> str | None:
    """``head`` as text, or ``None`` if it is not ``encoding`` (a cut last character is fine)."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError:
        return None


def _binary_hint(head: bytes) -> str:
    if head.startswith(_ZIP):
        return "it looks like an Excel workbook; give it the .xlsx suffix"
    if head.startswith(_PARQUET):
        return "it looks like a Parquet file; give it the .parquet suffix"
    return "it holds binary data; save it from the spreadsheet as CSV"


def _separator(head: bytes, encoding: str, skip: int) -> str:
    """The most frequent of ``,`` ``;`` tab on the header line (``,`` on a tie or none)."""
    lines = _LINE_BREAK.split(head.decode(encoding, errors="replace"))  # as pandas splits
    first = lines[skip] if skip < len(lines) else ""
    counts = [first.count(sep) for sep in _SEPARATORS]
    return _SEPARATORS[counts.index(max(counts))]


def _csv_options(sep: str, header: int | None, skip: int) -> dict[str, Any]:
    return {
        "dtype": str,
        "keep_default_na": False,  # "NA", "null" stay text; only empty cells are missing
        "na_values": [""],
        "sep": sep,
        "header": header,
        "skiprows": skip,
        "index_col": False,  # a trailing separator must not turn column 1 into the index
    }


def _read_csv_as(
    data: Path | bytes, encoding: str, sep: str, label: str, header: int | None, skip: int
) -> pd.DataFrame:
    """Fast path: pandas' C reader. A ragged file goes to :func:`_read_ragged`."""
    src: Path | io.BytesIO = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            # pandas only warns when index_col=False drops non-empty cells: make it an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(src, encoding=encoding, **_csv_options(sep, header, skip))
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        frame = _read_ragged(data, encoding, sep, label, header, skip)
    except pd.errors.EmptyDataError as exc:
        where = "is empty" if not skip else f"has nothing at or below row {skip + 1}"
        raise UsageError(f"{label} {where}") from exc
    except UnicodeError:
        raise
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot read {label}: {_one_line(exc)}") from exc
    return _strip_bom(frame)


def _read_ragged(
    data: Path | bytes, encoding: str, sep: str, label: str, header: int | None, skip: int
) -> pd.DataFrame:
    """A CSV whose rows have more cells than its header: checked row by row.

    Extra cells that are all empty (a trailing separator) are dropped; a non-empty one is
    an error naming its line, never a shifted column. The checked rows go through the same
    pandas reader, so names and missing values come out as on the fast path.
    """
    raw = data.read_bytes() if isinstance(data, Path) else data
    lines = io.StringIO(raw.decode(encoding), newline="")
    for _ in range(skip):
        lines.readline()
    what = "the header" if header == 0 else "the first row"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    width = None
    try:
        reader = csv.reader(lines, delimiter=sep)
        for row in reader:
            if not row:
                continue  # a blank line, skipped as pandas does
            if width is None:
                width = len(row)
            extra = [cell for cell in row[width:] if cell.strip()]
            if extra:
                raise UsageError(
                    f"{label}, line {skip + reader.line_num}: {len(row)} cells but {what} has "
                    f"{width} (extra {extra[0]!r}); quote values that contain {sep!r}, or name "
                    f"the extra column in the header"
                )
            writer.writerow(row[:width])
    except csv.Error as exc:
        raise UsageError(f"cannot read {label}: {_one_line(exc)}") from exc
    out.seek(0)
    try:
        return pd.read_csv(out, **_csv_options(sep, header, 0))
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot read {label}: {_one_line(exc)}") from exc


def _strip_bom(frame: pd.DataFrame) -> pd.DataFrame:
    """A BOM left in the first column's name (a caller's encoding without ``-sig``)."""
    first = frame.columns[0] if len(frame.columns) else None
    if isinstance(first, str) and first.startswith("\ufeff"):
        frame = frame.rename(columns={first: first[1:]})
    return frame


def _drop_unnamed_empty(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns without a name in the header and without a value (``"phone,name,"``)."""
    empty = [
        c
        for c in frame.columns
        if isinstance(c, str) and _UNNAMED.fullmatch(c) and frame[c].isna().all()
    ]
    if not empty:
        return frame
    attrs = dict(frame.attrs)
    frame = frame.drop(columns=empty)
    frame.attrs.update(attrs)
    return frame


def _decode_problem(exc: UnicodeError) -> str:
    """What did not decode, without pandas' chunk-relative byte position."""
    if isinstance(exc, UnicodeDecodeError):
        return f"byte 0x{exc.object[exc.start]:02x}: {exc.reason}"
    return _one_line(exc)


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line, without pandas' tokenizer preamble."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.replace("Error tokenizing data. C error: ", "")


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
    return _texts(number_column(frame, label, advice))


def number_column(frame: pd.DataFrame, label: str, advice: str) -> pd.Series:
    """``frame``'s only column, or its guessed phone column (:func:`guess_number_column`);
    :class:`UsageError` naming ``label`` and giving ``advice`` when none can be told.

    >>> number_column(pd.DataFrame({"name": ["Ann"], "phone": ["+91 98765 43210"]}), "x", "")
    0    +91 98765 43210
    Name: phone, dtype: str
    """
    if len(frame.columns) == 1:
        return frame.iloc[:, 0]
    pos = _guess_position(frame)
    if pos is None:
        columns = ", ".join(map(repr, frame.columns)) or "none"
        raise UsageError(
            f"{label}: cannot tell which column holds the phone numbers (columns: {columns}); "
            f"{advice}"
        )
    return frame.iloc[:, pos]


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
