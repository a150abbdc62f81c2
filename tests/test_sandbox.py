"""The sandbox over real loopback HTTP, with raw aiohttp and hand-signed requests."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from itnio_campaign.sandbox import AcceptedMessage, Sandbox, SandboxThread
from itnio_campaign.sandbox.__main__ import main as sandbox_main

T0 = 1_750_000_000.0  # 2025-06-15, a fixed "now" for the fake clock
TZ8 = timezone(timedelta(hours=8))
NUM = "919876543210"


class FakeClock:
    """The sandbox's clock, moved only by the test."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Caller:
    """Signs and sends raw requests to one sandbox."""

    def __init__(self, sb: Sandbox, session: aiohttp.ClientSession) -> None:
        self.sb = sb
        self.session = session
        self.app_id = sb.credentials.app_id
        self.last_headers: Any = None

    def headers(self, **overrides: str) -> dict[str, str]:
        h = self.sb.credentials.headers(int(self.sb.knobs.clock()))
        h.update(overrides)
        return h

    async def call(
        self,
        method: str,
        endpoint: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        t = aiohttp.ClientTimeout(total=timeout) if timeout else None
        async with self.session.request(
            method,
            f"{self.sb.url}/{endpoint}",
            headers=headers or self.headers(),
            timeout=t,
            **kwargs,
        ) as r:
            self.last_headers = r.headers
            text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    async def post(self, endpoint: str, body: Any, **kwargs: Any) -> dict[str, Any]:
        status, answer = await self.call("POST", endpoint, json=body, **kwargs)
        assert status == 200, answer
        return answer

    async def get(self, endpoint: str, params: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        status, answer = await self.call("GET", endpoint, params=params, **kwargs)
        assert status == 200, answer
        return answer

    async def send(self, numbers: str, content: str = "Hello", **fields: Any) -> dict[str, Any]:
        return await self.post(
            "sendSms", {"appId": self.app_id, "numbers": numbers, "content": content, **fields}
        )

    async def batch(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        return await self.post("sendSms/batch", {"appId": self.app_id, "array": items})

    async def report(self, ids: list[str]) -> dict[str, Any]:
        return await self.get("getReport", {"appId": self.app_id, "msgIds": ",".join(ids)})

    async def sent(self, start: str, end: str, index: str | None = None) -> dict[str, Any]:
        params = {"appId": self.app_id, "startTime": start, "endTime": end}
        if index is not None:
            params["startIndex"] = index
        return await self.get("getSentRcd", params)

    async def mo(self, start: str, end: str, current: Any = 1, size: Any = 100) -> dict[str, Any]:
        return await self.post(
            "recordMo",
            {
                "appId": self.app_id,
                "current": current,
                "size": size,
                "params": {"strTime": start, "endTime": end},
            },
        )

    async def balance(self) -> dict[str, Any]:
        return await self.get("getBalance", {})


@contextlib.asynccontextmanager
async def serve(**knobs: Any) -> AsyncIterator[Caller]:
    async with Sandbox(**knobs) as sb, aiohttp.ClientSession() as session:
        yield Caller(sb, session)


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def numbers(n: int, start: int = 919800000000) -> str:
    return ",".join(str(start + i) for i in range(n))


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, TZ8).isoformat()


def strings_only(obj: Any) -> bool:
    """Every leaf of a JSON answer is a string (arrays and objects aside)."""
    if isinstance(obj, dict):
        return all(strings_only(v) for v in obj.values())
    if isinstance(obj, list):
        return all(strings_only(v) for v in obj)
    return isinstance(obj, str)


# --- sendSms ---------------------------------------------------------------------------------


async def test_send_post_happy_path() -> None:
    async with serve(seed=1) as api:
        answer = await api.send(
            "91856321412,91856321413", "hello world", senderId="123", orderId="21412,21413"
        )
        assert strings_only(answer)
        assert (answer["status"], answer["success"], answer["fail"]) == ("0", "2", "0")
        assert [(a["number"], a["orderId"]) for a in answer["array"]] == [
            ("91856321412", "21412"),
            ("91856321413", "21413"),
        ]
        ids = [a["msgId"] for a in answer["array"]]
        assert all(i.isdigit() and len(i) == 19 for i in ids) and len(set(ids)) == 2
        first = api.sb.accepted[0]
        assert isinstance(first, AcceptedMessage)
        assert (first.msg_id, first.content, first.sender_id, first.segments) == (
            ids[0],
            "hello world",
            "123",
            1,
        )
        assert api.sb.accept_counts() == {"21412": 1, "21413": 1}
        assert api.sb.balance == Decimal("1000") - 2 * Decimal("0.005")


async def test_partial_failure_example() -> None:
    async with serve() as api:
        answer = await api.send("919876543210,12")
        assert (answer["status"], answer["success"], answer["fail"]) == ("0", "1", "1")
        assert [a["number"] for a in answer["array"]] == ["919876543210"]
        assert len(api.sb.accepted) == 1
        assert api.sb.balance == Decimal("1000") - Decimal("0.005")  # the bad one is free


async def test_invalid_prefixes_and_lengths_fail_per_number() -> None:
    async with serve(invalid_prefixes=("999",)) as api:
        answer = await api.send("9991234567,1234567,1234567890123456,12345678", orderId="a,b,c,d")
        assert (answer["success"], answer["fail"]) == ("1", "3")
        assert answer["array"][0]["number"] == "12345678"
        assert answer["array"][0]["orderId"] == "d"  # orderIds stay aligned
        assert api.sb.accept_counts() == {"d": 1}


async def test_send_get_decodes_url_encoded_content() -> None:
    content = "50% off & more + free, ünïcode 🎉"
    async with serve() as api:
        answer = await api.get(
            "sendSms",
            {
                "appId": api.app_id,
                "numbers": numbers(100),
                "content": content,
            },
        )
        assert (answer["status"], answer["success"]) == ("0", "100")
        assert api.sb.accepted[-1].content == content
        assert api.sb.accepted[-1].encoding == "UCS-2"
        too_many = await api.get(
            "sendSms", {"appId": api.app_id, "numbers": numbers(101), "content": "x"}
        )
        assert too_many["status"] == "-7"
        assert [r.method for r in api.sb.requests] == ["GET", "GET"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"numbers": ""}, "-8"),
        ({"numbers": " , "}, "-9"),
        ({"numbers": None}, "-8"),
        ({"content": ""}, "-4"),
        ({"content": None}, "-4"),
        ({"numbers": numbers(1001)}, "-7"),
        ({"numbers": "9198765+43210"}, "-9"),
        ({"numbers": "919876543210,,919876543211"}, "-9"),
        ({"numbers": "+919876543210"}, "-9"),
        ({"numbers": "९१९८७६५४३२१०"}, "-9"),  # non-ASCII digits
        ({"content": "x" * 1025}, "-5"),
        ({"senderId": "S" * 33}, "-22"),
        ({"orderId": "a,b"}, "-22"),
        ({"content": "Win at the CASINO tonight"}, "-3"),
        ({"content": "You are a Lottery Winner"}, "-3"),
        ({"appId": "other-app"}, "-1"),
        ({"appId": None}, "-1"),
    ],
)
async def test_send_limits(fields: dict[str, Any], code: str) -> None:
    async with serve() as api:
        body = {"appId": api.app_id, "numbers": NUM, "content": "Hello", **fields}
        body = {k: v for k, v in body.items() if v is not None}
        answer = await api.post("sendSms", body)
        assert answer["status"] == code, answer
        assert answer["reason"]
        assert len(api.sb.accepted) == 0
        assert api.sb.balance == Decimal("1000")


