"""The Excel report a user hands to their boss: one ``.xlsx`` built with openpyxl.

Sheets: *Summary* (KPIs, settings without secrets, a native bar chart of outcomes by state),
*Recipients* (every input row + outcome columns, split into *Recipients (2)*, ... past Excel's
1,048,576-row limit), *Failures* (rejected / unknown / missing / undelivered rows), *Batches*
(one row per request) and *Replies* (only when a replies frame is given); a campaign with
variants or a holdout also gets *Experiment* (results by variant, the lift when given, native
charts with the intervals as error bars).

Every string is written as a text cell (never a formula); strings that Excel would read as a
formula when typed (``=``, ``+``, ``-``, ``@``, tab, CR) also get the "quote prefix" style, as if
typed with a leading apostrophe, so the visible value stays identical. NaN becomes an empty cell;
timezone-aware times are written as naive UTC (Excel has no time zones) and the header says so.

Writing never fails on a value: bytes, mixed types, nested objects, Decimal, huge ints and
objects whose ``str()`` raises all get a readable text (rules in
:func:`itnio_campaign.xlsx_rows.cell_value`); text past Excel's 32,767 UTF-16 units is cut and
ends with "…". The user's number column (``settings["number_col"]``), its order id column and
numeric columns that hold ids are written as text (``919365012345.0`` -> ``919365012345``).
If the file cannot be written (missing folder, no permission, disk full), :class:`ReportError`
names the path and the cause, and the destination is left as it was.

How it stays fast: openpyxl builds the workbook skeleton (styles, Summary and its chart, each
table's header); the table rows are encoded by :mod:`itnio_campaign.xlsx_rows` and spliced in
(100,000 recipients in about 2 s instead of 14 s; see that module).

Example::

    from itnio_campaign.excel import write_report
    write_report(result, "spring-promo.xlsx", replies=replies_df)
"""

from __future__ import annotations

import math
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from . import models as m
from .config import public_settings
from .errors import ReportError, UsageError
from .xlsx_rows import (
    RISKY_FIRST,
    CellStyles,
    ColumnEncoder,
    any_cells,
    cell_value,
    cell_xml,
    datetime_cells,
    splice_rows,
    string_xml,
    table_rows,
    text_xml,
)

__all__ = [
    "EXCEL_MAX_ROWS", "ReportError", "ReportSource", "has_experiment", "write_report",
]  # fmt: skip

#: Rows in one Excel sheet, header included.
EXCEL_MAX_ROWS = 1_048_576

