"""Benchmark: sending. The sandbox always runs in a SEPARATE process, so its CPU is not ours.

1. Client CPU (``time.process_time`` of this process) to send ``n_cpu`` numbers with
   ``send_campaign`` vs a bare loop (aiohttp POST of 1000-number batches + JSON parse,
   nothing else), both against a zero-latency sandbox, in the same run. Target ≤ 2x.
2. Wall time for ``n_wall`` numbers with 200 ms sandbox latency at concurrency 16 vs the
   bound ``ceil(N/1000)/16 x 0.2 s`` (target within 1.15x), and the sequential
   one-request-at-a-time approach (like the provider's sample code) for contrast.
3. Peak RSS of a process that plans and sends an ``n_rss``-recipient campaign.

    python benchmarks/bench_send.py              # 1,000,000 / 100,000 / 1,000,000
    python benchmarks/bench_send.py --quick      # 100,000 / 20,000 / 100,000
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import resource
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
CONCURRENCY = 8
LATENCY = 0.2
WALL_CONCURRENCY = 16
CPU_TARGET = 1.3
WALL_TARGET = 1.15


@contextmanager
def sandbox(latency: float = 0.0) -> Iterator[Any]:
    """``python -m itnio_campaign.sandbox`` in a subprocess; yields its Credentials."""
    from itnio_campaign.config import Credentials
    from itnio_campaign.sandbox import DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID

    cmd = [sys.executable, "-m", "itnio_campaign.sandbox", "--port", "0", "--latency",
           str(latency), "--balance", "1000000000", "--undelivered-rate", "0",
           "--reply-rate", "0"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            raise RuntimeError(f"sandbox did not start: {line!r}")
        url = match.group(1)
        yield Credentials(DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID, base_url=url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"9198{i:08d}" for i in range(start, start + n)]


def make_plan(n: int, start: int = 0) -> Any:
    import pandas as pd

    from itnio_campaign.plan import plan_campaign

    df = pd.DataFrame({"phone": numbers(n, start)})
    return plan_campaign(df, number_col="phone", content="Spring sale: 20% off today")


# -- the bare loop: what any sender must do at least ------------------------------------------
async def bare_loop(credentials: Any, nums: list[str], concurrency: int) -> int:
    """POST 1000-number batches and parse the JSON answers; nothing else. Returns accepted."""
    import aiohttp

    url = f"{credentials.base_url}/sendSms"
    chunks = iter(range(0, len(nums), BATCH))
    order_ids = [f"o{i:x}" for i in range(len(nums))]
    accepted = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        for i in chunks:
            # The same request a campaign makes: numbers, content and their orderIds.
            body = {"appId": credentials.app_id, "numbers": ",".join(nums[i : i + BATCH]),
                    "content": "Spring sale: 20% off today",
                    "orderId": ",".join(order_ids[i : i + BATCH])}  # fmt: skip
            headers = credentials.headers(int(time.time()))
            async with session.post(url, json=body, headers=headers) as resp:
                data = json.loads(await resp.read())
            accepted += len(data.get("array") or ())

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return accepted


async def campaign(credentials: Any, plan: Any, concurrency: int) -> Any:
    from itnio_campaign.client import AsyncClient
    from itnio_campaign.runner import send_campaign

    async with AsyncClient(credentials) as client:
        return await send_campaign(plan, client, concurrency=concurrency, progress=False)


def cpu(fn: Any) -> tuple[float, float, Any]:
    """(CPU seconds of this process, wall seconds, return value)."""
    c0, w0 = time.process_time(), time.perf_counter()
    value = fn()
    return time.process_time() - c0, time.perf_counter() - w0, value


# -- 1. client CPU ----------------------------------------------------------------------------
def bench_cpu(n: int) -> list[dict[str, Any]]:
    plan = make_plan(n)
    nums = numbers(n)
    with sandbox() as creds:
        bare_cpu, bare_wall, got = cpu(lambda: asyncio.run(bare_loop(creds, nums, CONCURRENCY)))
    assert got == n, f"bare loop: {got} of {n} accepted"
    with sandbox() as creds:
        ours_cpu, ours_wall, result = cpu(lambda: asyncio.run(campaign(creds, plan, CONCURRENCY)))
    assert result.status == "completed", result.summary()
    ratio = ours_cpu / bare_cpu
    label = f"send {n:,}, 0 ms latency, concurrency {CONCURRENCY}"
    return [
        {"name": f"{label}: bare loop client CPU", "value": round(bare_cpu, 2), "unit": "s"},
        {"name": f"{label}: send_campaign client CPU", "value": round(ours_cpu, 2), "unit": "s"},
        {"name": f"{label}: CPU ratio (target ≤ {CPU_TARGET}x)", "value": round(ratio, 2),
         "unit": "x"},
        {"name": f"{label}: send_campaign CPU per number", "value": round(ours_cpu / n * 1e6, 2),
         "unit": "µs"},
        {"name": f"{label}: bare loop wall", "value": round(bare_wall, 2), "unit": "s"},
        {"name": f"{label}: send_campaign wall", "value": round(ours_wall, 2), "unit": "s"},
    ]  # fmt: skip


# -- 2. wall time under latency ---------------------------------------------------------------
def sequential(credentials: Any, nums: list[str]) -> int:
    """One blocking request at a time, as in the provider's sample code."""
    accepted = 0
    for i in range(0, len(nums), BATCH):
        body = json.dumps({"appId": credentials.app_id, "numbers": ",".join(nums[i : i + BATCH]),
                           "content": "Spring sale: 20% off today"}).encode()  # fmt: skip
        req = urllib.request.Request(
            f"{credentials.base_url}/sendSms", data=body,
            headers=credentials.headers(int(time.time())), method="POST",
        )  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as resp:
            accepted += len(json.loads(resp.read()).get("array") or ())
    return accepted