async def test_send_limits_accept_the_maximum() -> None:
    async with serve() as api:
        answer = await api.send(numbers(1000), "x" * 1024, senderId="S" * 32)
        assert (answer["status"], answer["success"]) == ("0", "1000")


async def test_templates_and_unpriced_prefixes() -> None:
    async with serve(templates=[r"Your code is \d{4}"], unpriced_prefixes=("86",)) as api:
        assert (await api.send(NUM, "Your code is 1234"))["status"] == "0"
        assert (await api.send(NUM, "Your code is 1234!"))["status"] == "-6"
        answer = await api.send(f"{NUM},8613800000000", "Your code is 1234")
        assert answer["status"] == "-19"
        assert len(api.sb.accepted) == 1


# --- authentication --------------------------------------------------------------------------

ALL_ENDPOINTS = [
    ("POST", "sendSms", {"json": {"appId": "sandbox-app", "numbers": NUM, "content": "x"}}),
    ("GET", "sendSms", {"params": {"appId": "sandbox-app", "numbers": NUM, "content": "x"}}),
    (
        "POST",
        "sendSms/batch",
        {"json": {"appId": "sandbox-app", "array": [{"numbers": NUM, "content": "x"}]}},
    ),
    ("GET", "getReport", {"params": {"appId": "sandbox-app", "msgIds": "1"}}),
    (
        "GET",
        "getSentRcd",
        {"params": {"appId": "sandbox-app", "startTime": iso(T0 - 60), "endTime": iso(T0)}},
    ),
    (
        "POST",
        "recordMo",
        {
            "json": {
                "appId": "sandbox-app",
                "current": 1,
                "size": 10,
                "params": {"strTime": iso(T0 - 60), "endTime": iso(T0)},
            }
        },
    ),
    ("GET", "getBalance", {}),
]


