"""The workspace on the command line (issue 13): which workspace a command uses, the plan
keywords of ``--frequency-cap``/``--repeat-guard``, the dry run's workspace line, and the
``itnio-campaign workspace ...`` commands.

plan, send, resume and demo use the default workspace unless given ``--workspace LOCATION``
or ``--no-workspace``. A workspace that cannot be opened is one clear error (exit 1), never a
send without the checks: ``--no-workspace`` is the explicit way to go without.

Loaded only once a command runs (``--help`` never imports it).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from ..errors import ItnioError
from .common import EXIT_OK, EXIT_USAGE, CliError

if TYPE_CHECKING:  # pragma: no cover
    from ..workspace import Workspace

_OFF = ("off", "none", "no", "0")
_SPLIT = re.compile(r"[,;]")


# -- which workspace -----------------------------------------------------------------------
def open_workspace(args: argparse.Namespace) -> Workspace | None:
    """The workspace of ``--workspace`` (default: the default one); None with ``--no-workspace``.

    Example::

        open_workspace(argparse.Namespace(workspace="team.sqlite", no_workspace=False))
    """
    if getattr(args, "no_workspace", False):
        if getattr(args, "workspace", None):
            raise CliError("give --workspace or --no-workspace, not both", code=EXIT_USAGE)
        return None
    from ..workspace import Workspace, WorkspaceError

    location = getattr(args, "workspace", None) or None
    try:
        workspace = Workspace(location)
    except WorkspaceError as exc:
        raise CliError(
            _one_line(exc),
            "fix --workspace (or ITNIO_WORKSPACE), or pass --no-workspace to go without it "
            "(then opt-outs and caps are not checked)",
        ) from exc
    for note in getattr(workspace, "repair_notes", ()):  # crash repair that needs a look
        print(f"workspace: {note}", file=sys.stderr)
    return workspace


def resume_workspace(args: argparse.Namespace) -> Any:
    """resume_campaign's ``workspace``: False with ``--no-workspace``, the ``--workspace``
    location, else None (the workspace the campaign was planned with)."""
    if getattr(args, "no_workspace", False):
        if getattr(args, "workspace", None):
            raise CliError("give --workspace or --no-workspace, not both", code=EXIT_USAGE)
        return False
    return getattr(args, "workspace", None) or None


def plan_keywords(args: argparse.Namespace) -> dict[str, Any]:
    """plan_campaign's ``workspace``, ``frequency_cap`` and ``repeat_guard`` of a command's
    flags (only for commands that declare them; only the ones given)."""
    if not hasattr(args, "no_workspace"):
        return {}
    out: dict[str, Any] = {}
    cap = _off_or(getattr(args, "frequency_cap", None))
    guard = _off_or(getattr(args, "repeat_guard", None))
    workspace = open_workspace(args)
    if workspace is None:
        if cap:
            raise CliError(
                "--frequency-cap needs a workspace (it counts what was sent before)",
                "drop --no-workspace, or drop --frequency-cap",
                EXIT_USAGE,
            )
        return out
    out["workspace"] = args.workspace_used = workspace
    if cap is not None:
        out["frequency_cap"] = cap or None
    if guard is not None:
        out["repeat_guard"] = guard or None
    return out


def continued_plan(
    plan: Any, args: argparse.Namespace, ledger: Path, make_plan: Callable[..., Any]
) -> Any:
    """The plan ``send`` sends: ``plan``, or, when its repeat guard skipped rows because this
    very campaign is already in a ledger of the folder (the same file sent again, after a stop
    or for ``--send-again``), the plan without the guard, so the ledger's rules decide
    (continue it, refuse another ledger, or ``--send-again``). A ``--repeat-guard`` given
    explicitly is kept as given."""
    states = plan.recipients["state"]
    if getattr(args, "repeat_guard", None) is not None or "workspace_used" not in vars(args):
        return plan
    if not (states == "skipped_already_sent").any():
        return plan
    from ..recovery import holds_plan, sent_ledgers

    base = make_plan(argparse.Namespace(**{**vars(args), "repeat_guard": "off"}))
    if holds_plan(ledger, base.fingerprint) or sent_ledgers(ledger.parent, base.fingerprint):
        return base
    return plan


def _off_or(value: str | None) -> str | None:
    """None: not given; "": turned off; else the rule as typed."""
    if value is None:
        return None
    return "" if value.strip().lower() in _OFF else value.strip()


def workspace_line(plan: Any, workspace: Workspace | None) -> str:
    """Under the dry run (whose summary counts the exclusions): which workspace was checked,
    and how to decide the replies awaiting review."""
    if workspace is None:
        return "no workspace: opt-outs, frequency caps and history are neither checked nor kept"
    line = f"workspace: {workspace.location}"
    review = int(plan.summary().review_pending)
    if review:
        line += f" ({_n(review, 'reply')} to review: itnio-campaign workspace review)"
    return line


def print_workspace_line(plan: Any, args: argparse.Namespace) -> None:
    """Print the workspace line of a plan :func:`make_plan` made from ``args`` (nothing for
    commands without the workspace flags)."""
    if hasattr(args, "no_workspace"):
        print(workspace_line(plan, getattr(args, "workspace_used", None)))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- itnio-campaign workspace ... ----------------------------------------------------------
def cmd_workspace(args: argparse.Namespace, with_client: Callable[..., Any]) -> int:
    """Run ``itnio-campaign workspace WHAT``; ``sync`` talks to the provider through
    ``with_client`` (the commands' credentials-and-stop skeleton, passed in by
    :func:`itnio_campaign.cli.commands.cmd_workspace`)."""
    what = args.ws_command
    if what is None or (what == "optouts" and args.optouts_command is None):
        raise CliError(
            "say what: workspace campaigns | history NUMBER | optouts list|add|remove|import|"
            "export | review | keywords | sync",
            "see: itnio-campaign workspace --help",
            EXIT_USAGE,
        )
    if what == "sync":
        return _sync(args, with_client)
    workspace = open_workspace(args)
    assert workspace is not None
    try:
        if what == "campaigns":
            return _show(workspace.campaigns(), "campaign", args.max_rows)
        if what == "history":
            history = workspace.history(args.number)
            return _show(history, "message", args.max_rows, f" to {args.number}")
        if what == "review":
            return _review(workspace, args)
        if what == "keywords":
            return _keywords(workspace, args.languages)
        return _optouts(workspace, args)
    finally:
        close_workspace(workspace)


def close_workspace(workspace: Any) -> None:
    """Close ``workspace`` (None: nothing), so SQLite leaves no -wal/-shm files behind."""
    close = getattr(workspace, "close", None)
    if callable(close):
        close()


def _n(n: int, noun: str) -> str:
    """``1 number``, ``3 numbers``; ``1 reply``, ``2 replies``."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} " + (noun[:-1] + "ies" if noun.endswith("y") else noun + "s")


