"""CSV encodings: detection (BOM, UTF-8, cp1252, latin-1), the override, and what is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from itnio_campaign.contacts import read_numbers, read_table
from itnio_campaign.errors import UsageError

NAMES = ["Zoë Müller", "José €5", "Ann"]
PHONES = ["0919812345670", "+91 98123 45671", "919812345672"]


def table(sep: str = ",", newline: str = "\n", names: list[str] = NAMES) -> str:
    rows = [f"phone{sep}name"] + [f"{p}{sep}{n}" for p, n in zip(PHONES, names, strict=True)]
    return newline.join(rows) + newline


@pytest.mark.parametrize(
    ("encoding", "sep", "newline", "recorded"),
    [
        ("utf-8", ",", "\n", "utf-8"),
        ("utf-8-sig", ";", "\r\n", "utf-8-sig"),  # Excel's "CSV UTF-8"
        ("cp1252", ";", "\r\n", "cp1252"),  # Excel's "CSV" on Windows
        ("utf-16", "\t", "\r\n", "utf-16"),  # Excel's "Unicode text": BOM, tabs
        ("utf-16-be", "\t", "\n", "utf-16-be"),  # no BOM: told by where the NULs are
        ("utf-16-le", ",", "\n", "utf-16-le"),
    ],
)
def test_csv_encodings_are_detected_and_names_round_trip(
    tmp_path: Path, encoding: str, sep: str, newline: str, recorded: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(table(sep, newline).encode(encoding))
    for df in (read_table(path), read_table(path.read_bytes(), name="upload.csv")):
        assert list(df.columns) == ["phone", "name"]
        assert df["phone"].tolist() == PHONES
        assert df["name"].tolist() == NAMES
        assert df.attrs["encoding"] == recorded
        assert df.attrs["separator"] == sep


def test_latin1_file_reads_right_and_undecodable_cp1252_bytes_fall_back_to_latin1(
    tmp_path: Path,
) -> None:
    names = ["Zoë Müller", "Ørsted", "Ann"]  # every latin-1 letter is the same in cp1252
    path = tmp_path / "c.csv"
    path.write_bytes(table(names=names).encode("latin-1"))
    df = read_table(path)
    assert df["name"].tolist() == names
    assert df.attrs["encoding"] == "cp1252"
    # 0x81 is not a cp1252 character: latin-1, the last resort, reads any byte
    path.write_bytes(table(names=["Zoë\x81", "B", "C"]).encode("latin-1"))
    df = read_table(path)
    assert df["name"].tolist() == ["Zoë\x81", "B", "C"]
    assert df.attrs["encoding"] == "latin-1"


def test_a_cp1252_byte_far_down_a_utf8_looking_file_is_read_as_cp1252(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    rows = "".join(f"9198{i:08d},Ann\n" for i in range(20_000))  # > the 64 KiB sniffed
    path.write_bytes(("phone,name\n" + rows + "919800000000,José €\n").encode("cp1252"))
    df = read_table(path)
    assert df.attrs["encoding"] == "cp1252"
    assert df["name"].iloc[-1] == "José €"
    assert len(df) == 20_001


def test_a_utf8_character_cut_at_the_sniffed_boundary_is_still_utf8(tmp_path: Path) -> None:
    head = "phone,name\n"
    filler = "a" * (65_536 - len(head) - len("919800000001,") - 1)
    text = f"{head}919800000001,{filler}é\n919800000002,Zoë\n"
    data = text.encode()
    assert data[65_535:65_537] == "é".encode()  # the two bytes straddle the boundary
    df = read_table(data, name="c.csv")
    assert df.attrs["encoding"] == "utf-8"
    assert df["name"].iloc[-1] == "Zoë"


def test_encoding_override_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(table().encode("utf-8"))
    df = read_table(path, encoding="latin-1")  # the caller's choice, even if it looks wrong
    assert df["name"].iloc[0] == "Zoë Müller".encode().decode("latin-1")
    assert df.attrs["encoding"] == "latin-1"
    path.write_bytes(table().encode("utf-8-sig"))
    df = read_table(path, encoding="UTF-8")  # a BOM is not glued to the first column name
    assert list(df.columns) == ["phone", "name"]
    assert df.attrs["encoding"] == "utf-8-sig"
    path.write_bytes(table().encode("utf-16-le"))
    df = read_table(path, encoding="utf-16-le")
    assert df["name"].tolist() == NAMES


@pytest.mark.parametrize(
    ("encoding", "message"),
    [
        ("nope", r"^unknown encoding 'nope': use e\.g\. utf-8, cp1252, latin-1 or utf-16$"),
        ("base64", r"^unknown encoding 'base64'"),  # a codec, but not a text encoding
        ("utf-8", r"^c\.csv is not utf-8 text \(byte 0xeb: invalid continuation byte\); leave"),
        ("utf-16", r"^c\.csv is not utf-16 text \(UTF-16 stream does not start with BOM\)"),
    ],
)
def test_a_wrong_or_unknown_encoding_is_one_clear_line(encoding: str, message: str) -> None:
    data = table().encode("cp1252")
    with pytest.raises(UsageError, match=message) as err:
        read_table(data, name="c.csv", encoding=encoding)
    assert "\n" not in str(err.value)


def test_attrs_survive_the_columns_read_table_drops() -> None:
    df = read_table("phone;name;\n1;Zoë;\n".encode("cp1252"), name="c.csv")
    assert list(df.columns) == ["phone", "name"]
    assert df.attrs == {"encoding": "cp1252", "separator": ";"}


def test_suppression_lists_in_excel_encodings() -> None:
    for encoding in ("utf-16", "cp1252", "utf-8-sig"):
        data = "phone\tgrund\n+49 1512 3456789\tgelöscht\n".encode(encoding)
        assert read_numbers(data, name="opt.txt") == ["+49 1512 3456789"]
