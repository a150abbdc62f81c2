"""Shared fixtures: a real sandbox on loopback and a client with fast retries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from itnio_campaign.client import AsyncClient
from itnio_campaign.config import ClientSettings, Credentials, RetryPolicy, Timeouts
from itnio_campaign.sandbox import Sandbox, SandboxThread

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


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    """2,500 valid Indian mobile numbers as people type them, with two placeholder columns."""
    path = tmp_path / "contacts.csv"
    n = 2500
    pd.DataFrame(
        {
            "phone": [f"+91 98{i:08d}" for i in range(n)],
            "first_name": [f"Name{i}" for i in range(n)],
            "store": ["Pune Central"] * n,
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """A sandbox in a background thread, for subprocesses (the CLI) to talk to."""
    with SandboxThread(seed=1, delivery_delay=(0.0, 0.0), reply_rate=0.0) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _own_default_workspace(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test gets its own default workspace (the CLI and the form use one unless told
    --no-workspace): tests never see each other's sends through the repeat guard."""
    folder = tmp_path_factory.mktemp("workspace")
    monkeypatch.setenv("ITNIO_WORKSPACE", str(folder / "itnio-workspace.sqlite"))


def kill_when(args: list[str], credentials: Credentials, when: Callable[[str], bool]) -> list[str]:
    """Run ``python args...`` with ``credentials`` in its environment; SIGKILL it as soon as a
    line it prints (stripped) satisfies ``when``; return the lines read (the last one is
    the line that triggered the kill, if any). A real crash, at a point the test chooses."""
    env = {
        **os.environ,
        "ITNIO_API_KEY": credentials.api_key,
        "ITNIO_API_SECRET": credentials.api_secret,
        "ITNIO_APP_ID": credentials.app_id,
        "ITNIO_BASE_URL": credentials.base_url,
    }
    proc = subprocess.Popen(
        [sys.executable, *args], stdout=subprocess.PIPE, env=env, cwd=Path(__file__).parent.parent,
        text=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if when(lines[-1]):
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    return lines
