"""The Excel report a user hands to their boss: one ``.xlsx`` built with openpyxl.

Sheets: *Summary* (KPIs, settings without secrets, a native bar chart of outcomes by state),
*Recipients* (every input row + outcome columns, split into *Recipients (2)*, ... past Excel's
1,048,576-row limit), *Failures* (rejected / unknown / missing / undelivered rows), *Batches*
(one row per request) and *Replies* (only when a replies frame is given).

Every string is written as a text cell (never a formula); strings that Excel would read as a
formula when typed (``=``, ``+``, ``-``, ``@``, tab, CR) also get the "quote prefix" style, as if
typed with a leading apostrophe, so the visible value stays identical. NaN becomes an empty cell;
timezone-aware times are written as naive UTC (Excel has no time zones) and the header says so.

How it stays fast: openpyxl (write-only mode) builds the workbook, the styles, the Summary with
its chart, and each table sheet's header, widths, frozen pane and autofilter. openpyxl's
per-cell writer costs ~9 µs a cell here (2-core machine, no lxml): 100,000 rows x 16 plain
string cells took 14.4 s before any styling. So the table *rows* are encoded by this module as
SpreadsheetML ``<row>`` elements (inline strings; style ids registered through openpyxl's
``style_id``) and spliced into the saved file's ``<sheetData>`` a chunk at a time (~1.5 µs a
cell, bounded memory). Read back by openpyxl and LibreOffice, values and styles are the same.

Example::

    from itnio_campaign.excel import write_report
    write_report(result, "spring-promo.xlsx", replies=replies_df)
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from xml.etree import ElementTree

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from . import models as m
from .config import public_settings
from .errors import UsageError

__all__ = ["EXCEL_MAX_ROWS", "ReportSource", "write_report"]

#: Rows in one Excel sheet, header included.
EXCEL_MAX_ROWS = 1_048_576

_FAILURE_STATES = (m.REJECTED, m.UNKNOWN, m.MISSING, m.UNDELIVERED)
#: First characters that make Excel (or a CSV export of the sheet) read a string as a formula.
_RISKY_FIRST = ("=", "+", "-", "@", "\t", "\r")
#: Outcome columns that are identifiers: always text, so "+91..." and leading zeros survive.
_ID_OUTCOMES = ("number", "order_id", "msg_id")
#: User columns whose numbers are really identifiers (a phone list read from Excel as float).
_ID_NAME = re.compile(r"phone|mobile|msisdn|number|tel|whatsapp|(^|_)id($|_)", re.IGNORECASE)
#: Integers from here on lose digits as Excel numbers (15 significant digits).
_BIG_INT = 10**15
_EXCEL_EPOCH = datetime(1899, 12, 30)
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_DATE_FORMAT = "yyyy-mm-dd"
_CHUNK_ROWS = 20_000
_CELL_TEXT_MAX = 32_767
_MIN_WIDTH, _MAX_WIDTH = 8, 50

_GREEN, _RED, _AMBER, _GREY, _BLUE = "C6EFCE", "FFC7CE", "FFEB9C", "D9D9D9", "DDEBF7"
_STATE_COLOURS: dict[str, str] = {
    m.DELIVERED: _GREEN,
    m.SUBMITTED: _GREEN,
    m.REJECTED: _RED,
    m.UNDELIVERED: _RED,
    m.UNKNOWN: _AMBER,
    m.MISSING: _AMBER,
    m.SENDING: _AMBER,
    m.PENDING: _AMBER,
    m.READY: _BLUE,
    **{state: _GREY for state in m.SKIPPED_STATES},
}


class _SummaryLike(Protocol):
    def as_dict(self) -> Mapping[str, Any]: ...


class ReportSource(Protocol):
    """What :func:`write_report` reads from a campaign result (duck-typed)."""

    @property
    def frame(self) -> pd.DataFrame: ...

    @property
    def outcome_columns(self) -> Sequence[str]: ...

    @property
    def settings(self) -> Mapping[str, Any]: ...

    def summary(self) -> _SummaryLike: ...

    def batches_frame(self) -> pd.DataFrame: ...


def write_report(
    result: ReportSource,
    path: str | os.PathLike[str],
    replies: pd.DataFrame | None = None,
    *,
    max_rows: int = EXCEL_MAX_ROWS,
) -> Path:
    """Write the campaign report to ``path`` (an ``.xlsx``) and return its path.

    ``max_rows`` is the number of rows a sheet may hold, header included (Excel's limit);
    longer tables continue on "Recipients (2)", "Recipients (3)", ... and Summary says so.
    The file is replaced atomically: a failure never leaves a half-written report behind.
    Bad input (not ``.xlsx``, replies not a DataFrame, no state column) raises ``UsageError``.

    Example::

        >>> write_report(result, "spring-promo.xlsx")              # doctest: +SKIP
        PosixPath('spring-promo.xlsx')
    """
    out = Path(path)
    if out.suffix.lower() != ".xlsx":
        raise UsageError(f"the report must be an .xlsx file, got {str(path)!r}")
    if replies is not None and not isinstance(replies, pd.DataFrame):
        raise UsageError(
            f"replies must be a pandas DataFrame or None, not {type(replies).__name__}"
        )
    if max_rows < 2:
        raise UsageError("max_rows must leave room for a header and at least one row")

    frame = result.frame
    state_col = _outcome_name(result.outcome_columns, "state")
    if state_col is None or state_col not in frame.columns:
        raise UsageError("result.outcome_columns names no 'state' column present in result.frame")
    summary = dict(result.summary().as_dict())

    recipients = _table_frame(frame)
    failures = recipients[frame[state_col].isin(_FAILURE_STATES).to_numpy()]
    id_columns = {c for c in (_outcome_name(result.outcome_columns, n) for n in _ID_OUTCOMES) if c}
    tables = [
        *_split("Recipients", recipients, max_rows, id_columns, state_col),
        *_split("Failures", failures, max_rows, id_columns, state_col),
        *_split("Batches", _table_frame(result.batches_frame()), max_rows, set(), None),
    ]
    if replies is not None:
        tables += _split("Replies", _table_frame(replies), max_rows, set(), None)

    wb = Workbook(write_only=True)
    styles = _Styles(wb)
    counts = _state_counts(summary, frame[state_col])
    _write_summary(wb, styles, summary, counts, result.settings, tables)
    for table in tables:
        _write_table_head(wb, styles, table)
    skeleton = BytesIO()
    wb.save(skeleton)

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        _splice_rows(skeleton, Path(tmp), {t.title: t for t in tables})
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


# --- tables: which rows and columns go on which sheet -------------------------------------


@dataclass
class _Table:
    """One table sheet: a header row from openpyxl, data rows spliced in afterwards."""

    title: str
    data: pd.DataFrame  # columns by position; names already strings
    id_columns: set[int]  # positions written as text whatever their dtype
    state_column: int | None  # position coloured by state
    part: int = 1
    parts: int = 1
    first_row_number: int = 1  # input row number of this part's first row (1-based)
    encoders: list[Callable[[Sequence[Any], list[str]], list[str]]] = field(default_factory=list)

    @property
    def last_cell(self) -> str:
        return f"{get_column_letter(max(1, self.data.shape[1]))}{len(self.data) + 1}"


def _outcome_name(outcome_columns: Sequence[str], name: str) -> str | None:
    """The real column name of outcome ``name`` (renamed ``sms_<name>`` on a clash)."""
    for candidate in (name, f"sms_{name}"):
        if candidate in outcome_columns:
            return candidate
    return None


def _table_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a meaningful (non-default) index as leading columns, names as strings."""
    columns: list[pd.Series] = []
    index = df.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        for level, name in enumerate(index.names):
            fallback = "index" if index.nlevels == 1 else f"index_{level}"
            label = fallback if name is None else str(name)
            columns.append(pd.Series(index.get_level_values(level), name=label))
    for i, name in enumerate(df.columns):  # by position: duplicate names are allowed
        columns.append(df.iloc[:, i].reset_index(drop=True).rename(str(name)))
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(len(df)))
    table = pd.concat(columns, axis=1)
    table.index = pd.RangeIndex(len(df))
    return table