@pytest.mark.parametrize(("method", "endpoint", "request_kwargs"), ALL_ENDPOINTS)
async def test_auth_on_every_endpoint(
    method: str, endpoint: str, request_kwargs: dict[str, Any]
) -> None:
    clock = FakeClock()
    async with serve(clock=clock) as api:
        good = api.headers()
        cases = {
            "-1": [
                api.headers(**{"Api-Key": "wrong"}),
                api.headers(Sign="0" * 32),
                {k: v for k, v in good.items() if k != "Sign"},
            ],
            "-16": [
                api.sb.credentials.headers(int(T0) - 1801),
                {**good, "Timestamp": "soon", "Sign": md5_hex("sandbox-keysandbox-secretsoon")},
            ],
        }
        for code, headers in ((c, h) for c, hs in cases.items() for h in hs):
            _, answer = await api.call(method, endpoint, headers=headers, **request_kwargs)
            assert answer["status"] == code, (headers, answer)
        status, answer = await api.call(method, endpoint, headers=good, **request_kwargs)
        assert (status, answer["status"]) == (200, "0"), answer
        within = api.sb.credentials.headers(int(T0) - 1800)
        _, answer = await api.call(method, endpoint, headers=within, **request_kwargs)
        assert answer["status"] == "0"
        sends = sum(r.status == "0" for r in api.sb.requests)
        assert len(api.sb.accepted) == (sends if endpoint.startswith("sendSms") else 0)


@pytest.mark.parametrize(
    ("knobs", "code"),
    [({"allowed_ips": ["10.1.2.3"]}, "-2"), ({"locked": True}, "-13")],
)
async def test_ip_whitelist_and_locked_account(knobs: dict[str, Any], code: str) -> None:
    async with serve(**knobs) as api:
        assert (await api.send(NUM))["status"] == code
        assert (await api.balance())["status"] == code
        assert len(api.sb.accepted) == 0
    async with serve(allowed_ips=["127.0.0.1"]) as api:
        assert (await api.send(NUM))["status"] == "0"


async def test_get_balance_app_id_optional_but_checked() -> None:
    async with serve() as api:
        assert (await api.get("getBalance", {"appId": api.app_id}))["status"] == "0"
        assert (await api.get("getBalance", {"appId": "nope"}))["status"] == "-1"


# --- balance and charging --------------------------------------------------------------------


async def test_balance_charged_per_segment() -> None:
    async with serve(balance="10", price_per_segment="0.01") as api:
        assert (await api.send(numbers(3), "a" * 160))["status"] == "0"  # 1 segment
        assert (await api.send(numbers(3), "a" * 161))["status"] == "0"  # 2 GSM-7 parts
        assert (await api.send(numbers(2), "ë" + "x" * 70))["status"] == "0"  # UCS-2: 71 > 70
        msgs = list(api.sb.accepted)
        assert [m.segments for m in msgs] == [1, 1, 1, 2, 2, 2, 2, 2]
        assert [m.cost for m in msgs[3:]] == [Decimal("0.02")] * 5
        expected = Decimal("10") - Decimal("0.01") * (3 * 1 + 3 * 2 + 2 * 2)
        assert api.sb.balance == expected
        answer = await api.balance()
        assert strings_only(answer)
        assert Decimal(answer["balance"]) == expected
        assert (answer["gift"], answer["credit"]) == ("0", "0")


async def test_insufficient_balance_accepts_nothing() -> None:
    async with serve(balance="0.02", price_per_segment="0.01") as api:
        answer = await api.send(numbers(3))
        assert answer["status"] == "-10"
        assert len(api.sb.accepted) == 0 and api.sb.balance == Decimal("0.02")
        assert (await api.send(numbers(2)))["status"] == "0"  # exactly the balance is fine
        assert api.sb.balance == 0
        api.sb.balance = Decimal("5")
        assert (await api.send(numbers(1)))["status"] == "0"


# --- sendSms/batch ---------------------------------------------------------------------------


async def test_batch_happy_path_flat_array() -> None:
    async with serve() as api:
        answer = await api.batch(
            [
                {"numbers": "919800000001,919800000002", "content": "Hi A", "orderId": "a1,a2"},
                {
                    "numbers": "919800000003,5",
                    "content": "Hi B",
                    "senderId": "Shop",
                    "orderId": "b1,b2",
                },
            ]
        )
        assert strings_only(answer)
        assert (answer["status"], answer["success"], answer["fail"]) == ("0", "3", "1")
        assert [a["orderId"] for a in answer["array"]] == ["a1", "a2", "b1"]
        assert [m.content for m in api.sb.accepted] == ["Hi A", "Hi A", "Hi B"]
        assert api.sb.accepted[2].sender_id == "Shop"
        assert {m.endpoint for m in api.sb.accepted} == {"sendSms/batch"}
        assert api.sb.requests[-1].numbers == 4


@pytest.mark.parametrize(
    ("array", "code"),
    [
        ([{"numbers": NUM, "content": "ok"}, {"numbers": NUM, "content": ""}], "-4"),
        ([{"numbers": NUM, "content": "ok"}, {"numbers": "12a", "content": "ok"}], "-9"),
        (
            [{"numbers": numbers(600), "content": "a"}, {"numbers": numbers(401), "content": "b"}],
            "-7",
        ),
        ([], "-8"),
        (None, "-8"),
        ("919876543210", "-22"),
        ([NUM], "-22"),
        ([{"numbers": [NUM], "content": "ok"}], "-22"),
    ],
)
async def test_batch_rules_reject_whole_request(array: Any, code: str) -> None:
    async with serve() as api:
        body: dict[str, Any] = {"appId": api.app_id}
        if array is not None:
            body["array"] = array
        answer = await api.post("sendSms/batch", body)
        assert answer["status"] == code, answer
        assert len(api.sb.accepted) == 0


