"""``AsyncClient``: the six Itniotech SMS endpoints over one aiohttp session.

One request loop (:meth:`AsyncClient._request`) owns signing and the retry policy
(docs/architecture.md, invariant 1):

* retried, re-signed each attempt: connection never established, HTTP 429/503, API -15/-16 —
  the request provably was not accepted;
* never retried for sends: anything else after the body left (read timeout, reset, other
  HTTP error, unparsable answer) raises :class:`~itnio_campaign.errors.AmbiguousError`
  carrying what was sent, so the campaign layer can mark those recipients ``unknown``;
* read-only endpoints (reports, records, balance) are idempotent, so they retry those too;
* redirects (HTTP 3xx) are never followed, on any endpoint, and never retried: they raise
  :class:`~itnio_campaign.errors.RedirectError` (the base URL is wrong).

Every documented limit is checked before any I/O and raises
:class:`~itnio_campaign.errors.UsageError`.

>>> async def demo(credentials):                                  # doctest: +SKIP
...     async with AsyncClient(credentials) as client:
...         sent = await client.send_sms(["919876543210"], "hello", order_ids=["a1"])
...         return sent.submissions[0].msg_id
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from .config import ClientSettings, Credentials
from .errors import (
    RETRY_CODES,
    RETRY_HTTP_STATUSES,
    AmbiguousError,
    NotSentError,
    RedirectError,
    UsageError,
    api_error,
)
from .models import (
    MAX_CONTENT_CHARS,
    MAX_MO_PAGE_SIZE,
    MAX_NUMBERS_GET,
    MAX_NUMBERS_POST,
    MAX_REPORT_IDS,
    MAX_WINDOW_DAYS,
    Balance,
    BatchItem,
    DeliveryRecord,
    DeliveryStatus,
    MoPage,
    Reply,
    Report,
    SendResult,
    SentRecord,
    SentRecordsPage,
    check_sender_id,
    utf16_len,
)

log = logging.getLogger(__name__)

#: recordMo refuses windows that start before this moment (provider documentation).
MO_EARLIEST = datetime.fromisoformat("2022-07-01T00:00:00+08:00")
#: getSentRcd returns at most this many records per call; page with startIndex.
SENT_RECORDS_PAGE = 50_000

_DELIVERY = {"0": "delivered", "-1": "sending", "1": "undelivered"}


class _Retry(Exception):
    """Internal: this attempt provably was not accepted; try again after ``delay``."""

    def __init__(self, code: str, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.code, self.reason, self.delay = code, reason, delay


class AsyncClient:
    """Async client for the Itniotech SMS API; use it as an async context manager.

    >>> async def balance(credentials):                           # doctest: +SKIP
    ...     async with AsyncClient(credentials) as client:
    ...         return (await client.get_balance()).balance
    """

    def __init__(
        self,
        credentials: Credentials,
        settings: ClientSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.credentials = credentials
        self.settings = settings or ClientSettings()
        self._clock = clock
        self._rng = rng or random.Random()
        self._session: aiohttp.ClientSession | None = None
        #: Attempts beyond the first, over the client's life (for summaries).
        self.retries = 0
        self.requests = 0

    def __repr__(self) -> str:
        return f"AsyncClient({self.credentials!r})"

    # -- lifecycle -------------------------------------------------------------------------
    async def __aenter__(self) -> AsyncClient:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the one session this client uses (``async with`` does this for you)."""
        if self._session is None or self._session.closed:
            t = self.settings.timeouts
            timeout = aiohttp.ClientTimeout(
                total=None, connect=t.connect, sock_connect=t.connect, sock_read=t.read
            )
            connector = aiohttp.TCPConnector(limit=self.settings.max_connections)
            self._session = aiohttp.ClientSession(
                timeout=timeout, connector=connector, json_serialize=json.dumps
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- endpoints -------------------------------------------------------------------------
    async def send_sms(
        self,
        numbers: Sequence[str],
        content: str,
        *,
        sender_id: str | None = None,
        order_ids: Sequence[str] | None = None,
        method: Literal["POST", "GET"] = "POST",
    ) -> SendResult:
        """Send one content to up to 1000 numbers (POST) or 100 (GET).

        Numbers the provider refuses are counted in ``fail`` and absent from
        ``submissions``. A refused request raises an :class:`~itnio_campaign.errors.ApiError`.
        """
        if method not in ("POST", "GET"):
            raise UsageError(f"method must be 'POST' or 'GET', not {method!r}")
        if isinstance(numbers, str):
            raise UsageError("sendSms: numbers must be a list of strings, not one string")
        limit = MAX_NUMBERS_POST if method == "POST" else MAX_NUMBERS_GET
        item = BatchItem(_texts(numbers), content, sender_id, _opt_tuple(order_ids))
        _check_item(item, "sendSms", limit)
        payload = {"appId": self.credentials.app_id, **_item_payload(item)}
        if method == "GET":
            data, attempts, latency = await self._request("sendSms", "GET", params=payload)
        else:
            data, attempts, latency = await self._request("sendSms", "POST", body=payload)
        return _send_result(data, attempts, latency)

    async def send_sms_batch(self, items: Sequence[BatchItem]) -> SendResult:
        """Send different contents in one request (``sendSms/batch``), ≤1000 numbers in total.

        >>> items = [BatchItem(("919876543210",), "Hi Asha", order_ids=("o1",)),
        ...          BatchItem(("919876543211",), "Hi Ravi", order_ids=("o2",))]

        Example::

            result = await client.send_sms_batch(items)
        """
        if not items:
            raise UsageError("sendSms/batch: no items to send")
        for item in items:
            _check_item(item, "sendSms/batch", MAX_NUMBERS_POST)
        total = sum(len(item.numbers) for item in items)
        if total > MAX_NUMBERS_POST:
            raise UsageError(
                f"sendSms/batch: {total} numbers in one request; the limit is {MAX_NUMBERS_POST}"
            )
        body = {
            "appId": self.credentials.app_id,
            "array": [_item_payload(item) for item in items],
        }
        data, attempts, latency = await self._request("sendSms/batch", "POST", body=body)
        return _send_result(data, attempts, latency)

    async def get_report(self, msg_ids: Sequence[str]) -> Report:
        """Delivery status of up to 200 msgIds; unknown or queued ids count in ``nofound``."""
        ids = [str(i) for i in msg_ids]
        if not ids:
            raise UsageError("getReport: no msgIds given")
        if len(ids) > MAX_REPORT_IDS:
            raise UsageError(f"getReport: {len(ids)} msgIds; the limit is {MAX_REPORT_IDS}")
        _no_commas("getReport", "msgId", ids)
        params = {"appId": self.credentials.app_id, "msgIds": ",".join(ids)}
        data, _, _ = await self._request("getReport", "GET", params=params, idempotent=True)
        records = tuple(
            DeliveryRecord(
                msg_id=str(r.get("msgId", "")),
                number=str(r.get("number", "")),
                status=_delivery_status(str(r.get("status", ""))),
                receive_time=_parse_time(r.get("receiveTime")),
                raw_status=str(r.get("status", "")),
            )
            for r in _array(data)
        )
        return Report(
            success=_int(data.get("success")),
            fail=_int(data.get("fail")),
            sending=_int(data.get("sending")),
            nofound=_int(data.get("nofound")),
            records=records,
        )

    async def get_sent_records(
        self, start: datetime | str, end: datetime | str, *, start_index: int = 0
    ) -> SentRecordsPage:
        """One page (≤50,000 records) of sent records in a window of at most 31 days."""
        start_dt, end_dt = _window("getSentRcd", start, end, timedelta(days=MAX_WINDOW_DAYS))
        if start_index < 0:
            raise UsageError("getSentRcd: start_index must be >= 0")
        params = {
            "appId": self.credentials.app_id,
            "startTime": _iso(start_dt),
            "endTime": _iso(end_dt),
            "startIndex": str(start_index),
        }
        data, _, _ = await self._request("getSentRcd", "GET", params=params, idempotent=True)
        records = tuple(
            SentRecord(
                msg_id=str(r.get("msgId", "")),
                number=str(r.get("number", "")),
                status="sent" if str(r.get("status")) == "0" else "failed",
                receive_time=_parse_time(r.get("receiveTime")),
                raw_status=str(r.get("status", "")),
            )
            for r in _array(data)
        )
        return SentRecordsPage(
            start_index=start_index,
            success=_int(data.get("success")),
            fail=_int(data.get("fail")),
            records=records,
        )

    async def iter_sent_records(
        self, start: datetime | str, end: datetime | str
    ) -> AsyncIterator[SentRecord]:
        """Every sent record from ``start`` to ``end``: splits into 31-day windows, pages each.

        Example::

            async for record in client.iter_sent_records(t0, t1): ...
        """
        lo_all, hi_all = aware_time(start, "start"), aware_time(end, "end")
        for lo, hi in _split_window(lo_all, hi_all, MAX_WINDOW_DAYS):
            index = 0
            while True:
                page = await self.get_sent_records(lo, hi, start_index=index)
                for record in page.records:
                    yield record
                # The page size is the provider's; an empty page is the only sure end.
                if not page.records:
                    break
                index += len(page.records)

    async def get_mo_records(
        self, start: datetime | str, end: datetime | str, *, page: int = 1, size: int = 100
    ) -> MoPage:
        """One page of replies (two-way SMS) in a window of at most one month."""
        start_dt, end_dt = _window("recordMo", start, end, timedelta(days=MAX_WINDOW_DAYS))
        if start_dt < MO_EARLIEST:
            raise UsageError(f"recordMo: start is before the earliest date {MO_EARLIEST}")
        if not 1 <= size <= MAX_MO_PAGE_SIZE:
            raise UsageError(f"recordMo: size must be 1..{MAX_MO_PAGE_SIZE}, not {size}")
        if page < 1:
            raise UsageError(f"recordMo: page must be >= 1, not {page}")
        body = {
            "appId": self.credentials.app_id,
            "current": page,
            "size": size,
            "params": {"strTime": _iso(start_dt), "endTime": _iso(end_dt)},
        }
        data, _, _ = await self._request("recordMo", "POST", body=body, idempotent=True)
        inner = data.get("data") or {}
        records = tuple(_reply(r) for r in inner.get("records") or ())
        return MoPage(
            total=_int(inner.get("total")),
            size=_int(inner.get("size")) or size,
            current=_int(inner.get("current")) or page,
            pages=_int(inner.get("pages")),
            records=records,
        )

    async def iter_mo_records(
        self, start: datetime | str, end: datetime | str, *, size: int = 100
    ) -> AsyncIterator[Reply]:
        """Every reply from ``start`` to ``end``: splits into monthly windows, pages each."""
        lo_all = max(aware_time(start, "start"), MO_EARLIEST)
        for lo, hi in _split_window(lo_all, aware_time(end, "end"), MAX_WINDOW_DAYS):
            page = 1
            while True:
                result = await self.get_mo_records(lo, hi, page=page, size=size)
                for reply in result.records:
                    yield reply
                if not result.records or page >= result.pages:
                    break
                page += 1

    async def get_balance(self) -> Balance:
        """The account balance, gift and credit as ``Decimal``."""
        data, _, _ = await self._request("getBalance", "GET", params={}, idempotent=True)
        return Balance(
            balance=_decimal(data.get("balance")),
            gift=_decimal(data.get("gift")),
            credit=_decimal(data.get("credit")),
        )

    # -- the one request loop --------------------------------------------------------------
    async def _request(
        self,
        endpoint: str,
        method: str,
        *,
        body: dict[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> tuple[dict[str, Any], int, float]:
        """Make one API call with the retry policy; return (answer, attempts, latency)."""
        if self._session is None:
            raise UsageError("AsyncClient is not open: use `async with AsyncClient(...)`")
        policy = self.settings.retry
        url = f"{self.credentials.base_url}/{endpoint}"
        sent = dict(body if body is not None else params or {})
        self.requests += 1
        for attempt in range(1, policy.max_attempts + 1):
            if attempt > 1:
                self.retries += 1
            started = time.monotonic()
            try:
                data = await self._attempt(endpoint, method, url, body, params, attempt, sent)
            except _Retry as retry:
                log.info("%s attempt %d not accepted: %s", endpoint, attempt, retry.reason)
                if attempt == policy.max_attempts:
                    if retry.code in RETRY_CODES:
                        raise api_error(
                            endpoint, retry.code, retry.reason, attempts=attempt
                        ) from None
                    raise NotSentError(
                        endpoint, retry.code, retry.reason, attempts=attempt
                    ) from None
                await asyncio.sleep(retry.delay)
                continue
            except AmbiguousError as exc:
                if not idempotent or attempt == policy.max_attempts:
                    exc.attempts = attempt
                    raise
                log.info("%s attempt %d failed (%s); read-only, retrying", endpoint, attempt, exc)
                await asyncio.sleep(policy.backoff(attempt, self._rng.random()))
                continue
            return data, attempt, time.monotonic() - started
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(
        self,
        endpoint: str,
        method: str,
        url: str,
        body: dict[str, Any] | None,
        params: Mapping[str, str] | None,
        attempt: int,
        sent: dict[str, Any],
    ) -> dict[str, Any]:
        """One signed attempt: the parsed answer, or raise _Retry / AmbiguousError / ApiError."""
        assert self._session is not None
        policy = self.settings.retry
        headers = self.credentials.headers(int(self._clock()))
        try:
            # Never follow a redirect: it would resend the key, Sign and batch elsewhere.
            async with self._session.request(
                method, url, json=body, params=params, headers=headers, allow_redirects=False
            ) as resp:
                if 300 <= resp.status < 400:
                    location = _shown_location(
                        resp.headers.get("Location", ""), self.credentials, headers
                    )
                    raise RedirectError(endpoint, resp.status, location, attempts=attempt)
                if resp.status in RETRY_HTTP_STATUSES:
                    delay = policy.retry_after(
                        resp.headers.get("Retry-After"), attempt, self._rng.random()
                    )
                    raise _Retry(f"HTTP {resp.status}", resp.reason or "", delay)
                if resp.status != 200:
                    raise AmbiguousError(
                        endpoint, f"HTTP {resp.status}", resp.reason or "", request=sent
                    )
                text = await resp.text()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            # The connection was never established: nothing left this machine.
            raise _Retry(
                "connect",
                f"{type(exc).__name__}: {exc}",
                policy.backoff(attempt, self._rng.random()),
            ) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AmbiguousError(
                endpoint, "no answer", f"{type(exc).__name__}: {exc}".rstrip(": "), request=sent
            ) from exc
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise AmbiguousError(
                endpoint, "bad answer", f"unparsable answer: {text[:200]!r}", request=sent
            ) from exc
        status = str(data.get("status", ""))
        if status == "0":
            return data
        reason = str(data.get("reason", ""))
        if status in RETRY_CODES:
            # -16: a fresh signature is all it needs; -15: back off.
            delay = 0.0 if status == "-16" else policy.backoff(attempt, self._rng.random())
            raise _Retry(status, reason, delay)
        raise api_error(endpoint, status or "missing", reason, attempts=attempt)


def _shown_location(raw: str, credentials: Credentials, headers: Mapping[str, str]) -> str:
    """A redirect's ``Location`` fit for one line of an error: no query, no secret.

    A hostile server may echo the ``Api-Key`` or ``Sign`` it received into the header.
    """
    text = "".join(ch if ch.isprintable() else "?" for ch in raw.strip()) or "(none)"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        if parts.scheme and host:
            tail = "?…" if parts.query else ""
            text = urlunsplit((parts.scheme, host, parts.path, "", "")) + tail
    except ValueError:  # not a URL: shown as it came, masked below
        pass
    for secret in (credentials.api_key, credentials.api_secret, headers.get("Sign", "")):
        if secret:
            text = text.replace(secret, "***")
    return text if len(text) <= 200 else text[:199] + "…"


# -- request checks (before any I/O) ---------------------------------------------------------
def _opt_tuple(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else _texts(values)


def _texts(values: Sequence[Any]) -> tuple[str, ...]:
    """``values`` as a tuple of str; a tuple that already is one is kept (the plan's batches:
    checked by one C-level join instead of a str() call per value)."""
    if type(values) is tuple:
        try:
            "".join(values)
            return values
        except TypeError:
            pass
    return tuple(map(str, values))


def _no_commas(endpoint: str, what: str, values: Sequence[str]) -> None:
    # One C-level join instead of a Python test per value (this runs per request).
    if ",".join(values).count(",") != max(len(values) - 1, 0):
        bad = [v for v in values if "," in v]
        raise UsageError(f"{endpoint}: {what} must not contain commas: {bad[:3]}")


def _check_item(item: BatchItem, endpoint: str, limit: int) -> None:
    if isinstance(item.numbers, str):
        raise UsageError(f"{endpoint}: numbers must be a list of strings, not one string")
    if not item.numbers:
        raise UsageError(f"{endpoint}: no numbers given")
    if len(item.numbers) > limit:
        raise UsageError(
            f"{endpoint}: {len(item.numbers)} numbers in one request; the limit is {limit}"
        )
    _no_commas(endpoint, "numbers", item.numbers)
    if not item.content:
        raise UsageError(f"{endpoint}: content is empty")
    if utf16_len(item.content) > MAX_CONTENT_CHARS:  # the stricter count (emoji are 2)
        raise UsageError(
            f"{endpoint}: content has {utf16_len(item.content)} UTF-16 units; "
            f"the limit is {MAX_CONTENT_CHARS}"
        )
    if item.sender_id is not None:
        check_sender_id(item.sender_id, what=f"{endpoint}: senderId")
    if item.order_ids is not None:
        if len(item.order_ids) != len(item.numbers):
            raise UsageError(
                f"{endpoint}: {len(item.order_ids)} orderIds for {len(item.numbers)} numbers; "
                "they must be exactly as many"
            )
        _no_commas(endpoint, "orderIds", item.order_ids)


def _item_payload(item: BatchItem) -> dict[str, str]:
    payload = {"numbers": ",".join(item.numbers), "content": item.content}
    if item.sender_id:
        payload["senderId"] = item.sender_id
    if item.order_ids is not None:
        payload["orderId"] = ",".join(item.order_ids)
    return payload


def aware_time(value: datetime | str, name: str = "time") -> datetime:
    """A timezone-aware datetime from a datetime or an ISO 8601 string.

    Naive values (no offset) are the user's local time, as a person typing them means.

    >>> aware_time("2024-05-01T09:00:00+05:30").utcoffset()
    datetime.timedelta(seconds=19800)
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise UsageError(f"{name} must be an ISO 8601 time, not {value!r}") from None
    if not isinstance(value, datetime):
        raise UsageError(f"{name} must be a datetime or an ISO 8601 string, not {value!r}")
    return value if value.tzinfo is not None else value.astimezone()


def _window(
    endpoint: str, start: datetime | str, end: datetime | str, longest: timedelta
) -> tuple[datetime, datetime]:
    lo = aware_time(start, f"{endpoint}: start").replace(microsecond=0)
    hi = _ceil_second(aware_time(end, f"{endpoint}: end"))
    if hi <= lo:
        raise UsageError(f"{endpoint}: end ({hi}) must be after start ({lo})")
    if hi - lo > longest:
        raise UsageError(f"{endpoint}: window of {hi - lo} is longer than {longest.days} days")
    return lo, hi


def _ceil_second(dt: datetime) -> datetime:
    """The API takes whole seconds: round an end time up so nothing at its edge is lost."""
    whole = dt.replace(microsecond=0)
    return whole if whole == dt else whole + timedelta(seconds=1)


def _split_window(start: datetime, end: datetime, days: int) -> list[tuple[datetime, datetime]]:
    """Whole-second windows of at most ``days`` covering ``start``..``end``."""
    step = timedelta(days=days)
    windows = []
    lo, end = start.replace(microsecond=0), _ceil_second(end)
    while lo < end:
        hi = min(lo + step, end)
        windows.append((lo, hi))
        lo = hi
    return windows


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


# -- answer parsing (tolerant of absent fields, strict JSON) -------------------------------
def _array(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``array`` of an answer: its JSON objects (absent, empty or odd entries dropped)."""
    value = data.get("array")
    if not isinstance(value, list):
        return []
    if all(map(dict.__instancecheck__, value)):  # the usual answer: checked at C speed
        return value
    return [r for r in value if type(r) is dict]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _delivery_status(raw: str) -> DeliveryStatus:
    status = _DELIVERY.get(raw, "sending")
    return status  # type: ignore[return-value]


def _column(rows: list[dict[str, Any]], key: str) -> tuple[str, ...]:
    """One field of every answer row as text ("" where absent or null).

    The hot path of a campaign: when every row has the field as text (the usual answer) it
    costs two C-level passes; anything else takes the tolerant Python pass.
    """
    try:
        values = tuple(map(itemgetter(key), rows))
        "".join(values)  # raises TypeError unless every value is a str: a C-level check
        return values
    except (KeyError, TypeError):
        return tuple(["" if (v := r.get(key)) is None else str(v) for r in rows])


def _send_result(data: Mapping[str, Any], attempts: int, latency: float) -> SendResult:
    # Three flat passes, no object per number.
    rows = _array(data)
    msg_ids = _column(rows, "msgId")
    numbers = _column(rows, "number")
    order_ids = _column(rows, "orderId")
    return SendResult(
        success=_int(data.get("success")) if "success" in data else len(rows),
        fail=_int(data.get("fail")),
        msg_ids=msg_ids,
        numbers=numbers,
        order_ids=order_ids,
        reason=str(data.get("reason", "")),
        attempts=attempts,
        latency=latency,
    )


def _reply(r: Mapping[str, Any]) -> Reply:
    price = r.get("pricedetail") or {}
    return Reply(
        number=str(r.get("number", "")),
        send_id=str(r.get("sendId", "")),
        receive_time=_parse_time(r.get("receiveTime")),
        content=str(r.get("content", "")),
        mcc=str(r.get("mcc", "") or ""),
        mnc=str(r.get("mnc", "") or ""),
        operator=str(r.get("operator", "") or ""),
        pay=_decimal(price.get("pay")) if price.get("pay") not in (None, "") else None,
        charge_count=_int(price.get("chargeCnt")) if price.get("chargeCnt") else None,
        currency=str(price.get("currency", "") or ""),
        price=_decimal(price.get("price")) if price.get("price") not in (None, "") else None,
    )


__all__ = ["MO_EARLIEST", "SENT_RECORDS_PAGE", "AsyncClient", "aware_time"]