def _split(
    title: str,
    table: pd.DataFrame,
    max_rows: int,
    id_columns: set[str],
    state_col: str | None,
) -> list[_Table]:
    """One or more sheets holding ``table``; never truncates."""
    per_sheet = max_rows - 1
    names = [str(c) for c in table.columns]
    ids = {i for i, n in enumerate(names) if n in id_columns}
    state = names.index(state_col) if state_col in names else None
    parts = max(1, math.ceil(len(table) / per_sheet))
    out = []
    for k in range(parts):
        chunk = table.iloc[k * per_sheet : (k + 1) * per_sheet]
        sheet = title if k == 0 else f"{title} ({k + 1})"
        out.append(_Table(sheet, chunk, ids, state, k + 1, parts, k * per_sheet + 1))
    return out


# --- styles --------------------------------------------------------------------------------


class _Styles:
    """Cell styles registered once in the workbook; ids are used by the row encoder."""

    def __init__(self, wb: Workbook) -> None:
        self._ws = wb.create_sheet("_styles")  # a scratch sheet, removed before saving
        self._wb = wb
        self.header_font = Font(bold=True)
        self.header_fill = PatternFill("solid", fgColor=_GREY)
        self.fills = {
            colour: PatternFill("solid", fgColor=colour) for colour in set(_STATE_COLOURS.values())
        }
        self.text = self._id(number_format="@")
        self.quoted = self._id(number_format="@", quotePrefix=True)
        self.datetime = self._id(number_format=_DATETIME_FORMAT)
        self.date = self._id(number_format=_DATE_FORMAT)
        self.state_text = {
            state: self._id(number_format="@", fill=self.fills[colour])
            for state, colour in _STATE_COLOURS.items()
        }
        wb.remove(self._ws)

    def _id(self, **style: Any) -> int:
        cell = WriteOnlyCell(self._ws)
        for name, value in style.items():
            setattr(cell, name, value)
        return int(cell.style_id)

    def fill_for(self, state: object) -> PatternFill | None:
        colour = _STATE_COLOURS.get(state) if isinstance(state, str) else None
        return self.fills[colour] if colour else None


