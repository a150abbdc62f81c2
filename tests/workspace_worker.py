"""A second process using the same workspace, for the two-writer tests.

    python tests/workspace_worker.py optout LOCATION NUMBER SOURCE
    python tests/workspace_worker.py many LOCATION FIRST COUNT
    python tests/workspace_worker.py plan LOCATION NUMBER...

``optout`` records one opt-out; ``many`` records COUNT opt-outs (FIRST, FIRST+1, ...), one
transaction each; ``plan`` plans a campaign to the numbers and prints each row's state.
Each prints ``done`` last.
"""

from __future__ import annotations

import sys

import pandas as pd

from itnio_campaign.plan import plan_campaign
from itnio_campaign.workspace import Workspace


def main(args: list[str]) -> None:
    command, location = args[0], args[1]
    with Workspace(location) as ws:
        if command == "optout":
            print(ws.add_optouts(args[2], source=args[3]), flush=True)
        elif command == "many":
            first, count = int(args[2]), int(args[3])
            for k in range(count):
                ws.add_optouts(str(first + k), source="worker")
        elif command == "plan":
            plan = plan_campaign(pd.DataFrame({"phone": args[2:]}), content="Hi", workspace=ws)
            for state in plan.recipients["state"]:
                print(state, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
