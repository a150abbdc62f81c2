"""Compact storage of accepted messages, their simulated delivery, and inbound replies.

One million messages cost about 150 MB: numbers and orderIds are kept as the strings the
request brought, everything else in parallel ``array``s; msgIds are not stored at all
(``msg_id = id_base + index``). :class:`AcceptedMessage` objects are built only when read.

>>> from random import Random
>>> store = MessageStore(seed=1, rng=Random(1))
>>> item = store.add_item("Hi", None, "GSM-7", 1, Decimal("0.005"), "sendSms")
>>> ids = store.accept(["919876543210"], [None], item, now=100.0)
>>> store.view()[0].number, store.index_of(ids[0])
('919876543210', 0)
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import Random
from typing import overload

#: Replies a simulated recipient may send; a client must recognise every STOP variant.
STOP_REPLIES = ("STOP", "stop", "Stop", "STOP ", " stop", "STOP.")
OTHER_REPLIES = ("Thanks", "Who is this?", "ok", "Stopping by later!", "Yes please")


def normal_number(number: str) -> str:
    """A number as the store keeps it (digits): ``" +91 98765 43210"`` -> ``"919876543210"``."""
    return "".join(str(number).split()).removeprefix("+")


@dataclass(frozen=True, slots=True)
class AcceptedMessage:
    """One number the sandbox accepted (and charged for)."""

    msg_id: str
    number: str
    order_id: str | None
    content: str
    sender_id: str | None
    segments: int
    cost: Decimal
    accepted_at: float  # epoch seconds, sandbox clock
    encoding: str
    endpoint: str
    settles_at: float  # when delivery becomes final
    delivered: bool  # the final outcome


@dataclass(slots=True)
class ReplyEntry:
    """One inbound message; ``received_at`` may be in the future (not visible yet)."""

    received_at: float
    number: str
    content: str
    send_id: str


@dataclass(frozen=True, slots=True)
class _Item:
    """What the numbers of one request item share."""

    content: str
    sender_id: str | None
    encoding: str
    segments: int
    cost: Decimal  # per number
    endpoint: str


class MessageStore:
    """Append-only store; all mutation happens under ``lock`` (held by the sandbox)."""

    def __init__(
        self,
        *,
        seed: int,
        rng: Random,
        undelivered_rate: float = 0.03,
        delivery_delay: tuple[float, float] = (0.2, 2.0),
        reply_rate: float = 0.02,
        stop_share: float = 0.4,
        reply_delay: tuple[float, float] = (2.0, 10.0),
        rate_for: Callable[[str, str], float] | None = None,
    ) -> None:
        # 19 digits like the provider's "2108021054011000095", fixed by the seed.
        self.id_base = 2_100_000_000_000_000_000 + Random(seed).randrange(10**9) * 10**9
        self.lock = threading.RLock()
        self._rng = rng
        self._undelivered_rate = undelivered_rate
        self._delay = delivery_delay
        self._reply_rate = reply_rate
        self._stop_share = stop_share
        self._reply_delay = reply_delay
        #: (number, content) -> undelivered rate, when some messages fail more than others.
        self._rate_for = rate_for
        self._items: list[_Item] = []
        self._numbers: list[str] = []
        self._order_ids: list[str | None] = []
        self._item_of = array("I")
        self._accepted_at = array("d")
        self._settles_at = array("d")
        self._failed = bytearray()
        self._count = 0  # published last, so readers on other threads see complete rows
        self._times_sorted = True
        self.replies: list[ReplyEntry] = []

    # --- writing ---------------------------------------------------------------------------
    def add_item(
        self,
        content: str,
        sender_id: str | None,
        encoding: str,
        segments: int,
        cost: Decimal,
        endpoint: str,
    ) -> int:
        self._items.append(_Item(content, sender_id, encoding, segments, cost, endpoint))
        return len(self._items) - 1

    def accept(
        self, numbers: list[str], order_ids: Sequence[str | None], item: int, now: float
    ) -> list[str]:
        """Store ``numbers`` as accepted at ``now``; return their msgIds in order."""
        k = len(numbers)
        start = self._count
        r = self._rng.random
        lo, span = self._delay[0], self._delay[1] - self._delay[0]
        fail_rate, reply_rate = self._undelivered_rate, self._reply_rate
        settles: list[float] = []
        failed: list[bool] = []
        repliers: list[int] = []
        rate_for = self._rate_for
        content = self._items[item].content
        for j in range(k):  # three draws per message keep the sequence reproducible
            settles.append(now + lo + span * r())
            rate = fail_rate if rate_for is None else rate_for(numbers[j], content)
            bad = r() < rate
            failed.append(bad)
            if r() < reply_rate and not bad:
                repliers.append(j)
        if self._accepted_at and now < self._accepted_at[-1]:
            self._times_sorted = False
        self._numbers.extend(numbers)
        self._order_ids.extend(order_ids)
        self._item_of.extend([item] * k)
        self._accepted_at.extend([now] * k)
        self._settles_at.extend(settles)
        self._failed.extend(failed)
        sender = self._items[item].sender_id or ""
        for j in repliers:
            self.replies.append(self._simulated_reply(numbers[j], settles[j], sender))
        self._count = start + k
        base = self.id_base + start
        return [str(base + j) for j in range(k)]

    def _simulated_reply(self, number: str, delivered_at: float, sender: str) -> ReplyEntry:
        r = self._rng
        at = delivered_at + r.uniform(*self._reply_delay)
        pool = STOP_REPLIES if r.random() < self._stop_share else OTHER_REPLIES
        return ReplyEntry(at, number, pool[r.randrange(len(pool))], sender)

    def settle_all(self, now: float) -> None:
        """Make every delivery (and every simulated reply) final at ``now`` at the latest."""
        sa = self._settles_at
        for i in range(self._count):
            if sa[i] > now:
                sa[i] = now
        for reply in self.replies:
            reply.received_at = min(reply.received_at, now)

    # --- reading ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count

    def msg_id(self, index: int) -> str:
        return str(self.id_base + index)

    def index_of(self, msg_id: str) -> int | None:
        """The store index of ``msg_id``, or None if this sandbox never issued it."""
        if not (msg_id.isascii() and msg_id.isdigit()):
            return None
        index = int(msg_id) - self.id_base
        if 0 <= index < self._count and self.msg_id(index) == msg_id:
            return index
        return None

    def number(self, index: int) -> str:
        return self._numbers[index]

    def accepted_at(self, index: int) -> float:
        return self._accepted_at[index]

    def settles_at(self, index: int) -> float:
        return self._settles_at[index]

    def failed(self, index: int) -> bool:
        return bool(self._failed[index])

    def indexes_between(self, start: float, end: float) -> list[int]:
        """Indexes accepted within ``[start, end]``, ordered by accept time then index."""
        n = self._count
        times = self._accepted_at
        if self._times_sorted:
            lo = bisect.bisect_left(times, start, 0, n)
            hi = bisect.bisect_right(times, end, 0, n)
            return list(range(lo, hi))
        hits = [i for i in range(n) if start <= times[i] <= end]
        hits.sort(key=times.__getitem__)  # stable: ties keep accept order
        return hits

    def message(self, index: int) -> AcceptedMessage:
        if not 0 <= index < self._count:
            raise IndexError("accepted message index out of range")
        item = self._items[self._item_of[index]]
        return AcceptedMessage(
            msg_id=self.msg_id(index),
            number=self._numbers[index],
            order_id=self._order_ids[index],
            content=item.content,
            sender_id=item.sender_id,
            segments=item.segments,
            cost=item.cost,
            accepted_at=self._accepted_at[index],
            encoding=item.encoding,
            endpoint=item.endpoint,
            settles_at=self._settles_at[index],
            delivered=not self._failed[index],
        )

    def accept_keys(self) -> Iterator[str]:
        """orderId of each accepted message, or its number when it had none."""
        n = self._count
        for order_id, number in zip(self._order_ids[:n], self._numbers[:n], strict=True):
            yield number if order_id is None else order_id

    def number_counts(self) -> Counter[str]:
        """How many times each number was accepted (orderIds aside)."""
        return Counter(self._numbers[: self._count])

    def view(self) -> AcceptedView:
        return AcceptedView(self, self._count)


class AcceptedView(Sequence[AcceptedMessage]):
    """A read-only, fixed-length snapshot of the accepted messages, built lazily on access."""

    def __init__(self, store: MessageStore, length: int) -> None:
        self._store = store
        self._len = length

    def __len__(self) -> int:
        return self._len

    @overload
    def __getitem__(self, index: int) -> AcceptedMessage: ...
    @overload
    def __getitem__(self, index: slice) -> list[AcceptedMessage]: ...
    def __getitem__(self, index: int | slice) -> AcceptedMessage | list[AcceptedMessage]:
        if isinstance(index, slice):
            return [self._store.message(i) for i in range(*index.indices(self._len))]
        if index < 0:
            index += self._len
        if not 0 <= index < self._len:
            raise IndexError("accepted message index out of range")
        return self._store.message(index)

    def __iter__(self) -> Iterator[AcceptedMessage]:
        for i in range(self._len):
            yield self._store.message(i)

    def __repr__(self) -> str:
        return f"<{self._len} accepted messages>"
