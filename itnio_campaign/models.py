"""Plain, immutable data shared by the layers: row states, requests and API answers.

Every value is already converted: counts are ``int``, money is ``Decimal``, times are
timezone-aware ``datetime``.
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from .errors import UsageError

# --- provider limits: defined here only (shared/reference/itniotech-sms-api.md) ----------
#: Numbers in one ``sendSms`` or ``sendSms/batch`` request (POST).
MAX_NUMBERS_POST = 1000
#: Numbers in one GET ``sendSms`` request.
MAX_NUMBERS_GET = 100
#: Length of one message. Counted in UTF-16 units (an emoji counts 2), the stricter of the
#: two counts a provider may use: see :func:`utf16_len`.
MAX_CONTENT_CHARS = 1024
#: Length of the sender id.
MAX_SENDER_ID_CHARS = 32
#: Length of one orderId (our limit: the API documents none; ids longer than this are
#: surely a wrong column).
MAX_ORDER_ID_CHARS = 64
#: msgIds in one ``getReport`` request.
MAX_REPORT_IDS = 200
#: Records per ``recordMo`` page.
MAX_MO_PAGE_SIZE = 100
#: Days one ``getSentRcd``/``recordMo`` query may span.
MAX_WINDOW_DAYS = 31

#: Characters outside the Basic Multilingual Plane: 2 UTF-16 units each (most emoji).
ASTRAL = "[\U00010000-\U0010ffff]"
_ASTRAL_RE = re.compile(ASTRAL)
#: A lone (unpaired) surrogate: not text; no encoder (UTF-8, the API's JSON) accepts it.
SURROGATE = "[\ud800-\udfff]"
_SURROGATE_RE = re.compile(SURROGATE)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 units (≥ ``len(text)``: characters beyond U+FFFF count 2).

    >>> len("Hi 😀"), utf16_len("Hi 😀")
    (4, 5)
    """
    return len(text) + len(_ASTRAL_RE.findall(text))


def has_surrogate(text: str) -> bool:
    r"""True if ``text`` holds a lone surrogate (half an emoji, e.g. ``"A\ud83dB"``).

    >>> has_surrogate("A\ud83dB"), has_surrogate("A😀B")
    (True, False)
    """
    return _SURROGATE_RE.search(text) is not None


def check_sender_id(sender_id: object, what: str = "sender_id") -> str | None:
    """The sender id to send, or ``None`` for none; :class:`UsageError` if the API could not
    take it: not text, only spaces, spaces at either end, a comma (the API's list separator),
    a control or invisible character, or more than :data:`MAX_SENDER_ID_CHARS` characters.

    >>> check_sender_id("SHOP"), check_sender_id(""), check_sender_id(None)
    ('SHOP', None, None)
    >>> check_sender_id("SHOP,2")
    Traceback (most recent call last):
    ...
    itnio_campaign.errors.UsageError: sender_id 'SHOP,2' contains a comma
    """
    if sender_id is None or sender_id == "":
        return None
    if not isinstance(sender_id, str):
        raise UsageError(f"{what} must be text, got {type(sender_id).__name__}")
    problem = ""
    if not sender_id.strip():
        problem = "is only spaces (leave it empty for the account's default)"
    elif sender_id != sender_id.strip():
        problem = "has spaces at the start or end"
    elif "," in sender_id:
        problem = "contains a comma"
    elif not sender_id.isprintable():
        problem = "contains a control or invisible character (e.g. a line break)"
    elif utf16_len(sender_id) > MAX_SENDER_ID_CHARS:
        problem = f"is {utf16_len(sender_id)} characters; at most {MAX_SENDER_ID_CHARS}"
    if problem:
        shown = ascii(sender_id) if has_surrogate(sender_id) else repr(sender_id)
        raise UsageError(f"{what} {shown} {problem}")
    return sender_id


