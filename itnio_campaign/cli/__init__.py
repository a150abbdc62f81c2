"""``itnio-campaign``: plan, send, resume, reconcile and report SMS campaigns from a terminal.

A thin layer over the same functions a notebook calls (plan → send → delivery → report):
:mod:`.parser` declares the commands (light, so ``--help`` is instant), :mod:`.commands`
runs them. Exit codes: 0 done (nobody left to send), 1 input error, 2 usage, 3 halted by the
provider, 4 stopped, interrupted or incomplete (it prints the exact resume or reconcile line).

>>> main(["plan", "contacts.csv", "--content", "Hi {first_name}"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import ConfigError, FatalApiError, ItnioError, LedgerError, RedirectError, UsageError
from .common import (
    EXIT_HALTED,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_STOPPED,
    EXIT_USAGE,
    CliError,
    Interrupted,
    fail,
)
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """The ``itnio-campaign`` command; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["sandbox"]:  # the sandbox has its own parser (and --help)
        args = argparse.Namespace(run="cmd_sandbox", sandbox_args=args_list[1:])
    else:
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
    try:
        from . import commands  # the one heavy import, once a command really runs

        return int(getattr(commands, args.run)(args))
    except CliError as exc:
        return fail(exc.message, exc.hint, exc.code)
    except RedirectError as exc:
        return fail(
            str(exc), "fix the base URL (ITNIO_BASE_URL / --base-url), then resume", EXIT_HALTED
        )
    except FatalApiError as exc:
        return fail(str(exc), "fix the account, then resume", EXIT_HALTED)
    except (UsageError, LedgerError, ConfigError) as exc:
        return fail(str(exc), "", EXIT_INPUT)
    except ItnioError as exc:
        return fail(str(exc), "", EXIT_INPUT)
    except OSError as exc:
        return fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), "", EXIT_INPUT)
    except (Interrupted, KeyboardInterrupt):
        return fail("interrupted", "", EXIT_STOPPED)


__all__ = [
    "EXIT_HALTED",
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_STOPPED",
    "EXIT_USAGE",
    "build_parser",
    "main",
]
