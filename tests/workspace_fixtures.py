"""Workspace locations for the tests: a SQLite file, and a fresh schema of a real PostgreSQL.

The PostgreSQL half reads ``ITNIO_TEST_POSTGRES`` (e.g.
``postgresql://itnio:itnio@127.0.0.1:5432/itnio_test``); unset, it skips with the reason;
``ITNIO_REQUIRE_POSTGRES=1`` (CI) turns a missing or unreachable server into a failure.
Each test gets its own schema, dropped afterwards, so tests are independent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "ITNIO_TEST_POSTGRES"
REQUIRE_ENV = "ITNIO_REQUIRE_POSTGRES"


def _postgres_url() -> str:
    url = os.environ.get(PG_ENV, "")
    required = os.environ.get(REQUIRE_ENV) == "1"
    if not url:
        if required:
            pytest.fail(f"{REQUIRE_ENV}=1 but {PG_ENV} is not set")
        pytest.skip(f"PostgreSQL half: set {PG_ENV}=postgresql://user:pw@127.0.0.1:5432/db")
    return url


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose tables land in a new, empty schema (dropped after the test)."""
    url = _postgres_url()
    try:
        import psycopg

        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except Exception as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL at {PG_ENV} unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_ENV} unreachable: {exc}")
    schema = f"ws_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in url else "?"
            yield f"{url}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def ws_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against both backends."""
    if request.param == "sqlite":
        return str(tmp_path / "workspace.sqlite")
    url: str = request.getfixturevalue("pg_schema_url")
    return url
