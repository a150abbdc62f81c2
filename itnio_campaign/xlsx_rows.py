"""The fast row writer of the Excel report: table rows encoded as SpreadsheetML by hand.

Why it exists (a measurement, 2-core reference machine, no lxml): openpyxl's cell writer
costs ~9 µs a cell, so a 100,000-recipient report (about 17 columns) took 14 s before any
styling, and XlsxWriter in constant-memory mode about 9 s. Encoding the rows here (~1.5 µs a
cell) brings the whole report to about 2.2 s. ``benchmarks/bench_excel.py`` measures it.

What it relies on (openpyxl 3.x, pinned ``openpyxl>=3.1,<4``): openpyxl builds and saves the
workbook *skeleton* — styles, Summary sheet and chart, each table sheet's header row, widths,
frozen pane and autofilter. :func:`splice_rows` then copies that zip and inserts rows just
before each table sheet's ``</sheetData>`` (or expands an empty ``<sheetData/>``), finding the
sheets through ``xl/workbook.xml`` and its relationships. Style ids come from openpyxl's
``WriteOnlyCell.style_id`` of the same workbook. Strings are inline (``t="inlineStr"``), the
form openpyxl itself writes.

One set of value rules for both encoders: :func:`cell_value` turns any Python value into what
a cell holds (None, str, bool, int, float, datetime, date), never raising; openpyxl's cells in
the report go through it, and :func:`cell_xml` gives the same result for the same value
(``tests/test_excel_encoders.py`` checks this cell by cell). One deliberate difference: a
carriage return is kept here (``&#13;``), where openpyxl's writer lets XML turn it into a line
feed.

Value rules: NaN / None / NA / NaT / "" -> empty; infinities, ints of 15+ digits, numbers outside
Excel's range, times before 1900-03-01, durations, times of day -> text; tz-aware times ->
naive UTC; bytes -> UTF-8 text (undecodable bytes as ``\\xNN``); containers -> JSON-like
text; anything else -> ``str()`` (or ``repr()``, or ``<unprintable T>``). Text cleaning:
characters XML cannot hold (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF)
become U+FFFD, and text past Excel's 32,767 UTF-16 units is cut and ends with "…".
"""

from __future__ import annotations

import json
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import IO, Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

__all__ = [
    "CELL_TEXT_MAX",
    "CellStyles",
    "CellValue",
    "ColumnEncoder",
    "cell_value",
    "cell_xml",
    "clean_text",
    "fit_text",
    "splice_rows",
    "table_rows",
]

#: Excel's limit for one cell's text, in UTF-16 code units.
CELL_TEXT_MAX = 32_767
#: First characters that make Excel (or a CSV export of the sheet) read a string as a formula.
RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")
#: Integers from here on lose digits as Excel numbers (15 significant digits): written as text.
BIG_INT = 10**15
EXCEL_EPOCH = datetime(1899, 12, 30)
#: 1900-03-01: before it Excel counts a 29 February 1900 that never was; such times are text.
FIRST_DAY = datetime(1900, 3, 1)
_FLOAT_MAX = 9.99999999999999e307  # Excel's largest number
_FLOAT_MIN = 2.2250738585072014e-308  # Excel's smallest positive number
_US_PER_DAY = 86_400_000_000
_UNIX_TO_EXCEL_US = (datetime(1970, 1, 1) - EXCEL_EPOCH) // timedelta(microseconds=1)
_FIRST_SERIAL = (FIRST_DAY - EXCEL_EPOCH).days
_LAST_SERIAL = (datetime(9999, 12, 31) - EXCEL_EPOCH).days + 1  # exclusive
_NESTING = 20  # deeper containers are shown as "…"

CellValue = None | str | bool | int | float | datetime | date
#: Encodes one column chunk: (values, cell references) -> one XML string a cell ("" = empty).
ColumnEncoder = Callable[[pd.Series, list[str]], list[str]]


@dataclass(frozen=True)
class CellStyles:
    """Style ids (from openpyxl's ``style_id`` in the same workbook) the rows refer to."""

    text: int
    quoted: int  # text shown with a quote prefix: "=1+1" stays visible text
    datetime: int
    date: int


