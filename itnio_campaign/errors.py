"""Errors, and the one table of the provider's status codes.

The tree::

    ItnioError
    ├── ConfigError          credentials missing or unsafe (plain http to a remote host)
    ├── UsageError           the caller broke a documented limit or passed bad input;
    │                        raised before any I/O
    ├── LedgerError          a ledger file in use, foreign, corrupt or of another schema
    ├── ReportError          the Excel report could not be written (folder, permission, disk)
    ├── ApiError             the provider answered with a status other than "0"
    │   ├── FatalApiError        -1 -2 -10 -13: stop the whole campaign
    │   │   └── RedirectError        HTTP 3xx: never followed; the base URL is wrong
    │   ├── RejectedError        this request was refused (content, numbers, pricing, ...)
    │   └── TransientApiError    -15 -16 still answered after every retry
    ├── NotSentError         provably not accepted and out of retries
    │                        (connection never established, HTTP 429/503)
    └── AmbiguousError       the request left and its fate is unknown (read timeout, reset,
                             other HTTP error, unparsable answer); carries what was sent;
                             never retried automatically

Every error from a request carries ``endpoint``, ``code`` (the API status or ``"HTTP 503"``)
and ``reason`` (the provider's words, or what went wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["ok", "fatal", "rejected", "retry"]


@dataclass(frozen=True)
class StatusCode:
    """One row of the provider's status table."""

    code: str
    meaning: str
    kind: Kind
    advice: str = ""


#: Every status code in the API reference: meaning, and what a client should do with it.
STATUS_CODES: dict[str, StatusCode] = {
    s.code: s
    for s in (
        StatusCode("0", "success", "ok"),
        StatusCode("-1", "authentication error", "fatal", "check the API key, secret and app id"),
        StatusCode("-2", "restricted IP access", "fatal", "whitelist this machine's IP"),
        StatusCode("-3", "sensitive characters in content", "rejected", "reword the message"),
        StatusCode("-4", "content empty", "rejected"),
        StatusCode("-5", "content too long", "rejected"),
        StatusCode(
            "-6",
            "content is not an approved template",
            "rejected",
            "get the template approved by the provider",
        ),
        StatusCode("-7", "too many numbers in one request", "rejected", "client bug"),
        StatusCode("-8", "phone number empty", "rejected"),
        StatusCode("-9", "abnormal phone number", "rejected"),
        StatusCode("-10", "balance insufficient", "fatal", "top up the account, then resume"),
        StatusCode("-11", "incorrect time format", "rejected", "client bug"),
        StatusCode("-13", "user locked", "fatal", "contact the provider"),
        StatusCode("-14", "field empty or query id abnormal", "rejected"),
        StatusCode("-15", "queried too frequently", "retry", "back off and retry"),
        StatusCode("-16", "timestamp expired", "retry", "re-sign and retry; check the clock"),
        StatusCode(
            "-18",
            "port program unusual (provider-side error)",
            "rejected",
            "provider failure; try later",
        ),
        StatusCode(
            "-19",
            "pricing not confirmed for the destination / channel not bound",
            "rejected",
            "contact the provider's business team",
        ),
        StatusCode("-22", "parameter exception", "rejected", "client bug"),
        StatusCode("-25", "out of time range", "rejected", "client bug"),
    )
}

FATAL_CODES = frozenset(c for c, s in STATUS_CODES.items() if s.kind == "fatal")
RETRY_CODES = frozenset(c for c, s in STATUS_CODES.items() if s.kind == "retry")
#: HTTP statuses that prove the request was not accepted (safe to retry).
RETRY_HTTP_STATUSES = frozenset({429, 503})


def describe(code: str) -> StatusCode:
    """The table row for ``code``; unknown codes are treated as a rejection."""
    return STATUS_CODES.get(code, StatusCode(code, "undocumented status", "rejected"))


class ItnioError(Exception):
    """Base of every error this package raises."""


class ConfigError(ItnioError, ValueError):
    """Credentials or settings are missing or unsafe."""


class UsageError(ItnioError, ValueError):
    """The caller broke a documented limit or passed bad input. Raised before any I/O."""


class LedgerError(ItnioError):
    """A campaign ledger file is in use, not a ledger, corrupt, or of another schema version.

    The file is left untouched.
    """


class ReportError(ItnioError):
    """The report file could not be written (missing folder, no permission, disk full, ...).

    The message names the path and the cause; the destination is left as it was.
    """


class RequestError(ItnioError):
    """An error about one request: carries ``endpoint``, ``code``, ``reason``, ``attempts``."""

    def __init__(self, endpoint: str, code: str, reason: str, *, attempts: int = 1) -> None:
        self.endpoint = endpoint
        self.code = code
        self.reason = reason
        self.attempts = attempts
        super().__init__(self._message())

    def _message(self) -> str:
        return f"{self.endpoint}: {self.code} {self.reason}"