# --- Summary --------------------------------------------------------------------------------


def _state_counts(summary: Mapping[str, Any], states: pd.Series) -> dict[str, int]:
    """Rows per state: the summary's counts, or the frame's when the summary has none."""
    counts = summary.get("counts") or states.value_counts(dropna=False).to_dict()
    known = [s for s in m.ALL_STATES if counts.get(s)]
    others = sorted((str(s) for s in counts if s not in m.ALL_STATES and counts[s]), key=str)
    return {str(s): int(counts.get(s, 0) or 0) for s in [*known, *others]}


def _write_summary(
    wb: Workbook,
    styles: _Styles,
    summary: Mapping[str, Any],
    counts: dict[str, int],
    settings: Mapping[str, Any],
    tables: list[_Table],
) -> None:
    ws = wb.create_sheet("Summary")
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 48
    rows: list[list[Any]] = []

    def heading(text: str) -> None:
        if rows:
            rows.append([])
        rows.append([_cell(ws, text, font=Font(bold=True, size=12))])

    def line(label: str, value: Any, number_format: str | None = None) -> None:
        rows.append([_cell(ws, label), _cell(ws, value, number_format=number_format)])

    started, finished = summary.get("started_at"), summary.get("finished_at")
    duration = (
        (finished - started).total_seconds()
        if isinstance(started, datetime) and isinstance(finished, datetime)
        else summary.get("wall_time_s")
    )
    currency = summary.get("currency") or ""
    n = lambda state: counts.get(state, 0)  # noqa: E731

    rows.append([_cell(ws, "Campaign report", font=Font(bold=True, size=14))])
    line("Generated (UTC)", datetime.now(UTC))
    line("Status", summary.get("status"))
    if summary.get("halt_reason"):
        line("Halt reason", summary.get("halt_reason"))
    heading("Outcomes")
    line("Rows", summary.get("rows", sum(counts.values())))
    line("Ready (planned, not sent)", n(m.READY))
    line("Pending (not sent yet)", n(m.PENDING))
    line("Submitted (awaiting delivery report)", n(m.SUBMITTED))
    line("Sending (delivery not final)", n(m.SENDING))
    line("Delivered", n(m.DELIVERED))
    line("Undelivered", n(m.UNDELIVERED))
    line("Rejected by provider", n(m.REJECTED))
    line("Unknown (reconcile before resending)", n(m.UNKNOWN))
    line("Missing (provider never accepted)", n(m.MISSING))
    line("Accepted by provider (all)", sum(n(s) for s in m.ACCEPTED_STATES))
    for state in m.SKIPPED_STATES:
        line(f"Skipped: {state.removeprefix('skipped_').replace('_', ' ')}", n(state))
    line("Segments", summary.get("segments"))
    heading("Cost")
    line(
        f"Estimated cost{f' ({currency})' if currency else ''}",
        summary.get("estimated_cost"),
        "0.00##",
    )
    line(
        f"Charged cost{f' ({currency})' if currency else ''}", summary.get("charged_cost"), "0.00##"
    )
    heading("Timing (UTC; Excel has no time zones)")
    line("Started", started)
    line("Finished", finished)
    line("Duration (s)", duration, "0.0")
    line("Numbers per second", summary.get("numbers_per_s"), "0.0")
    line("Requests", summary.get("requests"))
    line("Retries", summary.get("retries"))

    heading("Sheets")
    for table in tables:
        note = f"{len(table.data):,} rows"
        if table.parts > 1:
            last = table.first_row_number + len(table.data) - 1
            note += (
                f"; part {table.part} of {table.parts}, input rows {table.first_row_number:,}"
                f"-{last:,} (Excel holds {EXCEL_MAX_ROWS:,} rows a sheet)"
            )
        line(table.title, note)

    heading("Outcomes by state")
    rows.append([_cell(ws, "State", font=Font(bold=True)), _cell(ws, "Rows", font=Font(bold=True))])
    first_state_row = len(rows) + 1
    for state, count in counts.items():
        rows.append([_cell(ws, state, fill=styles.fill_for(state)), count])
    last_state_row = len(rows)

    heading("Settings (secrets removed)")
    for key, value in public_settings(settings).items():
        line(
            key,
            value
            if isinstance(value, str | int | float | Decimal | bool) or value is None
            else json.dumps(value, ensure_ascii=False, default=str),
        )

    for row in rows:
        ws.append(row)
    if counts:
        chart = BarChart()
        chart.type = "bar"
        chart.title = "Outcomes by state"
        chart.y_axis.title = "Rows"
        chart.legend = None
        chart.x_axis.scaling.orientation = "maxMin"  # first state on top, as in the table
        data = Reference(ws, min_col=2, min_row=first_state_row - 1, max_row=last_state_row)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(
            Reference(ws, min_col=1, min_row=first_state_row, max_row=last_state_row)
        )
        chart.width, chart.height = 18, max(7.5, 0.6 * len(counts) + 3)
        ws.add_chart(chart, "D2")