# --- value rules ----------------------------------------------------------------------------

_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TO_ESCAPE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean_text(s: str) -> str:
    """XML cannot hold these characters: each becomes U+FFFD (visible, not dropped).

    >>> clean_text("bell\\x07")
    'bell\\ufffd'
    """
    return _ILLEGAL.sub("\ufffd", s)


def fit_text(s: str) -> str:
    """``s`` cleaned and cut to Excel's 32,767 UTF-16 units; a cut ends with "…".

    A character outside the BMP (an emoji) is two UTF-16 units and is never split.

    >>> len(fit_text("🎉" * 20_000).encode("utf-16-le")) // 2
    32767
    """
    s = clean_text(s)
    if len(s) <= CELL_TEXT_MAX // 2:  # at most two units a character: fits
        return s
    units = s.encode("utf-16-le")  # cleaned: no lone surrogates left
    if len(units) <= 2 * CELL_TEXT_MAX:
        return s
    head = units[: 2 * (CELL_TEXT_MAX - 1)]
    if 0xD8 <= head[-1] <= 0xDB:  # a high surrogate: its pair was cut off
        head = head[:-2]
    return head.decode("utf-16-le") + "…"


def cell_value(v: Any) -> CellValue:
    """What a cell holds for any Python value; never raises (see the module's rules).

    >>> cell_value(b"caf\\xc3\\xa9"), cell_value(918563012345678901), cell_value(float("nan"))
    ('café', '918563012345678901', None)
    """
    try:
        value = _cell_value(v)
    except Exception:  # a value's own __str__ / __repr__ / tzinfo may raise anything
        value = fit_text(_safe_str(v))
    return None if value == "" else value  # an empty text is an empty cell


def _cell_value(v: Any) -> CellValue:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        return fit_text(str.__str__(v))  # a str subclass's own __str__ is not trusted
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        number = int(v)
        return number if -BIG_INT < number < BIG_INT else str(number)
    if isinstance(v, float | np.floating):
        return _number(float(v), v)
    if isinstance(v, Decimal):
        if v.is_nan():
            return None
        if not v.is_finite() or (abs(v) >= BIG_INT and v == v.to_integral_value()):
            return str(v)
        return _number(float(v), v)
    if isinstance(v, np.datetime64 | np.timedelta64):
        if np.isnat(v):
            return None
        v = pd.Timestamp(v) if isinstance(v, np.datetime64) else pd.Timedelta(v)
    if isinstance(v, datetime):
        return _datetime(v)
    if isinstance(v, date):
        return v if FIRST_DAY.date() <= v else v.isoformat()
    if isinstance(v, time | timedelta):
        return fit_text(str(v))
    if isinstance(v, bytes | bytearray | memoryview):
        return fit_text(_bytes_text(bytes(v)))
    if isinstance(v, dict | list | tuple | set | frozenset | np.ndarray):
        return fit_text(json.dumps(_jsonable(v, 0), ensure_ascii=False, default=_safe_str))
    if isinstance(v, np.generic):  # complex, void, ...: the scalar's own text
        return fit_text(str(v.item()) if not isinstance(v.item(), np.generic) else str(v))
    return fit_text(_safe_str(v))


def _number(x: float, original: Any) -> float | str | None:
    if math.isnan(x):
        return None
    if x == 0.0 or _FLOAT_MIN <= abs(x) <= _FLOAT_MAX:
        return x
    return fit_text(str(original))  # infinity, or outside what Excel can hold


def _datetime(v: datetime) -> datetime | str | None:
    if v is pd.NaT:
        return None
    if v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime(warn=False)  # Excel keeps milliseconds at best
    return v if v >= FIRST_DAY else v.isoformat(sep=" ")


def _bytes_text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("utf-8", "backslashreplace")