async def test_batch_total_limit_is_a_knob() -> None:
    async with serve(batch_max_numbers=5) as api:
        answer = await api.batch(
            [{"numbers": numbers(3), "content": "a"}, {"numbers": numbers(3), "content": "b"}]
        )
        assert answer["status"] == "-7"
        answer = await api.batch([{"numbers": numbers(5), "content": "a"}])
        assert answer["status"] == "0"


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "http", "retry_after"),
    [
        ("http_500", 500, None),
        ("http_503", 503, "2.5"),
        ("http_429", 429, "2.5"),
        ("http_502", 502, None),
    ],
)
async def test_http_faults_accept_nothing(fault: str, http: int, retry_after: str | None) -> None:
    async with serve(retry_after=2.5) as api:
        api.sb.inject("sendSms", fault)
        status, _ = await api.call(
            "POST", "sendSms", json={"appId": api.app_id, "numbers": numbers(3), "content": "x"}
        )
        assert status == http
        assert api.last_headers.get("Retry-After") == retry_after
        assert len(api.sb.accepted) == 0 and api.sb.balance == Decimal("1000")
        record = api.sb.requests[-1]
        assert (record.status, record.fault, record.numbers) == (f"HTTP {http}", fault, 3)
        assert (await api.send(NUM))["status"] == "0"  # the fault was consumed


@pytest.mark.parametrize("code", ["-15", "-16", "-18", "-10", "-1"])
async def test_api_faults_accept_nothing(code: str) -> None:
    async with serve() as api:
        api.sb.inject("sendSms/batch", f"api_{code}")
        answer = await api.batch([{"numbers": numbers(2), "content": "x"}])
        assert answer["status"] == code
        assert len(api.sb.accepted) == 0 and api.sb.balance == Decimal("1000")
        assert api.sb.requests[-1].fault == f"api_{code}"


async def test_api_fault_on_a_query_endpoint() -> None:
    async with serve() as api:
        api.sb.inject("getBalance", "api_-15")
        assert (await api.balance())["status"] == "-15"
        assert (await api.balance())["status"] == "0"


async def test_drop_after_accept_disconnects_and_accepts_once() -> None:
    async with serve() as api:
        api.sb.inject("sendSms", "drop_after_accept")
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await api.send("919800000001,919800000002", orderId="o1,o2")
        assert api.sb.accept_counts() == {"o1": 1, "o2": 1}
        assert api.sb.balance == Decimal("1000") - 2 * Decimal("0.005")
        assert (api.sb.requests[-1].status, api.sb.requests[-1].fault) == ("0", "drop_after_accept")
        assert (await api.send(NUM))["status"] == "0"  # the server keeps serving


async def test_delay_after_accept_times_out_the_client_but_accepts_once() -> None:
    async with serve(slow_answer_seconds=30) as api:
        api.sb.inject("sendSms", "delay_after_accept")
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await api.post(
                "sendSms",
                {"appId": api.app_id, "numbers": "919800000001", "content": "x", "orderId": "o1"},
                timeout=0.3,
            )
        assert time.monotonic() - started < 5
        assert api.sb.accept_counts() == {"o1": 1}
        assert len(api.sb.accepted) == 1
    # leaving the block stopped the sandbox without waiting the 30 s out


async def test_delay_after_accept_answers_late() -> None:
    async with serve(slow_answer_seconds=0.2) as api:
        api.sb.inject("sendSms", "delay_after_accept")
        answer = await api.post(
            "sendSms", {"appId": api.app_id, "numbers": NUM, "content": "x"}, timeout=5
        )
        assert answer["status"] == "0"
        record = api.sb.requests[-1]
        assert record.finished - record.started >= 0.2


async def test_scripted_faults_are_consumed_in_order() -> None:
    async with serve() as api:
        api.sb.inject("/sms/getBalance", "http_503", None, "api_-16", "none")
        seen = []
        for _ in range(5):
            status, answer = await api.call("GET", "getBalance")
            seen.append(str(status) if status != 200 else answer["status"])
        assert seen == ["503", "0", "-16", "0", "0"]


def test_bad_fault_or_endpoint_fails_at_once() -> None:
    sb = Sandbox()
    with pytest.raises(ValueError, match="unknown fault"):
        sb.inject("sendSms", "http_5xx")
    with pytest.raises(ValueError, match="unknown endpoint"):
        sb.inject("sendSMS", "http_503")
    with pytest.raises(ValueError, match="unknown fault"):
        Sandbox(fault_rates={"explode": 0.1})
    with pytest.raises(ValueError, match="more than 1"):
        Sandbox(fault_rates={"http_503": 0.6, "http_500": 0.6})


