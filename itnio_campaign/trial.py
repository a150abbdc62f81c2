"""The trial batch and its gate: send a small stratified share first, judge it, then the rest.

``send_campaign(plan, client, ledger=..., trial=0.02, gate=Gate(min_delivered=0.9,
max_rejected=0.02, wait="15m"))`` sends a random 2% (stratified by country and content),
polls ``getReport`` until every trial message is final or ``wait`` has passed, and judges
the gate: passed → the rest is sent in the same ledger; failed → the campaign is ``halted``
with the measured rates and the thresholds, the rest stay ``pending``, and
``resume_campaign(..., override_gate=True)`` sends them anyway. The trial and the decision
are kept in the ledger (:mod:`itnio_campaign.trial_store`), so a crash during the wait and a
resume still apply the gate, and nobody is sent twice.

>>> parse_gate("delivered>=90%,rejected<=2%", wait="15m")
Gate(min_delivered=0.9, max_rejected=0.02, wait=900.0, poll=30.0)
>>> parse_share("2%"), parse_duration("1h30m")
(0.02, 5400.0)
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from random import Random
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .client import AsyncClient
from .errors import UsageError
from .ledger import Ledger
from .models import DELIVERED, MAX_REPORT_IDS, REJECTED, Batch
from .numbers import calling_codes
from .result import CampaignResult

if TYPE_CHECKING:
    from .plan import Plan

#: A clock (epoch seconds) and a sleep: injected by tests, real by default.
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

#: Above this many distinct texts, content strata are (encoding, segments), not each text.
MAX_CONTENT_STRATA = 50


def parse_duration(value: float | int | str) -> float:
    """Seconds from ``900``, ``"900s"``, ``"15m"``, ``"2h"`` or ``"1h30m"``.

    >>> parse_duration("15m")
    900.0
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise UsageError(f"a wait must not be negative, not {value!r}")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    parts = re.fullmatch(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?", text)
    if not text or parts is None or not any(parts.groups()):
        raise UsageError(f"a wait is like 900, 90s, 15m, 2h or 1h30m, not {value!r}")
    h, m, s = (float(g) if g else 0.0 for g in parts.groups())
    return h * 3600 + m * 60 + s


def parse_share(value: float | int | str) -> float:
    """A share from ``0.02`` or ``"2%"``; must be above 0 and below 1.

    >>> parse_share("2%")
    0.02
    """
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"a share is like 0.02 or 2%, not {value!r}") from None
    if isinstance(value, bool) or not 0 < share < 1:
        raise UsageError(f"a trial share must be above 0 and below 100%, not {value!r}")
    return round(share, 10)


@dataclass(frozen=True)
class Gate:
    """What the trial must show before the rest is sent.

    ``min_delivered``: share of the trial's recipients delivered; ``max_rejected``: share
    refused by the provider; ``wait``: how long to wait for final delivery reports
    (seconds or ``"15m"``); ``poll``: seconds between getReport rounds.

    >>> Gate(min_delivered=0.9, max_rejected=0.02, wait="15m").describe()
    'delivered ≥ 90%, rejected ≤ 2%, reports awaited up to 15m'
    """

    min_delivered: float = 0.9
    max_rejected: float = 0.02
    wait: float | str = "15m"
    poll: float = 30.0

    def __post_init__(self) -> None:
        for name in ("min_delivered", "max_rejected"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise UsageError(f"{name} must be a share from 0 to 1, not {value!r}")
            object.__setattr__(self, name, float(value))
        object.__setattr__(self, "wait", parse_duration(self.wait))
        poll = self.poll
        if isinstance(poll, bool) or not isinstance(poll, int | float) or poll <= 0:
            raise UsageError(f"poll must be a positive number of seconds, not {poll!r}")
        object.__setattr__(self, "poll", float(poll))

    @property
    def wait_s(self) -> float:
        return float(self.wait)

    def describe(self) -> str:
        return (
            f"delivered ≥ {self.min_delivered:.0%}, rejected ≤ {self.max_rejected:.0%}, "
            f"reports awaited up to {_duration(self.wait_s)}"
        )


def parse_gate(text: str, *, wait: float | str = "15m", poll: float = 30.0) -> Gate:
    """A :class:`Gate` from ``"delivered>=90%,rejected<=2%"`` (either part may be left out).

    >>> parse_gate("delivered>=95%").min_delivered
    0.95
    """
    limits: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        found = re.fullmatch(r"(delivered)\s*>=?\s*(.+)|(rejected)\s*<=?\s*(.+)", part, re.I)
        if found is None:
            raise UsageError(f"a gate is like delivered>=90%,rejected<=2%; could not read {part!r}")
        if found.group(1):
            limits["min_delivered"] = _fraction(found.group(2))
        else:
            limits["max_rejected"] = _fraction(found.group(4))
    if not limits:
        raise UsageError("a gate is like delivered>=90%,rejected<=2%; it was empty")
    return Gate(**limits, wait=wait, poll=poll)


def _fraction(text: str) -> float:
    text = text.strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"a gate limit is like 90% or 0.9, not {text!r}") from None