#: Outcome columns that are identifiers: always text, so "+91..." and leading zeros survive.
_ID_OUTCOMES = ("number", "order_id", "msg_id")
#: Settings naming user columns that hold identifiers (the plan's number and order id columns).
_ID_SETTINGS = ("number_col", "order_id_col")
#: User columns whose numbers are really identifiers (a phone list read from Excel as float).
_ID_NAME = re.compile(r"phone|mobile|msisdn|number|tel|whatsapp|(^|_)id($|_)", re.IGNORECASE)
_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_DATE_FORMAT = "yyyy-mm-dd"
_CHUNK_ROWS = 20_000
_WIDTH_SAMPLE = 500
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
    lift: Any = None,
) -> Path:
    """Write the campaign report to ``path`` (an ``.xlsx``) and return its path.

    A campaign with variants or a holdout gets an *Experiment* sheet: ``result.by_variant()``
    and, when ``lift`` (what ``measure_lift`` returns) is given, the lift table, each with a
    native column chart whose error bars are the 95% intervals.

    ``max_rows`` is the number of rows a sheet may hold, header included (Excel's limit);
    longer tables continue on "Recipients (2)", "Recipients (3)", ... and Summary says so.
    The file is written beside ``path`` under a temporary name and renamed at the end: a
    failure never leaves a half-written report behind. Bad input (not ``.xlsx``, replies not
    a DataFrame, ``outcome_columns`` not aligned with ``OUTCOME_COLUMNS``) raises
    ``UsageError``; a file that cannot be written (missing folder, a folder at ``path``, no
    permission, disk full) raises :class:`ReportError` naming ``path`` and the cause.

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
    _check_destination(out)
    if lift is not None:
        _lift_table(lift)  # refuse a wrong lift before any work

    frame = result.frame
    outcome = _outcome_positions(frame, result.outcome_columns)
    state_at = outcome["state"]
    summary = dict(result.summary().as_dict())

    recipients, shift = _table_frame(frame)
    failures = recipients[frame.iloc[:, state_at].isin(m.FAILURE_STATES).to_numpy()]
    excluded = recipients[frame.iloc[:, state_at].isin(WORKSPACE_EXCLUSIONS).to_numpy()]
    user_ids = _user_id_positions(frame, result.outcome_columns, result.settings)
    id_columns = {outcome[n] + shift for n in _ID_OUTCOMES} | {i + shift for i in user_ids}
    state_column = state_at + shift
    excluded_tables = (  # the workspace's exclusions: a sheet only when there are any
        _split("Excluded", excluded, max_rows, id_columns, state_column) if len(excluded) else []
    )
    tables = [
        *_split("Recipients", recipients, max_rows, id_columns, state_column),
        *_split("Failures", failures, max_rows, id_columns, state_column),
        *excluded_tables,
        *_split("Batches", _table_frame(result.batches_frame())[0], max_rows, set(), None),
    ]
    if replies is not None:
        tables += _split("Replies", _table_frame(replies)[0], max_rows, set(), None)

    wb = Workbook(write_only=True)
    styles = _Styles(wb)
    counts = _state_counts(summary, frame.iloc[:, state_at])
    _write_summary(wb, styles, summary, counts, result.settings, tables, _cost_breakdown(result))
    if lift is not None or has_experiment(result):
        _write_experiment(wb, result, lift)
    for table in tables:
        _write_table_head(wb, styles, table)
    skeleton = BytesIO()
    wb.save(skeleton)
    rows = {t.title: table_rows(t.data, t.encoders, _CHUNK_ROWS) for t in tables}
    _write_atomically(out, lambda sink: splice_rows(skeleton, sink, rows, out.parent))
    return out


# --- the file: checked first, written to a temporary name, renamed at the end ---------------


def _check_destination(out: Path) -> None:
    """Refuse before any work a destination that cannot be a report file."""
    folder = out.parent
    if not folder.exists():
        raise ReportError(f"cannot write the report {out}: the folder {folder} does not exist")
    if not folder.is_dir():
        raise ReportError(f"cannot write the report {out}: {folder} is not a folder")
    if out.is_dir():
        raise ReportError(f"cannot write the report {out}: it is a folder, not a file")


def _write_atomically(out: Path, write: Any) -> None:
    """``write(sink)`` into a new file beside ``out``, then rename it to ``out``.

    On any failure the temporary file is removed and ``out`` is left as it was; an OSError
    becomes a :class:`ReportError` naming ``out`` (never the temporary name) and the cause.
    """
    tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("xb") as sink:  # "x": a plain new file, with the user's usual permissions
            write(sink)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        cause = exc.strerror or str(exc) or type(exc).__name__
        if out.is_dir():
            cause = "it is a folder, not a file"
        raise ReportError(f"cannot write the report {out}: {cause}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


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
    encoders: list[ColumnEncoder] = field(default_factory=list)

    @property
    def last_cell(self) -> str:
        return f"{get_column_letter(max(1, self.data.shape[1]))}{len(self.data) + 1}"


def _outcome_positions(frame: pd.DataFrame, outcome_columns: Sequence[str]) -> dict[str, int]:
    """Position in ``frame`` of each outcome (``number``, ``state``, ...), by its real name.

    ``outcome_columns`` is aligned with ``result.OUTCOME_COLUMNS``: the real names may differ
    from the outcomes' own (a user column ``state`` stays the user's), so no name is assumed.
    """
    names = list(outcome_columns)
    if len(names) != len(m.OUTCOME_COLUMNS):
        raise UsageError(
            f"result.outcome_columns must name the {len(m.OUTCOME_COLUMNS)} outcome columns "
            f"({', '.join(m.OUTCOME_COLUMNS)}) in order; got {len(names)}"
        )
    columns = list(frame.columns)
    positions = {}
    for outcome, name in zip(m.OUTCOME_COLUMNS, names, strict=True):
        found = [i for i, c in enumerate(columns) if c == name]
        if len(found) != 1:
            raise UsageError(f"the {outcome} column {name!r} is not once in result.frame")
        positions[outcome] = found[0]
    return positions


def _user_id_positions(
    frame: pd.DataFrame, outcome_columns: Sequence[str], settings: Mapping[str, Any]
) -> set[int]:
    """Positions of the user's columns the plan used as identifiers (number, order id)."""
    wanted = [_label(settings.get(k)) for k in _ID_SETTINGS if settings.get(k) is not None]
    outcomes = set(outcome_columns)
    return {
        i
        for i, c in enumerate(frame.columns)
        if c not in outcomes and any(_label(c) == w for w in wanted)
    }


