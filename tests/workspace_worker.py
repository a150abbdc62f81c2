"""A second process using the same workspace, for the two-writer tests.

    python tests/workspace_worker.py optout LOCATION NUMBER SOURCE
    python tests/workspace_worker.py many LOCATION FIRST COUNT
    python tests/workspace_worker.py plan LOCATION NUMBER...
    python tests/workspace_worker.py send LOCATION LEDGER N
    python tests/workspace_worker.py record LOCATION LEDGER TIMES

``send`` plans N numbers (:func:`numbers`) with the workspace and sends them with a ledger,
one request at a time, printing ``requests <k>`` after each (credentials from ``ITNIO_*``).

``optout`` records one opt-out; ``many`` records COUNT opt-outs (FIRST, FIRST+1, ...), one
transaction each; ``plan`` plans a campaign to the numbers and prints each row's state.
``record`` records the campaign of LEDGER into the workspace TIMES times (as a crash repair
does). Each prints ``done`` last.
"""

from __future__ import annotations

import asyncio
import sys

import pandas as pd

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.plan import plan_campaign
from itnio_campaign.runner import ProgressEvent, send_campaign
from itnio_campaign.workspace import Workspace


def numbers(n: int) -> list[str]:
    """The campaign's numbers (API form), deterministic so the test can rebuild them."""
    return [f"9198{i:08d}" for i in range(n)]


async def send(ws: Workspace, ledger: str, n: int) -> None:
    plan = plan_campaign(pd.DataFrame({"phone": numbers(n)}), content="Hi", workspace=ws)

    def report(event: ProgressEvent) -> None:
        print(f"requests {event.requests}", flush=True)

    async with AsyncClient(Credentials.from_env(None)) as client:
        result = await send_campaign(
            plan, client, ledger=ledger, concurrency=1, progress=False, on_progress=report
        )
    print(f"status {result.status}", flush=True)


def main(args: list[str]) -> None:
    command, location = args[0], args[1]
    with Workspace(location) as ws:
        if command == "send":
            asyncio.run(send(ws, args[2], int(args[3])))
        elif command == "optout":
            print(ws.add_optouts(args[2], source=args[3]), flush=True)
        elif command == "many":
            first, count = int(args[2]), int(args[3])
            for k in range(count):
                ws.add_optouts(str(first + k), source="worker")
        elif command == "record":
            from pathlib import Path

            from itnio_campaign.workspace.repair import record_ledger

            for _ in range(int(args[3])):
                assert record_ledger(ws, Path(args[2])) == []
        elif command == "plan":
            plan = plan_campaign(pd.DataFrame({"phone": args[2:]}), content="Hi", workspace=ws)
            for state in plan.recipients["state"]:
                print(state, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
