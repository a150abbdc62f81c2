"""The sandbox in a daemon thread with its own event loop, for notebooks and sync code.

>>> with SandboxThread(seed=1) as sb:
...     sb.url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from decimal import Decimal
from typing import Any

from ..config import Credentials
from .server import RequestRecord, Sandbox
from .store import AcceptedView

START_TIMEOUT = 10.0


class SandboxThread:
    """Run a :class:`Sandbox` (same knobs) in a background thread.

    Reads (``accepted``, ``requests``, ``balance``) are safe from the calling thread: the
    sandbox appends under a lock and publishes counts last.
    """

    def __init__(self, **knobs: Any) -> None:
        self.sandbox = Sandbox(**knobs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxThread:
        """Start serving; returns once the port is bound (or raises what binding raised)."""
        if self._thread is not None:
            raise RuntimeError("sandbox thread already started")
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.sandbox.start())
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.sandbox.stop())
                loop.close()

        thread = threading.Thread(target=run, name="itnio-sandbox", daemon=True)
        thread.start()
        if not ready.wait(START_TIMEOUT):
            raise RuntimeError("sandbox did not start in time")
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join()

    def __enter__(self) -> SandboxThread:
        return self.start() if self._thread is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the sandbox's state, read from this thread ----------------------------------------
    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def credentials(self) -> Credentials:
        return self.sandbox.credentials

    @property
    def accepted(self) -> AcceptedView:
        return self.sandbox.accepted

    @property
    def requests(self) -> list[RequestRecord]:
        return self.sandbox.requests

    @property
    def balance(self) -> Decimal:
        return self.sandbox.balance

    @balance.setter
    def balance(self, value: Decimal | int | str) -> None:
        self.sandbox.balance = value

    @property
    def max_in_flight(self) -> int:
        return self.sandbox.max_in_flight

    def accept_counts(self) -> Counter[str]:
        return self.sandbox.accept_counts()

    def number_counts(self) -> Counter[str]:
        return self.sandbox.number_counts()

    def times_accepted(self, number: str) -> int:
        return self.sandbox.times_accepted(number)

    def inject(self, endpoint: str, *faults: str | None) -> None:
        self.sandbox.inject(endpoint, *faults)

    def hold_sends(self, after: int) -> None:
        self.sandbox.hold_sends(after)

    def release_sends(self) -> None:
        self.sandbox.release_sends()

    @property
    def held(self) -> int:
        return self.sandbox.held

    def add_reply(self, number: str, content: str, at: Any = None) -> None:
        self.sandbox.add_reply(number, content, at)

    def settle_all(self) -> None:
        self.sandbox.settle_all()

    def __repr__(self) -> str:
        state = f"serving {self.sandbox.url}" if self._thread else "stopped"
        return f"<SandboxThread {state}>"