def _jsonable(v: Any, depth: int) -> Any:
    """A JSON-ready copy of a nested value (sets sorted, bytes decoded, arrays as lists)."""
    if depth > _NESTING:
        return "…"
    if isinstance(v, dict):
        return {_key(k): _jsonable(x, depth + 1) for k, x in v.items()}
    if isinstance(v, set | frozenset):
        return sorted((_jsonable(x, depth + 1) for x in v), key=_safe_str)
    if isinstance(v, list | tuple):
        return [_jsonable(x, depth + 1) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist(), depth)
    if v is None or isinstance(v, str | bool | int | float):
        return v
    if isinstance(v, np.generic):
        return _jsonable(v.item(), depth) if not isinstance(v.item(), np.generic) else str(v)
    if isinstance(v, bytes | bytearray | memoryview):
        return _bytes_text(bytes(v))
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    return _safe_str(v)


def _key(k: Any) -> str:
    return k if isinstance(k, str) else _safe_str(k)


def _safe_str(v: Any) -> str:
    """``str(v)``, else ``repr(v)``, else ``<unprintable T>``: some objects raise on both."""
    for show in (str, repr):
        try:
            text = show(v)
        except Exception:
            continue
        if type(text) is str:
            return text
    return f"<unprintable {type(v).__name__}>"


# --- one cell as XML --------------------------------------------------------------------------


def _xml_text(s: str) -> str:
    if _TO_ESCAPE.search(s) is None:
        return s
    s = clean_text(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("\r", "&#13;")  # a raw CR would be read back as LF


def text_xml(ref: str, s: str, style: int) -> str:
    """A text cell with style ``style`` (``s`` not empty)."""
    text = _xml_text(s)
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def string_xml(ref: str, s: str, styles: CellStyles) -> str:
    """A text cell (quote-prefixed when it looks like a formula); "" for an empty string."""
    if not s:
        return ""
    if len(s) > CELL_TEXT_MAX // 2:
        s = fit_text(s)
    return text_xml(ref, s, styles.quoted if s.startswith(RISKY_FIRST) else styles.text)


def excel_serial(v: datetime) -> float:
    """Days since 1899-12-30 with the same arithmetic as openpyxl's ``to_excel``."""
    seconds = v.hour * 3600 + v.minute * 60 + v.second + v.microsecond / 10**6
    return (v - EXCEL_EPOCH).days + seconds / 86400


def cell_xml(ref: str, v: Any, styles: CellStyles) -> str:
    """One cell for any value, by :func:`cell_value`'s rules; "" means an empty cell."""
    t = type(v)  # exact types first: the common cells skip cell_value
    if t is str:
        return string_xml(ref, v, styles)
    if t is float:
        if v == 0.0 or _FLOAT_MIN <= abs(v) <= _FLOAT_MAX:
            return f'<c r="{ref}"><v>{v!r}</v></c>'
        if v != v:
            return ""
    elif t is int and -BIG_INT < v < BIG_INT:
        return f'<c r="{ref}"><v>{v}</v></c>'
    elif v is None:
        return ""
    return _canonical_xml(ref, cell_value(v), styles)


def _canonical_xml(ref: str, v: CellValue, styles: CellStyles) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return string_xml(ref, v, styles)
    if isinstance(v, bool):
        return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, int | float):
        return f'<c r="{ref}"><v>{v!r}</v></c>'
    if isinstance(v, datetime):
        return f'<c r="{ref}" s="{styles.datetime}"><v>{excel_serial(v)!r}</v></c>'
    return f'<c r="{ref}" s="{styles.date}"><v>{(v - EXCEL_EPOCH.date()).days}</v></c>'


def any_cells(column: pd.Series, refs: list[str], styles: CellStyles) -> list[str]:
    """Cells of any column, value by value."""
    return [cell_xml(r, v, styles) for r, v in zip(refs, column.tolist(), strict=True)]


