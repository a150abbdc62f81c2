"""Shared fixtures: a real sandbox on loopback and a client with fast retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import ClientSettings, RetryPolicy, Timeouts
from itnio_campaign.sandbox import Sandbox

#: Retries without real waiting, so fault tests stay fast (backoff is still exercised).
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.001, backoff_max=0.01, retry_after_cap=0.01)
FAST_SETTINGS = ClientSettings(retry=FAST_RETRY, timeouts=Timeouts(connect=2.0, read=5.0))


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sandbox:
        yield sandbox


@pytest.fixture
async def client(sb: Sandbox) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(sb.credentials, FAST_SETTINGS) as c:
        yield c