def _label(name: Any) -> Any:
    """A column label comparable with its JSON round trip (a tuple stored comes back a list)."""
    return tuple(name) if isinstance(name, list | tuple) else name


def _text_name(name: Any) -> str:
    text = cell_value(name)
    return "" if text is None else str(text)


def _table_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``df`` with a meaningful (non-default) index as leading columns, names as strings.

    Returns the table and the number of index columns put in front of ``df``'s columns.
    """
    columns: list[pd.Series] = []
    index = df.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        for level, name in enumerate(index.names):
            fallback = "index" if index.nlevels == 1 else f"index_{level}"
            label = fallback if name is None else _text_name(name)
            columns.append(pd.Series(index.get_level_values(level), name=label))
    shift = len(columns)
    for i, name in enumerate(df.columns):  # by position: duplicate names are allowed
        columns.append(df.iloc[:, i].reset_index(drop=True).rename(_text_name(name)))
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(len(df))), shift
    table = pd.concat(columns, axis=1)
    table.index = pd.RangeIndex(len(df))
    return table, shift


def _split(
    title: str,
    table: pd.DataFrame,
    max_rows: int,
    id_columns: set[int],
    state_column: int | None,
) -> list[_Table]:
    """One or more sheets holding ``table``; never truncates."""
    per_sheet = max_rows - 1
    parts = max(1, math.ceil(len(table) / per_sheet))
    out = []
    for k in range(parts):
        chunk = table.iloc[k * per_sheet : (k + 1) * per_sheet]
        sheet = title if k == 0 else f"{title} ({k + 1})"
        out.append(_Table(sheet, chunk, id_columns, state_column, k + 1, parts, k * per_sheet + 1))
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
        self.cells = CellStyles(
            text=self._id(number_format="@"),
            quoted=self._id(number_format="@", quotePrefix=True),
            datetime=self._id(number_format=_DATETIME_FORMAT),
            date=self._id(number_format=_DATE_FORMAT),
        )
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


def _cost_breakdown(result: Any) -> dict[str, Mapping[str, Any]]:
    """The plan's estimated cost by country and by encoding (empty without prices)."""
    plan = getattr(result, "plan", None)
    plan_summary = plan.summary() if plan is not None and hasattr(plan, "summary") else None
    currency = getattr(plan_summary, "currency", None) or ""
    unit = f" ({currency})" if currency else ""
    return {
        f"Estimated cost by country{unit}": dict(getattr(plan_summary, "cost_by_country", {})),
        f"Estimated cost by encoding{unit}": dict(getattr(plan_summary, "cost_by_encoding", {})),
    }


