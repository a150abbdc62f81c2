"""Schema upgrades: a workspace made by an older itnio-campaign is converted when opened.

Version 1 -> 2: the history was a row per recipient (table ``history``); version 2 keeps
column blocks (:mod:`.history_store`). The rows are read in key order, a chunk at a time,
written as blocks, and the old table dropped, in the transaction that opens the workspace:
a crash part way leaves version 1 as it was, and the next open converts it again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import history_store, schema
from .backend import SCHEMA_VERSION, Cursor, WorkspaceError

#: Version 1's history table (kept to read it, and for the tests that make a version 1
#: workspace); ``{real}``/``{big}``/``{clustered}`` as in :mod:`.schema`.
V1_HISTORY = """
CREATE TABLE IF NOT EXISTS history(
    sent_at {real} NOT NULL, campaign_id {big} NOT NULL, pos {big} NOT NULL,
    number {big} NOT NULL, content_hash {big} NOT NULL, state TEXT NOT NULL, msg_id TEXT,
    PRIMARY KEY (sent_at, campaign_id, pos)
){clustered}
"""
V1_TYPES = {
    "sqlite": {"real": "REAL", "big": "INTEGER", "clustered": " WITHOUT ROWID"},
    "postgresql": {"real": "DOUBLE PRECISION", "big": "BIGINT", "clustered": ""},
}
#: Schema versions this one converts.
UPGRADABLE = (1,)
#: Version 1 rows read at a time.
CHUNK_ROWS = 200_000


def upgrade(cur: Cursor, kind: str, version: int) -> None:
    """Bring a workspace of ``version`` to :data:`SCHEMA_VERSION` inside transaction ``cur``."""
    script = schema.SQLITE if kind == "sqlite" else schema.POSTGRES
    for statement in schema.statements(script):  # new tables (IF NOT EXISTS)
        cur.execute(statement)
    if version == 1:
        try:
            _history_rows_to_blocks(cur)
        except ValueError as exc:  # a value the blocks cannot hold: say so, convert nothing
            raise WorkspaceError(
                f"the workspace's version 1 history cannot be converted ({exc}); it is left "
                "as it was: fix that row, or use a new workspace location"
            ) from None
    cur.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))


def _history_rows_to_blocks(cur: Cursor) -> None:
    after: tuple[Any, ...] | None = None
    blocks: dict[int, int] = {}  # campaign_id -> its next block
    while True:
        sql = "SELECT sent_at, campaign_id, pos, number, content_hash, state, msg_id FROM history"
        args: tuple[Any, ...] = ()
        if after is not None:
            sql += " WHERE (sent_at, campaign_id, pos) > (?, ?, ?)"
            args = after
        cur.execute(sql + f" ORDER BY sent_at, campaign_id, pos LIMIT {CHUNK_ROWS}", args)
        rows = cur.fetchall()
        if not rows:
            break
        after = tuple(rows[-1][:3])
        sent_at, campaign, pos, number, chash, state, msg_id = (
            np.array(column, dtype=object) for column in zip(*rows, strict=True)
        )
        campaign = campaign.astype(np.int64)
        for campaign_id in np.unique(campaign).tolist():
            mine = campaign == campaign_id
            columns = {
                "number": number[mine].astype(np.int64),
                "content_hash": chash[mine].astype(np.int64),
                "sent_at": sent_at[mine].astype(np.float64),
                "pos": pos[mine].astype(np.int64),
                "state": state[mine],
                "msg_id": msg_id[mine],
            }
            first = blocks.get(campaign_id, 0)
            history_store.write_blocks(cur, campaign_id, columns, first)
            blocks[campaign_id] = first + -(-int(mine.sum()) // history_store.BLOCK_ROWS)
        if len(rows) < CHUNK_ROWS:
            break
    cur.execute("DROP TABLE history")