# --- the one vocabulary of row states (docs/architecture.md, invariant 4) -----------------
READY = "ready"  # planned, not yet attempted (plan only)
SKIPPED_INVALID = "skipped_invalid"
SKIPPED_DUPLICATE = "skipped_duplicate"
SKIPPED_SUPPRESSED = "skipped_suppressed"
SKIPPED_MISSING_FIELD = "skipped_missing_field"
SKIPPED_TOO_LONG = "skipped_too_long"
# The workspace's exclusions (issue 13): at plan time and again when sending starts/resumes.
SKIPPED_OPTED_OUT = "skipped_opted_out"  # the workspace holds an opt-out (reason: its source)
SKIPPED_FREQUENCY_CAP = "skipped_frequency_cap"  # over a frequency cap (reason: the rule)
SKIPPED_ALREADY_SENT = "skipped_already_sent"  # got the same content recently (repeat guard)
PENDING = "pending"  # ready but not (provably) sent: resume sends these
SUBMITTED = "submitted"  # accepted by the provider, has a msgId
REJECTED = "rejected"  # refused by the provider, with code and reason
UNKNOWN = "unknown"  # the request's fate is unknown: reconcile, never resend blindly
MISSING = "missing"  # reconcile proved the provider never accepted it
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
SENDING = "sending"  # accepted, delivery report not final yet
# -- experiments (issue 17): rows an experiment keeps out of the send ----------------------
SKIPPED_HOLDOUT = "skipped_holdout"  # in the holdout (control) group: never sent
HELD_FOR_ROLLOUT = "held_for_rollout"  # not in the test share: the winner's rollout sends it

SKIPPED_STATES = (
    SKIPPED_INVALID,
    SKIPPED_DUPLICATE,
    SKIPPED_SUPPRESSED,
    SKIPPED_MISSING_FIELD,
    SKIPPED_TOO_LONG,
    SKIPPED_HOLDOUT,
    SKIPPED_OPTED_OUT,
    SKIPPED_FREQUENCY_CAP,
    SKIPPED_ALREADY_SENT,
)
#: The skipped states the workspace decides (opt-outs, caps, repeat guard).
WORKSPACE_SKIPPED_STATES = (SKIPPED_OPTED_OUT, SKIPPED_FREQUENCY_CAP, SKIPPED_ALREADY_SENT)
#: States of a row the provider accepted (usually with a msgId).
ACCEPTED_STATES = (SUBMITTED, DELIVERED, UNDELIVERED, SENDING)
#: States of a row that did not get the SMS, or may not have: the form's failures table and
#: the report's Failures sheet list exactly these.
FAILURE_STATES = (REJECTED, UNKNOWN, PENDING, MISSING, UNDELIVERED)
#: States that make a run "incomplete": someone still to send, or to settle by reconcile.
UNFINISHED_STATES = (PENDING, UNKNOWN, MISSING)
ALL_STATES = (
    READY,
    *SKIPPED_STATES,
    PENDING,
    SUBMITTED,
    REJECTED,
    UNKNOWN,
    MISSING,
    SENDING,
    DELIVERED,
    UNDELIVERED,
    HELD_FOR_ROLLOUT,
)

#: Outcome columns added to the user's frame, in order.
OUTCOME_COLUMNS = (
    "number",
    "order_id",
    "content",
    "encoding",
    "segments",
    "state",
    "msg_id",
    "reason",
    "batch",
    "submitted_at",
    "delivery_status",
    "delivered_at",
)


Endpoint = Literal["sendSms", "sendSms/batch"]


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One content to many numbers: a ``sendSms`` request, or one entry of ``sendSms/batch``."""

    numbers: tuple[str, ...]
    content: str
    sender_id: str | None = None
    order_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One request a campaign will make.

    ``positions`` are the recipients' row positions (0-based, in the plan's frame) in the
    same order as the numbers of ``items`` concatenated.
    """

    batch_id: int
    endpoint: Endpoint
    items: tuple[BatchItem, ...]
    positions: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.positions)

    @property
    def numbers(self) -> tuple[str, ...]:
        """Every number of the request, in the order of ``positions``."""
        if len(self.items) == 1:
            return self.items[0].numbers
        return tuple(n for item in self.items for n in item.numbers)

    @property
    def order_ids(self) -> tuple[str, ...]:
        """The orderId sent with each number ("" where an item has none)."""
        if len(self.items) == 1 and self.items[0].order_ids is not None:
            return self.items[0].order_ids
        return tuple(
            o for item in self.items for o in (item.order_ids or ("",) * len(item.numbers))
        )

    def part(self, keep: Container[int], batch_id: int) -> Batch:
        """The request for the recipients of this one whose positions are in ``keep``, as
        request ``batch_id`` (same endpoint, items and order; empty items dropped): a resend
        of the missing, the trial's share, the rest after a send-time exclusion.

        >>> b = Batch(0, "sendSms", (BatchItem(("91a", "91b"), "Hi", None, ("x", "y")),), (4, 7))
        >>> part = b.part({7}, 5)
        >>> part.batch_id, part.numbers, part.order_ids, part.positions
        (5, ('91b',), ('y',), (7,))
        """
        items: list[BatchItem] = []
        positions: list[int] = []
        pos = iter(self.positions)
        for item in self.items:
            idx = []
            for i in range(len(item.numbers)):
                p = next(pos)
                if p in keep:
                    idx.append(i)
                    positions.append(p)
            if idx:
                order_ids = (
                    None if item.order_ids is None else tuple(item.order_ids[i] for i in idx)
                )
                numbers = tuple(item.numbers[i] for i in idx)
                items.append(BatchItem(numbers, item.content, item.sender_id, order_ids))
        return Batch(batch_id, self.endpoint, tuple(items), tuple(positions))