def _cell(ws: Any, value: Any, **style: Any) -> Any:
    """A write-only cell for ``value``: strings always text, times naive UTC, NaN empty."""
    cell = WriteOnlyCell(ws)
    value = _plain(value)
    if isinstance(value, str):
        cell.value = _clean_text(value)
        cell.data_type = "s"  # openpyxl would turn "=..." into a formula
        if value.startswith(_RISKY_FIRST):
            cell.quotePrefix = True
    else:
        cell.value = value
    for name, setting in style.items():
        if setting is not None:
            setattr(cell, name, setting)
    return cell


def _plain(value: Any) -> Any:
    """A value openpyxl accepts, with the same rules as the row encoder."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float | np.floating | Decimal) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)  # Excel has no NaN or infinity
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str | int | float | Decimal | bool | datetime | date):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# --- table sheets: header through openpyxl, rows spliced in -------------------------------


def _write_table_head(wb: Workbook, styles: _Styles, table: _Table) -> None:
    ws = wb.create_sheet(table.title)
    headers: list[str] = []
    for i, name in enumerate(table.data.columns):
        column = table.data.iloc[:, i]
        encoder, utc = _encoder_for(column, styles, i in table.id_columns, i == table.state_column)
        table.encoders.append(encoder)
        headers.append(f"{name} (UTC)" if utc else str(name))
        sample = column.iloc[:500].dropna().astype(str).str.len()
        widest = max(len(headers[-1]) + 2, int(sample.max()) + 2 if len(sample) else 0)
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            widest = max(widest, 20)
        ws.column_dimensions[get_column_letter(i + 1)].width = min(
            _MAX_WIDTH, max(_MIN_WIDTH, widest)
        )
    ws.freeze_panes = "A2"
    if headers:
        ws.auto_filter.ref = f"A1:{table.last_cell}"
    ws.append([_cell(ws, h, font=styles.header_font, fill=styles.header_fill) for h in headers])


Encoder = Callable[[Sequence[Any], list[str]], list[str]]


def _encoder_for(
    column: pd.Series, styles: _Styles, as_text: bool, by_state: bool
) -> tuple[Encoder, bool]:
    """How to encode one column's cells, and whether its times were converted to UTC."""
    dtype = column.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return _datetime_encoder(styles), getattr(dtype, "tz", None) is not None
    if by_state:
        return _state_encoder(styles), False
    if as_text or _numeric_identifier(column):
        return _text_encoder(styles), False
    return _any_encoder(styles), False