def _duration(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def describe_trial(share: float, gate: Gate) -> str:
    """The form's Send label, e.g. ``Send trial (2%), then the rest if ≥ 90% delivered``.

    >>> describe_trial(0.02, Gate())
    'Send trial (2%), then the rest if ≥ 90% delivered'
    """
    return f"Send trial ({share:.0%}), then the rest if ≥ {gate.min_delivered:.0%} delivered"


# -- choosing the trial -----------------------------------------------------------------------
def trial_positions(plan: Plan, share: float, *, seed: int = 0) -> list[int]:
    """Row positions of a random ``share`` of the ready recipients, stratified.

    Strata are (country calling code, content); with more than ``MAX_CONTENT_STRATA``
    distinct texts (personalised messages) content is (encoding, segments). Each stratum
    gets its share by largest remainder, so the total is ``round(share * ready)`` (at
    least 1); the draw is fixed by ``seed``.
    """
    rec = plan.recipients
    ready = np.flatnonzero((rec["state"] == "ready").to_numpy())
    if len(ready) == 0:
        raise UsageError("the plan has no ready recipients: nothing to trial")
    numbers = rec["number"].iloc[ready].astype(str).reset_index(drop=True)
    country = calling_codes(numbers).to_numpy()
    texts: list[str] = rec["content"].iloc[ready].astype(str).tolist()
    if len(set(texts)) > MAX_CONTENT_STRATA:
        enc = rec["encoding"].iloc[ready].astype(str).tolist()
        seg = rec["segments"].iloc[ready].astype(str).tolist()
        texts = [f"{e}:{s}" for e, s in zip(enc, seg, strict=True)]
    frame = pd.DataFrame({"p": ready, "c": country, "t": texts})
    groups = [g["p"].to_numpy() for _, g in frame.groupby(["c", "t"], sort=True)]
    total = max(1, round(share * len(ready)))
    exact = [share * len(g) for g in groups]
    counts = [math.floor(x) for x in exact]
    by_remainder = sorted(range(len(groups)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    rng = Random(seed)
    chosen: list[int] = []
    for group, k in zip(groups, counts, strict=True):
        chosen.extend(rng.sample(sorted(int(p) for p in group), k))
    return sorted(chosen)


def split_batches(
    batches: Sequence[Batch], trial: set[int], first_id: int
) -> tuple[list[Batch], list[Batch]]:
    """The plan's requests cut into trial requests and rest requests (new ids from
    ``first_id``), each keeping its endpoint, contents and orderIds."""
    trial_part: list[Batch] = []
    rest_part: list[Batch] = []
    next_id = first_id
    for batch in batches:
        for keep_trial, out in ((True, trial_part), (False, rest_part)):
            keep = {p for p in batch.positions if (p in trial) == keep_trial}
            if keep:
                out.append(batch.part(keep, next_id))
                next_id += 1
    return trial_part, rest_part


# -- judging the trial ------------------------------------------------------------------------
@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on the trial, with the measured rates."""

    passed: bool
    trial_size: int
    delivered: int
    rejected: int
    not_final: int
    gate: Gate
    waited_s: float
    reasons: list[str] = field(default_factory=list)

    def describe(self) -> str:
        n = max(self.trial_size, 1)
        verdict = "passed" if self.passed else "failed"
        text = (
            f"trial gate {verdict}: delivered {self.delivered / n:.0%} ({self.delivered:,} of "
            f"{self.trial_size:,}; needed ≥ {self.gate.min_delivered:.0%}), rejected "
            f"{self.rejected / n:.0%} ({self.rejected:,}; allowed ≤ {self.gate.max_rejected:.0%})"
        )
        if self.not_final:
            text += (
                f"; {self.not_final:,} without a final delivery report after "
                f"{_duration(self.waited_s)}"
            )
        return text


def judge(
    result: CampaignResult, positions: Sequence[int], gate: Gate, waited: float
) -> GateDecision:
    """Measure the trial's recipients in ``result`` against ``gate``."""
    states = result.states[np.asarray(positions, dtype=np.int64)]
    n = len(states)
    delivered = int((states == DELIVERED).sum())
    rejected = int((states == REJECTED).sum())
    not_final = int(np.isin(states, ("submitted", "sending")).sum())
    passed = n > 0 and delivered / n >= gate.min_delivered and rejected / n <= gate.max_rejected
    return GateDecision(passed, n, delivered, rejected, not_final, gate, waited)


async def await_reports(
    ledger: Ledger,
    result: CampaignResult,
    client: AsyncClient,
    *,
    deadline: float,
    poll: float,
    clock: Clock,
    sleep: Sleep,
) -> None:
    """Poll getReport for the accepted, not yet final messages until none is left or
    ``clock()`` reaches ``deadline``; keep every report in the ledger."""
    while True:
        ids = result.pending_delivery_ids()
        for i in range(0, len(ids), MAX_REPORT_IDS):
            report = await client.get_report(ids[i : i + MAX_REPORT_IDS])
            ledger.record_delivery(report.records)
            result.apply_delivery(report.records)
        now = clock()
        if not result.pending_delivery_ids() or now >= deadline:
            return
        await sleep(min(poll, deadline - now))


@dataclass(frozen=True)
class Gating:
    """The trial settings a send carries down the campaign layer (one value).

    ``share``: the trial's share (None: no new trial); ``gate``: its :class:`Gate`;
    ``override``: send the rest even though the gate failed; ``clock``/``sleep``: time,
    injected by tests.
    """

    share: float | None = None
    gate: Gate | None = None
    override: bool = False
    clock: Clock = field(default=lambda: default_clock())
    sleep: Sleep = field(default=lambda s: default_sleep(s))

    @classmethod
    def of(
        cls,
        trial: float | str | None = None,
        gate: Gate | str | None = None,
        *,
        override_gate: bool = False,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
    ) -> Gating:
        """Checked values from the keyword arguments of ``send_campaign``/``resume_campaign``."""
        share = None if trial is None else parse_share(trial)
        if isinstance(gate, str):
            gate = parse_gate(gate)
        if gate is not None and not isinstance(gate, Gate):
            raise UsageError(f"gate must be a Gate or text like 'delivered>=90%', not {gate!r}")
        if gate is not None and share is None:
            raise UsageError("gate= judges a trial: give trial= too (e.g. trial=0.02)")
        if share is not None and gate is None:
            gate = Gate()
        out = cls(share, gate, bool(override_gate))
        if clock is not None:
            object.__setattr__(out, "clock", clock)
        if sleep is not None:
            object.__setattr__(out, "sleep", sleep)
        return out


def gate_from(record: dict[str, Any]) -> Gate:
    return Gate(**record)


def gate_record(gate: Gate) -> dict[str, Any]:
    return asdict(gate)


def default_clock() -> float:
    return time.time()


async def default_sleep(seconds: float) -> None:
    # Polling a remote service at an interval: the wait is the point, not a sync.
    await asyncio.sleep(seconds)


__all__ = [
    "Gate",
    "GateDecision",
    "Gating",
    "await_reports",
    "describe_trial",
    "judge",
    "parse_duration",
    "parse_gate",
    "parse_share",
    "split_batches",
    "trial_positions",
]