async def fault_sequence(seed: int) -> list[str]:
    async with serve(
        seed=seed, fault_rates={"http_503": 0.3, "api_-15": 0.2}, fault_endpoints=["sendSms"]
    ) as api:
        for i in range(40):
            with contextlib.suppress(aiohttp.ClientError):
                await api.call(
                    "POST",
                    "sendSms",
                    json={"appId": api.app_id, "numbers": str(919800000000 + i), "content": "x"},
                )
        assert {r.fault for r in api.sb.requests} <= {None, "http_503", "api_-15"}
        assert (await api.balance())["status"] == "0"  # getBalance is not in fault_endpoints
        accepted = {m.number for m in api.sb.accepted}
        ok = {str(919800000000 + i) for i, r in enumerate(api.sb.requests[:40]) if r.fault is None}
        assert accepted == ok
        return [r.status for r in api.sb.requests[:40]]


async def test_random_faults_are_seeded() -> None:
    first = await fault_sequence(seed=5)
    assert first == await fault_sequence(seed=5)
    assert first != await fault_sequence(seed=6)
    assert {"0", "HTTP 503", "-15"} == set(first)


async def test_rate_limit_answers_minus_15() -> None:
    clock = FakeClock()
    async with serve(clock=clock, max_requests_per_second=2) as api:
        assert [(await api.balance())["status"] for _ in range(3)] == ["0", "0", "-15"]
        clock.advance(1.0)
        assert (await api.balance())["status"] == "0"


async def test_latency_and_max_in_flight() -> None:
    async with serve(latency=(0.3, 0.3)) as api:
        answers = await asyncio.gather(*(api.send(str(919800000000 + i)) for i in range(5)))
        assert all(a["status"] == "0" for a in answers)
        assert api.sb.max_in_flight == 5
        assert all(r.finished - r.started >= 0.3 for r in api.sb.requests)
        await api.balance()
        assert api.sb.max_in_flight == 5  # only send requests count


async def test_latency_callable_gets_the_seeded_rng() -> None:
    drawn: list[float] = []

    def latency(rng: Any) -> float:
        drawn.append(rng.random())
        return 0.0

    async with serve(latency=latency, seed=9) as api:
        await api.balance()
        await api.balance()
    assert len(drawn) == 2


# --- delivery reports ------------------------------------------------------------------------


async def test_delivery_moves_from_sending_to_final() -> None:
    clock = FakeClock()
    async with serve(clock=clock, undelivered_rate=0.5, seed=3) as api:
        answer = await api.send(numbers(20))
        ids = [a["msgId"] for a in answer["array"]]
        report = await api.report([*ids, "2100000000000000000"])
        assert strings_only(report)
        assert (report["sending"], report["success"], report["fail"], report["nofound"]) == (
            "20",
            "0",
            "0",
            "1",
        )
        assert {e["status"] for e in report["array"]} == {"-1"}
        assert [e["msgId"] for e in report["array"]] == ids
        clock.advance(2.0)  # delivery_delay's upper bound
        report = await api.report(ids)
        statuses = [e["status"] for e in report["array"]]
        assert set(statuses) == {"0", "1"} and report["sending"] == "0"
        assert int(report["success"]) + int(report["fail"]) == 20
        delivered = [m.delivered for m in api.sb.accepted]
        assert statuses == ["0" if d else "1" for d in delivered]
        for entry, msg in zip(report["array"], api.sb.accepted, strict=True):
            when = datetime.fromisoformat(entry["receiveTime"])
            assert when.utcoffset() is not None
            assert when.timestamp() == pytest.approx(msg.settles_at, abs=1)
            assert T0 + 0.2 - 1 <= when.timestamp() <= T0 + 2.0


async def test_settle_all_makes_delivery_final_now() -> None:
    clock = FakeClock()
    async with serve(clock=clock, undelivered_rate=0.0) as api:
        ids = [a["msgId"] for a in (await api.send(numbers(5)))["array"]]
        api.sb.settle_all()
        report = await api.report(ids)
        assert report["success"] == "5"


async def test_report_lag_counts_queued_ids_as_nofound() -> None:
    clock = FakeClock()
    async with serve(
        clock=clock, report_lag=1.0, delivery_delay=(0.0, 0.0), undelivered_rate=0.0
    ) as api:
        ids = [a["msgId"] for a in (await api.send(numbers(2)))["array"]]
        assert (await api.report(ids))["nofound"] == "2"
        clock.advance(1.0)
        assert (await api.report(ids))["success"] == "2"


@pytest.mark.parametrize(
    "ids", ["", ",", "abc", ",".join(str(2100000000000000000 + i) for i in range(201))]
)
async def test_report_rejects_bad_id_lists(ids: str) -> None:
    async with serve() as api:
        answer = await api.get("getReport", {"appId": api.app_id, "msgIds": ids})
        assert answer["status"] == "-14"
    async with serve() as api:
        answer = await api.get("getReport", {"appId": api.app_id})
        assert answer["status"] == "-14"