def datetime_cells(column: pd.Series, refs: list[str], styles: CellStyles) -> list[str]:
    """Cells of a datetime64 column (tz-aware: as naive UTC), serials computed at once."""
    try:
        times = column
        if getattr(column.dtype, "tz", None) is not None:
            times = column.dt.tz_convert("UTC").dt.tz_localize(None)
        raw = times.to_numpy(dtype="datetime64[us]")
    except (TypeError, ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return any_cells(column, refs, styles)
    us = raw.astype("int64") + _UNIX_TO_EXCEL_US  # NaT: far below the first day
    days = us // _US_PER_DAY
    rest = us - days * _US_PER_DAY
    serial = (days + ((rest // 10**6) + (rest % 10**6) / 10**6) / 86400).tolist()
    in_range = ((days >= _FIRST_SERIAL) & (days < _LAST_SERIAL)).tolist()
    style = styles.datetime
    out = []
    for ref, s, ok, t in zip(refs, serial, in_range, raw.tolist(), strict=True):
        if ok:
            out.append(f'<c r="{ref}" s="{style}"><v>{s!r}</v></c>')
        else:  # NaT, or before 1900-03-01: by the general rules
            out.append(_canonical_xml(ref, cell_value(column_value(t)), styles))
    return out


def column_value(t: Any) -> Any:
    """A datetime64[us] element from ``tolist()`` (datetime, int or None) as a time value."""
    if isinstance(t, int):  # outside datetime's range
        return np.datetime64(t, "us")
    return t


# --- rows and the splice ------------------------------------------------------------------------


def table_rows(
    data: pd.DataFrame, encoders: Sequence[ColumnEncoder], chunk_rows: int = 20_000
) -> Iterator[bytes]:
    """``data``'s rows as ``<row>`` elements from row 2 on (row 1 is the header), in chunks.

    ``encoders[i]`` encodes column ``i`` (by position: duplicate names are allowed).
    """
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(i + 1) for i in range(data.shape[1])]
    if not letters:  # no columns: no cells to write
        return
    for start in range(0, len(data), chunk_rows):
        chunk = data.iloc[start : start + chunk_rows]
        numbers = [str(r) for r in range(start + 2, start + 2 + len(chunk))]
        columns = [
            encode(chunk.iloc[:, i], [letter + n for n in numbers])
            for i, (letter, encode) in enumerate(zip(letters, encoders, strict=True))
        ]
        parts: list[str] = []
        for n, cells in zip(numbers, zip(*columns, strict=True), strict=True):
            parts.append(f'<row r="{n}">')
            parts.extend(cells)
            parts.append("</row>")
        yield "".join(parts).encode("utf-8")


_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _sheet_parts(zin: zipfile.ZipFile) -> dict[str, str]:
    """Sheet title -> zip member of its worksheet XML, as the workbook's relationships say."""
    book = ElementTree.fromstring(zin.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(zin.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_NS_PKG}Relationship")}
    parts = {}
    for sheet in book.iter(f"{_NS_MAIN}sheet"):
        target = targets[sheet.get(f"{_NS_REL}id")]
        member = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        parts[sheet.get("name", "")] = member
    return parts


def _split_sheet(data: bytes, title: str) -> tuple[bytes, bytes]:
    """The worksheet XML before and after the place where rows go."""
    head, sep, tail = data.partition(b"</sheetData>")
    if sep:
        return head, sep + tail
    head, sep, tail = data.partition(b"<sheetData/>")
    if sep:
        return head + b"<sheetData>", b"</sheetData>" + tail
    raise RuntimeError(f"unexpected worksheet XML for sheet {title!r} (openpyxl changed?)")


def splice_rows(
    skeleton: BytesIO,
    dest: IO[bytes],
    rows: Mapping[str, Iterable[bytes]],
    staging_dir: Path | None = None,
) -> None:
    """Copy the openpyxl-saved ``skeleton`` to ``dest`` with ``rows[title]`` in each sheet.

    A sheet's XML is staged in a file under ``staging_dir`` (as openpyxl does) so zipfile
    knows its size and adds ZIP64 records only past 2 GiB: Excel rejects some ZIP64 forms.
    """
    skeleton.seek(0)
    with (
        zipfile.ZipFile(skeleton) as zin,
        zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as zout,
        tempfile.TemporaryDirectory(prefix=".itnio-xlsx-", dir=staging_dir) as tmp,
    ):
        members = {member: title for title, member in _sheet_parts(zin).items() if title in rows}
        for info in zin.infolist():
            data = zin.read(info.filename)
            title = members.get(info.filename)
            if title is None:
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            head, tail = _split_sheet(data, title)
            staged = Path(tmp) / "sheet.xml"
            with staged.open("wb") as sink:
                sink.write(head)
                for chunk in rows[title]:
                    sink.write(chunk)
                sink.write(tail)
            zout.write(staged, info.filename)
