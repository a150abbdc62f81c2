"""Where a location string leads: a SQLite file or a PostgreSQL server."""

from __future__ import annotations

import os
from pathlib import Path

from .backend import Backend, is_postgres, resolve_location


def open_backend(location: str | os.PathLike[str] | None) -> Backend:
    """The backend for ``location`` (see :func:`resolve_location`), schema checked."""
    where = resolve_location(location)
    if is_postgres(where):
        from .store_postgres import PostgresBackend

        return PostgresBackend(where)
    from .store_sqlite import SqliteBackend

    return SqliteBackend(Path(where).expanduser())
