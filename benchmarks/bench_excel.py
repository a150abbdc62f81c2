"""How long the Excel report takes for a large campaign, and how big the file is.

Run: ``.venv/bin/python benchmarks/bench_excel.py [n]`` (default 100,000 recipients).
Target: 100,000 recipients in <= 15 s wall on the 2-core reference machine.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from itnio_campaign.excel import write_report
from itnio_campaign.models import DeliveryRecord
from itnio_campaign.plan import plan_campaign
from itnio_campaign.result import Accepted, BatchOutcome, CampaignResult


def make_result(n: int) -> CampaignResult:
    """A real finished campaign of ``n`` recipients, built without a network.

    ``plan_campaign`` plans a messy frame (5 user columns); every request's answer is
    made up the way the provider answers (2% of numbers refused, one request lost), then
    delivery reports arrive for most messages. The report reads a genuine CampaignResult.
    """
    rng = np.random.default_rng(1)
    phones = [f"+91 98{i:08d}" for i in range(n)]
    for i in rng.choice(n, size=n // 50, replace=False):
        phones[i] = "12345"  # invalid: skipped at plan time
    df = pd.DataFrame(
        {
            "name": [f"Customer {i} José" for i in range(n)],
            "phone": phones,
            "city": rng.choice(np.array(["Mumbai", "Delhi", "Pune", None], dtype=object), n),
            "amount": np.round(rng.random(n) * 100, 2),
            "signup": pd.Timestamp("2024-01-01", tz="Asia/Kolkata")
            + pd.to_timedelta(np.arange(n), unit="min"),
        }
    )
    plan = plan_campaign(df, "phone", "Hi {name}, 20% off in {city} this weekend!")
    t0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC).timestamp()
    outcomes = []
    for b in plan.batches:
        started = t0 + b.batch_id * 0.4
        if b.batch_id == 3:  # an answer lost on the way: recipients unknown
            outcomes.append(BatchOutcome(b.batch_id, "unknown", "no answer", "timeout", 1,
                                         started, started + 60))  # fmt: skip
            continue
        keep = rng.random(b.size) > 0.02
        triples = [
            (oid, num, f"2611260900{b.batch_id:05d}{i:04d}")
            for i, (oid, num) in enumerate(zip(b.order_ids, b.numbers, strict=True))
            if keep[i]
        ]
        outcomes.append(BatchOutcome(b.batch_id, "accepted", "0", "success", 1, started,
                                     started + 0.4, len(triples), b.size - len(triples),
                                     Accepted.of(triples)))  # fmt: skip
    result = CampaignResult.from_outcomes(plan, outcomes, started_at=t0, finished_at=t0 + 60)
    delivered = datetime.fromtimestamp(t0 + 90, UTC)
    statuses = rng.choice(["delivered", "undelivered", "sending"], size=n, p=[0.9, 0.05, 0.05])
    result.apply_delivery(
        DeliveryRecord(m, "", statuses[i], delivered, "")  # type: ignore[arg-type]
        for i, m in enumerate(result.frame["msg_id"].dropna())
    )
    return result


def run(n: int = 100_000) -> list[dict[str, Any]]:
    """Write the report for ``n`` recipients; rows of name, value, unit."""
    result = make_result(n)
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu_start = time.perf_counter(), time.process_time()
        path = write_report(result, Path(tmp) / "bench.xlsx")
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start  # steadier than wall on a shared machine
        size_mb = path.stat().st_size / 1e6
    cells = n * result.frame.shape[1]
    return [
        {"name": f"write_report wall ({n:,} recipients)", "value": round(wall, 2), "unit": "s"},
        {"name": "write_report CPU", "value": round(cpu, 2), "unit": "s"},
        {"name": "per recipient", "value": round(wall / n * 1e6, 1), "unit": "µs"},
        {"name": "per cell", "value": round(wall / cells * 1e6, 2), "unit": "µs"},
        {"name": "file size", "value": round(size_mb, 2), "unit": "MB"},
    ]


if __name__ == "__main__":
    rows = run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']:>10}  {r['unit']}")
