"""CSV rows with more or fewer cells than the header: trailing separators, short and long rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.cli import main
from itnio_campaign.contacts import read_numbers, read_table
from itnio_campaign.errors import UsageError

PHONES = ["0919812345670", "+91 98123 45671", "919812345672"]


def write(tmp_path: Path, text: str, name: str = "c.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_csv_with_trailing_comma_keeps_phone_column(tmp_path: Path) -> None:
    rows = "".join(f"{p},{n},\n" for p, n in zip(PHONES, ["Ann", "Bob", "Cy"], strict=True))
    df = read_table(write(tmp_path, "phone,name\n" + rows))
    assert list(df.columns) == ["phone", "name"]
    assert df["phone"].tolist() == PHONES  # as text, leading zero and spaces kept
    assert df["name"].tolist() == ["Ann", "Bob", "Cy"]
    assert isinstance(df.index, pd.RangeIndex)  # the numbers did not become the index


def test_trailing_comma_on_header_and_rows_drops_the_unnamed_empty_column(
    tmp_path: Path,
) -> None:
    df = read_table(write(tmp_path, "phone;name;\n0919812345670;Ann;\n919812345672;Cy;\n"))
    assert list(df.columns) == ["phone", "name"]
    assert df.values.tolist() == [["0919812345670", "Ann"], ["919812345672", "Cy"]]
    assert df.attrs["separator"] == ";"


@pytest.mark.parametrize(
    "text",
    [
        "phone,name\n0919812345670,Ann,\n919812345672,Cy\n",  # first row with, then without
        "phone,name\n0919812345670,Ann\n919812345672,Cy,\n",  # first row without, then with
        "phone,name\n0919812345670,Ann,,\n919812345672,Cy, \n",  # two empty cells; a space
    ],
)
def test_only_some_rows_with_trailing_separators_read_alike(tmp_path: Path, text: str) -> None:
    df = read_table(write(tmp_path, text))
    assert list(df.columns) == ["phone", "name"]
    assert df.values.tolist() == [["0919812345670", "Ann"], ["919812345672", "Cy"]]


def test_rows_shorter_than_the_header_get_missing_cells(tmp_path: Path) -> None:
    df = read_table(write(tmp_path, "phone,name,city\n0919812345670,Ann\n919812345672\n"))
    assert df["phone"].tolist() == ["0919812345670", "919812345672"]
    assert df["name"].isna().tolist() == [False, True]
    assert df["city"].isna().all()


@pytest.mark.parametrize(
    ("text", "line", "extra"),
    [
        ("phone,name\n0919812345670,Ann\n919812345671,Bob,x\n919812345672,Cy\n", 3, "x"),
        ("phone,name\n0919812345670,Ann,x\n919812345672,Cy\n", 2, "x"),  # the first row
        ("phone,name\n0919812345670,Ann,\n919812345672,Cy,x,y\n", 3, "x"),
        ('phone,name\n1,"A\nB",\n919812345672,Cy,Pune\n', 4, "Pune"),  # a quoted newline
    ],
)
def test_a_row_longer_than_the_header_is_an_error_naming_its_line(
    tmp_path: Path, text: str, line: int, extra: str
) -> None:
    with pytest.raises(UsageError) as err:
        read_table(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'c.csv'}, line {line}: ")
    assert f"(extra {extra!r})" in message
    assert "\n" not in message


def test_quoted_separators_and_newlines_with_trailing_commas(tmp_path: Path) -> None:
    text = 'phone,name\n"0919812345670","Ann, Jr",\n919812345672,"Cy\nLee",\n'
    df = read_table(write(tmp_path, text))
    assert df.values.tolist() == [["0919812345670", "Ann, Jr"], ["919812345672", "Cy\nLee"]]


def test_suppression_list_with_trailing_commas_reads_every_number() -> None:
    assert read_numbers(b"919800000001,\n919800000002,\n", name="opt.csv") == [
        "919800000001",
        "919800000002",
    ]
    assert read_numbers(b"phone,why,\n919800000001,stop,\n", name="opt.csv") == ["919800000001"]


def test_plan_of_a_trailing_comma_export_counts_every_contact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "phone,name\n919812345670,Ann,\n919812345671,Bob,\n")
    assert main(["plan", str(path), "--content", "Hi {name}", "--region", "IN"]) == 0
    out = capsys.readouterr().out
    assert [line.split() for line in out.splitlines() if line.startswith("ready")] == [
        ["ready", "2"]
    ]
