"""What the workspace needs of a database, and where a location string leads.

Two backends implement it: :mod:`.store_sqlite` (a file, the default) and
:mod:`.store_postgres` (a ``postgresql://`` URL, for a team). SQL is written once with ``?``
placeholders; each backend adapts it. Every call is one short transaction.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..errors import ItnioError

#: The workspace's schema version; a workspace of another version is refused with advice.
SCHEMA_VERSION = 2
#: What the meta table's ``app`` row holds in every workspace.
APP_NAME = "itnio-workspace"
#: The default workspace when neither ``location`` nor ``ITNIO_WORKSPACE`` is given.
DEFAULT_FILE = "itnio-workspace.sqlite"
ENV_VAR = "ITNIO_WORKSPACE"


class WorkspaceError(ItnioError):
    """The workspace cannot be used: a file that is not a workspace, a workspace of another
    schema version, or a PostgreSQL server that cannot be reached. The message says what
    to do; nothing is sent when the workspace that should be checked cannot be read."""


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...


class Backend(Protocol):
    """One database holding one workspace."""

    kind: str  # "sqlite" or "postgresql"
    location: str  # shown to users: a path, or a URL with the password masked

    def transaction(self) -> AbstractContextManager[Cursor]:
        """One committed transaction (rolled back on error)."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read."""
        ...

    def close(self) -> None: ...

    @property
    def closed(self) -> bool: ...


def row_lock(kind: str) -> str:
    """The clause that locks the rows a transaction reads, to write them after: ``FOR
    UPDATE`` on PostgreSQL; nothing on SQLite, whose ``BEGIN IMMEDIATE`` lets one writer in.

    >>> row_lock("postgresql"), row_lock("sqlite")
    (' FOR UPDATE', '')
    """
    return " FOR UPDATE" if kind == "postgresql" else ""


_PASSWORD = re.compile(r"^(postgres(?:ql)?://[^:/@]*:)([^@]*)(@)", re.IGNORECASE)


def mask(location: str) -> str:
    """``location`` with any password replaced by ``***``.

    >>> mask("postgresql://itnio:secret@127.0.0.1:5432/db")
    'postgresql://itnio:***@127.0.0.1:5432/db'
    """
    masked = _PASSWORD.sub(r"\1***\3", location)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", masked)


def is_postgres(location: str) -> bool:
    return location.lower().startswith(("postgresql://", "postgres://"))


def resolve_location(location: str | os.PathLike[str] | None) -> str:
    """``location``, else ``$ITNIO_WORKSPACE``, else ``./itnio-workspace.sqlite``."""
    if location is None:
        location = os.environ.get(ENV_VAR) or DEFAULT_FILE
    if isinstance(location, os.PathLike):
        return os.fspath(location)
    if not isinstance(location, str) or not location.strip():
        raise WorkspaceError(
            f"a workspace location is a file path or a postgresql:// URL, got {location!r}"
        )
    return location.strip()