@dataclass(frozen=True, slots=True)
class Submission:
    """One number the provider accepted."""

    msg_id: str
    number: str
    order_id: str | None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to ``sendSms`` or ``sendSms/batch`` (status "0").

    The accepted numbers are kept as three aligned columns (cheap for a million numbers);
    :attr:`submissions` gives them as :class:`Submission` objects.

    >>> r = SendResult(1, 1, msg_ids=("m1",), numbers=("919876543210",), order_ids=("a1",))
    >>> r.submissions
    (Submission(msg_id='m1', number='919876543210', order_id='a1'),)
    """

    success: int
    fail: int
    msg_ids: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    #: The orderId echoed for each accepted number ("" where the provider gave none).
    order_ids: tuple[str, ...] = ()
    reason: str = ""
    attempts: int = 1
    latency: float = 0.0  # seconds, last attempt

    @property
    def submissions(self) -> tuple[Submission, ...]:
        return tuple(
            Submission(m, n, o or None)
            for m, n, o in zip(self.msg_ids, self.numbers, self.order_ids, strict=True)
        )


DeliveryStatus = Literal["delivered", "sending", "undelivered"]


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    msg_id: str
    number: str
    status: DeliveryStatus
    receive_time: datetime | None
    raw_status: str


@dataclass(frozen=True, slots=True)
class Report:
    """The answer to ``getReport``."""

    success: int
    fail: int
    sending: int
    nofound: int
    records: tuple[DeliveryRecord, ...]


@dataclass(frozen=True, slots=True)
class SentRecord:
    msg_id: str
    number: str
    status: Literal["sent", "failed"]
    receive_time: datetime | None
    raw_status: str


@dataclass(frozen=True, slots=True)
class SentRecordsPage:
    """One page of ``getSentRcd``."""

    start_index: int
    success: int
    fail: int
    records: tuple[SentRecord, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """One inbound message (``recordMo``)."""

    number: str
    send_id: str
    receive_time: datetime | None
    content: str
    mcc: str = ""
    mnc: str = ""
    operator: str = ""
    pay: Decimal | None = None
    charge_count: int | None = None
    currency: str = ""
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MoPage:
    """One page of ``recordMo``."""

    total: int
    size: int
    current: int
    pages: int
    records: tuple[Reply, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Balance:
    """The answer to ``getBalance``."""

    balance: Decimal
    gift: Decimal
    credit: Decimal


# --- send windows (issue 14; docs/architecture.md "Send windows") -------------------------
#: Not sent by the campaign's ``expire_at``: final, never resent without a new plan.
EXPIRED = "expired"
#: ``late="skip"``: their window passed before they could be sent (final).
SKIPPED_WINDOW_PASSED = "skipped_window_passed"
#: Planned with a window that never opens for them (e.g. an uncertain zone whose possible
#: zones share no hour of the window): never sent; give ``tz_col=`` or ``default_tz=``.
SKIPPED_NO_WINDOW = "skipped_no_window"
# Appended to the vocabulary above (one place each; the lengths differ, hence the ignores).
SKIPPED_STATES = (*SKIPPED_STATES, SKIPPED_NO_WINDOW, SKIPPED_WINDOW_PASSED)  # type: ignore[assignment]
FAILURE_STATES = (*FAILURE_STATES, EXPIRED)  # type: ignore[assignment]
ALL_STATES = (*ALL_STATES, SKIPPED_NO_WINDOW, EXPIRED, SKIPPED_WINDOW_PASSED)  # type: ignore[assignment]
