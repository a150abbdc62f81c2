"""Plain, immutable data shared by the layers: row states, requests and API answers.

Every value is already converted: counts are ``int``, money is ``Decimal``, times are
timezone-aware ``datetime``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

# --- the one vocabulary of row states (DESIGN invariant 4) -------------------------------
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
#: States of a row the provider accepted (it has a msgId).
ACCEPTED_STATES = (SUBMITTED, DELIVERED, UNDELIVERED, SENDING)
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


@dataclass(frozen=True, slots=True)
class Submission:
    """One number the provider accepted."""

    msg_id: str
    number: str
    order_id: str | None


@dataclass(frozen=True, slots=True)
class SendResult:
    """The answer to ``sendSms`` or ``sendSms/batch`` (status "0")."""

    success: int
    fail: int
    submissions: tuple[Submission, ...]
    reason: str = ""
    attempts: int = 1
    latency: float = 0.0  # seconds, last attempt


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