def _show(frame: pd.DataFrame, noun: str, max_rows: int, tail: str = "") -> int:
    print(f"{_n(len(frame), noun)}{tail}")
    if len(frame):
        print(frame.to_string(max_rows=max_rows, index=False))
    return EXIT_OK


def _numbers(values: list[str]) -> list[str]:
    """Numbers as typed: one per argument, or several separated by , or ; (spaces stay: a
    quoted "+91 98765 43210" is one number)."""
    return [n.strip() for v in values for n in _SPLIT.split(v) if n.strip()]


def _optouts(workspace: Workspace, args: argparse.Namespace) -> int:
    action = args.optouts_command
    if action == "list":
        return _show(workspace.optouts(), "opted-out number", args.max_rows)
    if action == "add":
        n = workspace.add_optouts(
            _numbers(args.numbers), source=args.source, default_region=args.region
        )
        print(f"{_n(n, 'number')} opted out (source {args.source}) in {workspace.location}")
        return EXIT_OK
    if action == "remove":
        n = workspace.remove_optouts(_numbers(args.numbers), default_region=args.region)
        print(f"{_n(n, 'number')} opted back in, in {workspace.location}")
        return EXIT_OK
    if action == "import":
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"no file {path}", "give a .txt, .csv, .xlsx or .parquet of numbers")
        source = args.source or path.name
        n = workspace.add_optouts(path, source=source, default_region=args.region)
        print(f"{_n(n, 'number')} opted out from {path} (source {source}) in {workspace.location}")
        return EXIT_OK
    return _export(workspace, Path(args.file))