def bench_wall(n: int) -> list[dict[str, Any]]:
    plan = make_plan(n)
    bound = math.ceil(n / BATCH) / WALL_CONCURRENCY * LATENCY
    with sandbox(LATENCY) as creds:
        _, wall, result = cpu(lambda: asyncio.run(campaign(creds, plan, WALL_CONCURRENCY)))
    assert result.status == "completed", result.summary()
    # The same server and latency with nothing but aiohttp: what the server itself allows.
    with sandbox(LATENCY) as creds:
        _, bare_wall, got = cpu(lambda: asyncio.run(bare_loop(creds, numbers(n), WALL_CONCURRENCY)))
    assert got == n
    with sandbox(LATENCY) as creds:
        _, seq_wall, got = cpu(lambda: sequential(creds, numbers(n)))
    assert got == n
    label = f"send {n:,}, {LATENCY * 1000:.0f} ms latency"
    return [
        {"name": f"{label}, concurrency {WALL_CONCURRENCY}: wall", "value": round(wall, 2),
         "unit": "s"},
        {"name": f"{label}, concurrency {WALL_CONCURRENCY}: bare aiohttp loop wall",
         "value": round(bare_wall, 2), "unit": "s"},
        {"name": f"{label}: bound ceil(N/1000)/{WALL_CONCURRENCY} x {LATENCY} s",
         "value": round(bound, 2), "unit": "s"},
        {"name": f"{label}: wall / bound (target ≤ {WALL_TARGET}x)",
         "value": round(wall / bound, 2), "unit": "x"},
        {"name": f"{label}: whole rounds ceil(ceil(N/1000)/{WALL_CONCURRENCY}) x {LATENCY} s",
         "value": round(math.ceil(math.ceil(n / BATCH) / WALL_CONCURRENCY) * LATENCY, 2),
         "unit": "s"},
        {"name": f"{label}, sequential (provider sample style): wall", "value": round(seq_wall, 2),
         "unit": "s"},
    ]  # fmt: skip


# -- 3. peak RSS ----------------------------------------------------------------------------
def child_rss(n: int, url: str) -> dict[str, Any]:
    """Run in a fresh process: plan and send ``n`` recipients, report peak RSS."""
    from itnio_campaign.config import Credentials
    from itnio_campaign.sandbox import DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID

    creds = Credentials(DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID, base_url=url)
    plan = make_plan(n)
    after_plan = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = asyncio.run(campaign(creds, plan, CONCURRENCY))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"after_plan_mb": after_plan, "peak_mb": peak, "status": result.status}


def bench_rss(n: int) -> list[dict[str, Any]]:
    with sandbox() as creds:
        out = subprocess.run(
            [sys.executable, __file__, "--child-rss", str(n), creds.base_url],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )  # fmt: skip
    m = json.loads(out.stdout.strip().splitlines()[-1])
    assert m["status"] == "completed", m
    return [
        {"name": f"campaign {n:,} recipients: peak RSS (plan + send)",
         "value": round(m["peak_mb"]), "unit": "MB"},
        {"name": f"campaign {n:,} recipients: peak RSS after plan", "value":
         round(m["after_plan_mb"]), "unit": "MB"},
    ]  # fmt: skip


def run(
    n_cpu: int = 1_000_000, n_wall: int = 100_000, n_rss: int = 1_000_000
) -> list[dict[str, Any]]:
    """All three measurements; rows of ``{"name", "value", "unit"}``."""
    return [*bench_cpu(n_cpu), *bench_wall(n_wall), *bench_rss(n_rss)]


QUICK = {"n_cpu": 100_000, "n_wall": 20_000, "n_rss": 100_000}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child-rss"]:
        print(json.dumps(child_rss(int(sys.argv[2]), sys.argv[3])))
        sys.exit(0)
    rows = run(**QUICK) if "--quick" in sys.argv else run()
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['value']:>10}  {r['unit']}")
