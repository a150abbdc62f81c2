"""The commands behind ``itnio-campaign``: each reads its flags, calls the same functions a
notebook calls, and prints what happened. :func:`with_client` is the one skeleton
(credentials → client → Ctrl-C handling) every command that talks to the API runs in.

Loaded only once a command runs (``--help`` never imports it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import shlex
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Hashable
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ..client import AsyncClient, aware_time
from ..config import ClientSettings, Credentials
from ..contacts import SUFFIXES, guess_number_column
from ..contacts import read_table as read_contacts
from ..delivery import fetch_replies, opt_outs, refresh_delivery, watch_delivery
from ..errors import ConfigError, ItnioError, UsageError
from ..excel import write_report
from ..ledger import Ledger
from ..options import SendOptions
from ..plan import Plan, load_plan, plan_campaign
from ..recovery import holds_plan, load_campaign, reconcile_campaign, resume_campaign
from ..result import CampaignResult, Stopper
from ..runner import send_campaign
from ..sandbox import SandboxThread
from ..sandbox.__main__ import main as sandbox_main
from ..suppression import read_suppressions
from ..trial import parse_share
from . import workspace_cli
from .common import (
    DEMO_CLOCK_NOTE,
    DEMO_CONTENT,
    DEMO_PRICE,
    DEMO_WINDOW,
    EXIT_HALTED,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    LEDGER_SUFFIX,
    CliError,
    Interrupted,
    fail,
)
from .workspace_cli import (
    close_workspace,
    continued_plan,
    demo_sync,
    open_workspace,
    plan_keywords,
    print_workspace_line,
    resume_workspace,
    workspace_line,
)

T = TypeVar("T")


# -- reading input -----------------------------------------------------------------------------
def read_table(path: str | Path, args: argparse.Namespace | None = None) -> pd.DataFrame:
    """Read CSV, XLSX or Parquet (see :mod:`itnio_campaign.contacts`); phone numbers stay text.

    ``--encoding``, ``--sheet`` (a name, or a number counted from 1) and ``--header-row``
    come from ``args``.

    Example::

        read_table("contacts.xlsx").dtypes["phone"]  ->  str
    """

    options: dict[str, Any] = {}
    if args is not None:
        if getattr(args, "encoding", None):
            options["encoding"] = args.encoding
        sheet = getattr(args, "sheet", None)
        if sheet:
            options["sheet"] = int(sheet) - 1 if sheet.isdigit() and int(sheet) > 0 else sheet
        if getattr(args, "header_row", None):
            options["header_row"] = args.header_row
    try:
        return read_contacts(path, **options)
    except UsageError as exc:
        raise CliError(str(exc), _file_hint(Path(path))) from exc


def describe_source(df: pd.DataFrame) -> str | None:
    """How the file was read, when it matters: "read as cp1252" / "sheet 'Contacts'"."""
    encoding = df.attrs.get("encoding")
    if encoding and encoding.replace("-", "").lower() not in ("utf8", "utf8sig"):
        return f"read as {encoding} (not UTF-8; --encoding overrides)"
    sheets = df.attrs.get("sheets") or []
    if len(sheets) > 1:
        return f"sheet {df.attrs.get('sheet')!r} of {len(sheets)} (--sheet picks another)"
    return None


def _file_hint(path: Path) -> str:
    """What to do about a contacts file that could not be read."""

    if not path.is_file():
        return "check the path (FILE may be CSV, XLSX or Parquet)"
    if path.suffix.lower() not in SUFFIXES:
        return "use a .csv, .xlsx or .parquet file"
    return ""  # the reader's message says what is wrong with the file itself


def pick_number_col(df: pd.DataFrame, number_col: str | None) -> Hashable:
    """``number_col`` if given and present, else the guessed phone column (by name, then values)."""

    if number_col is not None:
        if number_col not in df.columns:
            raise CliError(
                f"no column {number_col!r}; columns are: {', '.join(map(str, df.columns))}",
                "pass --number-col with one of those",
            )
        return number_col
    guess = guess_number_column(df)
    if guess is None:
        raise CliError(
            "cannot tell which column holds the phone numbers",
            f"pass --number-col (columns: {', '.join(map(str, df.columns))})",
        )
    return guess


def content_of(args: argparse.Namespace) -> str:
    if args.content is not None and args.content_file is not None:
        raise CliError("give --content or --content-file, not both", code=EXIT_USAGE)
    if args.content_file is not None:
        try:
            return Path(args.content_file).read_text("utf-8").rstrip("\n")
        except OSError as exc:
            raise CliError(f"cannot read {args.content_file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            # Guessing another encoding could send garbled text to everyone: refuse instead.
            raise CliError(
                f"{args.content_file} is not UTF-8 text (byte {exc.object[exc.start]:#x} at "
                f"position {exc.start})",
                "save the message as UTF-8 (in most editors: Save as… → Encoding: UTF-8)",
            ) from None
    if args.content is None:
        raise CliError(
            "no message: pass --content TEXT or --content-file FILE",
            'e.g. --content "Hi {first_name}, 20% off today"',
            EXIT_USAGE,
        )
    return str(args.content)


def make_plan(args: argparse.Namespace) -> Plan:
    """Read FILE and plan the campaign with the options given."""

    df = read_table(args.file, args)
    how = describe_source(df)
    if how:
        print(f"{args.file}: {how}")
    number_col = pick_number_col(df, args.number_col)
    options: dict[str, Any] = {}
    if args.region:
        options["default_region"] = args.region
    if args.region_col:
        options["region_col"] = args.region_col
    if args.price is not None:
        options["prices"] = args.price
    options.update(cost_options(args))
    options.update(schedule_options(args))
    content = content_of(args)
    options.update(experiment_options(args, content))
    options.update(plan_keywords(args))  # the workspace, --frequency-cap, --repeat-guard
    return plan_campaign(
        df,
        number_col=number_col,
        content="" if "variants" in options else content,  # with variants, A is among them
        sender_id=args.sender_id,
        order_id_col=args.order_id_col,
        suppress=read_suppressions(
            args.suppress, default_region=args.region or "IN", what="--suppress"
        ),
        **options,
    )


def cost_options(args: argparse.Namespace) -> dict[str, Any]:
    """The plan options of ``--smart-encoding``, ``--max-segments``, ``--on-long``,
    ``--footer`` and ``--prices`` (only those given)."""
    options: dict[str, Any] = {}
    if getattr(args, "smart_encoding", False):
        options["smart_encoding"] = True
    if getattr(args, "max_segments", None) is not None:
        options["max_segments"] = args.max_segments
        options["on_long"] = args.on_long
    if getattr(args, "footer", None):
        options["footer"] = args.footer
    if getattr(args, "prices", None):
        options["prices"] = Path(args.prices)
    return options


def experiment_options(args: argparse.Namespace, content: str) -> dict[str, Any]:
    """The plan options of ``--variant NAME=TEXT``, ``--holdout``, ``--split-seed`` and
    ``--stratify`` (none unless a variant or a holdout is asked for)."""
    variants: dict[str, str] = {}
    for item in getattr(args, "variant", None) or []:
        name, sep, text = str(item).partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise CliError(
                f"--variant takes NAME=TEXT, not {item!r}",
                "e.g. --variant 'B=Hi {first_name}, your code is inside'",
                EXIT_USAGE,
            )
        if name == "A" or name in variants:
            raise CliError(f"variant {name} is given twice (--content is A)", code=EXIT_USAGE)
        variants[name] = text
    holdout = getattr(args, "holdout", None)
    if not variants and not holdout:
        return {}
    options: dict[str, Any] = {"split_seed": args.split_seed}
    if variants:
        options["variants"] = {"A": content, **variants}
    if holdout:
        try:
            options["holdout"] = parse_share(holdout)
        except UsageError:
            raise CliError(
                f"--holdout takes a share above 0 and below 100%, like 10% or 0.1, not {holdout!r}",
                code=EXIT_USAGE,
            ) from None
    if getattr(args, "stratify", None):
        options["stratify"] = args.stratify
    return options


def ready_count(plan: Plan) -> int:
    return int((plan.recipients["state"] == "ready").sum())


# -- credentials and running ---------------------------------------------------------------------
def credentials_of(args: argparse.Namespace) -> Credentials:
    """From ``ITNIO_*`` variables or ``.env``; ``--ask-secret`` prompts for the secret."""
    overrides: dict[str, str] = {}
    if getattr(args, "base_url", None):
        overrides["base_url"] = args.base_url
    if getattr(args, "ask_secret", False):
        overrides["api_secret"] = getpass.getpass("Itniotech API secret: ")
    try:
        return Credentials.from_env(".env", None, **overrides)
    except ConfigError as exc:
        missing = str(exc).startswith("missing credentials")
        raise CliError(
            str(exc),
            "set ITNIO_API_KEY, ITNIO_APP_ID and ITNIO_API_SECRET (or use --ask-secret); "
            "try the sandbox: itnio-campaign sandbox"
            if missing
            else "check --base-url / ITNIO_BASE_URL",
        ) from exc


def send_options_of(args: argparse.Namespace) -> SendOptions:
    """The one SendOptions of a command's flags (send, resume)."""
    return SendOptions(
        concurrency=args.concurrency,
        rate=args.rate,
        request_rate=args.request_rate,
        max_failed_batches=args.max_failed_batches,
        progress=not args.no_progress,
    )


