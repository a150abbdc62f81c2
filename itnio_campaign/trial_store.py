"""Where trials, gate decisions and test sends are kept: two small tables in the ledger.

The ledger (:mod:`itnio_campaign.ledger`) journals requests; this module adds what the
safety steps before the bulk need to survive a crash: the trial (who is in it, which
requests replace the plan's, the gate and its decision) and the test sends (per plan
fingerprint, passed or not). Tables are created on first write, so older ledgers work.

Example::

    with Ledger.open("spring-promo.sqlite") as ledger:
        load_trial(ledger)          # None, or the TrialRecord
        has_passing_test(ledger, plan.fingerprint)
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .ledger import Ledger

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trial(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS test_sends(
    seq INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, at REAL NOT NULL,
    passed INTEGER NOT NULL, rows TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class TrialRecord:
    """A campaign's trial: recorded before its first request, updated as it goes.

    ``superseded``: the plan's requests the trial and rest requests replace (never sent).
    ``waiting_since``: when the trial's last request ended (the gate's wait counts from it).
    ``decision``: ``{"passed": bool, "reason": str, "at": float, "override": bool}``.
    """

    share: float
    gate: dict[str, Any]
    positions: list[int]
    trial_ids: list[int]
    rest_ids: list[int]
    superseded: list[int]
    waiting_since: float | None = None
    decision: dict[str, Any] | None = field(default=None)

    @property
    def released(self) -> bool:
        """True when the rest may be sent: the gate passed, or was overridden."""
        return bool(self.decision and (self.decision["passed"] or self.decision["override"]))


def _ensure(cur: sqlite3.Cursor) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            cur.execute(statement)


def save_trial(ledger: Ledger, record: TrialRecord) -> None:
    """Store (or replace) the campaign's trial record, in one transaction."""
    with ledger.extension(write=True) as cur:
        _ensure(cur)
        cur.execute(
            "INSERT INTO trial(key, value) VALUES ('trial', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (json.dumps(asdict(record)),),
        )


def load_trial(ledger: Ledger) -> TrialRecord | None:
    """The campaign's trial record, or None (no trial, or a ledger from before trials)."""
    with ledger.extension() as cur:
        try:
            row = cur.execute("SELECT value FROM trial WHERE key='trial'").fetchone()
        except sqlite3.OperationalError:  # no such table: no trial was ever recorded
            return None
    return None if row is None else TrialRecord(**json.loads(row[0]))


def update_trial(ledger: Ledger, record: TrialRecord, **changes: Any) -> TrialRecord:
    """Store ``record`` with ``changes`` applied; return the new record."""
    new = replace(record, **changes)
    save_trial(ledger, new)
    return new


def record_test(
    ledger: Ledger, fingerprint: str, at: float, passed: bool, rows: list[dict[str, Any]]
) -> None:
    """Keep one test send (its result rows as JSON; seeds are staff numbers, not recipients)."""
    with ledger.extension(write=True) as cur:
        _ensure(cur)
        cur.execute(
            "INSERT INTO test_sends(fingerprint, at, passed, rows) VALUES (?, ?, ?, ?)",
            (fingerprint, at, int(passed), json.dumps(rows, default=str)),
        )


def list_test_sends(ledger: Ledger) -> list[dict[str, Any]]:
    """Every test send kept in the ledger, oldest first."""
    with ledger.extension() as cur:
        try:
            rows = cur.execute(
                "SELECT fingerprint, at, passed, rows FROM test_sends ORDER BY seq"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [
        {"fingerprint": f, "at": at, "passed": bool(p), "rows": json.loads(r)}
        for f, at, p, r in rows
    ]


def has_passing_test(ledger: Ledger, fingerprint: str) -> bool:
    """True when a test send of this exact plan passed."""
    return any(t["passed"] and t["fingerprint"] == fingerprint for t in list_test_sends(ledger))


__all__ = [
    "TrialRecord",
    "has_passing_test",
    "list_test_sends",
    "load_trial",
    "record_test",
    "save_trial",
    "update_trial",
]
