"""The workspace's tables, written once; each backend adapts the few type names."""

from __future__ import annotations

#: ``{id}``: an auto-numbered key; ``{real}``: a float; ``{big}``: a 64-bit integer.
TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS optouts(
    number TEXT PRIMARY KEY, source TEXT NOT NULL, reason TEXT, opted_out_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS replies(
    reply_key TEXT PRIMARY KEY, number TEXT NOT NULL, received_at {real},
    content TEXT NOT NULL, action TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS review(
    id {id}, reply_key TEXT UNIQUE, number TEXT NOT NULL, text TEXT NOT NULL,
    received_at {real}, keyword TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    resolved_at {real}
);
CREATE TABLE IF NOT EXISTS campaigns(
    campaign_id {id}, campaign_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    fingerprint TEXT, ledger TEXT, status TEXT, started_at {real}, finished_at {real},
    recipients {big} NOT NULL DEFAULT 0, sent {big} NOT NULL DEFAULT 0,
    delivered {big} NOT NULL DEFAULT 0, undelivered {big} NOT NULL DEFAULT 0,
    recorded_at {real}, ledger_mtime {real} NOT NULL DEFAULT 0,
    first_sent_at {real}, last_sent_at {real}, next_pos {big} NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS history_blocks(
    campaign_id {big} NOT NULL, block {big} NOT NULL, first_at {real} NOT NULL,
    last_at {real} NOT NULL, row_count {big} NOT NULL, number {blob} NOT NULL,
    content_hash {blob} NOT NULL, sent_at {blob} NOT NULL, pos {blob} NOT NULL,
    state {blob} NOT NULL, msg_id {blob} NOT NULL, PRIMARY KEY (campaign_id, block)
);
CREATE INDEX IF NOT EXISTS history_blocks_last_at ON history_blocks(last_at);
"""
#: The history is column blocks (see :mod:`.history_store` for why); ``last_at`` is indexed
#: because every read that must be fast (the caps' and the repeat guard's window) is the
#: recent blocks. Schema version 1 kept a row per recipient (:mod:`.migrate` converts it).

SQLITE = TABLES.format(
    id="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL", big="INTEGER", blob="BLOB"
)
POSTGRES = TABLES.format(
    id="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", big="BIGINT", blob="BYTEA"
) + "".join(
    # the blocks are stored as they are: compressing them first made recording 3x slower
    # (numbers and times hardly compress)
    f"ALTER TABLE history_blocks ALTER COLUMN {column} SET STORAGE EXTERNAL;\n"
    for column in ("number", "content_hash", "sent_at", "pos", "state", "msg_id")
)

#: Tables a workspace has; a database holding other tables and no ``meta`` is foreign.
NAMES = ("meta", "optouts", "replies", "review", "campaigns", "history_blocks", "history")


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
