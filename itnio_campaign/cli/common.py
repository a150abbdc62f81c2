"""What every part of the command line shares: exit codes, defaults and the one error type.

Imports nothing heavy: ``--help`` stays instant.
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_HALTED = 3
EXIT_STOPPED = 4

LEDGER_SUFFIX = ".campaign.sqlite"
#: The demo's message holds a typographic apostrophe (’, as pasted from Word) on purpose: the
#: dry run shows what it costs, and the demo sends with smart encoding on.
DEMO_CONTENT = (
    "Hi {first_name}, the {store} store in {city} has 20% off this weekend, don’t miss it. "
    "Reply STOP to opt out."
)
DEMO_REPORT = "campaign_report.xlsx"
DEMO_PRICE = "0.005"
#: The demo sends inside each country's promotional quiet hours (issue 14), on a fast clock.
DEMO_WINDOW = "promotional"
DEMO_CLOCK_NOTE = (
    "Windows: each country's promotional quiet hours (documented defaults in "
    "itnio_campaign.quiet_hours; not legal advice).\nThe demo sends on a fast clock: each zone "
    "is sent inside its window, and waiting for a window takes no time (a real run waits; "
    "see itnio-campaign run)."
)


class CliError(Exception):
    """One clear line for the user, a hint, and the exit code."""

    def __init__(self, message: str, hint: str = "", code: int = EXIT_INPUT) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code


class Interrupted(Exception):
    """Ctrl-C pressed twice: the run was cancelled (in-flight requests become ``unknown``)."""


def fail(message: str, hint: str, code: int) -> int:
    """Print ``error: message`` (and ``hint: ...``) to stderr; return ``code``."""
    print(f"error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code
