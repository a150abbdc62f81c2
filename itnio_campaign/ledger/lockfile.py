"""The ledger file on disk: its identity, the one-writer lock, the SQLite connection, checks.

**One writer per file, whatever the path.** The writer takes an exclusive ``flock`` on a
descriptor of the database file itself, so a symlink, a hard link or another relative path
to the same file meets the same lock, and the OS drops it when the process dies (even by
SIGKILL). ``flock`` locks and the POSIX ``fcntl`` record locks SQLite uses are separate on
Linux and macOS, but POSIX drops *all* of a process's record locks on a file when *any*
descriptor of it is closed. So the process keeps one descriptor per database file
(:class:`FileHold`, shared by every ledger object of that file) and closes it only after
the last of their SQLite connections is closed. (On NFS Linux emulates ``flock`` with record
locks: keep ledgers on a local disk.)

Errors name the path the user gave, never a sidecar file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import LedgerError

#: Bumped whenever the tables change; a ledger of another version is refused, not guessed at.
#: 3: frames in the "arrow" format, long msgId lists zstd-compressed, no journal index.
SCHEMA_VERSION = 3
#: Older versions this release reads as they are, and upgrades in place when it writes:
#: version 3 only adds ways to store things (version 2's Parquet frames and msgId texts are
#: still read), so upgrading is relabelling. Older still are refused.
UPGRADABLE_VERSIONS = (2,)
#: ``PRAGMA application_id``: "ITNC". Marks the file as ours for tools like ``file(1)``.
APPLICATION_ID = 0x49544E43
APP_NAME = "itnio-campaign-ledger"
SQLITE_HEADER = b"SQLite format 3\x00"
#: The sidecar files SQLite keeps beside a database in WAL mode.
SIDECARS = ("-wal", "-shm")


@dataclass
class _Held:
    fd: int
    users: int = 0
    writer: bool = False


_HELD: dict[tuple[int, int], _Held] = {}  # (st_dev, st_ino) -> this process's descriptor
_HELD_MUTEX = threading.Lock()


class FileHold:
    """This process's hold on one database file (by identity, not by path).

    >>> hold, created = FileHold.take(Path("promo.sqlite"), create=True)  # doctest: +SKIP
    >>> hold.lock_writer()                                               # doctest: +SKIP
    True
    """

    def __init__(self, key: tuple[int, int]) -> None:
        self._key = key
        self._released = False
        self._writer = False  # this hold (not another of the same file) is the writer

    @classmethod
    def take(cls, path: Path, *, create: bool) -> tuple[FileHold, bool]:
        """Hold ``path``'s file; with ``create``, make an empty one if none exists.

        Returns the hold and whether this call created the file. Raises LedgerError when
        there is no file (and not ``create``), or it cannot be opened.
        """
        with _HELD_MUTEX:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                if not create:
                    raise LedgerError(f"no ledger at {path}") from None
                return cls._create(path), True
            except OSError as exc:
                raise LedgerError(f"cannot read the ledger {path}: {exc.strerror}") from None
            key = (st.st_dev, st.st_ino)
            if key not in _HELD:  # the only open() of this file in the process
                try:
                    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError as exc:
                    raise LedgerError(f"cannot read the ledger {path}: {exc.strerror}") from None
                fst = os.fstat(fd)
                key = (fst.st_dev, fst.st_ino)  # replaced since stat(): hold what we opened
                _HELD.setdefault(key, _Held(fd))
            _HELD[key].users += 1
            return cls(key), False

    @classmethod
    def _create(cls, path: Path) -> FileHold:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise LedgerError(
                f"cannot create the ledger {path}: {exc.strerror}. Choose a folder you can "
                "write to."
            ) from None
        fst = os.fstat(fd)
        key = (fst.st_dev, fst.st_ino)
        _HELD[key] = _Held(fd, users=1)
        return cls(key)

    @property
    def fd(self) -> int:
        return _HELD[self._key].fd

    def lock_writer(self) -> bool:
        """Become the file's one writer; False when another process or ledger object is."""
        with _HELD_MUTEX:
            held = _HELD[self._key]
            if held.writer or not _try_lock(held.fd):
                return False
            held.writer = self._writer = True
            return True

    def writer_alive(self) -> bool:
        """Does any process (this one included) hold the file for writing right now?"""
        with _HELD_MUTEX:
            held = _HELD[self._key]
            if held.writer:
                return True
            if not _try_lock(held.fd):
                return True
            _unlock(held.fd)
            return False

    def read_header(self, size: int = 100) -> bytes:
        return os.pread(self.fd, size, 0)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def release(self) -> None:
        """Give the hold back (idempotent); call only after closing the SQLite connection."""
        with _HELD_MUTEX:
            if self._released:
                return
            self._released = True
            held = _HELD[self._key]
            if self._writer:
                held.writer = self._writer = False
                _unlock(held.fd)
            held.users -= 1
            if held.users == 0:
                del _HELD[self._key]
                os.close(held.fd)


