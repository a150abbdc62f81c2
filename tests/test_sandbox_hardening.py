"""Sandbox knobs for the fault matrix (redirects, tolerated answer shapes), quiet disconnects
and a clear error for a bad port. Real loopback HTTP throughout."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from random import Random

import aiohttp
import pytest
from conftest import FAST_SETTINGS

from itnio_campaign.client import AsyncClient
from itnio_campaign.errors import RedirectError, UsageError
from itnio_campaign.models import BatchItem
from itnio_campaign.sandbox import Sandbox, SandboxThread
from itnio_campaign.sandbox.__main__ import main as sandbox_main

QUIET = {"delivery_delay": (0.0, 0.0), "reply_rate": 0.0, "undelivered_rate": 0.0}
N1, N2, N3 = "919876543210", "919876543211", "919876543212"


async def post_send(sb: Sandbox, body: dict[str, str]) -> tuple[int, dict[str, str], str]:
    """One signed sendSms POST that follows nothing: (status, headers, text)."""
    headers = sb.credentials.headers(int(sb.knobs.clock()))
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sb.url}/sendSms", json={"appId": sb.knobs.app_id, **body}, headers=headers,
            allow_redirects=False,
        ) as resp,
    ):  # fmt: skip
        return resp.status, dict(resp.headers), await resp.text()


# -- redirects --------------------------------------------------------------------------------
@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_redirect_fault_answers_3xx_with_location_and_accepts_nothing(code: int) -> None:
    target = "http://127.0.0.1:9/elsewhere/sendSms"
    async with Sandbox(redirect_to=target, **QUIET) as sb:
        sb.inject("sendSms", f"redirect_{code}")
        status, headers, _ = await post_send(sb, {"numbers": f"{N1},{N2}", "content": "x"})
        assert (status, headers["Location"]) == (code, target)
        assert len(sb.accepted) == 0 and sb.balance == Decimal("1000")
        record = sb.requests[-1]
        assert (record.status, record.fault, record.numbers) == (
            f"HTTP {code}", f"redirect_{code}", 2,
        )  # fmt: skip
        status, _, _ = await post_send(sb, {"numbers": N1, "content": "x"})
        assert status == 200 and sb.times_accepted(N1) == 1  # the fault was consumed


async def test_redirect_fault_as_a_rate_hits_a_read_endpoint_too() -> None:
    async with (
        Sandbox(fault_rates={"redirect_308": 1.0}, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        with pytest.raises(RedirectError) as info:
            await client.get_balance()
        assert info.value.location == "http://127.0.0.1:9/sms/moved"  # the knob's default
        assert [r.status for r in sb.requests] == ["HTTP 308"]


def test_redirect_to_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="redirect_to"):
        Sandbox(redirect_to="http://x/\r\nSet-Cookie: a=b")


# -- answer shapes a client must tolerate -----------------------------------------------------
async def test_accept_without_array_accepts_for_real_and_answers_counts_only() -> None:
    async with Sandbox(**QUIET) as sb:
        sb.inject("sendSms", "accept_without_array")
        status, _, text = await post_send(
            sb, {"numbers": f"{N1},{N2},{N3}", "content": "x", "orderId": "a,b,c"}
        )
        assert status == 200
        assert text == '{"status":"0","success":"3","fail":"0"}'
        assert sb.accept_counts() == {"a": 1, "b": 1, "c": 1}
        assert sb.balance == Decimal("1000") - 3 * Decimal("0.005")
        assert sb.requests[-1].fault == "accept_without_array"
        # Reconcile's source of truth sees them: getSentRcd lists each number once.
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            now = sb.knobs.clock()
            page = await client.get_sent_records(_aware(now - 60), _aware(now + 60))
        assert sorted(r.number for r in page.records) == [N1, N2, N3]


async def test_accept_plus_numbers_echoes_plus_numbers_without_order_ids() -> None:
    async with Sandbox(**QUIET) as sb:
        sb.inject("sendSms", "accept_plus_numbers")
        status, _, text = await post_send(
            sb, {"numbers": f"{N1},{N2}", "content": "x", "orderId": "a,b"}
        )
        assert status == 200
        answer = json.loads(text)
        assert [r["number"] for r in answer["array"]] == [f"+{N1}", f"+{N2}"]
        assert all("orderId" not in r for r in answer["array"])
        assert (answer["success"], answer["fail"]) == ("2", "0")
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            sent = await client.send_sms([N3], "y")  # the fault was consumed: a clean answer
            assert sent.numbers == (N3,)
            # The msgIds are real: getReport (reconcile's other source) knows them.
            report = await client.get_report([r["msgId"] for r in answer["array"]])
        assert sorted(r.number for r in report.records) == [N1, N2]
        assert sb.accept_counts() == {"a": 1, "b": 1, N3: 1}


async def test_shape_faults_on_the_batch_endpoint_and_as_a_flag() -> None:
    async with (
        Sandbox(fault_rates={"accept_without_array": 1.0}, **QUIET) as sb,
        AsyncClient(sb.credentials, FAST_SETTINGS) as client,
    ):
        sent = await client.send_sms_batch(
            [BatchItem((N1,), "Hi A", order_ids=("a",)), BatchItem((N2,), "Hi B", order_ids=("b",))]
        )
        assert (sent.success, sent.fail, sent.msg_ids) == (2, 0, ())
        assert (await client.get_balance()).balance == Decimal("1000") - 2 * Decimal("0.005")
        assert sb.number_counts() == {N1: 1, N2: 1}


async def test_shape_fault_leaves_a_refusal_as_it_is() -> None:
    async with Sandbox(balance="0", **QUIET) as sb:
        sb.inject("sendSms", "accept_without_array")
        _, _, text = await post_send(sb, {"numbers": N1, "content": "x"})
        assert '"status":"-10"' in text and len(sb.accepted) == 0


def test_shape_fault_cannot_be_injected_on_a_read_endpoint() -> None:
    with pytest.raises(ValueError, match="getBalance sends nothing"):
        Sandbox().inject("getBalance", "accept_plus_numbers")


async def test_times_accepted_counts_every_accept_of_a_number() -> None:
    async with Sandbox(**QUIET) as sb:
        for order_id in ("x1", "x2"):  # the same person twice, under two orderIds
            await post_send(
                sb, {"numbers": f"{N1},{N2}", "content": "x", "orderId": order_id + ",y" + order_id}
            )
        assert sb.times_accepted(N1) == 2
        assert sb.times_accepted(f"+{N1}") == 2 and sb.times_accepted(" +91 98765 43211") == 2
        assert sb.times_accepted(N3) == 0
        assert sb.number_counts() == {N1: 2, N2: 2}
        assert max(sb.accept_counts().values()) == 1  # what orderIds alone would not show


def test_times_accepted_through_the_thread() -> None:
    with SandboxThread(**QUIET) as sb:
        assert sb.times_accepted(N1) == 0 and sb.number_counts() == {}


# -- a client that leaves mid-request ---------------------------------------------------------
async def test_client_cancelled_mid_request_leaves_no_error_in_the_sandbox_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    arrived = asyncio.Event()
    delays = iter([3600.0])  # the first request waits (woken by stop), the rest none

    def latency(rng: Random) -> float:
        arrived.set()
        return next(delays, 0.0)

    sb = await Sandbox(latency=latency, **QUIET).start()
    try:
        leaving = AsyncClient(sb.credentials, FAST_SETTINGS)
        await leaving.open()
        task = asyncio.create_task(leaving.send_sms([N1], "x"))
        await arrived.wait()  # the sandbox holds the request, sleeping out its latency
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await leaving.close()  # its socket is closed before the next connection opens
        # A full round trip on a new connection: the server has seen the first one go.
        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            await client.get_balance()
    finally:
        await sb.stop()  # wakes the first request, which finds its client gone
    first = next(r for r in sb.requests if r.endpoint == "sendSms")
    assert first.status == "disconnected"
    assert len(sb.accepted) == 0
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert loud == [], [r.getMessage() for r in loud]


# -- a bad port -------------------------------------------------------------------------------
@pytest.mark.parametrize("port", [99999, -1, 65536, "8080", True])
def test_bad_port_is_one_clear_usage_error(port: object) -> None:
    with pytest.raises(UsageError) as info:
        Sandbox(port=port)
    text = str(info.value)
    assert "0..65535" in text and repr(port) in text and "\n" not in text


def test_bad_port_on_the_command_line_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert sandbox_main(["--port", "99999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: port must be a whole number 0..65535 (0: any free port), not 99999"


def test_python_m_sandbox_bad_port_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "itnio_campaign.sandbox", "--port", "99999"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: port must be a whole number 0..65535 (0: any free port), not 99999"
    ]


def _aware(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
