"""The PostgreSQL backend (psycopg 3), for a team sharing one workspace.

Install with ``pip install 'itnio-campaign[postgres]'``. The URL is a libpq one
(``postgresql://user:password@host:5432/db``, ``?options=-csearch_path%3Dteam`` for a schema);
the password may also come from ``PGPASSWORD`` or ``~/.pgpass``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from . import schema
from .backend import SCHEMA_VERSION, Cursor, WorkspaceError, mask
from .migrate import upgrade
from .store_sqlite import check_meta, write_meta

#: Seconds to wait for the server before saying it cannot be reached.
CONNECT_TIMEOUT_S = 5
#: One advisory lock id, so two processes creating the tables at once do not collide.
_SCHEMA_LOCK = 0x17410


class _Adapted:
    """A psycopg cursor taking the workspace's ``?`` placeholders."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(sql.replace("?", "%s"), tuple(params))

    def executemany(self, sql: str, rows: Any) -> Any:
        return self._cur.executemany(sql.replace("?", "%s"), rows)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._cur.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    @property
    def raw(self) -> Any:
        return self._cur


class PostgresBackend:
    """A workspace in a PostgreSQL database (tables in the connection's first schema)."""

    kind = "postgresql"

    def __init__(self, url: str) -> None:
        self.location = mask(url)
        try:
            import psycopg
        except ImportError:
            raise WorkspaceError(
                "a postgresql:// workspace needs psycopg: pip install 'itnio-campaign[postgres]'"
            ) from None
        self._psycopg = psycopg
        self._lock = threading.RLock()
        try:
            self._conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkspaceError(
                f"cannot reach the PostgreSQL workspace {self.location}: {mask(reason)}. Check "
                "that the server runs and the URL (user, password, database) is right; to go "
                "on without a workspace say so explicitly (workspace=None, --no-workspace)"
            ) from None
        try:
            self._check_and_create()
        except BaseException:
            self.close()
            raise

    def _check_and_create(self) -> None:
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
            cur.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
            tables = {r[0] for r in cur.fetchall()}
            if tables and "meta" not in tables and set(schema.NAMES) & tables:
                raise WorkspaceError(
                    f"{self.location} holds tables named like a workspace's but no 'meta' "
                    "table: it is not an itnio workspace; use another database or schema"
                )
            if "meta" in tables:
                cur.execute("SELECT key, value FROM meta")
                version = check_meta(self.location, dict(cur.fetchall()))
                if version < SCHEMA_VERSION:  # under the advisory lock: one process upgrades
                    upgrade(cur, self.kind, version)
                return
            for statement in schema.statements(schema.POSTGRES):
                cur.execute(statement)
            write_meta(cur)

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            self._reconnect_if_broken()
            try:
                # binary results: numbers arrive without text parsing (twice as fast)
                with self._conn.transaction(), self._conn.cursor(binary=True) as cur:
                    yield _Adapted(cur)
            except self._psycopg.Error as exc:
                raise WorkspaceError(
                    f"the PostgreSQL workspace {self.location} failed: "
                    f"{mask(str(exc).strip())}; check the server and try again"
                ) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.transaction() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _reconnect_if_broken(self) -> None:
        if self._conn.closed or self._conn.broken:  # never silently reconnect mid-campaign
            raise WorkspaceError(
                f"the connection to the PostgreSQL workspace {self.location} was lost; "
                "open the workspace again"
            )

    def close(self) -> None:
        with self._lock:
            if not self._conn.closed:
                self._conn.close()

    @property
    def closed(self) -> bool:
        return bool(self._conn.closed)