class ApiError(RequestError):
    """The provider answered with a non-zero ``status``."""

    @property
    def status(self) -> StatusCode:
        return describe(self.code)

    def _message(self) -> str:
        row = describe(self.code)
        advice = f" ({row.advice})" if row.advice else ""
        return f"{self.endpoint}: status {self.code} {row.meaning}: {self.reason}{advice}"


class FatalApiError(ApiError):
    """-1, -2, -10, -13: nothing more can be sent until the user acts."""


class RedirectError(FatalApiError):
    """The server answered a redirect (HTTP 3xx); the client never follows one.

    Following it would carry the ``Api-Key``, ``Sign`` and the whole batch to whatever host
    ``Location`` names (plain http included), and 301/302 would turn a POST into a body-less
    GET. A 3xx proves the API did not take the request: the campaign halts (kind "fatal"),
    its recipients stay ``pending`` and resumable, and nothing is retried. ``location`` is
    the header as shown to the user (query elided, credentials masked).

    >>> str(RedirectError("sendSms", 301, "http://other.test/sms/sendSms"))  # doctest: +ELLIPSIS
    'sendSms: HTTP 301 redirect to http://other.test/sms/sendSms refused (not followed): ...'
    """

    def __init__(self, endpoint: str, http_status: int, location: str, *, attempts: int = 1):
        self.http_status = http_status
        self.location = location
        reason = (
            f"redirect to {location} refused (not followed): a configuration problem, "
            "the base URL is wrong or a proxy redirects it; fix the base URL and try again"
        )
        super().__init__(endpoint, f"HTTP {http_status}", reason, attempts=attempts)

    @property
    def status(self) -> StatusCode:
        return StatusCode(self.code, "redirect refused", "fatal", "fix the base URL")

    def _message(self) -> str:
        return f"{self.endpoint}: {self.code} {self.reason}"


class RejectedError(ApiError):
    """The provider refused this request; other requests may still succeed."""


class TransientApiError(ApiError):
    """-15/-16 still answered after every allowed attempt (the request was not accepted)."""


class NotSentError(RequestError):
    """The request provably was not accepted, and the retries ran out."""


class AmbiguousError(RequestError):
    """The request may or may not have been accepted; it is never retried automatically.

    ``request`` holds what was sent (the JSON body or query, no credentials) so the
    campaign layer can mark exactly those recipients ``unknown``.
    """

    def __init__(
        self,
        endpoint: str,
        code: str,
        reason: str,
        *,
        request: dict[str, Any] | None = None,
        attempts: int = 1,
    ) -> None:
        self.request = request or {}
        super().__init__(endpoint, code, reason, attempts=attempts)


def api_error(endpoint: str, code: str, reason: str, *, attempts: int = 1) -> ApiError:
    """The one place that maps a status code to its exception class."""
    cls: type[ApiError] = {
        "fatal": FatalApiError,
        "retry": TransientApiError,
    }.get(describe(code).kind, RejectedError)
    return cls(endpoint, code, reason, attempts=attempts)


# -- what an outcome means for its recipients: the one table -------------------------------------
#: outcome kind of a request -> (state of its recipients, whether resume sends them again).
#: "accepted" answers are joined number by number (see result.CampaignResult); the rest
#: apply to every recipient of the request.
OutcomeKind = Literal["accepted", "rejected", "unknown", "not_sent", "fatal"]
OUTCOME_KINDS: dict[OutcomeKind, tuple[str, bool]] = {
    "accepted": ("submitted", False),
    "rejected": ("rejected", False),  # the provider refused the request: resending repeats it
    "unknown": ("unknown", False),  # may have been accepted: reconcile, never resend blindly
    "not_sent": ("pending", True),  # provably not accepted (connection refused, 429/503, -15/-16)
    "fatal": ("pending", True),  # -1 -2 -10 -13 or a redirect: not accepted; fix, then resume
}
#: Kinds whose recipients provably were not accepted, so resume may send them.
RESUMABLE_KINDS = frozenset(kind for kind, (_, resumable) in OUTCOME_KINDS.items() if resumable)


def outcome_kind(exc: RequestError) -> OutcomeKind:
    """The outcome kind (a key of :data:`OUTCOME_KINDS`) of a request that raised ``exc``.

    >>> outcome_kind(NotSentError("sendSms", "HTTP 503", "unavailable"))
    'not_sent'
    """
    if isinstance(exc, AmbiguousError):
        return "unknown"
    if isinstance(exc, FatalApiError):
        return "fatal"
    if isinstance(exc, NotSentError | TransientApiError):
        return "not_sent"
    return "rejected"