async def test_report_accepts_200_ids() -> None:
    async with serve() as api:
        ids = [a["msgId"] for a in (await api.send(numbers(200)))["array"]]
        assert (await api.report(ids))["status"] == "0"


# --- getSentRcd ------------------------------------------------------------------------------


async def test_sent_records_paging() -> None:
    clock = FakeClock()
    async with serve(clock=clock, sent_records_page_size=3, undelivered_rate=0.0) as api:
        sent = []
        for i in range(7):
            clock.advance(10)
            sent += (await api.send(str(919800000000 + i)))["array"]
        clock.advance(5)
        await api.send("919899999999")  # outside the window
        window = (iso(T0), iso(T0 + 70))
        pages = [await api.sent(*window, index=str(i)) for i in (0, 3, 6, 9)]
        assert all(strings_only(p) for p in pages)
        assert [len(p["array"]) for p in pages] == [3, 3, 1, 0]
        assert {p["total"] for p in pages} == {"7"}
        records = [r for p in pages for r in p["array"]]
        assert [(r["msgId"], r["number"]) for r in records] == [
            (s["msgId"], s["number"]) for s in sent
        ]
        assert {r["status"] for r in records} == {"0"}
        times = [datetime.fromisoformat(r["receiveTime"]).timestamp() for r in records]
        assert times == [T0 + 10 * (i + 1) for i in range(7)]
        assert (await api.sent(*window))["array"] == pages[0]["array"]  # startIndex defaults 0


async def test_sent_records_mark_failed_deliveries() -> None:
    clock = FakeClock()
    async with serve(clock=clock, undelivered_rate=1.0) as api:
        await api.send(numbers(2))
        api.sb.settle_all()
        page = await api.sent(iso(T0 - 1), iso(T0 + 1))
        assert [r["status"] for r in page["array"]] == ["2", "2"]
        assert (page["success"], page["fail"]) == ("0", "2")


@pytest.mark.parametrize(
    ("start", "end", "index", "code"),
    [
        ("yesterday", iso(T0), None, "-11"),
        ("", iso(T0), None, "-11"),
        (iso(T0 - 32 * 86400), iso(T0), None, "-25"),
        (iso(T0 - 91 * 86400), iso(T0 - 90 * 86400), None, "-25"),
        (iso(T0), iso(T0 - 60), None, "-25"),
        (iso(T0 - 60), iso(T0), "-1", "-22"),
        (iso(T0 - 60), iso(T0), "x", "-22"),
        (iso(T0 - 31 * 86400), iso(T0), None, "0"),
    ],
)
async def test_sent_records_window_rules(
    start: str, end: str, index: str | None, code: str
) -> None:
    async with serve(clock=FakeClock()) as api:
        assert (await api.sent(start, end, index))["status"] == code


# --- recordMo --------------------------------------------------------------------------------


async def test_record_mo_paging() -> None:
    clock = FakeClock()
    async with serve(clock=clock) as api:
        for i in range(5):
            api.sb.add_reply(f"91980000000{i}", "STOP" if i % 2 else "Thanks", at=T0 - 100 + i)
        api.sb.add_reply("919800000009", "future", at=T0 + 100)  # not received yet
        api.sb.add_reply("919800000008", "old", at=datetime.fromtimestamp(T0 - 5000, TZ8))
        start, end = iso(T0 - 1000), iso(T0 + 1000)
        pages = [await api.mo(start, end, current=c, size=2) for c in (1, 2, 3, 4)]
        assert all(strings_only(p) for p in pages)
        data = [p["data"] for p in pages]
        assert {(d["total"], d["pages"], d["size"]) for d in data} == {("5", "3", "2")}
        assert [d["current"] for d in data] == ["1", "2", "3", "4"]
        got = [r["number"] for d in data for r in d["records"]]
        assert got == [f"91980000000{i}" for i in range(5)]
        record = data[0]["records"][0]
        assert set(record) == {
            "number",
            "sendId",
            "receiveTime",
            "content",
            "mcc",
            "mnc",
            "operator",
            "pricedetail",
        }
        assert set(record["pricedetail"]) == {"pay", "chargeCnt", "currency", "price"}
        assert datetime.fromisoformat(record["receiveTime"]).timestamp() == T0 - 100
        clock.advance(100)
        assert (await api.mo(start, end))["data"]["total"] == "6"
        assert (await api.mo(start, end, current="1", size="3"))["data"]["pages"] == "2"