try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # pragma: no cover - Windows: LockFileEx on a byte SQLite never uses
    import msvcrt

    _LOCK_AT = 2**31 + 2**20  # past SQLite's lock bytes at 1 GiB; beyond any real ledger

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _LOCK_AT, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, _LOCK_AT, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]


def remove_legacy_lock(path: Path) -> bool:
    """Remove a ``<path>.lock`` left by an older release; False while one still holds it."""
    for lock in {Path(f"{path}.lock"), Path(f"{os.path.realpath(path)}.lock")}:
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        try:
            if not _try_lock(fd):
                return False
            lock.unlink(missing_ok=True)
        finally:
            os.close(fd)
    return True


def remove_created(path: Path) -> None:
    """Remove a file this process created and then refused, with its sidecars."""
    for suffix in ("", *SIDECARS):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# -- the SQLite connection ---------------------------------------------------------------------
def connect_writer(path: Path) -> sqlite3.Connection:
    """A read-write connection in WAL mode (the caller holds the writer lock)."""
    conn = sqlite3.connect(os.path.realpath(path), isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint (and fsync) rarely while sending: ~64 MB of journal between checkpoints.
        conn.execute("PRAGMA wal_autocheckpoint=16384")
    except sqlite3.Error as exc:
        conn.close()
        raise sqlite_error(path, exc) from exc
    return conn


def connect_reader(path: Path) -> sqlite3.Connection:
    """A connection that only reads (``query_only``), and tidies up when it closes last.

    A read-write connection that makes no writes is still one that may checkpoint the WAL
    and remove ``-wal``/``-shm`` when it is the last to close; a ``mode=ro`` one leaves them
    behind. Where the file or folder is read-only it falls back to ``mode=ro`` (and to
    ``immutable`` when no WAL needs reading, so nothing is created beside the file).
    """
    real = Path(os.path.realpath(path))
    attempts = [(str(real), False), (f"{real.as_uri()}?mode=ro", True)]
    if not Path(f"{real}-wal").exists():
        attempts.append((f"{real.as_uri()}?mode=ro&immutable=1", True))
    last: sqlite3.Error | None = None
    for target, uri in attempts:
        conn = sqlite3.connect(target, uri=uri, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only=ON")
            conn.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            last = exc
            continue
        return conn
    assert last is not None
    raise sqlite_error(path, last) from last


def sqlite_error(path: Path, exc: sqlite3.Error) -> LedgerError:
    """One clear line for an SQLite failure on the ledger at ``path`` (the user's path)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    folder = path.parent if str(path.parent) else Path(".")
    if name.startswith("SQLITE_READONLY") or "readonly" in text:
        return LedgerError(
            f"cannot write the ledger {path}: the file or its folder {folder} is read-only. "
            "Copy the ledger to a folder you can write to and continue there; "
            "load_campaign() reads it where it is."
        )
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return LedgerError(
            f"cannot open the ledger {path}: SQLite cannot open it or create its -wal/-shm "
            f"files in {folder}. Check that the folder exists and you can write to it."
        )
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return LedgerError(f"cannot write the ledger {path}: the disk is full. Free space first.")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return LedgerError(
            f"the ledger {path} is busy: another process is using it. Try again when it is done."
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return LedgerError(f"{path} is corrupt or truncated: {text}")
    return LedgerError(f"the ledger {path} failed: {text} ({name or type(exc).__name__})")


# -- is this file one of our ledgers? -----------------------------------------------------------
def check_ledger_file(path: Path, hold: FileHold | None = None) -> None:
    """Raise :class:`LedgerError` unless ``path`` is a healthy ledger of this schema.

    Reads only: the file's bytes, modification time and folder stay as they were (one
    exception: a ledger of ours whose plan write a killed process left half done is rolled
    back first, see :func:`_roll_back_hot_journal`). ``hold``: this process's hold on the
    file (its header is read through it, so no other descriptor of the file is opened and
    closed).

    >>> check_ledger_file(Path("notes.txt"))                      # doctest: +SKIP
    Traceback (most recent call last):
    LedgerError: notes.txt is not a campaign ledger (not an SQLite file)
    """
    if hold is None:
        hold, _ = FileHold.take(path, create=False)
        try:
            return check_ledger_file(path, hold)
        finally:
            hold.release()
    try:
        size, header = hold.size(), hold.read_header()
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger {path}: {exc.strerror}") from exc
    if size == 0:
        raise LedgerError(f"{path} is an empty file, not a campaign ledger; refusing to touch it")
    if not header.startswith(SQLITE_HEADER):
        raise LedgerError(f"{path} is not a campaign ledger (not an SQLite file)")
    if size < 512 or len(header) < 100:
        raise LedgerError(f"{path} is truncated: {size} bytes")
    if _roll_back_hot_journal(path, header):
        header = hold.read_header()
    _check_contents(path, header)


def _roll_back_hot_journal(path: Path, header: bytes) -> bool:
    """Undo a plan write that a killed process left half done; True if there was one.

    The plan is written through a rollback journal (``Ledger._bulk_mode``): a process killed
    midway leaves a hot ``-journal`` that SQLite rolls back on the first read of a
    read-write connection, which the read-only checks cannot do. Only for a file whose
    header carries our application id (never touching anyone else's database); the journal
    is hot only when no process writes it, which SQLite itself checks.
    """
    real = Path(os.path.realpath(path))
    journal = Path(f"{real}-journal")
    if header[68:72] != APPLICATION_ID.to_bytes(4, "big"):
        return False
    try:
        if journal.stat().st_size == 0:
            return False
    except OSError:  # no journal: nothing to undo
        return False
    try:
        conn = sqlite3.connect(str(real), isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from exc
    return True


def _check_contents(path: Path, header: bytes) -> None:
    real = Path(os.path.realpath(path))
    # A WAL-mode file without its -wal sidecar: read it as immutable so SQLite creates no
    # sidecar files next to a file that may not be ours.
    immutable = header[18] == 2 and not Path(f"{real}-wal").exists()
    uri = f"{real.as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from exc
    try:
        if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise LedgerError(
                f"{path} is an SQLite database of another application, not a campaign ledger"
            )
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        meta = dict(conn.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        if meta.get("app") != APP_NAME:
            raise LedgerError(f"{path} is not a campaign ledger (no itnio-campaign meta table)")
        _check_version(path, meta.get("schema_version"), version)
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise LedgerError(f"{path} is corrupt: {check}")
    except sqlite3.DatabaseError as exc:
        name = getattr(exc, "sqlite_errorname", "") or ""
        if name.startswith(_NOT_THE_FILE):  # the folder or the disk, not the file's contents
            raise sqlite_error(path, exc) from exc
        raise LedgerError(f"{path} is corrupt or truncated: {exc}") from exc
    finally:
        conn.close()


_NOT_THE_FILE = (
    "SQLITE_CANTOPEN",
    "SQLITE_READONLY",
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_FULL",
)


def _check_version(path: Path, stored: str | None, user_version: int) -> None:
    if stored == str(user_version) and user_version in (SCHEMA_VERSION, *UPGRADABLE_VERSIONS):
        return
    found = stored or str(user_version)
    if found.isdigit() and int(found) > SCHEMA_VERSION:
        raise LedgerError(
            f"{path} is a ledger of schema version {found}, written by a newer itnio-campaign; "
            f"this one reads version {SCHEMA_VERSION}. Upgrade itnio-campaign "
            "(pip install -U itnio-campaign) to open it."
        )
    readable = ", ".join(map(str, (*UPGRADABLE_VERSIONS, SCHEMA_VERSION)))
    raise LedgerError(
        f"{path} is a ledger of schema version {found}; this version of itnio-campaign reads "
        f"versions {readable} only. Use the itnio-campaign release that wrote it."
    )


def upgrade_schema(path: Path, conn: sqlite3.Connection) -> None:
    """Relabel a ledger of an upgradable version as :data:`SCHEMA_VERSION` (the writer's
    connection, after :func:`check_ledger_file`); a no-op for a current one."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise sqlite_error(path, exc) from exc
