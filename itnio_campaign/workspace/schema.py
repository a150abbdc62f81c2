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
CREATE TABLE IF NOT EXISTS history(
    sent_at {real} NOT NULL, campaign_id {big} NOT NULL, pos {big} NOT NULL,
    number {big} NOT NULL, content_hash {big} NOT NULL, state TEXT NOT NULL, msg_id TEXT,
    PRIMARY KEY (sent_at, campaign_id, pos)
){clustered};
"""
#: Why the history is keyed by time and has no other index: every read that must be fast
#: (the caps' and the repeat guard's window) is a range of recent rows, and a campaign's rows
#: are appended at the end, so recording a million recipients writes one B-tree in order.
#: ``Workspace.history(number)`` scans (about a second per 10 million rows).

SQLITE = TABLES.format(
    id="INTEGER PRIMARY KEY AUTOINCREMENT", real="REAL", big="INTEGER", clustered=" WITHOUT ROWID"
)
POSTGRES = TABLES.format(
    id="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", big="BIGINT", clustered=""
)

#: Tables a workspace has; a database holding other tables and no ``meta`` is foreign.
NAMES = ("meta", "optouts", "replies", "review", "campaigns", "history")


def statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
