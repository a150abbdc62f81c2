"""What the ledger costs: the same campaign sent with and without it, in one run.

The sandbox (zero latency) runs in a separate process, a fresh one for each measured run, so
only the sender's CPU is measured and both runs meet an empty sandbox. The machine may be
shared: the runs without and with a ledger alternate, and each reports its best of
``rounds`` (wall and CPU separately) and the median of the rounds' ratios. At zero latency a
campaign's CPU also depends on how the sandbox keeps pace on the other core, so these ratios
drift by ±10 points between runs; the ledger's own work, measured alone (the same plan
stored, then one in-flight row and one answer per request, no network), is the stable figure
to compare versions by.

    .venv/bin/python benchmarks/bench_ledger.py            # 1,000,000 recipients
    .venv/bin/python benchmarks/bench_ledger.py 200000     # quicker
    .venv/bin/python benchmarks/bench_ledger.py 200000 3   # best of three rounds
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.runner import send_campaign

_SERVER = textwrap.dedent(
    """
    import sys
    from decimal import Decimal
    from itnio_campaign.sandbox import SandboxThread
    sb = SandboxThread(latency=float(sys.argv[1]), delivery_delay=(0.0, 0.0), reply_rate=0.0,
                       balance=Decimal("1e12")).start()
    c = sb.credentials
    print(c.base_url, c.api_key, c.api_secret, c.app_id, flush=True)
    sys.stdin.read()   # serve until the benchmark closes our stdin
    sb.stop()
    """
)


LATENCY = 0.2  # seconds per request for the realistic measurement


def _plan(n: int) -> Plan:
    df = pd.DataFrame({"phone": [f"+9198{i:08d}" for i in range(n)]})
    return plan_campaign(df, number_col="phone", content="Spring sale: 20% off until Sunday!")


async def _send(plan: Plan, creds: Credentials, ledger: Path | None) -> tuple[float, float]:
    async with AsyncClient(creds) as client:
        wall, cpu = time.perf_counter(), time.process_time()
        result = await send_campaign(plan, client, ledger=ledger, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    counts = result.summary().counts
    if counts.get("submitted") != len(plan.recipients):
        raise RuntimeError(f"benchmark campaign did not complete: {counts}")
    return wall, cpu


def _measure(
    plan: Plan, warm: Plan, ledger: Path | None, latency: float = 0.0
) -> tuple[float, float]:
    """One measured campaign against a fresh sandbox process (its store starts empty)."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(latency)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        url, key, secret, app = server.stdout.readline().split()
        creds = Credentials(key, secret, app, base_url=url)
        asyncio.run(_send(warm, creds, None))  # warm-up: sockets, code paths
        return asyncio.run(_send(plan, creds, ledger))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=60)


def ledger_alone(plan: Plan, path: Path) -> dict[str, float]:
    """CPU seconds of the ledger's own work for ``plan``: store it, journal every request
    (in flight, then an answer accepting all its numbers), close."""
    from itnio_campaign.ledger import Ledger
    from itnio_campaign.result import Accepted, BatchOutcome

    answers = [
        BatchOutcome(
            b.batch_id, "accepted", "0", "", 1, 1.0, 2.0, b.size, 0,
            Accepted(b.order_ids, b.numbers, tuple(str(10**18 + i) for i in b.positions)),
        )
        for b in plan.batches
    ]  # fmt: skip
    times: dict[str, float] = {}
    cpu = time.process_time()
    with Ledger.open(path) as ledger:
        ledger.start(plan, {})
        times["store the plan"], cpu = time.process_time() - cpu, time.process_time()
        for batch, answer in zip(plan.batches, answers, strict=True):
            ledger.begin(batch, 1.0)
            ledger.complete(answer)
        times["journal"], cpu = time.process_time() - cpu, time.process_time()
    times["close"] = time.process_time() - cpu
    return times


def run(n: int = 1_000_000, rounds: int = 2) -> list[dict[str, Any]]:
    """Rows of ``{"name", "value", "unit"}``: wall/CPU with and without a ledger, overhead, size."""
    plan, warm = _plan(n), _plan(20_000)
    without: list[tuple[float, float]] = []
    with_: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        for _ in range(rounds):
            path.unlink(missing_ok=True)  # each round a new campaign, not a resumed one
            without.append(_measure(plan, warm, None))
            with_.append(_measure(plan, warm, path))
        size = path.stat().st_size
        wall0, cpu0 = min(w for w, _ in without), min(c for _, c in without)
        wall1, cpu1 = min(w for w, _ in with_), min(c for _, c in with_)
        pairs = list(zip(without, with_, strict=True))
        cpu_ratio = statistics.median(b[1] / a[1] - 1 for a, b in pairs)
        wall_ratio = statistics.median(b[0] / a[0] - 1 for a, b in pairs)
        alone = min(
            (ledger_alone(plan, Path(tmp) / f"alone{i}.sqlite") for i in range(rounds)),
            key=lambda t: sum(t.values()),
        )
        # The same with a realistic 200 ms per request (concurrency 8), on a fifth of the size.
        lat_plan = _plan(max(n // 5, 1000))
        lat0, _ = _measure(lat_plan, warm, None, LATENCY)
        lat1, _ = _measure(lat_plan, warm, Path(tmp) / "latency.sqlite", LATENCY)
    per_million = 1_000_000 / n
    return [
        {"name": "recipients", "value": n, "unit": "numbers"},
        {"name": "wall without ledger", "value": round(wall0, 3), "unit": "s"},
        {"name": "CPU without ledger", "value": round(cpu0, 3), "unit": "s"},
        {"name": "wall with ledger", "value": round(wall1, 3), "unit": "s"},
        {"name": "CPU with ledger", "value": round(cpu1, 3), "unit": "s"},
        {"name": "wall overhead", "value": round(100 * (wall1 / wall0 - 1), 1), "unit": "%"},
        {"name": "CPU overhead", "value": round(100 * (cpu1 / cpu0 - 1), 1), "unit": "%"},
        {"name": "median of the rounds: wall overhead", "value": round(100 * wall_ratio, 1),
         "unit": "%"},
        {"name": "median of the rounds: CPU overhead", "value": round(100 * cpu_ratio, 1),
         "unit": "%"},
        *({"name": f"ledger alone per million: {k}", "value": round(v * per_million, 3),
           "unit": "s CPU"} for k, v in alone.items()),
        {"name": "ledger size per million", "value": round(size * per_million / 1e6, 1),
         "unit": "MB"},
        {"name": f"{len(lat_plan.recipients):,} at {LATENCY * 1000:.0f} ms latency: wall overhead",
         "value": round(100 * (lat1 / lat0 - 1), 1), "unit": "%"},
    ]  # fmt: skip


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else 1_000_000
    rows = run(n, int(argv[1])) if len(argv) > 1 else run(n)
    width = max(len(r["name"]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  unit")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']:>12,}  {r['unit']}")


if __name__ == "__main__":
    main(sys.argv[1:])