@pytest.mark.parametrize(
    ("start", "end", "current", "size", "code"),
    [
        (iso(T0 - 60), iso(T0), 1, 0, "-22"),
        (iso(T0 - 60), iso(T0), 1, 101, "-22"),
        (iso(T0 - 60), iso(T0), 0, 10, "-22"),
        (iso(T0 - 60), iso(T0), "one", 10, "-22"),
        (iso(T0 - 60), iso(T0), True, 10, "-22"),
        (iso(T0 - 32 * 86400), iso(T0), 1, 10, "-25"),
        ("2022-06-30T23:59:59+08:00", "2022-07-10T00:00:00+08:00", 1, 10, "-25"),
        ("2022-07-01T00:00:00+08:00", "2022-07-10T00:00:00+08:00", 1, 100, "0"),
        ("not a time", iso(T0), 1, 10, "-11"),
    ],
)
async def test_record_mo_rules(start: str, end: str, current: Any, size: Any, code: str) -> None:
    async with serve(clock=FakeClock()) as api:
        assert (await api.mo(start, end, current, size))["status"] == code


async def test_record_mo_params_must_be_an_object() -> None:
    async with serve() as api:
        answer = await api.post("recordMo", {"appId": api.app_id, "current": 1, "size": 10})
        assert answer["status"] == "-22"


async def test_simulated_replies_include_stop_variants() -> None:
    clock = FakeClock()
    async with serve(
        clock=clock, reply_rate=1.0, stop_share=0.5, undelivered_rate=0.0, seed=2
    ) as api:
        await api.send(numbers(60), senderId="Shop")
        start, end = iso(T0 - 10), iso(T0 + 86400)
        assert (await api.mo(start, end))["data"]["total"] == "0"  # replies come later
        clock.advance(20)  # delivery (≤ 2 s) + reply delay (≤ 10 s)
        records = (await api.mo(start, end))["data"]["records"]
        assert len(records) == 60
        contents = [r["content"] for r in records]
        stops = [c for c in contents if c.strip().rstrip(".").lower() == "stop"]
        assert 10 < len(stops) < 50
        assert len(set(stops)) > 1  # case and space variants
        assert {r["sendId"] for r in records} == {"Shop"}
        times = [r["receiveTime"] for r in records]
        assert times == sorted(times)


async def test_settle_all_brings_replies_forward() -> None:
    clock = FakeClock()
    async with serve(clock=clock, reply_rate=1.0, undelivered_rate=0.0) as api:
        await api.send(numbers(3))
        api.sb.settle_all()
        assert (await api.mo(iso(T0 - 10), iso(T0 + 10)))["data"]["total"] == "3"


# --- garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"{not json", b"[1, 2, 3]", b'"just a string"', b"\xff\xfe\x00garbage", b"", b"null"]
)
async def test_garbage_bodies_get_an_error_answer(body: bytes) -> None:
    async with serve() as api:
        for endpoint in ("sendSms", "sendSms/batch", "recordMo"):
            status, answer = await api.call("POST", endpoint, data=body)
            assert status == 200 and answer["status"] == "-22", (endpoint, answer)
        assert len(api.sb.accepted) == 0
        assert all(not r.status.startswith("HTTP") for r in api.sb.requests)


@pytest.mark.parametrize(
    "fields",
    [
        {"numbers": [NUM]},
        {"numbers": 919876543210},
        {"content": 5},
        {"content": ["x"]},
        {"orderId": 7},
        {"senderId": {"a": 1}},
    ],
)
async def test_wrong_types_get_minus_22(fields: dict[str, Any]) -> None:
    async with serve() as api:
        item = {"numbers": NUM, "content": "x", **fields}
        assert (await api.post("sendSms", {"appId": api.app_id, **item}))["status"] == "-22"
        assert (await api.batch([item]))["status"] == "-22"
        assert len(api.sb.accepted) == 0
        assert all(not r.status.startswith("HTTP") for r in api.sb.requests)


async def test_garbage_needs_auth_first() -> None:
    async with serve() as api:
        _, answer = await api.call(
            "POST", "sendSms", data=b"{oops", headers=api.headers(Sign="bad")
        )
        assert answer["status"] == "-1"


async def test_huge_body_is_refused_with_413() -> None:
    async with serve(client_max_size=64 * 1024) as api:
        body = {"appId": api.app_id, "numbers": NUM, "content": "x" * 100_000}
        status, answer = await api.call("POST", "sendSms", json=body)
        assert status == 413 and answer["status"] == "-22"
        assert api.sb.requests[-1].status == "HTTP 413"
        assert (await api.send(NUM))["status"] == "0"


async def test_unknown_path_and_method() -> None:
    async with serve() as api:
        status, _ = await api.call("GET", "sendSms/batch")
        assert status == 405
        status, _ = await api.call("GET", "nope")
        assert status == 404


# --- determinism and state -------------------------------------------------------------------


async def run_script(seed: int) -> tuple[list[str], list[bool], list[float]]:
    clock = FakeClock()
    async with serve(seed=seed, clock=clock, undelivered_rate=0.3) as api:
        ids = []
        for i in range(3):
            clock.advance(1)
            ids += [
                a["msgId"] for a in (await api.send(numbers(10, 919800000000 + 10 * i)))["array"]
            ]
        msgs = list(api.sb.accepted)
        return ids, [m.delivered for m in msgs], [m.settles_at for m in msgs]


