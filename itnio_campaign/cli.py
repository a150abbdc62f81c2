"""``itnio-campaign``: plan, send, resume, reconcile and report SMS campaigns from a terminal.

A thin layer over the same functions a notebook calls (plan → send → delivery → report).
Exit codes: 0 done (nobody left to send), 1 input error, 2 usage, 3 halted by the provider,
4 stopped, interrupted or incomplete (it prints the exact resume or reconcile line).

>>> main(["plan", "contacts.csv", "--content", "Hi {first_name}"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import shlex
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .config import ClientSettings, Credentials
from .errors import (
    ConfigError,
    FatalApiError,
    ItnioError,
    LedgerError,
    RedirectError,
    UsageError,
)
from .options import DEFAULT_SEND_OPTIONS, SendOptions

if TYPE_CHECKING:
    import pandas as pd

    from .client import AsyncClient
    from .plan import Plan
    from .result import CampaignResult, Stopper

T = TypeVar("T")

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_HALTED = 3
EXIT_STOPPED = 4

LEDGER_SUFFIX = ".campaign.sqlite"
DEMO_CONTENT = (
    "Hi {first_name}, the {store} store in {city} has 20% off this weekend. Reply STOP to opt out."
)
DEMO_REPORT = "campaign_report.xlsx"
DEMO_PRICE = "0.005"


class CliError(Exception):
    """One clear line for the user, a hint, and the exit code."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


class Interrupted(Exception):
    """Ctrl-C pressed twice: the run was cancelled (in-flight requests become ``unknown``)."""


# -- reading input -----------------------------------------------------------------------------
def read_table(path: str | Path, args: argparse.Namespace | None = None) -> pd.DataFrame:
    """Read CSV, XLSX or Parquet (see :mod:`itnio_campaign.contacts`); phone numbers stay text.

    ``--encoding``, ``--sheet`` (a name, or a number counted from 1) and ``--header-row``
    come from ``args``.

    >>> # read_table("contacts.xlsx").dtypes["phone"]  ->  str
    """
    from .contacts import read_table as read

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
        return read(path, **options)
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
    from .contacts import SUFFIXES

    if not path.is_file():
        return "check the path (FILE may be CSV, XLSX or Parquet)"
    if path.suffix.lower() not in SUFFIXES:
        return "use a .csv, .xlsx or .parquet file"
    return ""  # the reader's message says what is wrong with the file itself


def pick_number_col(df: pd.DataFrame, number_col: str | None) -> Hashable:
    """``number_col`` if given and present, else the guessed phone column (by name, then values)."""
    from .contacts import guess_number_column

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


def read_suppress(values: Sequence[str]) -> list[str]:
    """``--suppress`` values: files (a number per line, or a table's phone column) or numbers."""
    from .contacts import SUFFIXES, read_numbers

    numbers: list[str] = []
    for value in values:
        p = Path(value)
        if p.suffix.lower() in SUFFIXES or p.is_file():
            try:
                numbers += read_numbers(p)
            except UsageError as exc:
                raise CliError(
                    f"--suppress: {exc}",
                    "give numbers (comma-separated) or a CSV/TXT/XLSX/Parquet file of numbers",
                ) from exc
        else:
            numbers += [s.strip() for s in value.split(",") if s.strip()]
    return numbers


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
            'e.g. --content "Hi {first_name}, 20%% off today"',
            EXIT_USAGE,
        )
    return str(args.content)


def make_plan(args: argparse.Namespace) -> Plan:
    """Read FILE and plan the campaign with the options given."""
    from .plan import plan_campaign

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
    return plan_campaign(
        df,
        number_col=number_col,
        content=content_of(args),
        sender_id=args.sender_id,
        order_id_col=args.order_id_col,
        suppress=read_suppress(args.suppress) or None,
        **options,
    )


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
    from .client import AsyncClient

    credentials = credentials_of(args)

    async def main(stopper: Stopper) -> T:
        async with AsyncClient(credentials, ClientSettings()) as client:
            return await work(client, stopper)

    return _run_or_stop(main, ledger)


