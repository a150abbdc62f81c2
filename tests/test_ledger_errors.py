"""Ledger errors are one line naming the user's path (never a lock or temp file) and what to do."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from itnio_campaign.errors import LedgerError
from itnio_campaign.ledger import SCHEMA_VERSION, Ledger


def _one_line(exc: pytest.ExceptionInfo[LedgerError], path: Path) -> str:
    text = str(exc.value)
    assert "\n" not in text and str(path) in text
    assert ".lock" not in text and "-wal" not in text.replace("-wal/-shm", "")
    return text


@pytest.fixture
def read_only() -> Iterator[list[Path]]:
    """Make paths read-only for real: chmod for a user; as root (where chmod does not stop
    writes) the immutable attribute. Undone afterwards so the folder can be removed."""
    made: list[Path] = []
    yield made
    for p in made:
        subprocess.run(["chattr", "-i", str(p)], capture_output=True)
        os.chmod(p, 0o755 if p.is_dir() else 0o644)


def _make_read_only(path: Path, made: list[Path]) -> None:
    made.append(path)
    if os.geteuid() != 0:
        os.chmod(path, 0o555 if path.is_dir() else 0o444)
        return
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"running as root and cannot make {path} immutable: {done.stderr!r}")


def test_resume_of_a_read_only_ledger_says_so_naming_it(tmp_path: Path, read_only) -> None:
    path = tmp_path / "promo.sqlite"
    with Ledger.open(path) as ledger:
        ledger.set_settings({"a": 1})
    _make_read_only(path, read_only)
    with pytest.raises(LedgerError) as exc:
        Ledger.open(path, create=False)
    text = _one_line(exc, path)
    assert "read-only" in text and "Copy the ledger to a folder you can write to" in text
    with Ledger.open(path, readonly=True) as reader:  # reading still works
        assert reader.settings == {"a": 1}


def test_ledger_in_a_read_only_folder_says_so_naming_it(tmp_path: Path, read_only) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    path = folder / "promo.sqlite"
    with Ledger.open(path) as ledger:
        ledger.set_settings({"a": 1})
    _make_read_only(folder, read_only)
    with pytest.raises(LedgerError) as exc:
        Ledger.open(path, create=False)
    text = _one_line(exc, path)
    assert "cannot" in text and str(folder) in text
    with Ledger.open(path, readonly=True) as reader:  # reading still works, leaving nothing
        assert reader.settings == {"a": 1}
    assert sorted(p.name for p in folder.iterdir()) == ["promo.sqlite"]


def test_new_ledger_in_a_read_only_folder_says_so(tmp_path: Path, read_only) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    _make_read_only(folder, read_only)
    with pytest.raises(LedgerError) as exc:
        Ledger.open(folder / "new.sqlite")
    assert "cannot create the ledger" in _one_line(exc, folder / "new.sqlite")


def test_ledger_in_a_missing_folder_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "no-such-folder" / "promo.sqlite"
    with pytest.raises(LedgerError) as exc:
        Ledger.open(path)
    assert "cannot create the ledger" in _one_line(exc, path)


def test_a_directory_is_not_a_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError) as exc:
        Ledger.open(tmp_path)
    assert "is a directory" in _one_line(exc, tmp_path)


def test_sidecar_that_cannot_be_created_names_the_ledger(tmp_path: Path) -> None:
    # A real SQLite failure (SQLITE_CANTOPEN on the WAL) reported on the user's path.
    path = tmp_path / "promo.sqlite"
    Ledger.open(path).close()
    Path(f"{path}-wal").mkdir()
    try:
        with pytest.raises(LedgerError) as exc:
            Ledger.open(path)
    finally:
        Path(f"{path}-wal").rmdir()
    assert "cannot open the ledger" in _one_line(exc, path)


def test_ledger_of_a_newer_schema_says_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    Ledger.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    for readonly in (False, True):
        with pytest.raises(LedgerError) as exc:
            Ledger.open(path, readonly=readonly)
        text = _one_line(exc, path)
        assert "newer itnio-campaign" in text and "pip install -U itnio-campaign" in text


def test_not_a_ledger_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "contacts.sqlite"
    path.write_text("phone\n+919800000000\n")
    with pytest.raises(LedgerError) as exc:
        Ledger.open(path)
    assert "is not a campaign ledger" in _one_line(exc, path)