def _write_summary(
    wb: Workbook,
    styles: _Styles,
    summary: Mapping[str, Any],
    counts: dict[str, int],
    settings: Mapping[str, Any],
    tables: list[_Table],
    breakdown: Mapping[str, Mapping[str, Any]] | None = None,
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
    if n(m.HELD_FOR_ROLLOUT):  # an experiment's rows waiting for the winner (issue 17)
        line("Held for rollout (rollout_winner sends them)", n(m.HELD_FOR_ROLLOUT))
    line("Segments", summary.get("segments"))
    _workspace_summary(heading, line, counts, settings)
    heading("Cost")
    line(
        f"Estimated cost{f' ({currency})' if currency else ''}",
        summary.get("estimated_cost"),
        "0.00##",
    )
    line(
        f"Charged cost{f' ({currency})' if currency else ''}", summary.get("charged_cost"), "0.00##"
    )
    for title, costs in (breakdown or {}).items():  # the dry run's estimate, per country/encoding
        if costs:
            heading(title)
            for key, value in costs.items():
                line(str(key), value, "0.00##")
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
        line(key, value)  # nested settings become JSON-like text (cell_value)

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


#: The workspace's exclusions (issue 13): state -> its line in the Summary. Their rows are
#: listed, with the reason, on the sheet "Excluded".
WORKSPACE_EXCLUSIONS: dict[str, str] = {
    "skipped_opted_out": "Opted out (workspace)",
    "skipped_frequency_cap": "Over the frequency cap",
    "skipped_already_sent": "Already sent this content (repeat guard)",
}


def _workspace_summary(
    heading: Any, line: Any, counts: Mapping[str, int], settings: Mapping[str, Any]
) -> None:
    """The Summary's "Excluded by the workspace" block: rows per exclusion and their total
    (for a campaign planned with a workspace, or one that has such rows)."""
    found = {state: int(counts.get(state, 0)) for state in WORKSPACE_EXCLUSIONS}
    planned_with = any("workspace" in str(k).lower() and v for k, v in settings.items())
    if not (planned_with or any(found.values())):
        return
    heading("Excluded by the workspace (see the sheet Excluded)")
    for state, label in WORKSPACE_EXCLUSIONS.items():
        line(label, found[state])
    line("Excluded in all", sum(found.values()))


def _cell(ws: Any, value: Any, **style: Any) -> Any:
    """A write-only cell for ``value`` by the row writer's rules (:func:`cell_value`)."""
    cell = WriteOnlyCell(ws)
    value = cell_value(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would turn "=..." into a formula
        if value.startswith(RISKY_FIRST):
            cell.quotePrefix = True
    for name, setting in style.items():
        if setting is not None:
            setattr(cell, name, setting)
    return cell


# --- table sheets: header through openpyxl, rows spliced in -------------------------------


def _write_table_head(wb: Workbook, styles: _Styles, table: _Table) -> None:
    ws = wb.create_sheet(table.title)
    headers: list[str] = []
    for i, name in enumerate(table.data.columns):
        column = table.data.iloc[:, i]
        encoder, utc = _encoder_for(column, styles, i in table.id_columns, i == table.state_column)
        table.encoders.append(encoder)
        headers.append(f"{name} (UTC)" if utc else str(name))
        widest = max(len(headers[-1]), _widest_text(column.iloc[:_WIDTH_SAMPLE])) + 2
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            widest = max(widest, 20)
        ws.column_dimensions[get_column_letter(i + 1)].width = min(
            _MAX_WIDTH, max(_MIN_WIDTH, widest)
        )
    ws.freeze_panes = "A2"
    if headers:
        ws.auto_filter.ref = f"A1:{table.last_cell}"
    ws.append([_cell(ws, h, font=styles.header_font, fill=styles.header_fill) for h in headers])


def _widest_text(sample: pd.Series) -> int:
    """Characters of the widest value in ``sample``, shown as the report shows it."""
    widths = [len(str(v)) for v in map(cell_value, sample.tolist()) if v is not None]
    return min(max(widths, default=0), _MAX_WIDTH)


def _encoder_for(
    column: pd.Series, styles: _Styles, as_text: bool, by_state: bool
) -> tuple[ColumnEncoder, bool]:
    """How to encode one column's cells, and whether its times were converted to UTC."""
    dtype = column.dtype
    cells = styles.cells
    if pd.api.types.is_datetime64_any_dtype(dtype):
        utc = getattr(dtype, "tz", None) is not None
        return lambda c, refs: datetime_cells(c, refs, cells), utc
    if by_state:
        return _state_encoder(styles), False
    if as_text or _numeric_identifier(column):
        return _text_encoder(cells), False
    return lambda c, refs: any_cells(c, refs, cells), False


def _numeric_identifier(column: pd.Series) -> bool:
    """A numeric column that holds phone numbers or ids (named so, whole, >= 7 digits)."""
    dtype = column.dtype
    if not _ID_NAME.search(str(column.name)) or pd.api.types.is_bool_dtype(dtype):
        return False
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return False
    values = column.dropna().astype("float64")
    return bool(len(values)) and bool((values % 1 == 0).all()) and values.abs().max() >= 1e6


def id_text(v: Any) -> str | None:
    """An identifier as text: ``918563012345.0`` -> ``'918563012345'``; NaN -> None.

    >>> id_text(919365012345.0), id_text(float("nan")), id_text("+91 93650")
    ('919365012345', None, '+91 93650')
    """
    if type(v) is str:
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))  # also np.float64, a float subclass
    value = cell_value(v)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _text_encoder(cells: CellStyles) -> ColumnEncoder:
    def encode(column: pd.Series, refs: list[str]) -> list[str]:
        out = []
        for ref, v in zip(refs, column.tolist(), strict=True):
            s = v if type(v) is str else id_text(v)
            out.append(string_xml(ref, s, cells) if s else "")
        return out

    return encode


def _state_encoder(styles: _Styles) -> ColumnEncoder:
    cells = styles.cells

    def encode(column: pd.Series, refs: list[str]) -> list[str]:
        out = []
        for ref, v in zip(refs, column.tolist(), strict=True):
            style = styles.state_text.get(v) if type(v) is str else None
            out.append(text_xml(ref, v, style) if style is not None else cell_xml(ref, v, cells))
        return out

    return encode


