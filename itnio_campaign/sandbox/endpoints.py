"""What each endpoint answers, given an authenticated, parsed request. No HTTP here.

Undocumented choices (each is the sandbox's, the provider's pages are silent):

* ``sendSms/batch``: an item that breaks a rule refuses the whole request with that item's
  status (the reason names the item); more than ``batch_max_numbers`` in total is -7; an empty
  or missing ``array`` is -8.
* The cost of a request is ``segments × price_per_segment`` per valid number; if it exceeds
  the balance the answer is -10 and nothing is accepted.
* ``getReport``: ``msgIds`` missing, empty, more than 200, or with a non-digit id is -14.
  ``receiveTime`` is the delivery time once final, ``""`` while sending. An id accepted less
  than ``report_lag`` seconds ago is still "queued": counted in ``nofound``.
* ``getSentRcd``: a missing or malformed time is -11; a window longer than 31 days, ending
  before it starts, or starting more than 90 days ago is -25. ``startIndex`` is a 0-based
  offset (default 0; not a non-negative integer: -22). The answer's ``success``/``fail``
  count the records in ``array``; ``total`` counts the whole window. ``receiveTime`` is the
  accept time; ``status`` "2" marks a message whose delivery failed, "0" any other.
* ``recordMo``: a malformed time is -11; ``current``/``size`` may be ints or digit strings.
  Only replies received by now are listed, oldest first. ``sendId`` is the senderId of the
  message replied to (``""`` if none); ``mcc``/``mnc``/``operator`` come from a small table
  of country prefixes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from .knobs import Knobs
from .rules import ParsedItem, Reject, Rules
from .store import MessageStore, ReplyEntry
from .times import format_time, parse_time

Answer = dict[str, Any]

DAY = 86_400.0
#: recordMo's documented earliest time: 2022-07-01T00:00:00+08:00.
MO_EARLIEST = datetime.fromisoformat("2022-07-01T00:00:00+08:00").timestamp()
MO_MAX_WINDOW = 31 * DAY  # "at most one month"

#: country prefix -> (mcc, mnc, operator), for simulated replies.
OPERATORS = {
    "91": ("404", "10", "Airtel"),
    "1": ("310", "260", "T-Mobile"),
    "44": ("234", "10", "O2"),
    "86": ("460", "00", "China Mobile"),
    "62": ("510", "10", "Telkomsel"),
    "55": ("724", "05", "Claro"),
}


def ok(**fields: Any) -> Answer:
    return {"status": "0", "reason": "success", **fields}


class SmsApi:
    """The account and its messages, and the six endpoints' answers."""

    def __init__(self, knobs: Knobs, store: MessageStore) -> None:
        self.knobs = knobs
        self.store = store
        self.rules = Rules(knobs)
        self.balance: Decimal = knobs.balance

    # --- sending ---------------------------------------------------------------------------
    def send(self, items: list[ParsedItem], endpoint: str, now: float) -> Answer:
        """Charge for and accept the valid numbers of ``items`` (already checked)."""
        price = self.knobs.price_per_segment
        costs = [price * item.segments for item in items]
        total = sum(
            (cost * len(item.numbers) for cost, item in zip(costs, items, strict=True)),
            Decimal(0),
        )
        store = self.store
        with store.lock:
            if total > self.balance:
                raise Reject("-10", f"balance {self.balance} is less than the cost {total}")
            self.balance -= total
            array: list[dict[str, str]] = []
            for cost, item in zip(costs, items, strict=True):
                if not item.numbers:
                    continue
                index = store.add_item(
                    item.content, item.sender_id, item.encoding, item.segments, cost, endpoint
                )
                ids = store.accept(item.numbers, item.order_ids, index, now)
                array += [
                    {"msgId": m, "number": n, "orderId": o or ""}
                    for m, n, o in zip(ids, item.numbers, item.order_ids, strict=True)
                ]
        fail = sum(item.invalid for item in items)
        return ok(success=str(len(array)), fail=str(fail), array=array)

    def parse_batch(self, body: Mapping[str, Any]) -> list[ParsedItem]:
        raw = body.get("array")
        if raw is None or raw == []:
            raise Reject("-8", "array is empty")
        if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
            raise Reject("-22", "array must be a list of objects")
        items = [
            self.rules.item(fields, self.knobs.max_numbers_post, where=f"array[{i}].")
            for i, fields in enumerate(raw)
        ]
        total = sum(item.total for item in items)
        if total > self.knobs.batch_max_numbers:
            raise Reject("-7", f"{total} numbers, at most {self.knobs.batch_max_numbers} allowed")
        return items

    # --- delivery reports ------------------------------------------------------------------
    def report(self, query: Mapping[str, str], now: float) -> Answer:
        ids_field = query.get("msgIds", "")
        ids = [s.strip() for s in ids_field.split(",")] if ids_field.strip() else []
        if not ids:
            raise Reject("-14", "msgIds is empty")
        if len(ids) > self.knobs.max_report_ids:
            raise Reject("-14", f"{len(ids)} msgIds, at most {self.knobs.max_report_ids}")
        if not all(i.isascii() and i.isdigit() for i in ids):
            raise Reject("-14", "abnormal msgId (digits only)")
        store, tz, lag = self.store, self.knobs.timezone, self.knobs.report_lag
        counts = {"0": 0, "1": 0, "-1": 0}
        array = []
        nofound = 0
        for msg_id in ids:
            index = store.index_of(msg_id)
            if index is None or now < store.accepted_at(index) + lag:
                nofound += 1
                continue
            settles = store.settles_at(index)
            if now < settles:
                status, when = "-1", ""
            else:
                status, when = ("1" if store.failed(index) else "0"), format_time(settles, tz)
            counts[status] += 1
            array.append(
                {
                    "msgId": msg_id,
                    "number": store.number(index),
                    "receiveTime": when,
                    "status": status,
                }
            )
        return ok(
            success=str(counts["0"]),
            fail=str(counts["1"]),
            sending=str(counts["-1"]),
            nofound=str(nofound),
            array=array,
        )

    def sent_records(self, query: Mapping[str, str], now: float) -> Answer:
        tz = self.knobs.timezone
        start = parse_time(query.get("startTime"), tz)
        end = parse_time(query.get("endTime"), tz)
        if start is None or end is None:
            raise Reject("-11", "startTime and endTime must be ISO 8601 times")
        if end < start:
            raise Reject("-25", "endTime is before startTime")
        if end - start > self.knobs.sent_records_max_days * DAY:
            raise Reject("-25", f"window longer than {self.knobs.sent_records_max_days:g} days")
        if start < now - self.knobs.sent_records_retention_days * DAY:
            raise Reject(
                "-25", f"only the last {self.knobs.sent_records_retention_days:g} days are kept"
            )
        raw_index = query.get("startIndex", "0") or "0"
        if not (raw_index.isascii() and raw_index.isdigit()):
            raise Reject("-22", "startIndex must be a non-negative integer")
        first = int(raw_index)
        store = self.store
        with store.lock:
            hits = store.indexes_between(start, end)
        page = hits[first : first + self.knobs.sent_records_page_size]
        array = []
        fail = 0
        for index in page:
            failed = store.failed(index) and now >= store.settles_at(index)
            fail += failed
            array.append(
                {
                    "msgId": store.msg_id(index),
                    "number": store.number(index),
                    "receiveTime": format_time(store.accepted_at(index), tz),
                    "status": "2" if failed else "0",
                }
            )
        return ok(success=str(len(array) - fail), fail=str(fail), total=str(len(hits)), array=array)

    # --- replies ---------------------------------------------------------------------------
    def record_mo(self, body: Mapping[str, Any], now: float) -> Answer:
        current, size = _page_number(body.get("current")), _page_number(body.get("size"))
        if current is None or size is None or current < 1 or not 1 <= size <= 100:
            raise Reject("-22", "current must be >= 1 and size within 1..100")
        params = body.get("params")
        if not isinstance(params, dict):
            raise Reject("-22", "params must be an object with strTime and endTime")
        tz = self.knobs.timezone
        start, end = parse_time(params.get("strTime"), tz), parse_time(params.get("endTime"), tz)
        if start is None or end is None:
            raise Reject("-11", "strTime and endTime must be ISO 8601 times")
        if start < MO_EARLIEST:
            raise Reject("-25", "strTime before 2022-07-01T00:00:00+08:00")
        if end < start or end - start > MO_MAX_WINDOW:
            raise Reject("-25", "the window must be at most one month")
        with self.store.lock:
            replies = [
                r
                for r in self.store.replies
                if start <= r.received_at <= end and r.received_at <= now
            ]
        replies.sort(key=lambda r: r.received_at)  # stable: ties keep arrival order
        page = replies[(current - 1) * size : current * size]
        data = {
            "total": str(len(replies)),
            "size": str(size),
            "current": str(current),
            "pages": str(math.ceil(len(replies) / size)),
            "records": [self._mo_record(r) for r in page],
        }
        return ok(data=data)

    def _mo_record(self, reply: ReplyEntry) -> dict[str, Any]:
        mcc, mnc, operator = next(
            (v for prefix, v in OPERATORS.items() if reply.number.startswith(prefix)),
            ("001", "01", "Sandbox Mobile"),
        )
        price = str(self.knobs.price_per_segment)
        return {
            "number": reply.number,
            "sendId": reply.send_id,
            "receiveTime": format_time(reply.received_at, self.knobs.timezone),
            "content": reply.content,
            "mcc": mcc,
            "mnc": mnc,
            "operator": operator,
            "pricedetail": {
                "pay": price,
                "chargeCnt": "1",
                "currency": self.knobs.currency,
                "price": price,
            },
        }

    # --- account ---------------------------------------------------------------------------
    def get_balance(self) -> Answer:
        k = self.knobs
        return ok(balance=str(self.balance), gift=str(k.gift), credit=str(k.credit))


def _page_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
