"""The SQLite backend: one file, safe with several processes.

WAL mode (readers never block the writer), a busy timeout (a second writer waits its turn
instead of failing), and short ``BEGIN IMMEDIATE`` transactions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import schema
from .backend import APP_NAME, SCHEMA_VERSION, Cursor, WorkspaceError
from .migrate import UPGRADABLE, upgrade

#: Milliseconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_MS = 30_000


class SqliteBackend:
    """A workspace in one SQLite file (created on first use)."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path if str(path) == ":memory:" else path.resolve()
        self.location = str(self.path)
        if path.is_dir():
            raise WorkspaceError(f"workspace {path} is a folder; give a file path such as "
                                 f"{path / 'itnio-workspace.sqlite'}")  # fmt: skip
        if not path.parent.is_dir():
            raise WorkspaceError(f"workspace {path}: the folder {path.parent} does not exist")
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            self._check_and_create()
        except WorkspaceError:
            self._close_quietly()
            raise
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise WorkspaceError(
                f"{path} is not an itnio workspace (not a SQLite database, or damaged: {exc}); "
                "give another path, or move the file away to start a new workspace"
            ) from None

    def _check_and_create(self) -> None:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "meta" not in tables:
            raise WorkspaceError(
                f"{self.path} is a SQLite file of another kind (tables: "
                f"{', '.join(sorted(tables)[:5])}), perhaps a campaign ledger; a workspace "
                "needs its own file: give another path"
            )
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        if "meta" in tables:
            version = check_meta(self.location, _meta(conn))
            if version < SCHEMA_VERSION:
                with self.transaction() as cur:  # the writer lock: one process upgrades
                    version = check_meta(self.location, _meta(conn))
                    if version < SCHEMA_VERSION:
                        upgrade(cur, self.kind, version)
            return
        with self.transaction() as cur:
            for statement in schema.statements(schema.SQLITE):
                cur.execute(statement)
            write_meta(cur)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock, self._errors():
            cur = self._open().cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._errors():
            return self._open().execute(sql, tuple(params)).fetchall()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise WorkspaceError(f"the workspace {self.location} was closed; open it again")
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite errors become one WorkspaceError naming the file (nothing is sent then)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise WorkspaceError(
                f"the workspace {self.location} cannot be read or written ({exc}); check the "
                "file (disk, permissions), or move it away to start a new workspace"
            ) from None

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

    @property
    def closed(self) -> bool:
        return self._conn is None

    def _close_quietly(self) -> None:
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
            self._conn = None  # type: ignore[assignment]


def write_meta(cur: Cursor) -> None:
    """The rows that make a database a workspace (inside the creating transaction)."""
    from .caps import HASH_NAME

    cur.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING",
        [("app", APP_NAME), ("schema_version", str(SCHEMA_VERSION)), ("content_hash", HASH_NAME)],
    )


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def check_meta(location: str, meta: dict[str, str]) -> int:
    """The schema version of a workspace this version reads (equal, or one it upgrades);
    refuse a database that is not a workspace, or one of another schema version."""
    if meta.get("app") != APP_NAME:
        raise WorkspaceError(
            f"{location} holds a 'meta' table but is not an itnio workspace; give another "
            "location for the workspace"
        )
    version = meta.get("schema_version", "")
    if version == str(SCHEMA_VERSION) or (version.isdigit() and int(version) in UPGRADABLE):
        return int(version)
    newer = version.isdigit() and int(version) > SCHEMA_VERSION
    advice = (
        "it was made by a newer itnio-campaign: upgrade this one (pip install -U itnio-campaign)"
        if newer
        else "it is not one this version can read: use a new workspace location"
    )
    raise WorkspaceError(
        f"workspace {location} has schema version {version or '?'}; this itnio-campaign "
        f"reads version {SCHEMA_VERSION}: {advice}"
    )