# --- Experiment: results by variant, lift over the holdout, native charts (issue 17) ---------

#: Columns shown as percentages on the Experiment sheet.
_PERCENT_COLUMNS = {
    "delivered_rate", "delivered_low", "delivered_high", "rate", "abs_lift", "abs_lift_low",
    "abs_lift_high", "rel_lift",
}  # fmt: skip
_MONEY_COLUMNS = {"cost", "cost_per_delivered", "cost_per_incremental"}
_HOLDOUT = "holdout"
#: What each number of the lift table means, printed under it on the sheet.
LIFT_NOTES = (
    ("rate", "share of the group with the outcome (the holdout: those sent nothing)"),
    ("abs_lift", "rate minus the holdout's rate, in percentage points, with its 95% interval"),
    ("rel_lift", "abs_lift as a share of the holdout's rate"),
    ("p_value", "chance of a difference at least this big if the SMS changed nothing"),
    ("incremental", "outcomes the SMS caused: abs_lift × recipients of the variant"),
    ("cost_per_incremental", "the variant's cost ÷ incremental outcomes"),
)


def has_experiment(result: Any) -> bool:
    """True when the result's plan split recipients into variants or a holdout.

    >>> class Plan: recipients = pd.DataFrame({"variant": ["A", "holdout"]})
    >>> class Result: plan = Plan()
    >>> has_experiment(Result())
    True
    """
    recipients = getattr(getattr(result, "plan", None), "recipients", None)
    if not isinstance(recipients, pd.DataFrame) or "variant" not in recipients.columns:
        return False
    groups = set(recipients["variant"].dropna().astype(str))
    return len(groups) > 1 or _HOLDOUT in groups


def _lift_table(lift: Any) -> pd.DataFrame:
    table = lift if isinstance(lift, pd.DataFrame) else getattr(lift, "table", None)
    if not isinstance(table, pd.DataFrame):
        raise UsageError(
            f"lift must be what measure_lift returns (or its .table), not {type(lift).__name__}"
        )
    return _variant_column(table)


