"""The Excel report never fails on a value, cuts text as Excel counts it, keeps phone numbers as
text, and fails cleanly (one ReportError, nothing half-written) when the file cannot be written.

Every report here comes from a real plan (``plan_campaign``) and is read back with openpyxl.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itnio_campaign.errors import ItnioError
from itnio_campaign.excel import ReportError, write_report
from itnio_campaign.plan import plan_campaign
from itnio_campaign.result import OUTCOME_COLUMNS, CampaignResult

ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class Unprintable:
    """An object whose str() and repr() both raise (seen with broken third-party types)."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def campaign(values: Sequence[Any], column: str = "blob", **frame: Any) -> CampaignResult:
    """A planned campaign whose user column ``column`` holds ``values`` exactly (object dtype)."""
    cells = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # one by one: arrays and lists stay single cells
        cells[i] = v
    phones = [f"+9198765{i:05d}" for i in range(len(values))]
    df = pd.DataFrame({"phone": phones, **frame})
    df[column] = pd.Series(cells, dtype=object)
    return CampaignResult.from_outcomes(plan_campaign(df, "phone", "Hi there"), [])


def column_cells(path: Path, header: str) -> list[Any]:
    """The cells under ``header`` on the Recipients sheet, top to bottom."""
    ws = openpyxl.load_workbook(path)["Recipients"]
    names = [c.value for c in ws[1]]
    col = names.index(header) + 1
    return [ws.cell(row=r, column=col) for r in range(2, ws.max_row + 1)]


def units16(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


# --- writing never fails on a value ---


def test_report_of_a_parquet_bytes_column_is_written(tmp_path: Path) -> None:
    source = tmp_path / "contacts.parquet"
    pd.DataFrame(
        {
            "phone": ["+919876500001", "+919876500002"],
            "photo": [b"\xff\xd8\xff\xe0", b"caf\xc3\xa9"],
        }
    ).to_parquet(source)
    df = pd.read_parquet(source)
    result = CampaignResult.from_outcomes(plan_campaign(df, "phone", "Hi"), [])
    cells = column_cells(write_report(result, tmp_path / "r.xlsx"), "photo")
    assert [c.value for c in cells] == ["\\xff\\xd8\\xff\\xe0", "café"]
    assert {c.data_type for c in cells} == {"s"}


def test_awkward_values_get_readable_text_or_typed_cells(tmp_path: Path) -> None:
    aware = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    values = [
        b"\xff\xfe",
        {"b": 2, "a": [1, "x"]},
        {3, 1, 2},
        (1, "a"),
        np.array([1.5, 2.5]),
        Decimal("1.25"),
        Decimal("NaN"),
        Decimal("sNaN"),
        918563012345678901,
        aware,
        timedelta(days=1, hours=2),
        time(9, 5),
        date(1850, 1, 1),
        Unprintable(),
        pd.NaT,
        pd.NA,
        np.nan,
        float("inf"),
        complex(1, 2),
        np.datetime64("2024-01-02T03:04:05"),
        "=1+1",
    ]
    cells = column_cells(write_report(campaign(values), tmp_path / "r.xlsx"), "blob")
    got = [c.value for c in cells]
    assert got[:5] == [
        "\\xff\\xfe",
        '{"b": 2, "a": [1, "x"]}',
        "[1, 2, 3]",
        '[1, "a"]',
        "[1.5, 2.5]",
    ]
    assert got[5] == 1.25 and cells[5].data_type == "n"
    assert got[6:8] == [None, None]  # Decimal NaN (quiet or signalling) is empty
    assert got[8] == "918563012345678901"  # 18 digits: text, Excel would keep only 15
    assert got[9] == datetime(2024, 5, 1, 9, 0) and cells[9].is_date  # naive UTC
    assert got[10:13] == ["1 day, 2:00:00", "09:05:00", "1850-01-01"]
    assert got[13] == "<unprintable Unprintable>"
    assert got[14:17] == [None, None, None]
    assert got[17:19] == ["inf", "(1+2j)"]
    assert got[19] == datetime(2024, 1, 2, 3, 4, 5)
    assert got[20] == "=1+1" and cells[20].data_type == "s" and cells[20].quotePrefix


class _Weird(str):
    def __str__(self) -> str:
        raise RuntimeError("a str subclass with a broken __str__")


def _objects() -> st.SearchStrategy[Any]:
    text = st.text(
        alphabet=st.characters(codec=None, exclude_categories=())
        | st.sampled_from("\r\n\t\x00\x1f")
    )
    scalars = st.one_of(
        st.none(),
        st.sampled_from([pd.NA, pd.NaT, np.nan, np.float32(1.5), np.int64(-7), np.bool_(True)]),
        st.sampled_from([np.datetime64("NaT"), np.timedelta64(5, "s"), np.bytes_(b"\xff")]),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.decimals(),
        text,
        text.map(_Weird),
        st.binary(max_size=8),
        st.datetimes(timezones=st.none() | st.timezones()),
        st.dates(),
        st.times(),
        st.timedeltas(),
        st.complex_numbers(),
        st.builds(Unprintable),
    )
    return st.recursive(
        scalars,
        lambda kids: st.one_of(
            st.lists(kids, max_size=3),
            st.tuples(kids, kids),
            st.dictionaries(st.text(max_size=3) | st.integers(), kids, max_size=3),
            st.frozensets(st.integers() | st.text(max_size=3), max_size=3),
            kids.map(lambda x: np.array([x, x], dtype=object)),
        ),
        max_leaves=4,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_objects(), min_size=1, max_size=6))
