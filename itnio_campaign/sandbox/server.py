"""A local Itniotech-compatible SMS API server (aiohttp) with fault injection.

Each request goes through the same steps: latency → read the body → fault (scripted,
else random) → rate limit (-15) → authentication → body errors → ``appId`` → the endpoint's
rules → answer (or, for ``drop_after_accept``/``delay_after_accept``, no answer / a late
one). Every request ends as one :class:`RequestRecord` in :attr:`Sandbox.requests`.

Authentication answers (undocumented choices marked *):

* ``Api-Key`` missing or wrong, or ``Sign`` not ``md5(key + secret + timestamp)``: -1
* ``Timestamp`` not an integer or more than ``timestamp_tolerance`` s from the clock: -16
* client IP not in ``allowed_ips`` (when set): -2; ``locked=True``: -13
* ``appId`` missing or not this account's: -1 * (``getBalance`` needs none)

Garbage (body not JSON, not an object, a field of the wrong type): -22 with HTTP 200; a body
over ``client_max_size``: HTTP 413. The sandbox never answers a 500 traceback.

>>> async def demo():
...     async with Sandbox(seed=1) as sb:
...         return sb.url.startswith("http://127.0.0.1:")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from random import Random
from typing import Any

from aiohttp import web

from ..config import Credentials
from .endpoints import Answer, SmsApi
from .faults import Fault, FaultPlan, RateLimiter, latency_sampler, parse_fault
from .knobs import SEND_ENDPOINTS, Knobs, endpoint_name
from .rules import Reject
from .store import AcceptedView, MessageStore, ReplyEntry, normal_number

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the sandbox served (or faulted), appended when it finished."""

    endpoint: str
    method: str
    started: float  # time.monotonic()
    finished: float
    numbers: int  # numbers in a send request, 0 for the other endpoints
    status: str  # API status ("0", "-10", ...), "HTTP 503", or "disconnected" (client left)
    fault: str | None  # the injected fault's name, if any


class _Trace:
    """What the handler learned about a request, for its :class:`RequestRecord`."""

    __slots__ = ("fault", "numbers", "status")

    def __init__(self) -> None:
        self.numbers = 0
        self.status = "?"
        self.fault: str | None = None


Action = Callable[[Mapping[str, Any], float], Answer]


