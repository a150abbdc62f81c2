"""Reading contact and number tables: phone columns as text, every file type, the guess."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign import contacts
from itnio_campaign.contacts import guess_number_column, read_numbers, read_table
from itnio_campaign.errors import UsageError


def xlsx_bytes(df: pd.DataFrame, header: bool = True) -> bytes:
    buf = io.BytesIO()
    df.to_excel(buf, index=False, header=header)
    return buf.getvalue()


# --- read_table ---------------------------------------------------------------------------


def test_csv_keeps_float_looking_numbers_and_leading_zeros_as_text(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone,name,note\n919812345670.0,Ann,NA\n09812345670,Raj,\n")
    df = read_table(path)
    assert df["phone"].tolist() == ["919812345670.0", "09812345670"]
    assert df["note"].iloc[0] == "NA"  # "NA" is text, not a missing value
    assert df["note"].isna().iloc[1]  # an empty cell is missing


def test_csv_bom_and_semicolon_and_tsv(tmp_path: Path) -> None:
    semi = read_table("\ufeffphone;name\n+91 98765 43210;Ann, Jr\n".encode(), name="a.csv")
    assert list(semi.columns) == ["phone", "name"]
    assert semi.values.tolist() == [["+91 98765 43210", "Ann, Jr"]]
    path = tmp_path / "c.tsv"
    path.write_text("phone\tname\n0091987654321\tA;B\n")
    assert read_table(path).values.tolist() == [["0091987654321", "A;B"]]


def test_xlsx_whole_numbers_become_text(tmp_path: Path) -> None:
    df = pd.DataFrame({"number": [919812345670, 919812345671], "name": ["A", "B"]})
    path = tmp_path / "c.xlsx"
    df.to_excel(path, index=False)
    for got in (read_table(path), read_table(path.read_bytes(), name="up.xlsx")):
        assert got["number"].tolist() == ["919812345670", "919812345671"]


def test_parquet_int_column_becomes_text_and_suffixless_bytes_are_sniffed(
    tmp_path: Path,
) -> None:
    df = pd.DataFrame({"number": [919812345670, 919812345671], "score": [1.5, 2.0]})
    path = tmp_path / "c.parquet"
    df.to_parquet(path)
    got = read_table(path)
    assert got["number"].tolist() == ["919812345670", "919812345671"]
    assert got["score"].tolist() == [1.5, 2.0]  # other types are kept
    assert read_table(path.read_bytes())["number"].tolist() == ["919812345670", "919812345671"]
    sniffed = read_table(xlsx_bytes(df.astype({"number": str})))  # no name: zip → Excel
    assert sniffed["number"].tolist() == ["919812345670", "919812345671"]


@pytest.mark.parametrize(
    ("source", "name", "match"),
    [
        ("/nonexistent/c.csv", None, "no such file: /nonexistent/c.csv"),
        (b"whatever", "c.docx", r"unsupported file type \.docx: c\.docx"),
        (b"not a zip", "broken.xlsx", "cannot read broken.xlsx"),
        (b"PK\x03\x04 truncated zip", "broken.xlsx", "cannot read broken.xlsx"),
        (b"not parquet", "broken.parquet", "cannot read broken.parquet"),
        (b"", "empty.csv", r"^empty\.csv is empty \(0 bytes\)$"),
        (b"phone,name\n", "header_only.csv", "header_only.csv has no rows"),
        (42, None, "path or the file.s bytes; got int"),
    ],
)
def test_bad_files_raise_usage_error(source: object, name: str | None, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        read_table(source, name=name)  # type: ignore[arg-type]


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is not a file"):
        read_table(tmp_path)


# --- guess_number_column ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"name": ["Ann"], "Mobile No": ["+91 98765 43210"]}, "Mobile No"),  # by name
        ({"order_number": ["A-1"], "Phone Number": ["x"]}, "Phone Number"),  # exact name first
        ({"order_number": ["A-100"], "cell": ["98765 43210"]}, "cell"),  # most phone-like name
        ({"hotel": ["98765 43210"], "tel": ["+1 212 456 7890"]}, "tel"),  # "hotel" is no tel
        ({"who": ["Ann", "Raj"], "x": ["98765 43210", "+91-98765-43211"]}, "x"),  # by values
        ({"who": ["Ann"], "x": [919876543210.0]}, "x"),  # Excel floats count
        ({"who": ["Ann", "Raj"], "x": ["98765 43210", "n/a"], "y": ["a", "b"]}, "x"),  # 50%
        ({"who": ["Ann", "Raj", "Li"], "x": ["98765 43210", "n/a", "-"]}, None),  # 33%
        ({"who": ["Ann"], "city": ["Pune"]}, None),
        ({}, None),
    ],
)
def test_guess_number_column(columns: dict[str, list[object]], expected: str | None) -> None:
    assert guess_number_column(pd.DataFrame(columns)) == expected


# --- read_numbers -------------------------------------------------------------------------


def test_header_less_upload_bytes_csv_and_xlsx() -> None:
    assert read_numbers(b"919800000001\n919800000002\n", name="b.csv") == [
        "919800000001",
        "919800000002",
    ]
    assert read_numbers(b"+91 98000 00001\n", name="one.txt") == ["+91 98000 00001"]
    raw = xlsx_bytes(pd.DataFrame({0: [919800000001, 919800000002]}), header=False)
    assert read_numbers(raw, name="b.xlsx") == ["919800000001", "919800000002"]
    # the phone column need not be the first one
    assert read_numbers(b"Ann;919800000001\nRaj;919800000002\n", name="c.csv") == [
        "919800000001",
        "919800000002",
    ]


def test_numbers_from_a_table_pick_the_phone_column(tmp_path: Path) -> None:
    assert read_numbers(b"why;phone\nstop;+919800000001\n;\n", name="a.csv") == ["+919800000001"]
    path = tmp_path / "opt.txt"
    path.write_text("+91 9800000000\n\n919800000001\n")
    assert read_numbers(path) == ["+91 9800000000", "919800000001"]
    assert read_numbers(b"phone\n", name="none.csv") == []  # header only: nothing to suppress


def test_numbers_from_memory() -> None:
    assert read_numbers(pd.Series([919800000001, None, "", " 0091 98000 00002 "])) == [
        "919800000001",
        "0091 98000 00002",
    ]
    assert read_numbers(["'919800000001", 9.18563e11]) == ["919800000001"]  # inexact float
    assert read_numbers(pd.DataFrame({"Phone": ["1"], "note": ["x"]})) == ["1"]
    assert read_numbers(pd.DataFrame({"whatever": ["2"]})) == ["2"]
    assert read_numbers(iter(())) == []


def test_numbers_errors_name_the_columns_and_the_input() -> None:
    with pytest.raises(UsageError, match=r"cannot tell which column .*'who', 'city'"):
        read_numbers(pd.DataFrame({"who": ["Ann"], "city": ["Pune"]}))
    with pytest.raises(UsageError, match=r"^opt\.csv: cannot tell which column"):
        read_numbers(b"who,city\nAnn,Pune\n", name="opt.csv")
    with pytest.raises(UsageError, match="suppress must be a Series"):
        read_numbers({"a": 1}, what="suppress")
    with pytest.raises(UsageError, match="got int"):
        read_numbers(42)
    with pytest.raises(UsageError, match="no such file"):
        read_numbers("/nonexistent/opt.csv")


def test_docstring_examples() -> None:
    import doctest

    assert doctest.testmod(contacts).failed == 0


def test_csv_and_xlsx_of_the_sample_read_alike() -> None:
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    csv, xlsx = read_table(sample / "contacts.csv"), read_table(sample / "contacts.xlsx")
    # "N/A"-like text stays text in both; only empty cells are missing in both
    assert csv["phone"].isna().sum() == xlsx["phone"].isna().sum()
    na_text = csv["phone"].str.strip().str.upper().isin(["N/A", "NA", "NULL", "NONE", "-"])
    assert (xlsx["phone"][na_text.fillna(False)].notna()).all()
