"""Benchmark: planning against a workspace, and recording a campaign into its history.

* Plan 1,000,000 rows (bench_plan's frame) with a workspace holding 10,000,000 history rows
  (a year of sends, half of them to this plan's numbers) and 200,000 opt-outs, with
  ``frequency_cap="1/24h,4/30d"`` and the default repeat guard, against the same plan without
  a workspace: target at most +3 s, on SQLite and on PostgreSQL.
* Record a 1,000,000-recipient campaign into that history: target at most 5 s on SQLite.

Each plan runs in a fresh subprocess. PostgreSQL comes from ``ITNIO_BENCH_POSTGRES`` (else
``ITNIO_TEST_POSTGRES``), in a schema made for the run and dropped after; without one its
rows say "not available".

    python benchmarks/bench_workspace.py             # full sizes
    python benchmarks/bench_workspace.py --scale 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
PLAN_TARGET_S = 3.0
RECORD_TARGET_S = 5.0
CAP = "1/24h,4/30d"
YEAR = 365 * 86400.0


def _setup_path() -> None:
    for p in (str(ROOT), str(HERE)):
        if p not in sys.path:
            sys.path.insert(0, p)


def _postgres_url() -> str | None:
    return os.environ.get("ITNIO_BENCH_POSTGRES") or os.environ.get("ITNIO_TEST_POSTGRES")


# -- building the workspace --------------------------------------------------------------------
def build(location: str, n: int, history: int, optouts: int) -> dict[str, float]:
    """Fill a new workspace at ``location``: ``history`` rows over the last year (half to the
    plan's numbers, some with the plan's own contents) and ``optouts`` opt-outs."""
    import numpy as np
    import pandas as pd

    _setup_path()
    from bench_plan import TEMPLATE, make_frame

    from itnio_campaign.plan import plan_campaign
    from itnio_campaign.workspace.caps import content_hashes, number_ints
    from itnio_campaign.workspace.core import Workspace

    t0 = time.perf_counter()
    plan = plan_campaign(make_frame(n), number_col="phone", content=TEMPLATE)
    rec = plan.recipients[plan.recipients["state"] == "ready"]
    plan_numbers = number_ints(rec["number"].to_numpy(dtype=object))
    plan_hashes = content_hashes(rec["content"].to_numpy(dtype=object))
    rng = np.random.default_rng(13)
    now = time.time()
    mine = rng.random(history) < 0.5
    pick = rng.integers(0, len(plan_numbers), history)
    numbers = np.where(mine, plan_numbers[pick], 919000000000 + rng.integers(0, 10**9, history))
    own_content = mine & (rng.random(history) < 0.2)
    hashes = np.where(own_content, plan_hashes[pick], rng.integers(1, 2**62, history))
    sent_at = now - rng.random(history) * YEAR
    states = np.array(["delivered", "undelivered", "submitted"], dtype=object)[
        rng.choice(3, history, p=[0.9, 0.05, 0.05])
    ]
    frame = pd.DataFrame(
        {
            "sent_at": sent_at,
            "pos": np.arange(history),
            "number": numbers,
            "content_hash": hashes,
            "state": states,
            "msg_id": np.arange(history).astype(str),
        }
    ).sort_values("sent_at", kind="stable", ignore_index=True)
    # 100 campaigns, each a stretch of the year (a campaign sends within days, not all year)
    frame["campaign_id"] = np.repeat(np.arange(1, 101), -(-history // 100))[:history]
    opt = pd.unique(np.r_[plan_numbers[: optouts // 2],
                          919500000000 + rng.integers(0, 10**8, optouts)])[:optouts]  # fmt: skip
    generated = time.perf_counter() - t0

    ws = Workspace(location)
    db: Any = ws._db
    t1 = time.perf_counter()
    with db.transaction() as cur:
        cur.executemany(
            "INSERT INTO campaigns(campaign_id, campaign_key, name, recipients) "
            "VALUES (?, ?, ?, ?)",
            [(i, f"bench:{i}", f"bench {i}", history // 100) for i in range(1, 101)],
        )
        cur.executemany(
            "INSERT INTO optouts(number, source, reason, opted_out_at) VALUES (?, ?, ?, ?)",
            [(str(x), "crm-export", None, now - 86400) for x in opt.tolist()],
        )
    _load_history(db, frame)
    with db.transaction() as cur:
        if db.kind == "postgresql":
            cur.execute("SELECT setval('campaigns_campaign_id_seq', 100)")
    with db.transaction() as cur:
        cur.execute("ANALYZE history_blocks" if db.kind == "postgresql" else "ANALYZE")
    ws.close()
    return {"generate_s": generated, "load_s": time.perf_counter() - t1}


def _load_history(db: Any, frame: Any) -> None:
    from itnio_campaign.workspace import history_store

    for campaign_id, part in frame.groupby("campaign_id", sort=True):
        columns = {name: part[name].to_numpy() for name in history_store.COLUMNS}
        with db.transaction() as cur:
            history_store.write_blocks(cur, int(campaign_id), columns)


# -- the measurements (each in a fresh subprocess) ---------------------------------------------
def _child_plan(n: int, location: str) -> dict[str, Any]:
    _setup_path()
    from bench_plan import TEMPLATE, make_frame

    from itnio_campaign.plan import plan_campaign
    from itnio_campaign.workspace.core import Workspace

    df = make_frame(n)
    kw: dict[str, Any] = {}
    if location != "none":
        kw = {"workspace": Workspace(location), "frequency_cap": CAP}
    t0 = time.perf_counter()
    plan = plan_campaign(df, number_col="phone", content=TEMPLATE, **kw)
    wall = time.perf_counter() - t0
    counts = plan.summary().counts
    step = 0.0
    if kw:  # the workspace's own step, alone: the same call the plan makes on its ready rows
        plain = plan_campaign(df, number_col="phone", content=TEMPLATE)
        ready = plain.recipients[(plain.recipients["state"] == "ready").to_numpy()]
        t1 = time.perf_counter()
        kw["workspace"].exclusions(
            ready["number"].reset_index(drop=True), ready["content"].reset_index(drop=True),
            frequency_cap=CAP,
        )  # fmt: skip
        step = time.perf_counter() - t1
    return {"wall_s": wall, "counts": counts, "step_s": step}


def _child_record(n: int, location: str) -> dict[str, Any]:
    _setup_path()
    import numpy as np
    from bench_plan import make_frame

    from itnio_campaign.plan import plan_campaign
    from itnio_campaign.result import CampaignResult
    from itnio_campaign.workspace.core import Workspace

    plan = plan_campaign(make_frame(n), number_col="phone", content="Spring sale, {first_name}!")
    result = CampaignResult(plan)
    ready = np.flatnonzero((plan.recipients["state"] == "ready").to_numpy())
    result.mark(ready.tolist(), "submitted", None)
    result.set_msg_ids(ready.tolist(), [f"m{i}" for i in ready.tolist()])
    result.started_at = time.time()
    ws = Workspace(location)
    t0 = time.perf_counter()
    ws.record_campaign(result, name="bench record")
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "rows": len(ready)}


def _child(kind: str, n: int, location: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), location],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr else "child failed")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _backend_rows(label: str, location: str, n: int, h: int, o: int) -> list[dict[str, Any]]:
    built = build(location, n, h, o)
    # alternated and the best of two each: the machine may be shared
    runs = [_child("plan", n, loc) for _ in range(2) for loc in ("none", location)]
    plain = min(runs[0::2], key=lambda r: r["wall_s"])
    with_ws = min(runs[1::2], key=lambda r: r["wall_s"])
    record = _child("record", n, location)
    delta = with_ws["wall_s"] - plain["wall_s"]
    c = with_ws["counts"]
    excluded = (
        f"{c.get('skipped_opted_out', 0):,} opted out, {c.get('skipped_frequency_cap', 0):,} "
        f"capped, {c.get('skipped_already_sent', 0):,} already sent"
    )
    return [
        {"name": f"{label}: build {h:,} history + {o:,} opt-outs", "value":
         round(built["load_s"], 1), "unit": "s (setup)"},
        {"name": f"{label}: plan {n:,} rows without workspace", "value":
         round(plain["wall_s"], 2), "unit": "s"},
        {"name": f"{label}: plan {n:,} rows with workspace", "value":
         round(with_ws["wall_s"], 2), "unit": f"s ({excluded})"},
        {"name": f"{label}: workspace overhead (target ≤ +{PLAN_TARGET_S:g} s)", "value":
         round(delta, 2), "unit": "s" + (" MISSED" if delta > PLAN_TARGET_S else "")},
        {"name": f"{label}: the workspace step alone (exclusions)", "value":
         round(with_ws["step_s"], 2), "unit": "s"},
        {"name": f"{label}: record {record['rows']:,} recipients into history", "value":
         round(record["wall_s"], 2), "unit": "s" + (
             f" (target ≤ {RECORD_TARGET_S:g} s)" if label == "SQLite" else "")},
    ]  # fmt: skip


def run(scale: float = 1.0) -> list[dict[str, Any]]:
    """Rows of the result table: ``{"name", "value", "unit"}``."""
    n, h, o = int(1_000_000 * scale), int(10_000_000 * scale), int(200_000 * scale)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += _backend_rows("SQLite", str(Path(tmp) / "bench-workspace.sqlite"), n, h, o)
    url = _postgres_url()
    if not url:
        missing = "not available (set ITNIO_BENCH_POSTGRES)"
        return [*rows, {"name": "PostgreSQL", "value": "", "unit": missing}]
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            sep = "&" if "?" in url else "?"
            location = f"{url}{sep}options=-csearch_path%3D{schema}"
            rows += _backend_rows("PostgreSQL", location, n, h, o)
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    return rows


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, n, location = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        fn = _child_plan if kind == "plan" else _child_record
        print(json.dumps(fn(n, location)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0: the issue's sizes")
    args = parser.parse_args()
    for row in run(args.scale):
        print(f"{row['name']:<62} {row['value']!s:>8} {row['unit']}")


if __name__ == "__main__":
    main()