class Sandbox:
    """The provider on loopback. Every keyword is a :class:`~.knobs.Knobs` field.

    >>> async def rehearse():
    ...     async with Sandbox(seed=3, undelivered_rate=0.0) as sb:
    ...         sb.inject("sendSms", "http_503")   # the next sendSms gets a 503
    ...         ...                                # point the client at sb.credentials
    ...         return sb.accept_counts()
    """

    def __init__(self, **knobs: Any) -> None:
        self.knobs = Knobs(**knobs)
        k = self.knobs
        # Separate RNGs: faults or latency draws never shift msgIds or delivery outcomes.
        self._store = MessageStore(
            seed=k.seed,
            rng=Random(f"{k.seed}:delivery"),
            undelivered_rate=k.undelivered_rate,
            delivery_delay=k.delivery_delay,
            reply_rate=k.reply_rate,
            stop_share=k.stop_share,
            reply_delay=k.reply_delay,
            rate_for=(
                k.undelivered_rate_for
                if k.undelivered_by_prefix or k.undelivered_by_content
                else None
            ),
        )
        self._lock = self._store.lock
        self._api = SmsApi(k, self._store)
        self._faults = FaultPlan(Random(f"{k.seed}:faults"), k.faults, k.fault_endpoints)
        self._latency = latency_sampler(k.latency, Random(f"{k.seed}:latency"))
        self._limiter = (
            None
            if k.max_requests_per_second is None
            else RateLimiter(k.max_requests_per_second, k.clock)
        )
        self._requests: list[RequestRecord] = []
        self._in_flight = 0
        self.max_in_flight = 0
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hold_after: int | None = None
        self._sends_seen = 0
        self._release = asyncio.Event()
        #: Send requests waiting in :meth:`hold_sends` right now.
        self.held = 0

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Sandbox:
        """Bind ``host:port`` (port 0: a free one) and serve."""
        if self._runner is not None:
            raise RuntimeError("sandbox already started")
        self._closing = self._closing or asyncio.Event()
        self._loop = asyncio.get_running_loop()
        runner = web.AppRunner(
            self.app(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.knobs.host, self.knobs.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Stop serving; delayed answers are cut short."""
        if self._runner is None:
            return
        if self._closing is not None:
            self._closing.set()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def app(self) -> web.Application:
        """The aiohttp application (also usable with ``aiohttp.test_utils``)."""
        app = web.Application(client_max_size=self.knobs.client_max_size)
        app.router.add_route("POST", "/sms/sendSms", self._send_post)
        app.router.add_route("GET", "/sms/sendSms", self._send_get)
        app.router.add_route("POST", "/sms/sendSms/batch", self._send_batch)
        app.router.add_route("GET", "/sms/getReport", self._report)
        app.router.add_route("GET", "/sms/getSentRcd", self._sent_records)
        app.router.add_route("POST", "/sms/recordMo", self._record_mo)
        app.router.add_route("GET", "/sms/getBalance", self._balance)
        return app

    # --- what tests and demos read and steer -----------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080/sms``."""
        if self.port is None:
            raise RuntimeError("sandbox not started")
        host = self.knobs.host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/sms"

    @property
    def credentials(self) -> Credentials:
        """Credentials that this sandbox accepts, pointing at :attr:`url`."""
        k = self.knobs
        return Credentials(k.api_key, k.api_secret, k.app_id, base_url=self.url)

    @property
    def accepted(self) -> AcceptedView:
        """Accepted messages in accept order (a snapshot, built lazily on access)."""
        return self._store.view()

    def accept_counts(self) -> Counter[str]:
        """How many times each orderId (or number, without orderId) was accepted."""
        with self._lock:
            return Counter(self._store.accept_keys())

    def number_counts(self) -> Counter[str]:
        """How many times each number was accepted, whatever its orderIds.

        Example::

            assert max(sb.number_counts().values()) == 1   # nobody got the SMS twice
        """
        with self._lock:
            return self._store.number_counts()

    def times_accepted(self, number: str) -> int:
        """How many times ``number`` was accepted (``"+91…"`` and ``"91…"`` are one number).

        Example::

            assert sb.times_accepted("919876543210") == 1
        """
        with self._lock:
            return self._store.number_counts()[normal_number(number)]

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the finished requests, in finishing order."""
        with self._lock:
            return list(self._requests)

    @property
    def balance(self) -> Decimal:
        return self._api.balance

    @balance.setter
    def balance(self, value: Decimal | int | str) -> None:
        with self._lock:
            self._api.balance = Decimal(str(value))

    def inject(self, endpoint: str, *faults: str | None) -> None:
        """Queue faults for the next requests to ``endpoint``, one per request, in order.

        >>> Sandbox().inject("sendSms", "http_503", "none", "drop_after_accept")
        >>> Sandbox().inject("sendSms", "redirect_302", "accept_without_array")
        """
        name = endpoint_name(endpoint)
        for fault in faults:
            if fault is None or str(fault).strip().lower() == "none":
                continue
            if parse_fault(fault).kind == "shape" and name not in SEND_ENDPOINTS:
                raise ValueError(f"{fault!r} shapes a send answer; {name} sends nothing")
        with self._lock:
            self._faults.inject(name, faults)

    def add_reply(self, number: str, content: str, at: float | datetime | None = None) -> None:
        """Add an inbound reply for ``recordMo``, received ``at`` (default: now)."""
        when = self.knobs.clock() if at is None else at
        if isinstance(when, datetime):
            when = when.timestamp()
        with self._lock:
            self._store.replies.append(ReplyEntry(float(when), str(number), str(content), ""))

    def settle_all(self) -> None:
        """Make every accepted message's delivery (and every pending reply) final now."""
        with self._lock:
            self._store.settle_all(self.knobs.clock())

    # --- the request pipeline --------------------------------------------------------------
    async def _serve(
        self, request: web.Request, endpoint: str, action: Action, payload: str
    ) -> web.StreamResponse:
        started = time.monotonic()
        send = endpoint in SEND_ENDPOINTS
        if send:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        trace = _Trace()
        with self._lock:
            delay = self._latency()
        try:
            if send and self._hold_after is not None:
                await self._maybe_hold()
            # Latency is a round trip: half on the way in, half on the way back, so requests
            # that arrive together are not all processed in one pile after the same sleep.
            await self._sleep(delay / 2)
            response = await self._pipeline(request, endpoint, action, payload, trace)
            await self._sleep(delay / 2)
            return response
        except ConnectionError:
            # The client went away mid-request (cancelled, timed out): routine, not a bug.
            log.debug("client disconnected during %s", endpoint)
            trace.status = "disconnected"
            return web.Response(status=499, text="client disconnected")
        except Exception:  # a sandbox bug: say so, but never a traceback to the client
            log.exception("sandbox failed on %s", endpoint)
            trace.status = "HTTP 500"
            return _json({"status": "-18", "reason": "sandbox internal error"}, status=500)
        finally:
            if send:
                self._in_flight -= 1
            record = RequestRecord(
                endpoint,
                request.method,
                started,
                time.monotonic(),
                trace.numbers,
                trace.status,
                trace.fault,
            )
            with self._lock:
                self._requests.append(record)

    def hold_sends(self, after: int) -> None:
        """Answer the next ``after`` send requests, then hold every later one (before it is
        processed) until :meth:`release_sends`: a test can act while a request is provably in
        flight, without timing. :attr:`held` counts the requests waiting.

        >>> sb = Sandbox(); sb.hold_sends(after=2); sb.release_sends()
        """
        self._hold_after, self._sends_seen = after, 0
        self._release = asyncio.Event()

    def release_sends(self) -> None:
        """Let held send requests go on (thread-safe); later ones are not held."""
        self._hold_after = None
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._release.set)
        else:
            self._release.set()

    async def _maybe_hold(self) -> None:
        self._sends_seen += 1
        if self._hold_after is None or self._sends_seen <= self._hold_after:
            return
        self.held += 1
        try:
            await self._release.wait()
        finally:
            self.held -= 1

    async def _pipeline(
        self,
        request: web.Request,
        endpoint: str,
        action: Action,
        payload: str,
        trace: _Trace,
    ) -> web.StreamResponse:
        # Read the body first, as a server does, so faulted requests still log their size;
        # a body error is answered only after authentication.
        fields: Mapping[str, Any] = {}
        body_error: Reject | None = None
        try:
            fields = await self._fields(request, payload)
        except Reject as reject:
            body_error = reject
        except web.HTTPRequestEntityTooLarge as too_large:
            trace.status = "HTTP 413"
            return _json(
                {"status": "-22", "reason": too_large.text or "body too large"}, status=413
            )
        trace.numbers = _count_numbers(endpoint, fields)
        with self._lock:
            fault = self._faults.next(endpoint)
        trace.fault = fault.name if fault else None
        if fault is not None and fault.kind == "http":
            trace.status = f"HTTP {fault.code}"
            return self._http_fault(fault)
        if fault is not None and fault.kind == "redirect":
            trace.status = f"HTTP {fault.code}"
            return web.Response(
                status=int(fault.code), text="moved", headers={"Location": self.knobs.redirect_to}
            )
        try:
            if fault is not None and fault.kind == "api":
                raise Reject(fault.code, "injected fault")
            if self._limiter is not None:
                with self._lock:
                    allowed = self._limiter.allow()
                if not allowed:
                    raise Reject("-15", "queried too frequently")
            self._authenticate(request)
            if body_error is not None:
                raise body_error
            needs_app = endpoint != "getBalance" or "appId" in fields
            if needs_app and fields.get("appId") != self.knobs.app_id:
                raise Reject("-1", "unknown appId")
            answer = action(fields, self.knobs.clock())
        except Reject as reject:
            answer = {"status": reject.code, "reason": reject.reason}
        trace.status = answer["status"]
        if fault is not None and fault.kind == "shape" and endpoint in SEND_ENDPOINTS:
            answer = _reshape(answer, fault.code)
        if fault is not None and fault.kind == "drop":
            if request.transport is not None:
                request.transport.close()  # the client sees the connection go, no answer
            return web.Response(status=204)
        if fault is not None and fault.kind == "delay":
            await self._sleep(self.knobs.slow_answer_seconds)
        return _json(answer)

    def _http_fault(self, fault: Fault) -> web.Response:
        headers = {}
        if fault.code in ("503", "429"):
            headers["Retry-After"] = f"{self.knobs.retry_after:g}"
        return web.Response(
            status=int(fault.code), text=f"injected HTTP {fault.code}", headers=headers
        )

    def _authenticate(self, request: web.Request) -> None:
        k = self.knobs
        key = request.headers.get("Api-Key", "")
        stamp = request.headers.get("Timestamp", "")
        if key != k.api_key:
            raise Reject("-1", "authentication error: unknown Api-Key")
        expected = hashlib.md5(f"{key}{k.api_secret}{stamp}".encode(), usedforsecurity=False)
        if request.headers.get("Sign", "").lower() != expected.hexdigest():
            raise Reject("-1", "authentication error: bad Sign")
        try:
            skew = abs(k.clock() - int(stamp))
        except ValueError:
            raise Reject("-16", "Timestamp must be unix seconds") from None
        if skew > k.timestamp_tolerance:
            raise Reject("-16", "timestamp expired")
        if k.allowed_ips is not None and request.remote not in k.allowed_ips:
            raise Reject("-2", "restricted IP access")
        if k.locked:
            raise Reject("-13", "user locked")

    async def _fields(self, request: web.Request, payload: str) -> Mapping[str, Any]:
        if payload == "query":
            return request.query
        raw = await request.read()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Reject("-22", "body is not valid JSON") from None
        if not isinstance(body, dict):
            raise Reject("-22", "body must be a JSON object")
        return body

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._closing is None:  # serving through app() without start()
            self._closing = asyncio.Event()
        with contextlib.suppress(TimeoutError):  # woken early when the sandbox stops
            await asyncio.wait_for(self._closing.wait(), seconds)

    # --- endpoints -------------------------------------------------------------------------
    def _do_send(self, fields: Mapping[str, Any], now: float, limit: int) -> Answer:
        item = self._api.rules.item(fields, limit)
        return self._api.send([item], "sendSms", now)

    def _do_batch(self, fields: Mapping[str, Any], now: float) -> Answer:
        return self._api.send(self._api.parse_batch(fields), "sendSms/batch", now)

    async def _send_post(self, request: web.Request) -> web.StreamResponse:
        limit = self.knobs.max_numbers_post
        return await self._serve(
            request, "sendSms", lambda f, now: self._do_send(f, now, limit), "json"
        )

    async def _send_get(self, request: web.Request) -> web.StreamResponse:
        limit = self.knobs.max_numbers_get
        return await self._serve(
            request, "sendSms", lambda f, now: self._do_send(f, now, limit), "query"
        )

    async def _send_batch(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "sendSms/batch", self._do_batch, "json")

    async def _report(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, "getReport", lambda f, now: self._api.report(f, now), "query"
        )

    async def _sent_records(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, "getSentRcd", lambda f, now: self._api.sent_records(f, now), "query"
        )

    async def _record_mo(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, "recordMo", lambda f, now: self._api.record_mo(f, now), "json"
        )

    async def _balance(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(
            request, "getBalance", lambda f, now: self._api.get_balance(), "query"
        )


def _reshape(answer: Answer, shape: str) -> Answer:
    """An accepted send answer in a shape the API reference says clients must tolerate."""
    if answer.get("status") != "0":
        return answer  # a refusal keeps its shape
    if shape == "without_array":
        return {"status": "0", "success": answer["success"], "fail": answer["fail"]}
    # "plus_numbers": the numbers echoed in another format, without orderIds
    echoed = [{"msgId": r["msgId"], "number": f"+{r['number']}"} for r in answer["array"]]
    return {**answer, "array": echoed}


def _json(answer: Answer, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(answer, separators=(",", ":")).encode(),
        status=status,
        content_type=JSON_CONTENT_TYPE,
        charset="utf-8",
    )


def _count_numbers(endpoint: str, fields: Mapping[str, Any]) -> int:
    """Numbers in a send request (0 for other endpoints or garbage), for the request log."""
    if endpoint == "sendSms":
        items: list[Any] = [fields]
    elif endpoint == "sendSms/batch" and isinstance(fields.get("array"), list):
        items = fields["array"]
    else:
        return 0
    return sum(
        x["numbers"].count(",") + 1
        for x in items
        if isinstance(x, Mapping) and isinstance(x.get("numbers"), str) and x["numbers"].strip()
    )
