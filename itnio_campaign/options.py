"""How a campaign is sent: one frozen :class:`SendOptions` value.

Built once — from keyword arguments, from the CLI's flags, from the form — and passed down
unchanged to the engine. This module imports nothing heavy, so the CLI's ``--help`` can use
its defaults.

>>> SendOptions(concurrency=4, rate=200).concurrency
4
>>> SendOptions.of(None, rate=100).rate
100.0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import UsageError

#: Automatic pause defaults: halt when more than half of the last 20 requests were
#: rejected or unknown (conservative: a healthy campaign has almost none).
DEFAULT_PAUSE_WINDOW = 20
DEFAULT_PAUSE_RATE = 0.5


@dataclass(frozen=True, kw_only=True)
class SendOptions:
    """How a campaign is sent; one value from the API, the CLI and the form alike.

        ``concurrency``: requests in flight. ``rate``: at most this many numbers (SMS) per
        second; ``request_rate``: at most this many requests per second (the provider's
        limit is not documented). ``max_failed_batches``: halt after this many failed requests
        in a row (None: never). ``progress``: show a progress bar.

    Automatic pause: ``pause_window`` and ``pause_rate`` halt the campaign when, over the last
    ``pause_window`` requests, the share whose outcome was ``rejected`` or ``unknown`` is above
    ``pause_rate`` (the reason shows the rate). Judged only once that many requests were made,
    so a short run of bad luck in a small campaign does not stop it (``max_failed_batches``
    covers consecutive failures). ``pause_window=None`` turns it off.

    >>> SendOptions(pause_window=20, pause_rate=0.25).pause_rate
    0.25

        >>> SendOptions(concurrency=0)
        Traceback (most recent call last):
        ...
        itnio_campaign.errors.UsageError: concurrency must be a whole number of at least 1, not 0
    """

    concurrency: int = 8
    rate: float | None = None
    request_rate: float | None = None
    max_failed_batches: int | None = 5
    progress: bool = True
    pause_window: int | None = DEFAULT_PAUSE_WINDOW
    pause_rate: float = DEFAULT_PAUSE_RATE

    def __post_init__(self) -> None:
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise UsageError(f"concurrency must be a whole number, not {self.concurrency!r}")
        if self.concurrency < 1:
            raise UsageError(
                f"concurrency must be a whole number of at least 1, not {self.concurrency}"
            )
        for name in ("rate", "request_rate"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise UsageError(f"{name} must be a positive number per second, not {value!r}")
            object.__setattr__(self, name, float(value))
        mfb = self.max_failed_batches
        if mfb is not None and (isinstance(mfb, bool) or not isinstance(mfb, int) or mfb < 1):
            raise UsageError(f"max_failed_batches must be at least 1 or None, not {mfb!r}")
        window = self.pause_window
        if window is not None and (
            isinstance(window, bool) or not isinstance(window, int) or window < 1
        ):
            raise UsageError(f"pause_window must be at least 1 request or None, not {window!r}")
        rate = self.pause_rate
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise UsageError(
                f"pause_rate must be a share from 0 up to (not including) 1, not {rate!r}"
            )
        object.__setattr__(self, "pause_rate", float(rate))

    @classmethod
    def of(cls, options: SendOptions | None = None, **overrides: Any) -> SendOptions:
        """``options`` (or the defaults) with the keyword arguments that are not None applied.

        An unknown keyword is a UsageError naming the valid ones.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            valid = ", ".join(sorted(names))
            raise UsageError(f"unknown send option {', '.join(unknown)}; the options are {valid}")
        base = options if options is not None else cls()
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(base, **given) if given else base

    def describe(self) -> dict[str, Any]:
        """The options as plain values (for the summary, the ledger and the report)."""
        return {
            "concurrency": self.concurrency,
            "rate": self.rate,
            "request_rate": self.request_rate,
            "max_failed_batches": self.max_failed_batches,
            "pause_window": self.pause_window,
            "pause_rate": self.pause_rate,
        }


#: The defaults, for signatures and help texts that show them.
DEFAULT_SEND_OPTIONS = SendOptions()

__all__ = ["DEFAULT_PAUSE_RATE", "DEFAULT_PAUSE_WINDOW", "DEFAULT_SEND_OPTIONS", "SendOptions"]
