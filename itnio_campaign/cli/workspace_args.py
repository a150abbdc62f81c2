"""The command line of the workspace (issue 13): ``--workspace``/``--no-workspace``, the caps,
and ``itnio-campaign workspace ...``. Light, like :mod:`.parser`: ``--help`` stays instant.

The workspace is the memory of every campaign (opt-outs, contact history, frequency caps).
plan, send, resume and demo use the default workspace (``ITNIO_WORKSPACE``, else
``./itnio-workspace.sqlite``) unless given ``--workspace LOCATION`` or ``--no-workspace``.
"""

from __future__ import annotations

import argparse
from typing import Any

WORKSPACE_HELP = (
    "the workspace (opt-outs, contact history, caps): a .sqlite path or a postgresql:// URL "
    "(default: ITNIO_WORKSPACE, else ./itnio-workspace.sqlite)"
)


def workspace_options(p: argparse.ArgumentParser, *, allow_none: bool = True) -> None:
    """``--workspace LOCATION`` and (for commands that can go without) ``--no-workspace``."""
    p.add_argument("--workspace", metavar="LOCATION", help=WORKSPACE_HELP)
    if allow_none:
        p.add_argument(
            "--no-workspace",
            action="store_true",
            help="use no workspace: opt-outs, caps and history are neither checked nor recorded",
        )


def cap_options(p: argparse.ArgumentParser) -> None:
    """``--frequency-cap`` and ``--repeat-guard`` (plan, send)."""
    p.add_argument(
        "--frequency-cap",
        metavar="RULES",
        help="skip recipients who already got that many SMS in that window, e.g. 1/24h,4/30d "
        "(default: none; 'off' for none)",
    )
    p.add_argument(
        "--repeat-guard",
        metavar="DURATION",
        help="skip recipients who got the same message within DURATION, e.g. 7d (default 7d; "
        "'off' sends it again)",
    )


def add_workspace_command(subs: Any, sub: Any, api_options: Any) -> None:
    """``itnio-campaign workspace campaigns|history|optouts|review|keywords|sync``.

    ``sub`` is the parser's ``_sub`` (help text with an example), ``api_options`` its
    ``_api_options`` (sync talks to the API).
    """
    ws = sub(
        subs,
        "workspace",
        "the workspace: opt-outs, replies to review, contact history, past campaigns",
        "itnio-campaign workspace optouts import crm-optouts.csv --source crm-export",
    )
    ws.set_defaults(run="cmd_workspace", ws_command=None)
    cmds = ws.add_subparsers(dest="ws_command", metavar="WHAT")

    p = sub(
        cmds,
        "campaigns",
        "the campaigns recorded in the workspace",
        "itnio-campaign workspace campaigns",
    )
    workspace_options(p, allow_none=False)
    p.add_argument("--max-rows", type=int, default=50, help="rows shown at most (default 50)")

    p = sub(
        cmds,
        "history",
        "what was sent to one number, when, and what became of it",
        'itnio-campaign workspace history "+91 98765 43210"',
    )
    p.add_argument("number", metavar="NUMBER")
    workspace_options(p, allow_none=False)
    p.add_argument("--max-rows", type=int, default=50, help="rows shown at most (default 50)")

    p = sub(
        cmds,
        "optouts",
        "list, add, remove, import or export opt-outs",
        "itnio-campaign workspace optouts list",
    )
    p.set_defaults(optouts_command=None)
    ops = p.add_subparsers(dest="optouts_command", metavar="ACTION")
    q = sub(
        ops,
        "list",
        "the opted-out numbers, with source and time",
        "itnio-campaign workspace optouts list",
    )
    workspace_options(q, allow_none=False)
    q.add_argument("--max-rows", type=int, default=50, help="rows shown at most (default 50)")
    for action, text in (("add", "opt these numbers out"), ("remove", "opt these numbers back in")):
        q = sub(
            ops,
            action,
            text,
            f'itnio-campaign workspace optouts {action} "+91 98765 43210" 919876543211',
        )
        q.add_argument(
            "numbers",
            nargs="+",
            metavar="NUMBER",
            help="numbers (also several in one argument, separated by , or ;)",
        )
        if action == "add":
            q.add_argument(
                "--source", default="manual", help="where they came from (default manual)"
            )
        q.add_argument("--region", default="IN", help="country of numbers without a code (IN)")
        workspace_options(q, allow_none=False)
    q = sub(
        ops,
        "import",
        "opt out every number of a file (.txt/.csv/.xlsx/.parquet)",
        "itnio-campaign workspace optouts import crm-optouts.csv --source crm-export",
    )
    q.add_argument("file", metavar="FILE")
    q.add_argument("--source", help="where they came from (default: the file's name)")
    q.add_argument("--region", default="IN", help="country of numbers without a code (IN)")
    workspace_options(q, allow_none=False)
    q = sub(
        ops,
        "export",
        "write the opt-outs to a file (.csv: with source and time; .txt: numbers)",
        "itnio-campaign workspace optouts export optouts.csv",
    )
    q.add_argument("file", metavar="FILE")
    workspace_options(q, allow_none=False)

    p = sub(
        cmds,
        "review",
        "replies that mention an opt-out word in a sentence: decide each",
        "itnio-campaign workspace review --opt-out 12 --dismiss 13",
    )
    p.add_argument(
        "--opt-out",
        dest="opt_out",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="opt this reply's number out (repeatable)",
    )
    p.add_argument(
        "--dismiss",
        type=int,
        action="append",
        default=[],
        metavar="ID",
        help="not an opt-out: drop it from the list (repeatable)",
    )
    workspace_options(p, allow_none=False)

    p = sub(
        cmds,
        "keywords",
        "the reply keywords the team applies; --languages adds other languages' words",
        "itnio-campaign workspace keywords --languages fr,es",
    )
    p.add_argument(
        "--languages",
        metavar="CODES",
        help="languages whose opt-out words apply besides English, e.g. fr,es ('' or none: "
        "English only); replies already synced are read again with them",
    )
    workspace_options(p, allow_none=False)

    p = sub(
        cmds,
        "sync",
        "fetch new replies (STOP, START, ...) and delivery reports",
        "itnio-campaign workspace sync",
    )
    workspace_options(p, allow_none=False)
    api_options(p)