async def test_same_seed_same_ids_and_outcomes() -> None:
    first = await run_script(seed=11)
    assert first == await run_script(seed=11)
    other = await run_script(seed=12)
    assert first[0] != other[0]
    assert len(set(first[0])) == 30


async def test_faults_and_latency_do_not_shift_ids_or_outcomes() -> None:
    async def outcomes(**knobs: Any) -> list[tuple[str, bool, float]]:
        async with serve(seed=8, clock=FakeClock(), undelivered_rate=0.5, **knobs) as api:
            for i in range(3):
                await api.get("getBalance", {})  # random faults/latency draw here
                await api.send(numbers(5, 919800000000 + 5 * i))
            return [(m.msg_id, m.delivered, m.settles_at) for m in api.sb.accepted]

    plain = await outcomes()
    assert plain == await outcomes(
        fault_rates={"api_-18": 0.5}, fault_endpoints=["getBalance"], latency=(0.0, 0.001)
    )


async def test_accepted_view_is_a_sequence_snapshot() -> None:
    async with serve() as api:
        await api.send(numbers(3))
        view = api.sb.accepted
        await api.send(numbers(2))
        assert len(view) == 3 and len(api.sb.accepted) == 5
        assert view[-1].number == view[2].number == "919800000002"
        assert [m.number for m in api.sb.accepted[3:]] == ["919800000000", "919800000001"]
        with pytest.raises(IndexError):
            view[3]
        assert api.sb.accept_counts() == {"919800000000": 2, "919800000001": 2, "919800000002": 1}


async def test_balance_and_credentials_never_show_the_secret() -> None:
    async with Sandbox() as sb:
        assert "sandbox-secret" not in repr(sb.credentials)
        assert sb.url.startswith("http://127.0.0.1:") and sb.url.endswith("/sms")


# --- SandboxThread and the command -----------------------------------------------------------


def sync_balance(url: str, creds: Any) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/getBalance", headers=creds.headers(int(time.time())))
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def sync_send(url: str, creds: Any, numbers_field: str) -> dict[str, Any]:
    body = json.dumps({"appId": creds.app_id, "numbers": numbers_field, "content": "hi"}).encode()
    request = urllib.request.Request(
        f"{url}/sendSms", data=body, headers=creds.headers(int(time.time())), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_sandbox_thread_from_sync_code() -> None:
    with SandboxThread(balance="3") as sb:
        assert sync_balance(sb.url, sb.credentials)["balance"] == "3"
        assert sync_send(sb.url, sb.credentials, numbers(4))["success"] == "4"
        assert len(sb.accepted) == 4 and sb.accept_counts()["919800000001"] == 1
        assert sb.balance == Decimal("3") - 4 * Decimal("0.005")
        sb.inject("getBalance", "http_503")
        with pytest.raises(urllib.error.HTTPError) as caught:
            sync_balance(sb.url, sb.credentials)
        assert caught.value.code == 503
        assert [r.endpoint for r in sb.requests] == ["getBalance", "sendSms", "getBalance"]
        url = sb.url
    with pytest.raises(urllib.error.URLError):
        sync_balance(url, sb.credentials)  # stopped: the port is closed


def test_sandbox_thread_start_stop_explicitly() -> None:
    sb = SandboxThread(seed=4).start()
    try:
        assert sync_balance(sb.url, sb.credentials)["status"] == "0"
        assert "serving" in repr(sb)
    finally:
        sb.stop()
    sb.stop()  # idempotent
    assert "stopped" in repr(sb)


def test_sandbox_thread_reports_bind_errors() -> None:
    with SandboxThread() as first:
        port = first.sandbox.port
        with pytest.raises(OSError):
            SandboxThread(port=port).start()


def test_cli_rejects_bad_fault_rate(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        sandbox_main(["--fault-rate", "http_503"])
    assert sandbox_main(["--fault-rate", "boom=0.1"]) == 2
    assert "unknown fault" in capsys.readouterr().err


def test_python_m_sandbox_serves() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "itnio_campaign.sandbox", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line
        url = line.split()[-1]
        from itnio_campaign.config import Credentials

        creds = Credentials("sandbox-key", "sandbox-secret", "sandbox-app", base_url=url)
        assert sync_balance(url, creds)["status"] == "0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- scale -----------------------------------------------------------------------------------


@pytest.mark.slow
async def test_throughput_and_compact_store() -> None:
    async with serve(balance="1e9") as api:
        body = json.dumps({"appId": api.app_id, "numbers": numbers(1000), "content": "Hi"})
        headers = api.headers()

        async def one() -> None:
            async with api.session.post(f"{api.sb.url}/sendSms", data=body, headers=headers) as r:
                assert r.status == 200
                await r.read()

        started = time.perf_counter()
        for _ in range(20):
            await asyncio.gather(*(one() for _ in range(10)))
        elapsed = time.perf_counter() - started
        assert len(api.sb.accepted) == 200_000
        # client and server share this process; the server alone does > 500k numbers/s
        assert 200_000 / elapsed > 50_000