def with_client(
    args: argparse.Namespace,
    work: Callable[[AsyncClient, Stopper], Awaitable[T]],
    ledger: Path | None = None,
) -> T:
    """Run ``work(client, stopper)`` with the command's credentials; Ctrl-C stops cleanly
    (then exit 4 with the resume line of ``ledger``)."""

    credentials = credentials_of(args)

    async def main(stopper: Stopper) -> T:
        async with AsyncClient(credentials, ClientSettings()) as client:
            return await work(client, stopper)

    return _run_or_stop(main, ledger)


def run_async(work: Callable[[Stopper], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop. First Ctrl-C (or SIGTERM): stop cleanly; second: cancel."""

    stopper = Stopper()

    async def main() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        presses = 0

        def on_signal() -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                stopper.stop()  # first the flag, then the word
                print(
                    "\nstopping: no new requests; waiting for the ones in flight "
                    "(Ctrl-C again to abort)",
                    file=sys.stderr,
                    flush=True,
                )
            elif task is not None:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            # Not available on Windows or off the main thread: Ctrl-C then raises instead.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal)
        return await work(stopper)

    try:
        return asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt) as exc:
        raise Interrupted() from exc


def default_ledger(file: str | Path) -> Path:
    return Path(f"{file}{LEDGER_SUFFIX}")


def resume_command(ledger: Path) -> str:
    return f"itnio-campaign resume {shlex.quote(str(ledger))}"


def reconcile_command(ledger: Path) -> str:
    return f"itnio-campaign reconcile {shlex.quote(str(ledger))}"


def finish(result: CampaignResult, ledger: Path | None) -> int:
    """Print the result summary and what to do next; return the exit code.

    0 only when nobody is left: a run that leaves anyone pending, unknown or missing
    exits 4 with the exact line that continues it.
    """
    summary = result.summary()
    print()
    print(summary)
    if result.status == "completed":
        return EXIT_OK
    left = result.remaining()
    lines = []
    if ledger is not None:
        if left.get("pending"):
            lines.append(f"resume with: {resume_command(ledger)}")
        if left.get("unknown"):
            lines.append(
                f"{left['unknown']:,} recipients' fate is unknown (an answer was lost); never "
                f"resend them blindly. Settle them with: {reconcile_command(ledger)}"
            )
        if left.get("missing"):
            lines.append(
                f"{left['missing']:,} were proven never accepted; send them once with: "
                f"{resume_command(ledger)} --resend-missing"
            )
    elif left:
        lines.append("sent without a ledger: these recipients cannot be resumed from here")
    status = {"halted": "halted", "stopped": "stopped"}.get(result.status, result.status)
    print(f"\n{status}: {result.halt_reason or 'on request'}", file=sys.stderr)
    for line in lines:
        print(line, file=sys.stderr)
    return EXIT_HALTED if result.status == "halted" else EXIT_STOPPED


# -- commands ------------------------------------------------------------------------------------
def cmd_plan(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    print(plan.summary())
    if getattr(args, "save_for_run", None):
        save_plan_for_run(plan, Path(args.save_for_run))
    print_workspace_line(plan, args)
    if args.show:
        print()
        print(plan.preview(args.show).to_string())
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    options = send_options_of(args)
    trial = _trial_of(args)  # a bad --trial/--gate fails before anything else
    credentials_of(args)  # fail on credentials before asking to confirm
    ledger = Path(args.ledger) if args.ledger else default_ledger(args.file)
    plan = continued_plan(plan, args, ledger, make_plan)  # this campaign again: ledger rules
    n = ready_count(plan)
    print(plan.summary())
    print_workspace_line(plan, args)
    if n == 0:
        raise CliError("nothing to send: no recipient is ready", "see the dry-run summary above")
    ledger = Path(args.ledger) if args.ledger else default_ledger(args.file)
    if args.send_again:
        ledger = _fresh_ledger(ledger, plan.fingerprint)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(
                f"refusing to send {n:,} SMS without confirmation",
                "add --yes to send without asking",
                EXIT_USAGE,
            )
        again = " AGAIN to everyone" if args.send_again else ""
        answer = input(f"\nSend {n:,} SMS{again}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not sent")
            return EXIT_OK
    print(f"ledger: {ledger}  (resume with: {resume_command(ledger)})")

    async def work(client: AsyncClient, stopper: Stopper) -> CampaignResult:
        return await send_campaign(
            plan, client, options=options, ledger=ledger, stopper=stopper,
            send_again=args.send_again, **trial,
        )  # fmt: skip

    return _finish_campaign(with_client(args, work, ledger), ledger, args.report)


def cmd_resume(args: argparse.Namespace) -> int:
    ledger = _existing_ledger(args.ledger)
    options = send_options_of(args)
    workspace = resume_workspace(args)  # --workspace/--no-workspace; else the plan's own

    async def work(client: AsyncClient, stopper: Stopper) -> CampaignResult:
        return await resume_campaign(
            ledger, client, resend_missing=args.resend_missing, options=options, stopper=stopper,
            override_gate=getattr(args, "override_gate", False), workspace=workspace,
        )  # fmt: skip

    return _finish_campaign(with_client(args, work, ledger), ledger, args.report)


def _trial_of(args: argparse.Namespace) -> dict[str, Any]:
    """send_campaign's trial keywords from ``--trial``, ``--gate``, ``--gate-wait``."""
    from ..trial import parse_gate

    out: dict[str, Any] = {"require_test": getattr(args, "require_test", False)}
    if getattr(args, "trial", None):
        out["trial"] = args.trial
        out["gate"] = parse_gate(args.gate, wait=args.gate_wait)
    return out


def cmd_test(args: argparse.Namespace) -> int:
    """Send the representative messages to the seeds; print the results table."""
    from ..testsend import send_test

    plan = make_plan(args)
    ledger = Path(args.ledger) if args.ledger else default_ledger(args.file)

    async def work(client: AsyncClient, stopper: Stopper) -> pd.DataFrame:
        return await send_test(plan, client, args.seeds, ledger=ledger, timeout=args.timeout)

    frame = with_client(args, work)
    shown = frame[["seed", "row", "represents", "segments", "state", "delivery", "error"]]
    print(shown.to_string(index=False))
    passed = bool(frame.attrs.get("passed"))
    print(f"test send {'passed' if passed else 'FAILED'} (kept in {ledger})")
    return EXIT_OK if passed else EXIT_HALTED


def cmd_reconcile(args: argparse.Namespace) -> int:
    ledger = _existing_ledger(args.ledger)

    async def work(client: AsyncClient, stopper: Stopper) -> Any:

        return await reconcile_campaign(ledger, client)

    report = with_client(args, work, ledger)
    print(report)
    if report.missing:
        print(
            f"\n{report.missing:,} recipients were proven never accepted. Send them once with: "
            f"{resume_command(ledger)} --resend-missing"
        )
    return EXIT_OK


def cmd_delivery(args: argparse.Namespace) -> int:
    ledger = _existing_ledger(args.ledger)

    async def work(client: AsyncClient, stopper: Stopper) -> CampaignResult:

        if not args.watch:
            return await refresh_delivery(ledger, client)
        return await watch_delivery(
            ledger, client, interval=args.interval, until_settled=True, timeout=args.timeout,
            progress=not args.no_progress,
        )  # fmt: skip

    result = with_client(args, work, ledger)
    print(result.summary())
    pending = len(result.pending_delivery_ids())
    if pending:
        print(f"\n{pending:,} messages have no final report yet: run again later, or add --watch")
    return _maybe_report(result, args.report, ledger=ledger)


def cmd_replies(args: argparse.Namespace) -> int:
    end = _parse_time(args.until) if args.until else datetime.now(UTC)
    start = _parse_time(args.since) if args.since else end - timedelta(days=args.days)

    async def work(client: AsyncClient, stopper: Stopper) -> Any:

        return await fetch_replies(client, start, end)

    frame = with_client(args, work)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    print(f"{len(frame):,} replies from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} UTC")
    if len(frame):
        print(frame.to_string(max_rows=args.max_rows))
    if args.opt_outs:
        numbers = opt_outs(frame).astype(str).tolist()
        out = Path(args.opt_outs)
        out.write_text("".join(f"{n}\n" for n in numbers), "utf-8")
        print(f"{len(numbers):,} opt-outs written to {out} (use it with --suppress {out})")
    return EXIT_OK


def cmd_balance(args: argparse.Namespace) -> int:
    async def work(client: AsyncClient, stopper: Stopper) -> Any:
        return await client.get_balance()

    b = with_client(args, work)
    print(f"balance {b.balance}  gift {b.gift}  credit {b.credit}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:

    ledger = _existing_ledger(args.ledger)
    result = load_campaign(ledger)
    print(result.summary())  # its first line says when the campaign is complete
    return _maybe_report(
        result, args.report or str(ledger.with_suffix("")) + ".report.xlsx", ledger=ledger
    )


def cmd_workspace(args: argparse.Namespace) -> int:
    """``itnio-campaign workspace ...``: opt-outs, history, review, sync."""
    return workspace_cli.cmd_workspace(args, with_client)


def cmd_demo(args: argparse.Namespace) -> int:
    """Sandbox on loopback → plan → send → delivery → Excel report, no credentials needed."""
    report = Path(args.report)
    if report.suffix.lower() != ".xlsx":
        raise CliError(f"the report must be an .xlsx file, not {report}", code=EXIT_USAGE)
    sample = resources.files("itnio_campaign").joinpath("sample_data", "contacts.csv")
    with resources.as_file(sample) as path:
        df = read_table(path)
    demo_options: dict[str, Any] = dict(
        number_col=pick_number_col(df, None),
        sender_id="ITNIO",
        default_region=args.region,
        prices=DEMO_PRICE,  # the sandbox's price per segment
        window=DEMO_WINDOW,  # each country's quiet hours, in each recipient's local time
        # An A/B test with a 10% holdout, split the same way every run (issue 17).
        variants={"A": DEMO_CONTENT, "B": DEMO_CONTENT_B},
        holdout=DEMO_HOLDOUT,
        split_seed=DEMO_SPLIT_SEED,
        stratify="city",
    )
    # The workspace remembers the STOPs of earlier runs; the demo sends the same sample each
    # run, so its repeat guard is off (a real campaign keeps it on).
    workspace = open_workspace(args)
    if workspace is not None:
        demo_options.update(workspace=workspace, repeat_guard=None)
    as_written = plan_campaign(df, **demo_options)
    print(f"Sample campaign: {len(df):,} contacts (the packaged sample_data/contacts.csv)")
    print(f"Message A: {DEMO_CONTENT}")
    print(f"Message B: {DEMO_CONTENT_B}")
    print(
        f"An A/B test: {DEMO_HOLDOUT:.0%} of the contacts are a holdout (sent nothing), "
        f"the rest split between A and B by seed {DEMO_SPLIT_SEED}, within each city\n"
    )
    print("Dry run, as written (nothing sent yet)")
    print(as_written.summary())
    print(workspace_line(as_written, workspace))
    # The message's ’ forces UCS-2: the demo sends with smart encoding on, and says so.
    plan = plan_campaign(df, **demo_options, smart_encoding=True)
    print("\nSending with smart encoding on (’ → ', and so on; see the saving above):")
    print(plan.summary())  # with the schedule: each zone's window, recipients, time to send
    print(DEMO_CLOCK_NOTE)
    from ..schedule_send import FastClock

    fast = FastClock()  # the demo's waits for a window take no time
    # Windows need a ledger (the waits live there); the demo's is temporary, like its sandbox.
    demo_dir = tempfile.TemporaryDirectory(prefix="itnio-demo-")
    demo_ledger = Path(demo_dir.name) / f"demo{LEDGER_SUFFIX}"
    t0 = time.perf_counter()
    # Short delivery and reply delays so the whole flow fits in a few seconds.
    knobs = {"delivery_delay": (0.05, 0.5), "reply_delay": (0.1, 0.5), "balance": "1000000",
             "stop_share": 0.5}  # fmt: skip
    with SandboxThread(seed=args.seed, **knobs) as sandbox:
        print(f"\nSandbox (a local stand-in for the provider) at {sandbox.url}\n", flush=True)
        replies: list[pd.DataFrame] = []
        synced: list[str] = []

        async def work(stopper: Stopper) -> CampaignResult:
            async with AsyncClient(sandbox.credentials) as client:
                progress = not args.no_progress
                result = await send_campaign(
                    plan, client, concurrency=args.concurrency, progress=progress,
                    stopper=stopper, clock=fast.now, sleep=fast.sleep, ledger=demo_ledger,
                    on_progress=print_waits,
                )  # fmt: skip
                if result.status == "completed":
                    print("waiting for delivery reports ...", flush=True)
                    await watch_delivery(
                        result, client, interval=0.25, timeout=30.0, progress=progress
                    )
                    if workspace is not None:  # STOPs into the workspace: next run skips them
                        synced.append(await demo_sync(workspace, result, sandbox, client))
                    if result.started_at is not None:
                        started = datetime.fromtimestamp(result.started_at - 1, UTC)
                        replies.append(await fetch_replies(client, started))
                return result

        try:
            result = run_async(work)
        except Interrupted:
            raise CliError("demo interrupted", code=EXIT_STOPPED) from None
        finally:
            close_workspace(workspace)
    code = finish(result, None)
    print()
    if replies:
        print(f"{len(replies[0]):,} replies received (opt-outs are in the report's Replies sheet)")
    print_by_variant(result, replies[0] if replies else None)
    for line in synced:
        print(line)
    code = max(code, _maybe_report(result, str(report), replies[0] if replies else None))
    print(f"demo finished in {time.perf_counter() - t0:.1f} s")
    demo_dir.cleanup()
    return code


#: The demo's variant B: the same offer, worded the other way round (’ on purpose, as in A).
DEMO_CONTENT_B = (
    "{first_name}, this weekend only: 20% off at {store}, {city}. Don’t miss it. "
    "Reply STOP to opt out."
)
DEMO_HOLDOUT = 0.1
DEMO_SPLIT_SEED = 7


def print_by_variant(result: CampaignResult, replies: pd.DataFrame | None = None) -> None:
    """Print ``result.by_variant()`` as a short table: sent, delivered, replied, opted out,
    cost and the delivered rate with its 95% interval, one line per group."""
    table = result.by_variant(replies, opt_outs(replies) if replies is not None else None)
    print("\nResults by variant (delivered rate with its 95% interval)")
    head = f"{'variant':<9}{'sent':>7}{'delivered':>11}{'replied':>9}{'opted out':>11}"
    print(head + f"{'cost':>9}  delivered rate")
    for name, row in table.iterrows():
        rate = (
            "-" if pd.isna(row["delivered_rate"]) else
            f"{row['delivered_rate']:.1%} [{row['delivered_low']:.1%}-{row['delivered_high']:.1%}]"
        )  # fmt: skip
        replied = "-" if pd.isna(row["replied"]) else f"{int(row['replied']):,}"
        opted = "-" if pd.isna(row["opted_out"]) else f"{int(row['opted_out']):,}"
        cost = "-" if pd.isna(row["cost"]) else f"{row['cost']:,.2f}"
        print(f"{name!s:<9}{int(row['sent']):>7,}{int(row['delivered']):>11,}{replied:>9}"
              f"{opted:>11}{cost:>9}  {rate}")  # fmt: skip


def cmd_sandbox(args: argparse.Namespace) -> int:

    try:
        return sandbox_main(list(args.sandbox_args))
    except (ItnioError, OSError) as exc:
        message = str(exc) if isinstance(exc, ItnioError) else (exc.strerror or str(exc))
        return fail(f"sandbox: {message}", "", EXIT_INPUT)


# -- helpers -------------------------------------------------------------------------------------
def _fresh_ledger(ledger: Path, fingerprint: str) -> Path:
    """``ledger``, or the next free ``NAME-2.sqlite``, ``NAME-3.sqlite``, ... when it already
    holds this plan (--send-again starts a new campaign; the old ledger keeps its history)."""

    candidate, n = ledger, 1
    while candidate.exists() and holds_plan(candidate, fingerprint):
        n += 1
        candidate = ledger.with_name(f"{ledger.stem}-{n}{ledger.suffix}")
    return candidate


def _existing_ledger(value: str) -> Path:
    p = Path(value)
    if default_ledger(value).is_file():
        p = default_ledger(value)  # the user named the contacts file: use its ledger
    if not p.is_file():
        raise CliError(
            f"no ledger at {p}",
            f"send writes it next to the input file, e.g. contacts.csv{LEDGER_SUFFIX}",
        )

    with Ledger.open(p, create=False, readonly=True):  # not a ledger: say so before anything
        return p


def _run_or_stop(work: Callable[[Stopper], Awaitable[T]], ledger: Path | None) -> T:
    try:
        return run_async(work)
    except Interrupted:
        hint = f"resume with: {resume_command(ledger)}" if ledger is not None else ""
        raise CliError("interrupted", hint, EXIT_STOPPED) from None


def _finish_campaign(result: CampaignResult, ledger: Path, report: str | None) -> int:
    """Print how a send/resume ended, write the report if asked; the exit code."""
    if result.notice:
        print(result.notice)
    code = finish(result, ledger)
    if "variant" in result.plan.recipients.columns:  # an experiment: delivery per variant
        print_by_variant(result)
    return max(code, _maybe_report(result, report, ledger=ledger))


def _maybe_report(
    result: Any,
    path: str | None,
    replies: pd.DataFrame | None = None,
    *,
    ledger: Path | None = None,
) -> int:
    """Write the Excel report if asked. A report that cannot be written never hides the
    campaign's outcome (printed before): it says why and how to write it again (exit 1)."""
    if not path:
        return EXIT_OK
    again = (
        f"write it again with: itnio-campaign report {shlex.quote(str(ledger))} --report PATH"
        if ledger is not None
        else "choose another --report path"
    )
    if Path(path).suffix.lower() != ".xlsx":
        return fail(f"the report must be an .xlsx file, not {path}", again, EXIT_INPUT)

    try:
        written = write_report(result, path, replies=replies)
    except (ItnioError, OSError) as exc:
        reason = str(exc) if isinstance(exc, ItnioError) else (exc.strerror or str(exc))
        return fail(f"the report {path} could not be written: {reason}", again, EXIT_INPUT)
    print(f"report written to {Path(written).resolve()}")
    return EXIT_OK


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time from the command line (without an offset: local time)."""

    try:
        return aware_time(text)
    except UsageError:
        raise CliError(
            f"not a date/time: {text!r}", "use ISO 8601, e.g. 2024-05-01T09:00", EXIT_USAGE
        ) from None


# -- send windows and scheduling (issue 14): --window & co., run, status ------------------------
#: The send-window flags (as argparse names them: plan_campaign's keywords).
SCHEDULE_FLAGS = (
    "window", "days", "holidays", "not_before", "expire_at", "tz_col", "default_tz", "late",
)  # fmt: skip


def schedule_options(args: argparse.Namespace) -> dict[str, Any]:
    """plan_campaign's schedule keywords from ``--window``, ``--days``, ``--holidays``,
    ``--not-before``, ``--expire-at``, ``--tz-col``, ``--default-tz``, ``--late`` (only those
    given). Times without an offset are the machine's local time.

    Example::

        schedule_options(args)  ->  {"window": "09:00-20:00", "days": "mon-sat"}
    """
    out: dict[str, Any] = {}
    for flag in SCHEDULE_FLAGS:
        value = getattr(args, flag, None)
        if value is None or value == "":
            continue
        if flag in ("not_before", "expire_at"):
            value = _parse_time(value)
        elif flag == "holidays":
            value = _holidays(value)
        out[flag] = value
    return out


def _holidays(value: str) -> list[str]:
    """``--holidays``: dates separated by commas, or a file with one date a line."""
    path = Path(value)
    if path.is_file():
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the holidays file {path}: {exc}") from None
        items = [line.split("#")[0].strip() for line in text.splitlines()]
    else:
        items = [part.strip() for part in value.replace(";", ",").split(",")]
    dates = [item for item in items if item]
    if not dates:
        raise CliError(f"--holidays {value!r} holds no dates", "e.g. --holidays 2026-12-25")
    return dates


def is_scheduled(plan: Plan) -> bool:
    """True when the plan has send windows (``plan_campaign(window=..., ...)``)."""
    return plan.schedule_settings is not None


def schedule_text(frame: pd.DataFrame) -> str:
    """The schedule frame as a plain table, with a warning line for what does not fit."""
    if frame.empty:
        return "  nobody to schedule"
    shown = pd.DataFrame(
        {
            "zone": frame["tz"].astype(str).map(_zone_text),
            "window": frame["window"].astype(str) if "window" in frame else "",
            "recipients": frame["recipients"].map(lambda n: f"{int(n):,}"),
            "opens (UTC)": frame["opens_at"].map(_utc_text),
            "closes (UTC)": frame["closes_at"].map(_utc_text),
            "to send": frame["est_send_s"].map(_duration_text),
            "fits": frame["fits"].map(lambda f: "yes" if bool(f) else "NO"),
        }
    )
    lines = [shown.to_string(index=False)]
    late = frame[~frame["fits"].astype(bool)]
    if len(late):
        left = int(late["left_over"].sum())
        zones = ", ".join(late["tz"].astype(str).unique())
        lines.append(
            f"warning: {left:,} recipients would be left when their window closes or the "
            f"campaign expires ({zones}); widen the window, raise --rate, or move --expire-at"
        )
    return "\n".join(lines)


def _zone_text(tz: str) -> str:
    """A zone, or the first of the zones an uncertain number may be in and how many more."""
    zones = tz.split(",")
    return tz if len(zones) == 1 else f"{zones[0]} +{len(zones) - 1} zones"


def _utc_text(value: Any) -> str:
    if value is None or pd.isna(value):
        return "-"
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%a %d %b %H:%M")


def _duration_text(seconds: Any) -> str:
    if seconds is None or pd.isna(seconds):
        return "-"
    s = float(seconds)
    if s < 90:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"


def save_plan_for_run(plan: Plan, ledger: Path) -> None:
    """``plan --save-for-run LEDGER``: write the plan to a ledger and print the run command."""
    if ledger.exists():
        raise CliError(
            f"{ledger} already exists",
            "choose a new file name (a ledger holds one campaign)",
            EXIT_USAGE,
        )
    if ready_count(plan) == 0:
        raise CliError("nothing to send: no recipient is ready", "see the dry-run summary above")
    command = plan.save_for_run(ledger)
    print(f"\nplanned campaign saved to {ledger}; send it (now or unattended) with:")
    print(f"  {command}")


def run_command(ledger: Path) -> str:
    return f"itnio-campaign run {shlex.quote(str(ledger))}"


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or continue) a planned, scheduled campaign in the foreground until it is done.

    Waits for each zone's window; SIGTERM or Ctrl-C stops cleanly (exit 4, run again to
    continue). Exit codes as for send: 0 nobody left, 3 halted, 4 stopped or incomplete.
    """
    ledger = _existing_ledger(args.ledger)
    options = send_options_of(args)
    _log_waits_to_stderr()
    print(f"{_now_text()} running {ledger} (pid {os.getpid()}); stop with Ctrl-C or SIGTERM")
    print(status_text(ledger), flush=True)

    async def work(client: AsyncClient, stopper: Stopper) -> CampaignResult:
        return await resume_campaign(ledger, client, options=options, stopper=stopper)

    result = _run_or_stop_with(args, work, ledger)
    print(f"\n{_now_text()} run ended: {result.status}")
    code = _finish_campaign(result, ledger, args.report)
    if code == EXIT_STOPPED:
        print(f"continue with: {run_command(ledger)}", file=sys.stderr)
    return code


def _run_or_stop_with(
    args: argparse.Namespace,
    work: Callable[[AsyncClient, Stopper], Awaitable[T]],
    ledger: Path,
) -> T:
    try:
        return with_client(args, work, ledger)
    except CliError as exc:
        if exc.code == EXIT_STOPPED:
            exc.hint = f"continue with: {run_command(ledger)}"
        raise


def cmd_status(args: argparse.Namespace) -> int:
    """Where a campaign stands; reads the ledger without the writer lock (safe while sending)."""
    ledger = _existing_ledger(args.ledger)
    print(status_text(ledger))
    return EXIT_OK


def status_text(ledger: Path) -> str:
    """The campaign in ``ledger`` in a few lines: who runs it, counts per state, the next
    window of each zone with recipients still to send, expiry."""
    from ..recovery import load_campaign as load
    from ..schedule_send import waiting_info

    with Ledger.open(ledger, create=False, readonly=True) as store:
        running = store.writer_alive()
        plan = load_plan(store) if store.has_plan else None
        waiting = waiting_info(store)
    result = load(ledger)
    counts = result.summary().counts
    lines = [f"ledger {ledger}: {_campaign_state(result.status, running, ledger)}"]
    if plan is not None and plan.schedule_settings is not None:
        lines.append(f"  send window: {plan.schedule_settings.describe()}")
    if waiting and result.status == "waiting" and waiting.get("notice"):
        lines.append(f"  {waiting['notice']}")
    total = sum(counts.values())
    lines.append(f"  {'recipients':<24}{total:>10,}")
    for state, n in counts.items():
        lines.append(f"  {state:<24}{n:>10,}")
    if plan is not None and is_scheduled(plan):
        lines.extend(_waiting_lines(plan, result))
    return "\n".join(lines)


def _campaign_state(status: str, running: bool, ledger: Path) -> str:
    if running:
        return f"{status}; a process is sending it now"
    if status == "completed":
        return status
    return f"{status}; no process is sending it (continue with: {run_command(ledger)})"


def _waiting_lines(plan: Plan, result: CampaignResult) -> list[str]:
    """The next window of each zone with recipients still to send (``pending``), from now."""
    from ..schedule_send import remaining_schedule

    frame = remaining_schedule(result)
    if frame.empty:
        return []
    lines = ["next window per zone, for the recipients still pending (UTC):"]
    lines.extend("  " + line for line in schedule_text(frame).splitlines())
    return lines


def _log_waits_to_stderr() -> None:
    """``run``'s log: each wait for a window, expiries and skips, with the time (stderr)."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    for name in ("itnio_campaign.schedule_send", "itnio_campaign.runner"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_waits(event: Any) -> None:
    """An ``on_progress`` that prints each wait for a send window (which zone opens when)."""
    if getattr(event, "waiting", None):
        print(f"  {event.waiting}", flush=True)
