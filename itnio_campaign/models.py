"""Plain, immutable data shared by the layers: row states, requests and API answers.

Every value is already converted: counts are ``int``, money is ``Decimal``, times are
timezone-aware ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

# --- the one vocabulary of row states (docs/architecture.md, invariant 4) -------------------------------
READY = "ready"  # planned, not yet attempted (plan only)
SKIPPED_INVALID = "skipped_invalid"
SKIPPED_DUPLICATE = "skipped_duplicate"
SKIPPED_SUPPRESSED = "skipped_suppressed"
SKIPPED_MISSING_FIELD = "skipped_missing_field"
SKIPPED_TOO_LONG = "skipped_too_long"
PENDING = "pending"  # ready but not (provably) sent: resume sends these
SUBMITTED = "submitted"  # accepted by the provider, has a msgId
REJECTED = "rejected"  # refused by the provider, with code and reason
UNKNOWN = "unknown"  # the request's fate is unknown: reconcile, never resend blindly
MISSING = "missing"  # reconcile proved the provider never accepted it
DELIVERED = "delivered"
UNDELIVERED = "undelivered"
SENDING = "sending"  # accepted, delivery report not final yet

SKIPPED_STATES = (
    SKIPPED_INVALID,
    SKIPPED_DUPLICATE,
    SKIPPED_SUPPRESSED,
    SKIPPED_MISSING_FIELD,
    SKIPPED_TOO_LONG,
)
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
