"""One writer per ledger *file*, whatever path reaches it; a clean close leaves one file.

Every second writer here is a real second process, as two ``resume`` runs would be.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from itnio_campaign.errors import LedgerError
from itnio_campaign.ledger import Ledger

REPO = Path(__file__).resolve().parents[1]

_HOLD = textwrap.dedent(
    """
    import sys
    from itnio_campaign.ledger import Ledger
    ledger = Ledger.open(sys.argv[1])
    ledger.set_settings({"holder": "yes"})
    print("locked", flush=True)
    sys.stdin.read()
    ledger.close()
    print("closed", flush=True)
    """
)

_TRY = textwrap.dedent(
    """
    import sys
    from itnio_campaign.errors import LedgerError
    from itnio_campaign.ledger import Ledger
    try:
        Ledger.open(sys.argv[1]).close()
    except LedgerError as exc:
        print("refused", exc)
    else:
        print("opened")
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


class Holder:
    """A process that opened the ledger for writing and waits."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env(),
        )  # fmt: skip
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        assert self.proc.stdout.readline().strip() == "closed"
        self.proc.wait(timeout=30)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    path = tmp_path / "real" / "promo.sqlite"
    path.parent.mkdir()
    h = Holder(path)
    yield h
    if h.proc.poll() is None:
        h.kill()


def _try_open(path: str, cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", _TRY, path], cwd=cwd, capture_output=True, text=True,
        env=_env(), timeout=60, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def _other_paths(tmp_path: Path) -> dict[str, tuple[str, Path]]:
    """Other ways to name tmp_path/real/promo.sqlite: (path as typed, working directory)."""
    real = tmp_path / "real" / "promo.sqlite"
    (tmp_path / "link.sqlite").symlink_to(real)
    os.link(real, tmp_path / "hard.sqlite")
    (tmp_path / "elsewhere").mkdir()
    return {
        "symlink": (str(tmp_path / "link.sqlite"), tmp_path),
        "hard link": (str(tmp_path / "hard.sqlite"), tmp_path),
        "relative with ..": ("../real/promo.sqlite", tmp_path / "elsewhere"),
    }


def test_second_writer_by_any_path_is_refused_naming_that_path(
    holder: Holder, tmp_path: Path
) -> None:
    for how, (typed, cwd) in _other_paths(tmp_path).items():
        answer = _try_open(typed, cwd)
        assert answer.startswith(f"refused the ledger {typed} is in use by another writer"), how
        if how != "hard link":  # SQLite finds the WAL (with the owner row) by name, not inode
            assert f"(process {holder.proc.pid} on " in answer, how
        assert ".lock" not in answer and "-wal" not in answer, how
    # ... and in this process too, where the same file is reached by another path.
    with pytest.raises(LedgerError, match="in use by another writer"):
        Ledger.open(tmp_path / "link.sqlite")


def test_after_the_writer_is_killed_a_new_writer_gets_in(holder: Holder, tmp_path: Path) -> None:
    paths = _other_paths(tmp_path)
    typed, cwd = paths["symlink"]
    assert _try_open(typed, cwd).startswith("refused")
    holder.kill()
    assert _try_open(typed, cwd) == "opened"
    with Ledger.open(tmp_path / "real" / "promo.sqlite") as ledger:
        assert ledger.settings == {"holder": "yes"}  # the killed writer's commit survived


def test_readers_work_while_a_writer_holds_the_ledger(holder: Holder, tmp_path: Path) -> None:
    for typed in (tmp_path / "real" / "promo.sqlite", tmp_path / "link" / ".." / "real" /
                  "promo.sqlite"):  # fmt: skip
        (tmp_path / "link").mkdir(exist_ok=True)
        with Ledger.open(typed, readonly=True) as reader:
            assert reader.settings == {"holder": "yes"}
            assert reader.writer_alive()
    holder.close()
    with Ledger.open(tmp_path / "real" / "promo.sqlite", readonly=True) as reader:
        assert not reader.writer_alive()


def test_closing_a_reader_keeps_the_writers_sqlite_locks(tmp_path: Path) -> None:
    # POSIX drops all of a process's fcntl locks on a file when any of its descriptors is
    # closed. A reader object of the same file, opened and closed in the writer's process,
    # must not take the writer's SQLite locks with it: another process that then opens and
    # closes the database must not checkpoint and delete the writer's live WAL.
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as writer:
        writer.set_settings({"a": 1})
        with Ledger.open(tmp_path / "." / "c.sqlite", readonly=True) as reader:
            assert reader.settings == {"a": 1}
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1')"
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        assert Path(f"{path}-wal").exists()
        writer.set_settings({"b": 2})
    with Ledger.open(path, readonly=True) as reader:
        assert reader.settings == {"a": 1, "b": 2}


# -- a tidy folder ------------------------------------------------------------------------------
def test_clean_close_leaves_only_the_ledger_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with Ledger.open(path) as ledger:
        ledger.set_settings({"a": 1})
        assert Path(f"{path}-wal").exists()  # WAL while open: that is what is tidied away
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]
    with Ledger.open(path, readonly=True) as reader:
        assert reader.settings == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]


def test_reader_closing_last_tidies_after_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    writer = Ledger.open(path)
    writer.set_settings({"a": 1})
    reader = Ledger.open(path, readonly=True)
    writer.close()
    reader.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.sqlite"]


def test_after_a_crash_the_next_open_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "real" / "promo.sqlite"
    path.parent.mkdir()
    Path(f"{path}.lock").write_text("4242")  # left by an older release's writer
    h = Holder(path)
    h.kill()
    leftovers = sorted(p.name for p in path.parent.iterdir())
    assert "promo.sqlite-wal" in leftovers
    with Ledger.open(path) as ledger:
        assert ledger.settings == {"holder": "yes"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["promo.sqlite"]


def test_held_legacy_lock_file_still_refuses(tmp_path: Path) -> None:
    import fcntl

    path = tmp_path / "c.sqlite"
    Ledger.open(path).close()
    with open(f"{path}.lock", "a+b") as old:  # an older release's writer, still running
        fcntl.flock(old.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(LedgerError, match="older itnio-campaign release"):
            Ledger.open(path)
    assert sqlite3.connect(path).execute("SELECT count(*) FROM meta").fetchone()[0] > 0
