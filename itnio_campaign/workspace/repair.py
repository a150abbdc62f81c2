"""Crash repair: re-record campaigns whose ledger moved on since the workspace recorded them.

A campaign's ledger is its own file (crash safety) and the workspace is updated from it
after sending. A crash between the two, or a later delivery refresh or reconcile, leaves the
ledger newer than the record; opening the workspace records such campaigns again.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ItnioError
from ..recovery import load_campaign
from .core import Workspace


def repair(ws: Workspace) -> list[str]:
    """Re-record every stale ledger of ``ws``; return one note per ledger that failed."""
    notes = []
    for path in ws.stale_ledgers():
        notes.extend(record_ledger(ws, path))
    return notes


def record_ledger(ws: Workspace, path: Path) -> list[str]:
    """Record the campaign of the ledger at ``path`` (read-only; works while it sends)."""
    try:
        result = load_campaign(path)
    except (ItnioError, OSError) as exc:
        return [f"{path}: not re-recorded ({exc})"]
    ws.record_campaign(result, ledger=path)
    return []
