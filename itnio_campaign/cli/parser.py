"""The ``itnio-campaign`` argument parser: every command, its options and an example.

Imports nothing heavy (no pandas, no aiohttp): ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..options import DEFAULT_SEND_OPTIONS
from .common import DEMO_REPORT, LEDGER_SUFFIX
from .workspace_args import add_workspace_command, cap_options, workspace_options


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
        help="never send to these: a file of numbers (.txt/.csv/.xlsx/.parquet) or numbers "
        "separated by , ; or spaces (repeatable); anything else is an error",
    )
    _cost_options(p)
    _experiment_options(p)


def _experiment_options(p: argparse.ArgumentParser) -> None:
    """An A/B test: more messages than --content (variant A) and a holdout sent nothing."""
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=TEXT",
        help="another variant's message, e.g. --variant 'B=Hi {first_name}, 20%% off' "
        "(repeatable); --content is variant A",
    )
    p.add_argument(
        "--holdout", metavar="SHARE", help="share sent nothing, to measure lift (e.g. 10%%)"
    )
    p.add_argument(
        "--split-seed", type=int, default=7, metavar="N", help="seed of the split (default 7)"
    )
    p.add_argument("--stratify", metavar="COL", help="split each value of COL in equal shares")


def _cost_options(p: argparse.ArgumentParser) -> None:
    """What a message costs: smart encoding, a segment cap, an opt-out footer, a price list."""
    p.add_argument(
        "--smart-encoding",
        action="store_true",
        help="replace ’ “ ” — … and special spaces by their GSM-7 look-alikes before counting",
    )
    p.add_argument(
        "--max-segments", type=_positive_int, metavar="N", help="at most N segments a message"
    )
    p.add_argument(
        "--on-long",
        default="skip",
        metavar="skip|truncate:COL",
        help="longer than --max-segments: skip the row (default) or shorten column COL's value",
    )
    p.add_argument(
        "--footer", metavar="TEXT", help="appended to every message, e.g. 'Reply STOP to opt out'"
    )
    p.add_argument(
        "--prices",
        metavar="FILE",
        help="price list per country/prefix (.csv as exported by the provider's portal)",
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


def _trial_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trial", help="send this share first (e.g. 2%%), the rest if the gate passes")
    p.add_argument(
        "--gate",
        default="delivered>=90%,rejected<=2%",
        help="what the trial must show (default delivered>=90%%,rejected<=2%%)",
    )
    p.add_argument("--gate-wait", default="15m", help="wait for trial reports (default 15m)")
    p.add_argument(
        "--require-test", action="store_true", help="refuse unless a test send of this plan passed"
    )


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
    p.add_argument("--concurrency", type=_positive_int, default=DEFAULT_SEND_OPTIONS.concurrency)
    p.add_argument("--seed", type=int, default=1, help="sandbox seed (delivery outcomes)")
    p.add_argument("--no-progress", action="store_true")
    workspace_options(p)
    p.set_defaults(run="cmd_demo")

    p = _sub(
        subs,
        "plan",
        "dry run: who would get what, segments, cost; sends nothing",
        "itnio-campaign plan contacts.csv --number-col phone --region IN "
        '--content "Hi {first_name}, 20% off at {store} today"',
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
    workspace_options(p)
    cap_options(p)
    p.set_defaults(run="cmd_plan")

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
    _trial_options(p)
    workspace_options(p)
    cap_options(p)
    p.set_defaults(run="cmd_send")

    p = _sub(
        subs,
        "test",
        "send the campaign's representative messages to staff phones first",
        'itnio-campaign test contacts.csv --content "Hi {first_name}" '
        '--seeds "+91 98765 43210,+91 98765 43211"',
    )
    _plan_options(p)
    _api_options(p)
    p.add_argument("--seeds", required=True, help="staff phone numbers, comma-separated")
    p.add_argument("--ledger", help=f"keep the test in this ledger (default FILE{LEDGER_SUFFIX})")
    p.add_argument("--timeout", default="5m", help="wait for delivery reports (default 5m)")
    p.set_defaults(run="cmd_test")

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
    p.add_argument(
        "--override-gate",
        action="store_true",
        help="send the rest even though the trial's gate failed",
    )
    _send_options(p)
    _api_options(p)
    workspace_options(p)
    p.set_defaults(run="cmd_resume")

    p = _sub(
        subs,
        "reconcile",
        "settle 'unknown' recipients from the provider's sent records",
        f"itnio-campaign reconcile contacts.csv{LEDGER_SUFFIX}",
    )
    p.add_argument("ledger", metavar="LEDGER")
    _api_options(p)
    p.set_defaults(run="cmd_reconcile")

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
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _api_options(p)
    p.set_defaults(run="cmd_delivery")

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
    p.set_defaults(run="cmd_replies")

    p = _sub(subs, "balance", "show the account balance", "itnio-campaign balance")
    _api_options(p)
    p.set_defaults(run="cmd_balance")

    p = _sub(
        subs,
        "report",
        "write the Excel report of a campaign from its ledger (offline)",
        f"itnio-campaign report contacts.csv{LEDGER_SUFFIX} --report spring.xlsx",
    )
    p.add_argument("ledger", metavar="LEDGER")
    p.add_argument("--report", metavar="PATH", help="default: next to the ledger")
    p.set_defaults(run="cmd_report")

    add_workspace_command(subs, _sub, _api_options)

    p = _sub(
        subs,
        "sandbox",
        "serve a local Itniotech-compatible API for trying things out",
        "itnio-campaign sandbox --port 8080 --latency 0.05  (see: itnio-campaign sandbox --help)",
    )
    p.add_argument("sandbox_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(run="cmd_sandbox")
    _schedule_commands(subs)
    return parser


# -- send windows and scheduling (issue 14) -----------------------------------------------------
def _schedule_options(p: argparse.ArgumentParser) -> None:
    """When each recipient may be sent: a window in their local time, days, expiry."""
    g = p.add_argument_group("send windows (in each recipient's local time)")
    g.add_argument(
        "--window",
        metavar="HH:MM-HH:MM|promotional",
        help="send only inside this local-time window, e.g. 09:00-20:00 (may cross midnight); "
        "'promotional': each country's documented quiet-hours preset (not legal advice)",
    )
    g.add_argument(
        "--days", metavar="DAYS", help="weekdays to send on, e.g. mon-sat or mon,wed,fri"
    )
    g.add_argument(
        "--holidays",
        metavar="DATES|FILE",
        help="dates not to send on: 2026-12-25,2027-01-01 or a file with one date a line",
    )
    g.add_argument(
        "--not-before", metavar="WHEN", help="start no earlier (ISO 8601, e.g. 2026-12-01T09:00)"
    )
    g.add_argument(
        "--expire-at",
        metavar="WHEN",
        help="who is not sent by then becomes 'expired' (final; ISO 8601; no offset: local time)",
    )
    g.add_argument("--tz-col", metavar="COL", help="column with each row's time zone (IANA name)")
    g.add_argument(
        "--default-tz",
        metavar="ZONE",
        help="zone for rows whose zone the number does not tell, e.g. Asia/Kolkata",
    )
    g.add_argument(
        "--late",
        choices=("next_window", "skip"),
        help="a recipient whose window has passed: wait for the next one (default) or skip",
    )


def _schedule_commands(subs: Any) -> None:
    """--window & co. on plan and send; the ``run`` and ``status`` commands."""
    for name in ("plan", "send"):
        _schedule_options(subs.choices[name])
    subs.choices["plan"].add_argument(
        "--save-for-run",
        metavar="LEDGER",
        help="write the plan to this ledger for 'itnio-campaign run LEDGER' (sends nothing)",
    )

    p = _sub(
        subs,
        "run",
        "run (or continue) a planned, scheduled campaign in the foreground, waiting for each "
        "zone's window; for nohup, cron or a systemd unit (SIGTERM stops cleanly, like Ctrl-C)",
        "itnio-campaign run spring.sqlite   (unattended: nohup itnio-campaign run "
        "spring.sqlite >> spring.log 2>&1 &)",
    )
    p.add_argument("ledger", metavar="LEDGER", help="the ledger written by plan.save_for_run()")
    _send_options(p)
    _api_options(p)
    p.set_defaults(run="cmd_run")

    p = _sub(
        subs,
        "status",
        "where a campaign stands: counts per state, the next window per zone, expired "
        "(reads the ledger without disturbing a process that is sending)",
        "itnio-campaign status spring.sqlite",
    )
    p.add_argument("ledger", metavar="LEDGER")
    p.set_defaults(run="cmd_status")