def _variant_column(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its ``variant`` index (by_variant, measure_lift) as the first column."""
    if "variant" not in table.columns and table.index.name == "variant":
        return table.reset_index()
    return table


def _write_experiment(wb: Workbook, result: Any, lift: Any) -> None:
    """The *Experiment* sheet: by_variant, the lift table (when given), two native charts."""
    ws = wb.create_sheet("Experiment")
    lift_table = _lift_table(lift) if lift is not None else None
    by_variant = (
        _variant_column(result.by_variant())
        if hasattr(result, "by_variant") and has_experiment(result)
        else None
    )
    rows: list[list[Any]] = [[_cell(ws, "Experiment", font=Font(bold=True, size=14))]]
    about = _experiment_settings(result)
    if about:
        rows.append([_cell(ws, about)])
    blocks: dict[str, tuple[int, int, list[str]]] = {}  # name -> first data row, last, columns

    # A value metric's lift (revenue) is in the value's units, not a rate.
    value_lift = lift_table is not None and "mean" in lift_table.columns
    plain = {"abs_lift", "abs_lift_low", "abs_lift_high"} if value_lift else set()

    def table(name: str, title: str, frame: pd.DataFrame) -> None:
        rows.append([])
        rows.append([_cell(ws, title, font=Font(bold=True, size=12))])
        columns = [str(c) for c in frame.columns]
        rows.append([_cell(ws, c, font=Font(bold=True), fill=PatternFill("solid", fgColor=_GREY))
                     for c in columns])  # fmt: skip
        first = len(rows) + 1
        for record in frame.itertuples(index=False):
            rows.append([_experiment_cell(ws, c, v, c in plain and name == "lift")
                         for c, v in zip(columns, record, strict=True)])  # fmt: skip
        blocks[name] = (first, len(rows), columns)

    if by_variant is not None:
        table("by_variant", "Results by variant (rates with 95% Wilson intervals)", by_variant)
    if lift_table is not None:
        metric = getattr(lift, "metric", None)
        what = f": {metric}" if isinstance(metric, str) else ""
        window = getattr(lift, "window", None)
        within = f" within {window}" if isinstance(window, str) else ""
        table("lift", f"Lift over the holdout{what}{within} (95% intervals)", lift_table)
        rows.append([])
        for column, meaning in LIFT_NOTES:
            if value_lift and column == "rate":
                column, meaning = "mean", "average value per person (the holdout: sent nothing)"
            rows.append([_cell(ws, column), _cell(ws, meaning)])
    # Error bars need the distances below and above each estimate: written here, plainly.
    charts = []
    for name, est, low, high in (
        ("by_variant", "delivered_rate", "delivered_low", "delivered_high"),
        ("lift", "abs_lift", "abs_lift_low", "abs_lift_high"),
    ):
        if name not in blocks or not {est, low, high} <= set(blocks[name][2]):
            continue
        frame = by_variant if name == "by_variant" else lift_table
        assert frame is not None
        rows.append([])
        rows.append([_cell(ws, f"Chart data: 95% interval of {est} (below, above)")])
        first = len(rows) + 1
        for _, r in frame.iterrows():
            below, above = _gap(r[est], r[low]), _gap(r[high], r[est])
            fmt = "0.00" if name == "lift" and value_lift else "0.0%"
            rows.append([_cell(ws, r.get("variant")), _cell(ws, below, number_format=fmt),
                         _cell(ws, above, number_format=fmt)])  # fmt: skip
        charts.append((name, est, first))
    for row in rows:
        ws.append(row)
    for i, (name, est, err_first) in enumerate(charts):
        first, last, columns = blocks[name]
        chart = _interval_bar_chart(ws, columns, est, first, last, err_first)
        if name == "lift" and value_lift:
            chart.y_axis.numFmt = "#,##0.00"
            chart.y_axis.title = "absolute lift (mean per person)"
        ws.add_chart(chart, f"{get_column_letter(len(columns) + 2)}{3 + 16 * i}")
    ws.column_dimensions["A"].width = 22
    for k in range(2, 16):
        ws.column_dimensions[get_column_letter(k)].width = 14


def _interval_bar_chart(
    ws: Any, columns: list[str], est: str, first: int, last: int, err_first: int
) -> BarChart:
    """Columns of ``est`` per variant with error bars from the chart-data block."""
    from openpyxl.chart.data_source import NumDataSource, NumRef
    from openpyxl.chart.error_bar import ErrorBars

    col = columns.index(est) + 1
    chart = BarChart()
    chart.type = "col"
    chart.legend = None
    lift = est == "abs_lift"
    chart.title = "Lift over the holdout (95% interval)" if lift else "Delivered rate by variant"
    chart.y_axis.title = "absolute lift" if lift else "delivered rate"
    chart.y_axis.numFmt = "0%"
    chart.add_data(Reference(ws, min_col=col, min_row=first - 1, max_row=last),
                   titles_from_data=True)  # fmt: skip
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    err_last = err_first + (last - first)
    title = ws.title.replace("'", "''")

    def ref(column: str) -> NumDataSource:
        cells = f"${column}${err_first}:${column}${err_last}"
        return NumDataSource(numRef=NumRef(f=f"'{title}'!{cells}"))

    chart.series[0].errBars = ErrorBars(errDir="y", errBarType="both", errValType="cust",
                                        minus=ref("B"), plus=ref("C"))  # fmt: skip
    chart.width, chart.height = 16, 7.5
    return chart


def _gap(a: Any, b: Any) -> float | None:
    try:
        gap = float(a) - float(b)
    except (TypeError, ValueError):
        return None
    return gap if math.isfinite(gap) else None


def _experiment_cell(ws: Any, column: str, value: Any, plain: bool = False) -> Any:
    if column in _PERCENT_COLUMNS and not plain:
        return _cell(ws, value, number_format="0.0%")
    if column in _MONEY_COLUMNS:
        return _cell(ws, value, number_format="0.00##")
    if column == "p_value":
        return _cell(ws, value, number_format="0.000")
    return _cell(ws, value)


def _experiment_settings(result: Any) -> str:
    """One line: the variants, the holdout share, the split seed and strata, if recorded."""
    plan = getattr(result, "plan", None)
    settings = dict((getattr(plan, "settings", None) or {}).get("experiment") or {})
    parts = []
    variants = settings.get("variants")
    if isinstance(variants, Mapping) and variants:
        parts.append("variants " + ", ".join(str(k) for k in variants))
    if settings.get("holdout"):
        parts.append(f"holdout {float(settings['holdout']):.0%}")
    if settings.get("test_share"):
        parts.append(f"test share {float(settings['test_share']):.0%}")
    if settings.get("split_seed") is not None:
        parts.append(f"split seed {settings['split_seed']}")
    if settings.get("stratify"):
        parts.append("stratified by " + ", ".join(map(str, settings["stratify"])))
    return "; ".join(parts)
