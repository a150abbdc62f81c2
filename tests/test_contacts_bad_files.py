"""Bad files give one clear UsageError line, never a traceback."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.cli import main
from itnio_campaign.contacts import read_numbers, read_table
from itnio_campaign.errors import UsageError


def one_line_error(source: object, **options: object) -> str:
    with pytest.raises(UsageError) as err:
        read_table(source, **options)  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message and message.strip() == message
    return message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "c.csv is empty (0 bytes)"),
        (b" \r\n\n", "c.csv is empty"),
        (b"\xef\xbb\xbf", "c.csv is empty"),  # only a BOM
        (b"\xff\xfe", "c.csv is empty"),  # only a UTF-16 BOM
    ],
)
def test_an_empty_file_is_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    assert one_line_error(path) == f"{tmp_path / message}"
    assert one_line_error(content, name="c.csv") == message


def test_an_empty_excel_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    path.write_bytes(b"")
    assert one_line_error(path) == f"{path} is empty (0 bytes)"


def test_a_directory_named_like_a_csv_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "contacts.csv"
    folder.mkdir()
    assert one_line_error(folder) == f"{folder} is not a file"
    with pytest.raises(UsageError, match="is not a file"):
        read_numbers(folder)


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (bytes(range(256)) * 8, "it holds binary data; save it from the spreadsheet as CSV"),
        (b"\x1f\x8b\x08\x00gzip", "it holds binary data"),
        (b"PK\x03\x04\x14\x00\x06\x00", "it looks like an Excel workbook; give it the .xlsx"),
        (b"PAR1\x15\x04\x15\x00", "it looks like a Parquet file; give it the .parquet suffix"),
    ],
)
def test_binary_garbage_named_csv_is_refused(tmp_path: Path, content: bytes, hint: str) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(content)
    assert one_line_error(path).startswith(f"{path} is not a text (CSV) file: {hint}")


def test_an_excel_workbook_saved_as_csv_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    pd.DataFrame({"phone": ["919812345671"]}).to_excel(path, index=False, engine="openpyxl")
    assert one_line_error(path).endswith(
        "it looks like an Excel workbook; give it the .xlsx suffix"
    )


def _xlsx_with(member: str, content: bytes | None) -> bytes:
    good = io.BytesIO()
    pd.DataFrame({"phone": ["919812345671"]}).to_excel(good, index=False)
    out = io.BytesIO()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name != member:
                dst.writestr(name, src.read(name))
            elif content is not None:
                dst.writestr(name, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("member", "content"),
    [
        ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row>"),  # XML ParseError
        ("xl/workbook.xml", b"garbage"),
        ("[Content_Types].xml", None),
        ("xl/workbook.xml", None),
    ],
)
def test_a_corrupt_workbook_is_one_line(member: str, content: bytes | None) -> None:
    data = _xlsx_with(member, content)
    assert one_line_error(data, name="c.xlsx").startswith("cannot read c.xlsx: ")


def test_a_path_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    assert one_line_error("c\x00.csv").startswith("no such file: c\x00.csv")
    long_name = str(tmp_path / ("x" * 300 + ".csv"))
    assert one_line_error(long_name).startswith(f"cannot open {long_name}: ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("phone\n1\n")
    path.chmod(0)
    assert one_line_error(path).startswith(f"cannot open {path}: ")


def test_cli_plan_of_binary_garbage_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(bytes(range(256)) * 4)
    assert main(["plan", str(path), "--content", "Hi"]) == 1
    err = capsys.readouterr().err
    assert f"{path} is not a text (CSV) file" in err
    assert "Traceback" not in err
