"""The workspace at send time: re-check just before sending starts or resumes, record after.

A plan can be hours old. Just before its requests go out (``send_campaign``, and every
``resume_campaign``), opt-outs, frequency caps and the repeat guard are applied again from the
workspace to the recipients still to send; rows newly excluded get their skipped state and
reason, and the requests holding them are replaced by requests without them, so they are not
sent. With a ledger, both are kept in two small tables of the ledger (created on first use),
so a resume or ``load_campaign`` sees the same. The workspace that should be checked but cannot
be read raises :class:`~itnio_campaign.workspace.WorkspaceError` before anything is sent.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from ..errors import ItnioError
from ..ledger import Ledger
from ..models import Batch
from ..trial_store import TrialRecord, update_trial
from .backend import ENV_VAR, mask
from .core import Workspace

if TYPE_CHECKING:
    from ..result import CampaignResult, PlanLike

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS workspace_exclusions(position INTEGER PRIMARY KEY, "
    "state TEXT NOT NULL, reason TEXT, at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workspace_replaced(batch_id INTEGER PRIMARY KEY, by_id INTEGER)",
)


def workspace_for(plan: PlanLike, workspace: Any = None) -> Workspace | None:
    """The workspace to check when sending ``plan``.

    ``workspace``: ``False`` means explicitly none (``--no-workspace``); a Workspace or a
    location is used as given; ``None`` (the default) uses the plan's own: the one it was
    planned with, else the location its settings name (a masked password is taken from
    ``$ITNIO_WORKSPACE`` when that names the same place, else from ``PGPASSWORD``/.pgpass).
    """
    if workspace is False:
        return None
    if isinstance(workspace, Workspace):
        return _open(workspace)
    if workspace is not None:
        return Workspace(workspace)
    own = getattr(plan, "workspace", None)
    if isinstance(own, Workspace):
        return _open(own)
    stored = plan.settings.get("workspace")
    if not stored:
        return None
    return Workspace(_unmasked(str(stored)))


def _open(ws: Workspace) -> Workspace:
    """``ws``, or the same workspace opened again when it was closed (``with Workspace()``
    around the planning, sending after the block)."""
    return Workspace(_unmasked(ws.location), keywords=ws.keywords) if ws.closed else ws


def _unmasked(stored: str) -> str:
    env = os.environ.get(ENV_VAR)
    if env and mask(env) == stored:
        return env
    return stored.replace(":***@", "@")  # the password from PGPASSWORD or ~/.pgpass


def recheck(
    ws: Workspace,
    plan: PlanLike,
    result: CampaignResult,
    to_send: Sequence[Batch],
    *,
    ledger: Ledger | None = None,
    trial: TrialRecord | None = None,
    now: float | None = None,
) -> tuple[list[Batch], str]:
    """Apply the workspace again to the recipients of ``to_send``.

    Returns the requests to send instead (without the newly excluded recipients) and a note
    for ``result.notice`` ("" when nobody was excluded). ``result`` is marked; with a
    ``ledger`` the exclusions and replaced requests are kept in it (and ``trial``'s ids and
    positions follow the replacement).
    """
    batches = list(to_send)
    if not batches:
        return batches, ""
    positions = np.fromiter(
        (p for b in batches for p in b.positions), dtype=np.int64,
        count=sum(len(b.positions) for b in batches),
    )  # fmt: skip
    rec = plan.recipients
    settings = plan.settings
    found = ws.exclusions(
        rec["number"].iloc[positions].reset_index(drop=True),
        rec["content"].iloc[positions].reset_index(drop=True),
        frequency_cap=settings.get("frequency_cap"),
        repeat_guard=settings.get("repeat_guard") or False,
        now=now,
        ignore_ledger=None if ledger is None else ledger.path,
    )
    states = found["state"].to_numpy(dtype=object)
    hit = pd.notna(states)
    if not hit.any():
        return batches, ""
    excluded = positions[hit]
    reasons = found["reason"].to_numpy(dtype=object)[hit]
    states = states[hit]
    gone = set(excluded.tolist())
    next_id = 1 + max(b.batch_id for b in [*result.batches, *batches])
    replaced: dict[int, int | None] = {}
    out: list[Batch] = []
    for batch in batches:
        if gone.isdisjoint(batch.positions):
            out.append(batch)
            continue
        keep = {p for p in batch.positions if p not in gone}
        if keep:
            out.append(batch.part(keep, next_id))
            replaced[batch.batch_id] = next_id
            next_id += 1
        else:
            replaced[batch.batch_id] = None
    new = [b for b in out if b.batch_id in set(replaced.values())]
    if ledger is not None:
        _store(ledger, excluded, states, reasons, replaced, new)
        if trial is not None:
            _follow_trial(ledger, trial, replaced, gone)
    result.add_batches(new)
    _mark(result, excluded, states, reasons)
    return out, _note(states)


def _mark(
    result: CampaignResult, positions: np.ndarray, states: np.ndarray, reasons: np.ndarray
) -> None:
    """Mark rows with their state and reason, one call per distinct (state, reason)."""
    groups = pd.DataFrame({"s": states, "r": reasons}).groupby(["s", "r"], sort=False).indices
    for key, idx in groups.items():
        state, reason = cast(tuple[str, str], key)
        result.mark(positions[idx].tolist(), str(state), str(reason))


def _note(states: np.ndarray) -> str:
    counts = pd.Series(states).value_counts()
    parts = ", ".join(f"{int(n):,} {s}" for s, n in counts.items())
    return f"workspace re-checked before sending: {parts} newly excluded, not sent."


def _store(
    ledger: Ledger,
    excluded: np.ndarray,
    states: np.ndarray,
    reasons: np.ndarray,
    replaced: dict[int, int | None],
    new: list[Batch],
) -> None:
    """Keep the exclusions and the replacement in the ledger: the new requests first, then
    (one transaction) which requests they replace and whom they leave out."""
    if new:
        ledger.add_batches(new)
    now = time.time()
    with ledger.extension(write=True) as cur:
        for statement in _SCHEMA:
            cur.execute(statement)
        cur.executemany(
            "INSERT OR REPLACE INTO workspace_exclusions(position, state, reason, at) "
            "VALUES (?, ?, ?, ?)",
            [(int(p), str(s), str(r), now) for p, s, r in zip(excluded, states, reasons,
                                                              strict=True)],
        )  # fmt: skip
        cur.executemany(
            "INSERT OR REPLACE INTO workspace_replaced(batch_id, by_id) VALUES (?, ?)",
            list(replaced.items()),
        )


def _follow_trial(
    ledger: Ledger, trial: TrialRecord, replaced: dict[int, int | None], gone: set[int]
) -> None:
    def mapped(ids: list[int]) -> list[int]:
        out = []
        for i in ids:
            j = replaced.get(i, i)
            if j is not None:
                out.append(j)
        return out

    update_trial(
        ledger, trial, trial_ids=mapped(trial.trial_ids), rest_ids=mapped(trial.rest_ids),
        positions=[p for p in trial.positions if p not in gone],
    )  # fmt: skip


def replaced_batches(ledger: Ledger) -> set[int]:
    """Ids of requests the send-time re-check replaced (never to be sent)."""
    with ledger.extension() as cur:
        try:
            return {int(r[0]) for r in cur.execute("SELECT batch_id FROM workspace_replaced")}
        except sqlite3.OperationalError:  # no such table: nothing was ever replaced
            return set()


def apply_exclusions(ledger: Ledger, result: CampaignResult) -> None:
    """Mark the recipients the send-time re-check excluded (rebuilding a result)."""
    with ledger.extension() as cur:
        try:
            rows = cur.execute(
                "SELECT position, state, reason FROM workspace_exclusions ORDER BY position"
            ).fetchall()
        except sqlite3.OperationalError:
            return
    if not rows:
        return
    _mark(
        result, np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=object), np.array([r[2] for r in rows], dtype=object),
    )  # fmt: skip


def register(ws: Workspace, plan: PlanLike, ledger: Ledger) -> None:
    """Note the campaign in the workspace before it sends (crash repair finds it)."""
    ws.register_campaign(
        ledger=ledger.path, fingerprint=getattr(plan, "fingerprint", None),
        started_at=ledger.started_at or time.time(),
    )  # fmt: skip


def record(ws: Workspace, result: CampaignResult, ledger: Any = None) -> None:
    """Record the campaign after sending; a failure becomes a line of ``result.notice``
    (the SMS went out either way; the next open of the workspace repairs the record)."""
    try:
        ws.record_campaign(result, ledger=ledger)
    except (ItnioError, OSError) as exc:
        note = f"the workspace could not record this campaign ({exc}); opening it repairs that"
        result.notice = f"{result.notice} {note}" if result.notice else note
