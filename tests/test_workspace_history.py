"""The history's storage (column blocks) and the exclusions computed from it.

The exclusions are checked against a plain reference written here (a loop per plan row over
the history as Python tuples), on random histories cut into tiny blocks so windows start
and end inside blocks; both backends. The codec round-trips any column; a workspace of
schema version 1 (a row per recipient) is converted on open without losing a row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itnio_campaign.plan import plan_campaign
from itnio_campaign.workspace import Workspace, WorkspaceError, history_store, migrate
from itnio_campaign.workspace.caps import HASH_KEY, content_hashes, parse_frequency_cap

pytest_plugins = ("workspace_fixtures",)

NOW = 1_800_000_000.0
DAY = 86400.0


# -- the codec ---------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1),
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from(history_store.STATE_CODES),
            st.one_of(st.none(), st.text(st.characters(blacklist_characters="\x00"), min_size=1)),
        ),
        max_size=40,
    )
)
def test_every_column_round_trips_through_its_bytes(rows: list[tuple]) -> None:
    ints, floats, states, ids = (list(c) for c in zip(*rows, strict=True)) if rows else ([],) * 4
    columns = {
        "number": np.array(ints, dtype=np.int64),
        "sent_at": np.array(floats, dtype=np.float64),
        "state": np.array(states, dtype=object),
        "msg_id": np.array(ids, dtype=object),
    }
    for name, values in columns.items():
        back = history_store.decode_column(
            name, history_store.encode_column(name, values), len(values)
        )
        assert back.tolist() == values.tolist(), name


def test_a_msg_id_with_nul_keeps_its_row_and_an_unknown_state_is_refused() -> None:
    ids = np.array(["a\x00b", "c", None], dtype=object)
    back = history_store.decode_column("msg_id", history_store.encode_column("msg_id", ids), 3)
    assert back.tolist() == ["a\ufffdb", "c", None]
    with pytest.raises(ValueError, match="not one of"):
        history_store.encode_column("state", np.array(["rejected"], dtype=object))


def test_every_state_the_history_records_has_a_code() -> None:
    from itnio_campaign.models import DELIVERED, SUBMITTED, UNDELIVERED
    from itnio_campaign.workspace.core import RECORDED_STATES

    assert set(RECORDED_STATES) | {SUBMITTED, DELIVERED, UNDELIVERED} <= set(
        history_store.STATE_CODES
    )


@pytest.mark.parametrize(
    ("column", "damage"),
    [("number", b"\x01\x02"), ("state", b"\x00\x63"), ("msg_id", b"\xff\xfe"), ("sent_at", b"")],
)
def test_a_damaged_history_block_is_one_clear_error_and_nothing_is_planned(
    ws_location: str, column: str, damage: bytes
) -> None:
    ws = Workspace(ws_location)
    ws.register_campaign(ledger=None, fingerprint="fp", name="c", started_at=NOW)
    with ws._db.transaction() as cur:
        history_store.write_blocks(
            cur, 1,
            {"number": np.array([919800000001, 919800000002]), "content_hash": np.array([1, 2]),
             "sent_at": np.array([NOW - 60, NOW - 30]), "pos": np.array([0, 1]),
             "state": np.array(["submitted", "delivered"], dtype=object),
             "msg_id": np.array(["m1", "m2"], dtype=object)},
        )  # fmt: skip
        cur.execute(f"UPDATE history_blocks SET {column}=?", (damage,))
    df = pd.DataFrame({"phone": ["919800000001"]})
    with pytest.raises(WorkspaceError, match=f"history is damaged.*{column}.*backup"):
        if column in ("state", "msg_id"):  # columns a plan does not read
            ws.history("919800000001")
        else:
            plan_campaign(df, content="Hi", workspace=ws, frequency_cap="1/24h")
    ws.close()


def test_the_content_hash_is_siphash_of_the_utf8_text_whatever_the_string_storage() -> None:
    texts = ["Spring sale, Asha!", "Ünïcödé ✓", "Spring sale, Asha!"]
    expected = pd.util.hash_array(
        np.array(texts, dtype=object), encoding="utf8", hash_key=HASH_KEY, categorize=False
    ).view(np.int64)
    for values in (texts, pd.Series(texts, dtype=object), pd.Series(texts, dtype="string")):
        assert content_hashes(values).tolist() == expected.tolist()
    assert content_hashes(pd.Series(["x", None])).tolist()[1] == 0


# -- exclusions against a reference ------------------------------------------------------------
def _reference(
    plan: list[tuple[int, str]],
    history: list[tuple[int, int, float]],
    optouts: set[int],
    cap: str,
    guard_s: float | None,
) -> list[str | None]:
    """What each plan row gets, computed the slow obvious way (``guard_s`` None: no guard)."""
    hashes = dict(zip((c for _, c in plan), content_hashes([c for _, c in plan]), strict=True))
    out: list[str | None] = []
    for number, content in plan:
        mine = [(h, t) for n, h, t in history if n == number]
        if number in optouts:
            out.append("skipped_opted_out")
        elif guard_s is not None and any(
            h == hashes[content] and t >= NOW - guard_s for h, t in mine
        ):
            out.append("skipped_already_sent")
        elif any(
            sum(t >= NOW - rule.seconds for _, t in mine) >= rule.limit
            for rule in parse_frequency_cap(cap)
        ):
            out.append("skipped_frequency_cap")
        else:
            out.append(None)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exclusions_match_a_plain_reference_across_block_boundaries(
    ws_location: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_store, "BLOCK_ROWS", 7)  # windows cut through blocks
    rng = np.random.default_rng(seed)
    pool = 919800000000 + rng.choice(10**6, 60, replace=False)
    contents = ["Sale A", "Sale B", "Hi there"]
    ws = Workspace(ws_location)
    history: list[tuple[int, int, float]] = []
    for c in range(4):  # four campaigns, each over a few days of the last 40
        ws.register_campaign(ledger=None, fingerprint=f"fp{c}", name=f"c{c}", started_at=NOW - c)
        campaign_id = int(ws.campaigns()["campaign_id"].iloc[-1])
        k = int(rng.integers(20, 60))
        start = NOW - rng.uniform(0, 40) * DAY
        sent_at = np.sort(start + rng.uniform(0, 4 * DAY, k))
        sent_at = np.minimum(sent_at, NOW)
        number = rng.choice(pool, k)
        text = np.array(contents, dtype=object)[rng.integers(0, 3, k)]
        chash = content_hashes(text)
        chash[rng.random(k) < 0.1] = 0  # sends of unknown content (imports)
        with ws._db.transaction() as cur:
            history_store.write_blocks(
                cur, campaign_id,
                {"number": number, "content_hash": chash, "sent_at": sent_at,
                 "pos": np.arange(k), "state": np.full(k, "submitted", dtype=object),
                 "msg_id": np.array([f"m{c}-{i}" for i in range(k)], dtype=object)},
            )  # fmt: skip
        history += list(zip(number.tolist(), chash.tolist(), sent_at.tolist(), strict=True))
    opted = set(rng.choice(pool, 6).tolist())
    ws.add_optouts([str(n) for n in opted], source="crm")
    plan = [(int(n), contents[int(i)]) for n, i in zip(pool, rng.integers(0, 3, 60), strict=True)]
    for cap, guard in (("1/24h,3/30d", "7d"), ("2/3d", "2d"), ("5/10d", None)):
        got = ws.exclusions(
            pd.Series([str(n) for n, _ in plan]), pd.Series([c for _, c in plan]),
            frequency_cap=cap, repeat_guard=guard or "off", now=NOW,
        )  # fmt: skip
        guard_s = {"7d": 7 * DAY, "2d": 2 * DAY, None: None}[guard]
        expected = _reference(plan, history, opted, cap, guard_s)
        assert got["state"].tolist() == expected, (cap, guard)
        assert sum(e is not None for e in expected) > 0  # the case is not empty
    ws.close()


# -- schema version 1 --------------------------------------------------------------------------
def _make_version_1(location: str, rows: list[tuple]) -> None:
    """A workspace as itnio-campaign 0.1's first workspace release left it."""
    ws = Workspace(location)
    kind = ws.kind
    ws.register_campaign(ledger=None, fingerprint="old-1", name="spring", started_at=NOW - 9 * DAY)
    ws.register_campaign(ledger=None, fingerprint="old-2", name="summer", started_at=NOW - DAY)
    with ws._db.transaction() as cur:
        cur.execute("DROP TABLE history_blocks")
        cur.execute(migrate.V1_HISTORY.format(**migrate.V1_TYPES[kind]))
        cur.executemany(
            "INSERT INTO history(sent_at, campaign_id, pos, number, content_hash, state, msg_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        cur.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    ws.close()


def test_a_version_1_workspace_is_converted_on_open_with_every_row(
    ws_location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrate, "CHUNK_ROWS", 4)  # several chunks, campaigns interleaved
    a, b = 919800000001, 919800000002
    hash_a = int(content_hashes(["Sale"])[0])
    rows = [
        (NOW - 9 * DAY + i, 1, i, a if i % 2 else b, hash_a, "delivered", f"s{i}")
        for i in range(7)
    ] + [
        (NOW - DAY + i, 2, i, a, hash_a, "submitted" if i else "unknown", None if i else f"u{i}")
        for i in range(5)
    ]  # fmt: skip
    _make_version_1(ws_location, rows)
    ws = Workspace(ws_location)  # converts
    assert ws._meta("schema_version") == "2"
    hist = ws.history(str(a))
    want = sorted((r for r in rows if r[3] == a), key=lambda r: (r[0], r[1], r[2]))
    assert [None if pd.isna(m) else m for m in hist["msg_id"]] == [r[6] for r in want]
    assert hist["state"].tolist() == [r[5] for r in want]
    assert hist["campaign"].tolist() == ["spring" if r[1] == 1 else "summer" for r in want]
    got = ws.exclusions(
        pd.Series([str(a), str(b)]), pd.Series(["Sale", "Other"]), frequency_cap="3/2d", now=NOW
    )
    assert got["state"].tolist() == ["skipped_already_sent", None]
    ws.close()
    Workspace(ws_location).close()  # opening again: nothing left to convert


def test_a_damaged_version_1_history_is_one_clear_error_and_stays_version_1(
    ws_location: str,
) -> None:
    _make_version_1(ws_location, [(NOW, 1, 0, 919800000001, 5, "rejected-ish", "m")])
    with pytest.raises(WorkspaceError, match="not one of"):
        Workspace(ws_location)
    ws = _version_of(ws_location)
    assert ws == "1"


def _version_of(location: str) -> str:
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    else:
        import sqlite3

        with sqlite3.connect(location) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return str(row[0])