def test_any_object_column_is_written_and_strings_read_back(
    values: list[Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    path = write_report(campaign(values), tmp_path_factory.mktemp("prop") / "r.xlsx")
    cells = column_cells(path, "blob")  # openpyxl opens it: the file is well formed
    cells += [None] * (len(values) - len(cells))  # trailing empty rows are not stored
    for v, cell in zip(values, cells, strict=True):
        got = None if cell is None else cell.value
        assert cell is None or cell.data_type != "f"  # never a formula
        if type(v) is str or type(v) is _Weird:
            expected = ILLEGAL_XML.sub("\ufffd", str.__str__(v))
            assert got == (expected or None)
            if got:
                assert cell is not None and cell.data_type == "s"
        elif type(v) is bytes:
            try:
                decoded = v.decode("utf-8")
            except UnicodeDecodeError:
                decoded = v.decode("utf-8", "backslashreplace")
            assert got == (ILLEGAL_XML.sub("\ufffd", decoded) or None)


# --- Excel's cell limit is 32,767 UTF-16 units ------------------------------------------------


def test_long_emoji_text_is_cut_by_utf16_units_without_splitting_a_pair(tmp_path: Path) -> None:
    emoji = "🎉" * 20_000  # 20,000 code points, 40,000 UTF-16 units
    odd = "a" + "😀" * 20_000  # the cut falls in the middle of a pair
    fits = "🎉" * 16_383  # 32,766 units: kept whole
    path = write_report(campaign([emoji, odd, fits]), tmp_path / "r.xlsx")
    got = [c.value for c in column_cells(path, "blob")]
    assert got[0] == "🎉" * 16_383 + "…" and units16(got[0]) == 32_767
    assert got[1] == "a" + "😀" * 16_382 + "…" and units16(got[1]) == 32_766
    assert got[2] == fits


def test_long_bmp_text_is_cut_at_the_limit_and_marked(tmp_path: Path) -> None:
    path = write_report(campaign(["é" * 40_000, "x" * 32_767]), tmp_path / "r.xlsx")
    got = [c.value for c in column_cells(path, "blob")]
    assert got == ["é" * 32_766 + "…", "x" * 32_767]


# --- identifiers stay text ---


def test_phone_column_of_floats_is_written_as_text_without_dot_zero(tmp_path: Path) -> None:
    contact = [919365012345.0, np.nan, 919365012346.0]
    df = pd.DataFrame({"Contact": contact, "visits": [3.0, 4.0, 5.0]})  # no phone-like name
    result = CampaignResult.from_outcomes(plan_campaign(df, "Contact", "Hi"), [])
    path = write_report(result, tmp_path / "r.xlsx")
    cells = column_cells(path, "Contact")
    assert [c.value for c in cells] == ["919365012345", None, "919365012346"]
    assert cells[0].data_type == "s" and cells[2].data_type == "s"
    visits = column_cells(path, "visits")  # an ordinary number stays a number
    assert visits[0].value == 3 and visits[0].data_type == "n"


def test_integer_number_column_is_text_too(tmp_path: Path) -> None:
    df = pd.DataFrame({"c": [919365012345, 919365012346]})
    result = CampaignResult.from_outcomes(plan_campaign(df, "c", "Hi"), [])
    cells = column_cells(write_report(result, tmp_path / "r.xlsx"), "c")
    assert [(c.value, c.data_type) for c in cells] == [("919365012345", "s"), ("919365012346", "s")]


# --- outcome columns are found through outcome_columns only ---


class Renamed:
    """A real result whose outcome columns carry other names (as result.py may name them)."""

    def __init__(self, result: CampaignResult, prefix: str) -> None:
        self._result = result
        self.outcome_columns = [prefix + c for c in OUTCOME_COLUMNS]
        self.frame = result.frame.rename(
            columns=dict(zip(result.outcome_columns, self.outcome_columns, strict=True))
        )
        self.settings = result.settings

    def summary(self) -> Any:
        return self._result.summary()

    def batches_frame(self) -> pd.DataFrame:
        return self._result.batches_frame()


def test_outcome_state_is_found_by_position_not_by_the_name_state(tmp_path: Path) -> None:
    df = pd.DataFrame({"phone": ["+919876500001", "123"], "state": ["rejected", "unknown"]})
    result = CampaignResult.from_outcomes(plan_campaign(df, "phone", "Hi"), [])
    renamed = Renamed(result, "outcome.")
    wb = openpyxl.load_workbook(write_report(renamed, tmp_path / "r.xlsx"))
    header = [c.value for c in wb["Recipients"][1]]
    assert header.count("state") == 1 and "outcome.state" in header
    rows = list(wb["Recipients"].iter_rows(min_row=2, values_only=True))
    assert [r[header.index("state")] for r in rows] == ["rejected", "unknown"]  # the user's
    # the user's "rejected"/"unknown" are not outcomes: the one failure is the row never
    # sent (pending), the other row was skipped
    failures = list(wb["Failures"].iter_rows(min_row=2, values_only=True))
    assert [r[header.index("outcome.state")] for r in failures] == ["pending"]
    assert wb["Recipients"].cell(2, header.index("state") + 1).fill.fgColor.rgb in (
        None,
        "00000000",
    )


# --- a report that cannot be written: one clear error, nothing half-written ---


def small_result() -> CampaignResult:
    return campaign(["a", "b"])


def test_missing_folder_is_a_report_error_naming_the_path(tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "r.xlsx"
    with pytest.raises(ReportError, match=r"no-such-folder.*does not exist") as err:
        write_report(small_result(), target)
    assert isinstance(err.value, ItnioError) and str(target) in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no folder created behind the user's back


def test_destination_that_is_a_folder_is_a_report_error(tmp_path: Path) -> None:
    folder = tmp_path / "report.xlsx"
    folder.mkdir()
    with pytest.raises(ReportError, match="is a folder") as err:
        write_report(small_result(), folder)
    assert str(folder) in str(err.value)
    assert list(folder.iterdir()) == [] and [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_read_only_folder_is_a_report_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ReportError, match="Permission denied") as err:
            write_report(small_result(), folder / "r.xlsx")
        assert str(folder / "r.xlsx") in str(err.value)
    finally:
        folder.chmod(0o700)


DISK_FULL = textwrap.dedent(
    """
    import resource, signal, sys
    import pandas as pd
    from itnio_campaign.excel import ReportError, write_report
    from itnio_campaign.plan import plan_campaign
    from itnio_campaign.result import CampaignResult

    n = 3000
    df = pd.DataFrame({"phone": [f"+9198765{i:05d}" for i in range(n)],
                       "note": [f"note {i} " + "x" * (i % 97) for i in range(n)]})
    result = CampaignResult.from_outcomes(plan_campaign(df, "phone", "Hi {note}"), [])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))
    try:
        write_report(result, sys.argv[1])
    except ReportError as exc:
        print(exc)
        sys.exit(3)
    """
)


def test_full_disk_leaves_the_previous_report_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"previous report")
    run = subprocess.run(
        [sys.executable, "-c", DISK_FULL, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert run.returncode == 3, run.stderr
    assert run.stdout.strip() == f"cannot write the report {target}: File too large"
    assert target.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_a_good_write_replaces_the_previous_report_with_normal_permissions(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.xlsx"
    target.write_bytes(b"previous report")
    write_report(small_result(), target)
    assert openpyxl.load_workbook(target)["Recipients"].max_row == 3
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600
    assert [p.name for p in tmp_path.iterdir()] == ["report.xlsx"]


def test_aware_datetime_column_header_says_utc(tmp_path: Path) -> None:
    when = pd.Series(pd.date_range("2024-01-01 09:00", periods=2, tz="Asia/Kolkata"))
    path = write_report(campaign(["a", "b"], when=when), tmp_path / "r.xlsx")
    cells = column_cells(path, "when (UTC)")
    assert [c.value for c in cells] == [datetime(2024, 1, 1, 3, 30), datetime(2024, 1, 2, 3, 30)]
