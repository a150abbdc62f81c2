"""How long the Excel report takes for a large campaign, and how big the file is.

Run: ``.venv/bin/python benchmarks/bench_excel.py [n]`` (default 100,000 recipients).
Target: 100,000 recipients in <= 15 s wall on the 2-core reference machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from itnio_campaign import models as m
from itnio_campaign.excel import write_report

OUTCOMES = [
    "number",
    "order_id",
    "content",
    "segments",
    "state",
    "msg_id",
    "reason",
    "batch",
    "submitted_at",
    "delivery_status",
    "delivered_at",
]


@dataclass
class _Summary:
    data: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass
class StandInResult:
    """The campaign result interface the report reads (see itnio_campaign.excel.ReportSource)."""

    frame: pd.DataFrame
    outcome_columns: list[str]
    settings: dict[str, Any]
    summary_data: dict[str, Any]
    batches: pd.DataFrame

    def summary(self) -> _Summary:
        return _Summary(self.summary_data)

    def batches_frame(self) -> pd.DataFrame:
        return self.batches


def make_result(n: int) -> StandInResult:
    """A finished campaign of ``n`` recipients: 5 user columns + 11 outcome columns."""
    rng = np.random.default_rng(1)
    t0 = pd.Timestamp(datetime(2024, 11, 26, 9, 0, tzinfo=UTC))
    weights = {
        m.DELIVERED: 0.80,
        m.UNDELIVERED: 0.04,
        m.SENDING: 0.03,
        m.SUBMITTED: 0.03,
        m.REJECTED: 0.02,
        m.UNKNOWN: 0.01,
        m.SKIPPED_INVALID: 0.03,
        m.SKIPPED_DUPLICATE: 0.03,
        m.SKIPPED_SUPPRESSED: 0.01,
    }
    states = rng.choice(list(weights), size=n, p=list(weights.values()))
    accepted = np.isin(states, m.ACCEPTED_STATES)
    phones = pd.Series([f"+9185{i:08d}" for i in range(n)])
    names = pd.Series([f"Customer {i} José" for i in range(n)])
    seconds = pd.to_timedelta(np.arange(n) // 1000, unit="s")
    frame = pd.DataFrame(
        {
            "name": names,
            "phone": phones,
            "city": rng.choice(np.array(["Mumbai", "Delhi", "Pune", None], dtype=object), size=n),
            "amount": np.round(rng.random(n) * 100, 2),
            "signup": pd.Timestamp("2024-01-01", tz="Asia/Kolkata") + seconds * 60,
            "number": phones.where(states != m.SKIPPED_INVALID),
            "order_id": [f"o{i:07d}" for i in range(n)],
            "content": "Hi " + names + ", 20% off this weekend!",
            "segments": 1,
            "state": states,
            "msg_id": pd.Series([f"2024112609{i:010d}" for i in range(n)]).where(accepted),
            "reason": pd.Series("provider said no", index=range(n)).where(
                np.isin(states, [m.REJECTED, m.UNDELIVERED, m.UNKNOWN])
            ),
            "batch": pd.array(np.where(accepted, np.arange(n) // 1000, -1)).astype("Int64"),
            "submitted_at": (t0 + seconds).where(accepted),
            "delivery_status": pd.Series(states).where(
                np.isin(states, [m.DELIVERED, m.UNDELIVERED, m.SENDING])
            ),
            "delivered_at": (t0 + seconds + pd.Timedelta(seconds=30)).where(states == m.DELIVERED),
        }
    )
    frame.loc[frame["batch"] < 0, "batch"] = pd.NA
    batches_n = max(1, n // 1000)
    batches = pd.DataFrame(
        {
            "batch": range(batches_n),
            "endpoint": "sendSms",
            "size": 1000,
            "started_at": t0 + pd.to_timedelta(np.arange(batches_n), unit="s"),
            "finished_at": t0 + pd.to_timedelta(np.arange(batches_n) + 0.4, unit="s"),
            "latency_s": 0.4,
            "attempts": 1,
            "status_code": "0",
            "reason": "",
            "outcome": "ok",
        }
    )
    counts = pd.Series(states).value_counts().to_dict()
    summary = {
        "rows": n,
        "counts": counts,
        "requests": batches_n,
        "retries": 0,
        "wall_time_s": 12.0,
        "numbers_per_s": n / 12.0,
        "status": "completed",
        "halt_reason": None,
        "started_at": t0.to_pydatetime(),
        "finished_at": (t0 + pd.Timedelta(seconds=12)).to_pydatetime(),
        "segments": n,
        "estimated_cost": Decimal("0.0042") * n,
        "charged_cost": None,
        "currency": "USD",
    }
    settings = {"content": "Hi {name}, 20% off this weekend!", "sender_id": "SHOP", "api_key": "x"}
    return StandInResult(frame, OUTCOMES, settings, summary, batches)


def run(n: int = 100_000) -> list[dict[str, Any]]:
    """Write the report for ``n`` recipients; rows of name, value, unit."""
    result = make_result(n)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = write_report(result, Path(tmp) / "bench.xlsx")
        wall = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
    cells = n * result.frame.shape[1]
    return [
        {"name": f"write_report wall ({n:,} recipients)", "value": round(wall, 2), "unit": "s"},
        {"name": "per recipient", "value": round(wall / n * 1e6, 1), "unit": "µs"},
        {"name": "per cell", "value": round(wall / cells * 1e6, 2), "unit": "µs"},
        {"name": "file size", "value": round(size_mb, 2), "unit": "MB"},
    ]


if __name__ == "__main__":
    rows = run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']:>10}  {r['unit']}")
