"""Excel sheets and the header row (Excel and CSV), and options a file type does not have."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from itnio_campaign.contacts import read_numbers, read_table
from itnio_campaign.errors import UsageError

SHEETS = ["Info", "Contacts", "Empty"]


def workbook(tmp_path: Path, first_sheet_empty: bool = True) -> Path:
    """Sheets Info (empty, or one note), Contacts (a title, a blank row, the header), Empty."""
    book = openpyxl.Workbook()
    info = book.active
    assert info is not None
    info.title = "Info"
    if not first_sheet_empty:
        info.append(["note"])
        info.append(["exported from the shop"])
    contacts = book.create_sheet("Contacts")
    contacts.append(["Customers, March"])
    contacts.append([])
    contacts.append(["phone", "name", "city"])
    contacts.append(["0919812345670", "Zoë", None])
    contacts.append([919812345671, "NA", "Pune"])
    book.create_sheet("Empty")
    path = tmp_path / "c.xlsx"
    book.save(path)
    return path


EXPECTED = pd.DataFrame(
    {
        "phone": ["0919812345670", "919812345671"],
        "name": ["Zoë", "NA"],
        "city": [None, "Pune"],
    }
)


def test_an_empty_first_sheet_names_the_other_sheets(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        read_table(workbook(tmp_path))
    assert str(err.value) == (
        f"{tmp_path / 'c.xlsx'}: sheet 'Info' has no rows; its other sheets: 'Contacts', "
        "'Empty' (choose one with sheet= / --sheet)"
    )
    with pytest.raises(UsageError, match="its other sheets: 'Contacts', 'Empty'"):
        read_numbers(workbook(tmp_path))


@pytest.mark.parametrize("sheet", ["Contacts", " contacts ", 1])
def test_sheet_by_name_or_position_with_the_header_row(tmp_path: Path, sheet: str | int) -> None:
    df = read_table(workbook(tmp_path), sheet=sheet, header_row=3)
    pd.testing.assert_frame_equal(df, EXPECTED, check_dtype=False)
    assert df.attrs == {"sheet": "Contacts", "sheets": SHEETS}


def test_default_is_the_first_sheet_and_attrs_name_it(tmp_path: Path) -> None:
    path = workbook(tmp_path, first_sheet_empty=False)
    for df in (read_table(path), read_table(path.read_bytes(), name="up.xlsx")):
        assert df["note"].tolist() == ["exported from the shop"]
        assert df.attrs == {"sheet": "Info", "sheets": SHEETS}


@pytest.mark.parametrize(
    ("sheet", "message"),
    [
        ("Kontakte", "has no sheet 'Kontakte'"),
        (3, r"has no sheet number 3 \(from 0\)"),
        (-1, r"has no sheet number -1 \(from 0\)"),
    ],
)
def test_an_unknown_sheet_names_the_sheets(tmp_path: Path, sheet: str | int, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        read_table(workbook(tmp_path), sheet=sheet)
    assert str(err.value).endswith(
        "its sheets (position from 0): 'Info' (0), 'Contacts' (1), 'Empty' (2)"
    )


def test_a_chosen_empty_sheet_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"c\.xlsx: sheet 'Empty' has no rows \(it needs"):
        read_table(workbook(tmp_path), sheet="Empty")


def test_csv_header_row_skips_a_title_and_detects_the_separator_on_the_header(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "Customers, March\n\nphone;name;city\n0919812345670;Zoë;\n919812345671;NA;Pune\n"
    )
    df = read_table(path, header_row=3)
    pd.testing.assert_frame_equal(df, EXPECTED, check_dtype=False)
    assert df.attrs["separator"] == ";"


def test_xlsx_and_csv_with_a_header_row_read_alike(tmp_path: Path) -> None:
    xlsx = read_table(workbook(tmp_path), sheet="Contacts", header_row=3)
    path = tmp_path / "c.csv"
    path.write_text(
        "Customers March\n\nphone,name,city\n0919812345670,Zoë,\n919812345671,NA,Pune\n"
    )
    csv = read_table(path, header_row=3)
    pd.testing.assert_frame_equal(csv, xlsx, check_dtype=False)
    assert csv["name"].tolist() == ["Zoë", "NA"]  # "NA" is text in both
    assert csv["city"].isna().tolist() == xlsx["city"].isna().tolist() == [True, False]


def test_a_header_row_below_the_data_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone\n919812345671\n")
    with pytest.raises(UsageError, match=r"c\.csv has nothing at or below row 9$"):
        read_table(path, header_row=9)
    with pytest.raises(UsageError, match=r"c\.csv has no rows below the header at row 2"):
        read_table(path, header_row=2)
    with pytest.raises(UsageError, match="'Contacts' has no rows below the header at row 9"):
        read_table(workbook(tmp_path), sheet="Contacts", header_row=9)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("c.csv", {"sheet": "Contacts"}, r"^sheet applies to Excel files only; c\.csv is a CSV"),
        ("c.xlsx", {"encoding": "cp1252"}, r"^encoding applies to CSV files only; c\.xlsx is an"),
        ("c.parquet", {"header_row": 2}, r"^header_row applies to CSV and Excel files; c\.parq"),
        ("c.parquet", {"sheet": 0}, "^sheet applies to Excel files only"),
        ("c.xlsx", {"sheet": True}, r"^sheet must be a sheet name or a 0-based position; got T"),
        ("c.xlsx", {"sheet": 1.0}, r"^sheet must be a sheet name or a 0-based position; got 1"),
        ("c.csv", {"header_row": 0}, r"^header_row must be a row number from 1 .*; got 0$"),
        ("c.csv", {"header_row": "3"}, r"^header_row must be a row number from 1 .*; got '3'$"),
    ],
)
def test_options_a_file_does_not_have_are_refused(
    name: str, options: dict[str, object], message: str
) -> None:
    df = pd.DataFrame({"phone": ["919812345671"]})
    data = {
        "c.csv": b"phone\n919812345671\n",
        "c.xlsx": _xlsx(df),
        "c.parquet": _parquet(df),
    }[name]
    with pytest.raises(UsageError, match=message):
        read_table(data, name=name, **options)  # type: ignore[arg-type]


def _xlsx(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_excel(buf, index=False)
    return buf.getvalue()


def _parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()