def _numeric_identifier(column: pd.Series) -> bool:
    """A numeric column that holds phone numbers or ids (named so, whole, >= 7 digits)."""
    dtype = column.dtype
    if not _ID_NAME.search(str(column.name)) or pd.api.types.is_bool_dtype(dtype):
        return False
    if not pd.api.types.is_numeric_dtype(dtype):
        return False
    values = column.dropna().astype("float64")
    return bool(len(values)) and bool((values % 1 == 0).all()) and values.abs().max() >= 1e6


def _values(column: pd.Series) -> list[Any]:
    """Python values of a column chunk; datetime64 becomes Excel serial days (NaN: empty)."""
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        times = column
        if getattr(column.dtype, "tz", None) is not None:
            times = column.dt.tz_convert("UTC").dt.tz_localize(None)
        serial = (times - pd.Timestamp(_EXCEL_EPOCH)) / pd.Timedelta(days=1)
        return serial.astype("float64").tolist()
    return column.tolist()


_TO_ESCAPE = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean_text(s: str) -> str:
    """XML cannot hold these control characters: each becomes U+FFFD (visible, not dropped)."""
    return _ILLEGAL.sub("\ufffd", s)


def _xml_text(s: str) -> str:
    if _TO_ESCAPE.search(s) is None:
        return s
    s = _clean_text(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace("\r", "&#13;")  # a raw CR would be read back as LF


def _text_xml(ref: str, s: str, style: int) -> str:
    text = _xml_text(s)
    return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _string_xml(ref: str, s: str, styles: _Styles) -> str:
    if not s:
        return ""
    if len(s) > _CELL_TEXT_MAX:  # Excel would call the file corrupt; the cut is marked
        s = s[: _CELL_TEXT_MAX - 1] + "…"
    return _text_xml(ref, s, styles.quoted if s.startswith(_RISKY_FIRST) else styles.text)


def _any_xml(ref: str, v: Any, styles: _Styles) -> str:
    """One cell of any Python value; '' means an empty cell."""
    t = type(v)
    if t is str:
        return _string_xml(ref, v, styles)
    if v is None:
        return ""
    if t is float or isinstance(v, float | np.floating):
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return _string_xml(ref, str(v), styles)
        return f'<c r="{ref}"><v>{float(v)!r}</v></c>'
    if t is bool or isinstance(v, np.bool_):
        return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, int | np.integer):
        number = int(v)
        if abs(number) >= _BIG_INT:  # Excel keeps 15 digits: write long ids as text
            return _string_xml(ref, str(number), styles)
        return f'<c r="{ref}"><v>{number}</v></c>'
    if v is pd.NaT or v is pd.NA:
        return ""
    if isinstance(v, Decimal):
        if not v.is_finite():
            return "" if v.is_nan() else _string_xml(ref, str(v), styles)
        return f'<c r="{ref}"><v>{format(v, "f")}</v></c>'
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        days = (v - _EXCEL_EPOCH) / timedelta(days=1)
        return f'<c r="{ref}" s="{styles.datetime}"><v>{days!r}</v></c>'
    if isinstance(v, date):
        return f'<c r="{ref}" s="{styles.date}"><v>{(v - _EXCEL_EPOCH.date()).days}</v></c>'
    return _string_xml(ref, str(v), styles)