def run_async(work: Callable[[Stopper], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh loop. First Ctrl-C (or SIGTERM): stop cleanly; second: cancel."""
    from .result import Stopper

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
    if args.show:
        print()
        print(plan.preview(args.show).to_string())
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    plan = make_plan(args)
    options = send_options_of(args)
    credentials_of(args)  # fail on credentials before asking to confirm
    n = ready_count(plan)
    print(plan.summary())
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
        from .runner import send_campaign

        return await send_campaign(
            plan, client, options=options, ledger=ledger, stopper=stopper,
            send_again=args.send_again,
        )  # fmt: skip

    return _finish_campaign(with_client(args, work, ledger), ledger, args.report)


def cmd_resume(args: argparse.Namespace) -> int:
    ledger = _existing_ledger(args.ledger)
    options = send_options_of(args)

    async def work(client: AsyncClient, stopper: Stopper) -> CampaignResult:
        from .recovery import resume_campaign

        return await resume_campaign(
            ledger, client, resend_missing=args.resend_missing, options=options, stopper=stopper
        )

    return _finish_campaign(with_client(args, work, ledger), ledger, args.report)


def cmd_reconcile(args: argparse.Namespace) -> int:
    ledger = _existing_ledger(args.ledger)

    async def work(client: AsyncClient, stopper: Stopper) -> Any:
        from .recovery import reconcile_campaign

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
        from .delivery import refresh_delivery, watch_delivery

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
        from .delivery import fetch_replies

        return await fetch_replies(client, start, end)

    frame = with_client(args, work)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    print(f"{len(frame):,} replies from {lo:%Y-%m-%d %H:%M} to {hi:%Y-%m-%d %H:%M} UTC")
    if len(frame):
        print(frame.to_string(max_rows=args.max_rows))
    if args.opt_outs:
        from .delivery import opt_outs

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
    from .recovery import load_campaign

    ledger = _existing_ledger(args.ledger)
    result = load_campaign(ledger)
    print(result.summary())
    return _maybe_report(
        result, args.report or str(ledger.with_suffix("")) + ".report.xlsx", ledger=ledger
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """Sandbox on loopback → plan → send → delivery → Excel report, no credentials needed."""
    from .client import AsyncClient
    from .delivery import fetch_replies, watch_delivery
    from .plan import plan_campaign
    from .runner import send_campaign
    from .sandbox import SandboxThread

    report = Path(args.report)
    if report.suffix.lower() != ".xlsx":
        raise CliError(f"the report must be an .xlsx file, not {report}", code=EXIT_USAGE)
    sample = resources.files("itnio_campaign").joinpath("sample_data", "contacts.csv")
    with resources.as_file(sample) as path:
        df = read_table(path)
    plan = plan_campaign(
        df,
        number_col=pick_number_col(df, None),
        content=DEMO_CONTENT,
        sender_id="ITNIO",
        default_region=args.region,
        prices=DEMO_PRICE,  # the sandbox's price per segment
    )
    print(f"Sample campaign: {len(df):,} contacts (the packaged sample_data/contacts.csv)")
    print(f"Message: {DEMO_CONTENT}\n")
    print("Dry run (nothing sent yet)")
    print(plan.summary())
    t0 = time.perf_counter()
    # Short delivery and reply delays so the whole flow fits in a few seconds.
    knobs = {"delivery_delay": (0.05, 0.5), "reply_delay": (0.1, 0.5), "balance": "1000000"}
    with SandboxThread(seed=args.seed, **knobs) as sandbox:
        print(f"\nSandbox (a local stand-in for the provider) at {sandbox.url}\n", flush=True)
        replies: list[pd.DataFrame] = []

        async def work(stopper: Stopper) -> CampaignResult:
            async with AsyncClient(sandbox.credentials) as client:
                progress = not args.no_progress
                result = await send_campaign(
                    plan, client, concurrency=args.concurrency, progress=progress,
                    stopper=stopper,
                )  # fmt: skip
                if result.status == "completed":
                    print("waiting for delivery reports ...", flush=True)
                    await watch_delivery(
                        result, client, interval=0.25, timeout=30.0, progress=progress
                    )
                    if result.started_at is not None:
                        started = datetime.fromtimestamp(result.started_at - 1, UTC)
                        replies.append(await fetch_replies(client, started))
                return result

        try:
            result = run_async(work)
        except Interrupted:
            raise CliError("demo interrupted", code=EXIT_STOPPED) from None
    code = finish(result, None)
    print()
    if replies:
        print(f"{len(replies[0]):,} replies received (opt-outs are in the report's Replies sheet)")
    code = max(code, _maybe_report(result, str(report), replies[0] if replies else None))
    print(f"demo finished in {time.perf_counter() - t0:.1f} s")
    return code


def cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox.__main__ import main as sandbox_main

    try:
        return sandbox_main(list(args.sandbox_args))
    except (ItnioError, OSError) as exc:
        message = str(exc) if isinstance(exc, ItnioError) else (exc.strerror or str(exc))
        return _fail(f"sandbox: {message}", "", EXIT_INPUT)


# -- helpers -------------------------------------------------------------------------------------
def _fresh_ledger(ledger: Path, fingerprint: str) -> Path:
    """``ledger``, or the next free ``NAME-2.sqlite``, ``NAME-3.sqlite``, ... when it already
    holds this plan (--send-again starts a new campaign; the old ledger keeps its history)."""
    from .recovery import _holds_plan

    candidate, n = ledger, 1
    while candidate.exists() and _holds_plan(candidate, fingerprint):
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
    from .ledger import Ledger

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
        return _fail(f"the report must be an .xlsx file, not {path}", again, EXIT_INPUT)
    from .excel import write_report

    try:
        written = write_report(result, path, replies=replies)
    except (ItnioError, OSError) as exc:
        reason = str(exc) if isinstance(exc, ItnioError) else (exc.strerror or str(exc))
        return _fail(f"the report {path} could not be written: {reason}", again, EXIT_INPUT)
    print(f"report written to {Path(written).resolve()}")
    return EXIT_OK


def _parse_time(text: str) -> datetime:
    """An ISO 8601 time from the command line (without an offset: local time)."""
    from .client import aware_time

    try:
        return aware_time(text)
    except UsageError:
        raise CliError(
            f"not a date/time: {text!r}", "use ISO 8601, e.g. 2024-05-01T09:00", EXIT_USAGE
        ) from None


# -- the parser ----------------------------------------------------------------------------------
class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _sub(subs: Any, name: str, help_: str, example: str) -> argparse.ArgumentParser:
    return subs.add_parser(
        name,
        help=help_,
        description=f"{help_}\n\nexample:\n  {example}",
        formatter_class=_Formatter,
    )


def _plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="contacts: .csv, .xlsx or .parquet")
    p.add_argument(
        "--encoding",
        help="the CSV file's encoding (default: detected: UTF-8, UTF-16, then cp1252)",
    )
    p.add_argument("--sheet", help="the Excel sheet: its name, or its number from 1")
    p.add_argument(
        "--header-row",
        type=_positive_int,
        help="the row holding the column names, counted from 1 (default 1)",
    )
    p.add_argument(
        "--number-col",
        help="phone column (default: guessed by name, e.g. number/phone/mobile, then by values)",
    )
    p.add_argument("--content", help="message; {column} placeholders are filled per row")
    p.add_argument("--content-file", help="read the message from this UTF-8 file")
    p.add_argument("--sender-id", help="sender id shown to recipients (at most 32 characters)")
    p.add_argument("--order-id-col", help="column with your own ids (default: generated)")
    p.add_argument(
        "--region", help="country for numbers without a country code (default IN), e.g. GB"
    )
    p.add_argument("--region-col", help="column with each row's country (overrides --region)")
    p.add_argument("--price", help="price per segment, for the cost estimate (e.g. 0.005)")
    p.add_argument(
        "--suppress",
        action="append",
        default=[],
        metavar="FILE|NUMBERS",
        help="never send to these: a file of numbers (.txt/.csv/.xlsx) or "
        "comma-separated numbers (repeatable)",
    )


def _send_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_SEND_OPTIONS.concurrency,
        help="requests in flight",
    )
    p.add_argument("--rate", type=_positive_float, default=None, help="max SMS per second")
    p.add_argument(
        "--request-rate", type=_positive_float, default=None, help="max requests per second"
    )
    p.add_argument(
        "--max-failed-batches",
        type=_positive_int,
        default=DEFAULT_SEND_OPTIONS.max_failed_batches,
        help="halt after this many failed requests in a row",
    )
    p.add_argument("--report", metavar="PATH", help="also write the Excel report here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _api_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base-url", help="API base URL (default ITNIO_BASE_URL or the provider's)")
    p.add_argument(
        "--ask-secret",
        action="store_true",
        help="prompt for the API secret instead of reading ITNIO_API_SECRET",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="itnio-campaign",
        formatter_class=_Formatter,
        description="Bulk SMS campaigns through the Itniotech SMS API: plan (dry run), send, "
        "resume, reconcile, delivery reports and an Excel report.",
        epilog="start here:\n  itnio-campaign demo          # the whole flow against a local "
        "sandbox, no credentials\n\ncredentials: ITNIO_API_KEY, ITNIO_API_SECRET, ITNIO_APP_ID "
        "(and ITNIO_BASE_URL) in the environment or a .env file\n"
        "exit codes: 0 done (nobody left), 1 input error, 2 usage, 3 halted by the provider, "
        "4 stopped, interrupted or incomplete (it prints the resume or reconcile line)",
    )
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _sub(
        subs,
        "demo",
        "run a sample campaign against a local sandbox (no credentials)",
        "itnio-campaign demo --report /tmp/campaign_report.xlsx",
    )
    p.add_argument(
        "--report", default=DEMO_REPORT, help=f"Excel report path (default {DEMO_REPORT})"
    )
    p.add_argument("--region", default="IN", help="default country of the sample numbers")
    p.add_argument(
        "--concurrency", type=_positive_int, default=DEFAULT_SEND_OPTIONS.concurrency
    )
    p.add_argument("--seed", type=int, default=1, help="sandbox seed (delivery outcomes)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    p = _sub(
        subs,
        "plan",
        "dry run: who would get what, segments, cost; sends nothing",
        "itnio-campaign plan contacts.csv --number-col phone --region IN "
        '--content "Hi {first_name}, 20%% off at {store} today"',
    )
    _plan_options(p)
    p.add_argument(
        "--show",
        type=int,
        nargs="?",
        const=10,
        default=0,
        metavar="N",
        help="also print the first N planned messages (default 10)",
    )
    p.set_defaults(func=cmd_plan)

    p = _sub(
        subs,
        "send",
        "plan, confirm, then send with a ledger (resumable)",
        "itnio-campaign send contacts.csv --content-file message.txt --sender-id SHOP "
        "--rate 200 --report report.xlsx",
    )
    _plan_options(p)
    _send_options(p)
    _api_options(p)
    p.add_argument("--yes", "-y", action="store_true", help="send without asking")
    p.add_argument("--ledger", help=f"journal file (default FILE{LEDGER_SUFFIX})")
    p.add_argument(
        "--send-again",
        action="store_true",
        help="send again to everyone, even though this campaign was already sent "
        "(a new ledger); without it, a campaign already sent is refused",
    )
    p.set_defaults(func=cmd_send)

    p = _sub(
        subs,
        "resume",
        "continue a stopped, halted or crashed campaign; sends nobody twice",
        f"itnio-campaign resume contacts.csv{LEDGER_SUFFIX}",
    )
    p.add_argument(
        "ledger", metavar="LEDGER", help="the ledger (or the contacts file it belongs to)"
    )
    p.add_argument(
        "--resend-missing",
        action="store_true",
        help="also send recipients that reconcile proved were never accepted",
    )
    _send_options(p)
    _api_options(p)
    p.set_defaults(func=cmd_resume)

    p = _sub(
        subs,
        "reconcile",
        "settle 'unknown' recipients from the provider's sent records",
        f"itnio-campaign reconcile contacts.csv{LEDGER_SUFFIX}",
    )
    p.add_argument("ledger", metavar="LEDGER")
    _api_options(p)
    p.set_defaults(func=cmd_reconcile)

    p = _sub(
        subs,
        "delivery",
        "fetch delivery reports for a sent campaign",
        f"itnio-campaign delivery contacts.csv{LEDGER_SUFFIX} --watch --timeout 600",
    )
    p.add_argument("ledger", metavar="LEDGER")
    p.add_argument("--watch", action="store_true", help="poll until every report is final")
    p.add_argument("--interval", type=_positive_float, default=10.0, help="seconds between polls")
    p.add_argument("--timeout", type=_positive_float, default=600.0, help="give up after (s)")
    p.add_argument("--report", metavar="PATH", help="also write the Excel report here")
    _api_options(p)
    p.set_defaults(func=cmd_delivery)

    p = _sub(
        subs,
        "replies",
        "list replies (two-way SMS) and export opt-outs (STOP)",
        "itnio-campaign replies --days 7 --opt-outs stop.txt",
    )
    p.add_argument("--since", help="ISO 8601 start (default: --days ago)")
    p.add_argument("--until", help="ISO 8601 end (default: now)")
    p.add_argument("--days", type=_positive_float, default=7.0)
    p.add_argument("--opt-outs", metavar="FILE", help="write opted-out numbers here, one a line")
    p.add_argument("--max-rows", type=int, default=50)
    _api_options(p)
    p.set_defaults(func=cmd_replies)

    p = _sub(subs, "balance", "show the account balance", "itnio-campaign balance")
    _api_options(p)
    p.set_defaults(func=cmd_balance)

    p = _sub(
        subs,
        "report",
        "write the Excel report of a campaign from its ledger (offline)",
        f"itnio-campaign report contacts.csv{LEDGER_SUFFIX} --report spring.xlsx",
    )
    p.add_argument("ledger", metavar="LEDGER")
    p.add_argument("--report", metavar="PATH", help="default: next to the ledger")
    p.set_defaults(func=cmd_report)

    p = _sub(
        subs,
        "sandbox",
        "serve a local Itniotech-compatible API for trying things out",
        "itnio-campaign sandbox --port 8080 --latency 0.05  (see: itnio-campaign sandbox --help)",
    )
    p.add_argument("sandbox_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``itnio-campaign`` command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:  # the sandbox has its own parser (and --help)
        return cmd_sandbox(argparse.Namespace(sandbox_args=args_list[1:]))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CliError as exc:
        return _fail(exc.message, exc.hint, exc.code)
    except RedirectError as exc:
        return _fail(
            str(exc), "fix the base URL (ITNIO_BASE_URL / --base-url), then resume", EXIT_HALTED
        )
    except FatalApiError as exc:
        return _fail(str(exc), "fix the account, then resume", EXIT_HALTED)
    except (UsageError, LedgerError, ConfigError) as exc:
        return _fail(str(exc), "", EXIT_INPUT)
    except ItnioError as exc:
        return _fail(str(exc), "", EXIT_INPUT)
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), "", EXIT_INPUT)
    except (Interrupted, KeyboardInterrupt):
        return _fail("interrupted", "", EXIT_STOPPED)


def _fail(message: str, hint: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
