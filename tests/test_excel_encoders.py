"""The fast row writer (itnio_campaign.xlsx_rows) and openpyxl's own cell writer agree.

The same values go through both encoders; openpyxl reads both files back and every cell must
have the same value and data type. Known, documented differences are allowed for: openpyxl
writes numbers with 16 significant digits and no ".0" (this writer: exact ``repr``), so a float
may read back as an int or differ in the last digit (times by under a millisecond), and XML
turns openpyxl's raw carriage returns into line feeds (this writer keeps them).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell import WriteOnlyCell

from itnio_campaign.xlsx_rows import (
    CellStyles,
    any_cells,
    cell_value,
    datetime_cells,
    splice_rows,
    table_rows,
)


def fast_file(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` through the fast writer: openpyxl skeleton with a header, rows spliced in."""
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("T")

    def style(**kw: Any) -> int:
        cell = WriteOnlyCell(ws)
        for k, v in kw.items():
            setattr(cell, k, v)
        return int(cell.style_id)

    styles = CellStyles(
        text=style(number_format="@"),
        quoted=style(number_format="@", quotePrefix=True),
        datetime=style(number_format="yyyy-mm-dd hh:mm:ss"),
        date=style(number_format="yyyy-mm-dd"),
    )
    ws.append([str(c) for c in frame.columns])
    skeleton = BytesIO()
    wb.save(skeleton)
    encoders = [
        (lambda c, r: datetime_cells(c, r, styles))
        if pd.api.types.is_datetime64_any_dtype(frame[name].dtype)
        else (lambda c, r: any_cells(c, r, styles))
        for name in frame.columns
    ]
    with path.open("wb") as sink:
        splice_rows(skeleton, sink, {"T": table_rows(frame, encoders, chunk_rows=3)})


def openpyxl_file(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` through openpyxl's normal cell writer, with the same value rules."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([str(c) for c in frame.columns])
    for c, name in enumerate(frame.columns, start=1):
        for r, v in enumerate(frame[name].tolist(), start=2):
            value = cell_value(v)
            if value is None:
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula
    wb.save(path)


def same(fast: Any, ref: Any) -> bool:
    if isinstance(fast, str) and isinstance(ref, str):
        return re.sub(r"\r\n?", "\n", fast) == ref
    numbers = (int, float)
    if type(fast) in numbers and type(ref) in numbers and float in (type(fast), type(ref)):
        return math.isclose(fast, ref, rel_tol=1e-15)  # 0.0 is written "0" by openpyxl
    if isinstance(fast, datetime) and isinstance(ref, datetime):
        return abs(fast - ref) <= timedelta(milliseconds=1)
    return bool(fast == ref) and type(fast) is type(ref)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.floats(),
    st.decimals(places=4, allow_nan=True),
    st.text(alphabet=st.characters(codec=None) | st.sampled_from("\r\n\t\x00=+-@<>&")),
    st.binary(max_size=6),
    st.datetimes(timezones=st.none() | st.timezones()),
    st.dates(),
    st.timedeltas(),
    st.lists(st.integers(), max_size=2),
)
times = st.datetimes(
    min_value=datetime(1800, 1, 1), max_value=datetime(2200, 1, 1), allow_imaginary=False
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=7))
    cells = np.empty(n, dtype=object)
    for i, v in enumerate(draw(st.lists(scalars, min_size=n, max_size=n))):
        cells[i] = v
    naive = draw(st.lists(times | st.none(), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "mixed": cells,
            "floats": draw(st.lists(st.floats(), min_size=n, max_size=n)),
            "ints": draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)),
            "bools": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
            "text": pd.array(draw(st.lists(st.text() | st.none(), min_size=n, max_size=n))),
            "naive": pd.to_datetime(pd.Series(naive, dtype=object)),
            "aware": pd.to_datetime(pd.Series(naive, dtype=object)).dt.tz_localize("Asia/Kolkata"),
        }
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames())
def test_fast_writer_reads_back_like_openpyxls_cell_writer(
    frame: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("enc")
    fast_file(frame, folder / "fast.xlsx")
    openpyxl_file(frame, folder / "ref.xlsx")
    fast = openpyxl.load_workbook(folder / "fast.xlsx")["T"]
    ref = openpyxl.load_workbook(folder / "ref.xlsx").active
    for r in range(1, len(frame) + 2):
        for c in range(1, frame.shape[1] + 1):
            a, b = fast.cell(r, c), ref.cell(r, c)
            where = f"{frame.columns[c - 1]} row {r}: fast {a.value!r}, openpyxl {b.value!r}"
            assert same(a.value, b.value), where
            assert a.data_type == b.data_type, where
