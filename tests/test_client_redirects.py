"""Redirects are never followed: a 3xx carries nothing (key, Sign, batch) to another host.

Real loopback servers: a "front" that answers every request with a redirect, and a
"recorder" (the Location's host) that records whatever reaches it — which must be nothing.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from conftest import FAST_SETTINGS
from crash_worker import build_plan

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import Credentials
from itnio_campaign.errors import FatalApiError, RedirectError
from itnio_campaign.recovery import resume_campaign
from itnio_campaign.runner import send_campaign
from itnio_campaign.sandbox import DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID, Sandbox

KEY, SECRET, APP = "live-key-7Qx9", "live-secret-Zr42", "app-1"
REDIRECTS = [301, 302, 307, 308]
DEMO = (DEMO_API_KEY, DEMO_API_SECRET, DEMO_APP_ID)


@dataclass
class Seen:
    """Requests one server received: (method, path, headers, body)."""

    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def loopback(handler: web.Handler) -> AsyncIterator[str]:
    """Serve ``handler`` for every path and method on 127.0.0.1; yield its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def recording(seen: Seen) -> web.Handler:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        seen.requests.append((request.method, request.path_qs, dict(request.headers), body))
        return web.json_response({"status": "0", "success": "1", "fail": "0", "array": []})

    return handler


def redirecting(seen: Seen, status: int, location: str) -> web.Handler:
    async def handler(request: web.Request) -> web.Response:
        seen.requests.append((request.method, request.path_qs, dict(request.headers), b""))
        return web.Response(status=status, headers={"Location": location})

    return handler


@contextlib.asynccontextmanager
async def front_and_recorder(status: int) -> AsyncIterator[tuple[Seen, Seen, str, str]]:
    front_seen, other_seen = Seen(), Seen()
    async with loopback(recording(other_seen)) as other:
        location = f"{other}/sms/moved"
        async with loopback(redirecting(front_seen, status, location)) as front:
            yield front_seen, other_seen, front, location


@pytest.mark.parametrize("status", REDIRECTS)
async def test_send_sms_redirect_is_not_followed_and_raises_redirect_error(status: int) -> None:
    async with front_and_recorder(status) as (front_seen, other_seen, front, location):
        creds = Credentials(KEY, SECRET, APP, base_url=f"{front}/sms")
        async with AsyncClient(creds, FAST_SETTINGS) as client:
            with pytest.raises(RedirectError) as info:
                await client.send_sms(["919876543210", "919876543211"], "Hi", order_ids=["a", "b"])
    assert other_seen.requests == []  # no key, no Sign, no batch reached the other host
    assert len(front_seen.requests) == 1  # and it was not retried
    err = info.value
    assert isinstance(err, FatalApiError)  # the campaign engine halts on it
    assert (err.endpoint, err.code, err.http_status, err.attempts) == (
        "sendSms",
        f"HTTP {status}",
        status,
        1,
    )
    text = str(err)
    assert location in text and f"HTTP {status}" in text
    assert "configuration" in text and "base URL" in text
    assert "\n" not in text


@pytest.mark.parametrize("status", REDIRECTS)
async def test_get_endpoint_redirect_is_not_followed_and_not_retried(status: int) -> None:
    async with front_and_recorder(status) as (front_seen, other_seen, front, location):
        creds = Credentials(KEY, SECRET, APP, base_url=f"{front}/sms")
        async with AsyncClient(creds, FAST_SETTINGS) as client:
            # getBalance is read-only, so it retries ambiguous failures: never a redirect.
            with pytest.raises(RedirectError, match=re.escape(f"redirect to {location} ")):
                await client.get_balance()
            assert (client.requests, client.retries) == (1, 0)
    assert other_seen.requests == []
    assert len(front_seen.requests) == 1


async def test_redirect_error_text_carries_no_secret() -> None:
    """A hostile front echoes the Api-Key and Sign it received into the Location."""
    front_seen, other_seen = Seen(), Seen()

    async def echoing(request: web.Request) -> web.Response:
        front_seen.requests.append((request.method, request.path, dict(request.headers), b""))
        key, sign = request.headers["Api-Key"], request.headers["Sign"]
        target = f"{other}/steal/{key}/{sign}?k={key}&s={sign}"
        return web.Response(status=307, headers={"Location": target})

    async with loopback(recording(other_seen)) as other, loopback(echoing) as front:
        creds = Credentials(KEY, SECRET, APP, base_url=f"{front}/sms")
        async with AsyncClient(creds, FAST_SETTINGS) as client:
            with pytest.raises(RedirectError) as info:
                await client.send_sms(["919876543210"], "Hi")
    sign = front_seen.requests[0][2]["Sign"]
    err = info.value
    for text in (str(err), repr(err), err.reason, err.location, err.status.advice):
        assert KEY not in text and SECRET not in text and sign not in text
    assert err.location.startswith(f"{other}/steal/")  # the host is still named
    assert other_seen.requests == []


async def test_campaign_halts_on_redirect_and_resumes_once_the_base_url_is_fixed(
    tmp_path: Path,
) -> None:
    """The base URL points at a host that redirects to the real API (here: the sandbox)."""
    plan = build_plan(2500)  # three requests' worth
    ready = int((plan.recipients["state"] == "ready").sum())
    ledger = tmp_path / "campaign.sqlite"
    front_seen = Seen()
    async with Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb:
        location = f"{sb.url}/sendSms"
        async with loopback(redirecting(front_seen, 301, location)) as front:
            wrong = Credentials(*DEMO, base_url=f"{front}/sms")
            async with AsyncClient(wrong, FAST_SETTINGS) as client:
                result = await send_campaign(
                    plan, client, concurrency=1, progress=False, ledger=ledger
                )
        assert sb.requests == []  # the redirect was not followed to the real API
        assert len(front_seen.requests) == 1  # halted at the first answer, no retry
        assert result.status == "halted"
        assert result.halt_reason is not None and location in result.halt_reason
        assert "base URL" in result.halt_reason
        assert len(result.positions_in("pending")) == ready  # nobody rejected or unknown

        async with AsyncClient(sb.credentials, FAST_SETTINGS) as client:
            resumed = await resume_campaign(ledger, client, progress=False)
        assert len(resumed.positions_in("submitted")) == ready
        assert max(sb.accept_counts().values()) == 1 and len(sb.accepted) == ready
