"""A sending process for the SIGKILL test: sends a campaign with a ledger, says how far it got.

    python tests/crash_worker.py LEDGER N [CONCURRENCY]

Credentials come from ``ITNIO_*`` environment variables (the test points them at its
sandbox on loopback). After every request it prints ``requests <count>`` and flushes, so the
test can kill it after exactly k journaled requests.
"""

from __future__ import annotations

import asyncio
import sys

import pandas as pd

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.plan import Plan, plan_campaign
from itnio_campaign.runner import ProgressEvent, send_campaign


def contacts(n: int) -> pd.DataFrame:
    """The campaign's contact list: deterministic, so the test can rebuild it."""
    return pd.DataFrame(
        {
            "phone": [f"+91 97{i:08d}" for i in range(n)],
            "first_name": [f"Asha{i % 113}" for i in range(n)],
            "city": pd.Categorical(["Pune", "Delhi", "Goa", "Agra"] * (n // 4)),
        },
        index=pd.RangeIndex(1, n + 1, name="customer_id"),
    )


def build_plan(n: int) -> Plan:
    return plan_campaign(
        contacts(n), number_col="phone", content="Hi {first_name}, see you in {city}"
    )


def report(event: ProgressEvent) -> None:
    print(f"requests {event.requests}", flush=True)


async def main(ledger: str, n: int, concurrency: int) -> None:
    plan = build_plan(n)
    async with AsyncClient(Credentials.from_env(None)) as client:
        result = await send_campaign(
            plan, client, concurrency=concurrency, ledger=ledger, progress=False,
            on_progress=report,
        )  # fmt: skip
    print(f"done {result.status}", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 8))