def _export(workspace: Workspace, out: Path) -> int:
    frame = workspace.optouts()
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".txt"):
        raise CliError(f"export to a .csv or .txt file, not {out}", code=EXIT_USAGE)
    if suffix == ".txt":
        out.write_text("".join(f"{n}\n" for n in frame["number"].astype(str)), "utf-8")
    else:
        frame.to_csv(out, index=False)
    print(f"{_n(len(frame), 'opted-out number')} written to {out}")
    return EXIT_OK


def _review(workspace: Workspace, args: argparse.Namespace) -> int:
    decisions: list[tuple[int, Literal["opt_out", "dismiss"]]] = [
        *((i, "opt_out") for i in args.opt_out),
        *((i, "dismiss") for i in args.dismiss),
    ]
    for review_id, action in decisions:
        try:
            workspace.resolve_review(review_id, action=action)
        except ItnioError as exc:
            raise CliError(_one_line(exc), "see the ids: itnio-campaign workspace review") from exc
        done = "opted out" if action == "opt_out" else "dismissed"
        print(f"reply {review_id}: {done}")
    frame = workspace.optout_review()
    verb = "awaits" if len(frame) == 1 else "await"
    print(f"{_n(len(frame), 'reply')} {verb} review")
    if len(frame):
        print(frame.to_string(index=False))
        print("decide with: itnio-campaign workspace review --opt-out ID / --dismiss ID")
    return EXIT_OK


def _keywords(workspace: Workspace, languages: str | None) -> int:
    if languages is not None:
        codes = [c for c in re.split(r"[,;\s]+", languages.strip()) if c and c != "none"]
        try:
            report = workspace.set_reply_languages(*codes)
        except ItnioError as exc:
            raise CliError(_one_line(exc), "e.g. --languages fr,es", EXIT_USAGE) from exc
        print(
            f"reply languages: {', '.join(workspace.reply_languages) or 'English only'}; the "
            f"{_n(report.fetched, 'stored reply')} read again: {report.opted_out:,} opted out, "
            f"{report.opted_in:,} opted back in, {report.to_review:,} to review"
        )
    kw = workspace.keywords
    print(f"languages: English{''.join(', ' + c for c in workspace.reply_languages)}")
    print(f"opt out:   {' '.join(w.upper() for w in kw.opt_out)}")
    print(f"opt in:    {' '.join(w.upper() for w in kw.opt_in)}")
    return EXIT_OK


def _sync(args: argparse.Namespace, with_client: Callable[..., Any]) -> int:
    workspace = open_workspace(args)
    assert workspace is not None

    async def work(client: Any, stopper: Any) -> Any:
        return await workspace.sync(client)

    try:
        report = with_client(args, work)
    finally:
        close_workspace(workspace)
    print(f"{workspace.location}: {report}")
    return EXIT_OK


# -- the demo ------------------------------------------------------------------------------
#: A reply with an opt-out word inside a sentence: the workspace asks a person (review).
DEMO_REVIEW_REPLY = "Please stop sending me these offers"


async def demo_sync(workspace: Workspace, result: Any, sandbox: Any, client: Any) -> str:
    """The demo's replies into ``workspace``: the sandbox's simulated replies (STOP among
    them) made visible now, plus one reply that needs a person's eye; then a sync.

    Returns the lines the demo prints.
    """
    frame, names = result.frame, result.columns
    delivered = frame.loc[frame[names.state] == "delivered", names.number]
    if len(delivered):
        sandbox.add_reply(str(delivered.iloc[0]), DEMO_REVIEW_REPLY)
    sandbox.settle_all()  # every simulated reply received now, not in half a second
    report = await workspace.sync(client)
    opted_out, review = len(workspace.optouts()), workspace.review_count()
    are = "is" if opted_out == 1 else "are"
    await_ = "awaits" if review == 1 else "await"
    return (
        f"workspace {workspace.location}: {report}\n"
        f"{_n(opted_out, 'number')} {are} opted out in the workspace, {_n(review, 'reply')} "
        f"{await_} review (itnio-campaign workspace review); run the demo again here: its dry "
        "run skips them"
    )