def _any_encoder(styles: _Styles) -> Encoder:
    return lambda values, refs: [_any_xml(r, v, styles) for r, v in zip(refs, values, strict=True)]


def _as_text(v: Any) -> str | None:
    """An identifier as text: 918563012345.0 -> '918563012345'; NaN -> None."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return None
        return str(int(v)) if v.is_integer() else repr(float(v))
    return str(v)


def _text_encoder(styles: _Styles) -> Encoder:
    def encode(values: Sequence[Any], refs: list[str]) -> list[str]:
        out = []
        for ref, v in zip(refs, values, strict=True):
            s = v if type(v) is str else _as_text(v)
            out.append(_string_xml(ref, s, styles) if s else "")
        return out

    return encode


def _state_encoder(styles: _Styles) -> Encoder:
    def encode(values: Sequence[Any], refs: list[str]) -> list[str]:
        out = []
        for ref, v in zip(refs, values, strict=True):
            style = styles.state_text.get(v) if type(v) is str else None
            out.append(_text_xml(ref, v, style) if style is not None else _any_xml(ref, v, styles))
        return out

    return encode


def _datetime_encoder(styles: _Styles) -> Encoder:
    def encode(values: Sequence[Any], refs: list[str]) -> list[str]:
        return [
            "" if v != v else f'<c r="{r}" s="{styles.datetime}"><v>{v!r}</v></c>'  # v != v: NaT
            for r, v in zip(refs, values, strict=True)
        ]

    return encode


def _row_chunks(table: _Table) -> Iterator[bytes]:
    """The table's ``<row>`` elements (row 2 onwards), a chunk of rows at a time."""
    letters = [get_column_letter(i + 1) for i in range(table.data.shape[1])]
    for start in range(0, len(table.data), _CHUNK_ROWS):
        chunk = table.data.iloc[start : start + _CHUNK_ROWS]
        numbers = [str(r) for r in range(start + 2, start + 2 + len(chunk))]
        columns = [
            encode(_values(chunk.iloc[:, i]), [letter + n for n in numbers])
            for i, (letter, encode) in enumerate(zip(letters, table.encoders, strict=True))
        ]
        parts: list[str] = []
        for n, cells in zip(numbers, zip(*columns, strict=True), strict=True):
            parts.append(f'<row r="{n}">')
            parts.extend(cells)
            parts.append("</row>")
        yield "".join(parts).encode("utf-8")


# --- splice: rows into the saved workbook's sheets -------------------------------------------

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


def _splice_rows(skeleton: BytesIO, dest: Path, tables: dict[str, _Table]) -> None:
    """Copy the openpyxl-saved ``skeleton`` to ``dest`` with each table's rows inserted."""
    skeleton.seek(0)
    with (
        zipfile.ZipFile(skeleton) as zin,
        zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as zout,
        tempfile.TemporaryDirectory(prefix="itnio-xlsx-") as tmp,
    ):
        members = {member: title for title, member in _sheet_parts(zin).items() if title in tables}
        for info in zin.infolist():
            data = zin.read(info.filename)
            title = members.get(info.filename)
            if title is None:
                zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
                continue
            head, sep, tail = data.partition(b"</sheetData>")
            if not sep:
                raise RuntimeError(f"unexpected worksheet XML for sheet {title!r}")
            # Staged in a file, as openpyxl does, so zipfile knows the size and adds ZIP64
            # records only past 2 GiB: Excel rejects some ZIP64 forms on ordinary files.
            staged = Path(tmp) / "sheet.xml"
            with staged.open("wb") as sink:
                sink.write(head)
                for chunk in _row_chunks(tables[title]):
                    sink.write(chunk)
                sink.write(sep + tail)
            zout.write(staged, info.filename)
