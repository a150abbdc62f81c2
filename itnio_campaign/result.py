"""What a campaign did: one outcome per request, applied to one state per recipient.

A :class:`CampaignResult` is a pure function of the plan and the ordered list of
:class:`BatchOutcome` (plus delivery records), which is why a ledger can rebuild it offline.

>>> # result = await send_campaign(plan, client)
>>> # result.frame[["phone", "state", "msg_id"]].head()
>>> # print(result.summary())
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from .errors import describe
from .models import (
    ACCEPTED_STATES,
    ALL_STATES,
    DELIVERED,
    PENDING,
    READY,
    REJECTED,
    SENDING,
    SUBMITTED,
    UNDELIVERED,
    UNKNOWN,
    Batch,
    DeliveryRecord,
)


class PlanLike(Protocol):
    """What a result needs of a plan (a :class:`~itnio_campaign.plan.Plan` has it all)."""

    source: pd.DataFrame
    recipients: pd.DataFrame
    batches: list[Batch]
    settings: dict[str, Any]

    def summary(self) -> Any: ...


OutcomeKind = Literal["accepted", "rejected", "unknown", "not_sent", "fatal"]
CampaignStatus = Literal["planned", "running", "completed", "stopped", "halted"]

#: Outcome columns added to the user's frame, in order.
OUTCOME_COLUMNS = (
    "number",
    "order_id",
    "content",
    "encoding",
    "segments",
    "state",
    "msg_id",
    "reason",
    "batch",
    "submitted_at",
    "delivery_status",
    "delivered_at",
)
_FROM_PLAN = ("number", "order_id", "content", "encoding", "segments")
_DELIVERY_STATE = {"delivered": DELIVERED, "undelivered": UNDELIVERED, "sending": SENDING}


@dataclass
class Stopper:
    """A cooperative stop flag: ``stop()`` from a button, a signal handler or another task."""

    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True


@dataclass(frozen=True, slots=True)
class Accepted:
    """The numbers one request got accepted, as three aligned columns.

    Iterates as ``(order_id, number, msg_id)`` triples; columns keep a million cheap.

    >>> acc = Accepted.of([("o1", "919876543210", "m1")])
    >>> len(acc), list(acc)
    (1, [('o1', '919876543210', 'm1')])
    """

    order_ids: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    msg_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, triples: Iterable[tuple[str, str, str]]) -> Accepted:
        rows = tuple(triples)
        return cls(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows))

    def __len__(self) -> int:
        return len(self.msg_ids)

    def __iter__(self) -> Iterator[tuple[str, str, str]]:
        return zip(self.order_ids, self.numbers, self.msg_ids, strict=True)

    def __getitem__(self, i: int) -> tuple[str, str, str]:
        return self.order_ids[i], self.numbers[i], self.msg_ids[i]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one request (with its retries) came to; the ledger journals exactly this."""

    batch_id: int
    kind: OutcomeKind
    code: str
    reason: str
    attempts: int
    started_at: float
    finished_at: float
    success: int = 0
    fail: int = 0
    #: (order_id, number, msg_id) of every number the provider accepted; triples are
    #: accepted here too and stored as :class:`Accepted` columns.
    accepted: Accepted = Accepted()

    def __post_init__(self) -> None:
        if not isinstance(self.accepted, Accepted):
            object.__setattr__(self, "accepted", Accepted.of(self.accepted))

    @property
    def failed(self) -> bool:
        """True when nothing of this request got through (counts towards auto-halt)."""
        return self.kind != "accepted"

    def describe(self) -> str:
        """The reason in plain words, e.g. ``-3 sensitive characters in content: casino``."""
        if self.kind == "accepted":
            return ""
        if self.code.lstrip("-").isdigit():
            return f"{self.code} {describe(self.code).meaning}: {self.reason}".rstrip(": ")
        return f"{self.code}: {self.reason}".rstrip(": ")


@dataclass(frozen=True)
class ResultSummary:
    """Counts by state and how the sending went; ``str()`` is a plain-text table."""

    rows: int
    counts: dict[str, int]
    requests: int
    retries: int
    wall_time_s: float
    numbers_per_s: float
    status: str
    halt_reason: str | None
    started_at: datetime | None
    finished_at: datetime | None
    segments: int
    estimated_cost: Decimal | None = None
    charged_cost: Decimal | None = None
    currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "counts": dict(self.counts),
            "requests": self.requests,
            "retries": self.retries,
            "wall_time_s": self.wall_time_s,
            "numbers_per_s": self.numbers_per_s,
            "status": self.status,
            "halt_reason": self.halt_reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "segments": self.segments,
            "estimated_cost": self.estimated_cost,
            "charged_cost": self.charged_cost,
            "currency": self.currency,
            **self.extra,
        }

    def _lines(self) -> list[tuple[str, str]]:
        lines = [("status", self.status + (f" ({self.halt_reason})" if self.halt_reason else ""))]
        lines.append(("rows", f"{self.rows:,}"))
        lines += [(f"  {state}", f"{n:,}") for state, n in self.counts.items()]
        lines += [
            ("requests", f"{self.requests:,}"),
            ("retries", f"{self.retries:,}"),
            ("segments sent", f"{self.segments:,}"),
            ("wall time", f"{self.wall_time_s:.{2 if self.wall_time_s < 10 else 1}f} s"),
            ("numbers per second", f"{self.numbers_per_s:,.0f}"),
        ]
        if self.estimated_cost is not None:
            lines.append(("estimated cost", f"{self.estimated_cost}"))
        return lines

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self._lines())
        return "\n".join(f"{k:<{width}}  {v}" for k, v in self._lines())

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        return f"<table class='itnio-summary'>{rows}</table>"


class CampaignResult:
    """The input frame plus one outcome per row; updated live while sending.

    >>> # result.frame            -> user's columns + number, order_id, state, msg_id, reason, ...
    >>> # result.summary()        -> ResultSummary
    >>> # result.stop()           -> cooperative stop (in-flight requests finish)
    """

    def __init__(
        self,
        plan: PlanLike,
        settings: Mapping[str, Any] | None = None,
        *,
        stopper: Stopper | None = None,
    ) -> None:
        self.plan = plan
        rec = plan.recipients
        n = len(rec)
        self.settings: dict[str, Any] = {**plan.settings, **(settings or {})}
        state = rec["state"].to_numpy(dtype=object).copy()
        state[state == READY] = PENDING
        self._state = state
        self._reason = rec["reason"].to_numpy(dtype=object).copy()
        self._msg_id = np.full(n, None, dtype=object)
        self._batch = np.full(n, -1, dtype=np.int64)
        self._submitted_at = np.full(n, np.nan)
        self._delivery = np.full(n, None, dtype=object)
        self._delivered_at = np.full(n, np.nan)
        self._segments = rec["segments"].to_numpy()
        self._batches: dict[int, Batch] = {b.batch_id: b for b in plan.batches}
        self._row_of_msg: dict[str, int] | None = None  # msgId -> row, built on demand
        self.outcomes: list[BatchOutcome] = []
        self.status: CampaignStatus = "planned"
        self.halt_reason: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.retries = 0
        self._stopper = stopper or Stopper()

    # -- control ---------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the campaign to stop: nothing new starts; requests in flight finish and join."""
        self._stopper.stop()

    @property
    def stopper(self) -> Stopper:
        """The flag :meth:`stop` sets; the send loop reads it before each request."""
        return self._stopper

    @property
    def stop_requested(self) -> bool:
        return self._stopper.stopped

    # -- applying what happened ------------------------------------------------------------
    def add_batches(self, batches: Iterable[Batch]) -> None:
        """Register extra requests (e.g. a resend of missing recipients)."""
        for b in batches:
            self._batches[b.batch_id] = b

    @property
    def batches(self) -> list[Batch]:
        return list(self._batches.values())

    def apply_outcome(self, outcome: BatchOutcome) -> None:
        """Set the state of every recipient of ``outcome``'s request (join by orderId)."""
        batch = self._batches[outcome.batch_id]
        self.outcomes.append(outcome)
        self.retries += max(outcome.attempts - 1, 0)
        pos = np.fromiter(batch.positions, dtype=np.int64, count=len(batch.positions))
        self._batch[pos] = batch.batch_id
        if outcome.kind == "accepted":
            self._apply_accepted(batch, pos, outcome)
        elif outcome.kind == "rejected":
            self._state[pos] = REJECTED
            self._reason[pos] = outcome.describe()
        elif outcome.kind == "unknown":
            self._state[pos] = UNKNOWN
            self._reason[pos] = f"fate unknown ({outcome.describe()}); run reconcile"
        else:  # not_sent / fatal: provably not accepted, resumable
            self._state[pos] = PENDING
            self._reason[pos] = f"not sent: {outcome.describe()}"

    def _apply_accepted(self, batch: Batch, pos: np.ndarray, outcome: BatchOutcome) -> None:
        acc = outcome.accepted
        order_ids = batch.order_ids
        if acc.order_ids == order_ids:  # the usual answer: all accepted, in request order
            rows: Sequence[int] = batch.positions
        else:
            rows, keep = self._rows_of(batch, order_ids, acc)
            acc = Accepted(*(tuple(col[i] for i in keep) for col in (
                acc.order_ids, acc.numbers, acc.msg_ids)))  # fmt: skip
        if len(rows) < len(pos):
            refused = outcome.fail or (len(pos) - len(rows))
            self._state[pos] = REJECTED
            self._reason[pos] = (
                f"refused by the provider ({refused} of {len(pos)} numbers in the request failed)"
            )
        if len(rows):
            idx = np.fromiter(rows, dtype=np.int64, count=len(rows))
            self._state[idx] = SUBMITTED
            self._reason[idx] = None
            self._msg_id[idx] = acc.msg_ids
            self._submitted_at[idx] = outcome.finished_at
            self._row_of_msg = None  # rebuilt from the msgId column when needed

    @staticmethod
    def _rows_of(
        batch: Batch, order_ids: tuple[str, ...], acc: Accepted
    ) -> tuple[list[int], list[int]]:
        """Rows of the accepted numbers by orderId (by number where no orderId came back),
        and the indexes into ``acc`` that matched a row of this request."""
        by_order = dict(zip(order_ids, batch.positions, strict=True))
        by_number: dict[str, int] | None = None
        rows: list[int] = []
        keep: list[int] = []
        for i, (order_id, number, _) in enumerate(acc):
            row = by_order.get(order_id) if order_id else None
            if row is None:  # provider omitted the orderId: fall back to the number
                if by_number is None:
                    by_number = dict(zip(batch.numbers, batch.positions, strict=True))
                row = by_number.get(number)
            if row is not None:
                rows.append(row)
                keep.append(i)
        return rows, keep

    def mark(self, positions: Sequence[int], state: str, reason: str | None = None) -> None:
        """Set ``state`` for rows (used by reconcile: ``missing`` / ``submitted``)."""
        idx = np.asarray(positions, dtype=np.int64)
        self._state[idx] = state
        self._reason[idx] = reason

    def set_msg_ids(self, positions: Sequence[int], msg_ids: Sequence[str]) -> None:
        idx = np.asarray(positions, dtype=np.int64)
        self._msg_id[idx] = list(msg_ids)
        self._row_of_msg = None

    def apply_delivery(self, records: Iterable[DeliveryRecord]) -> int:
        """Apply delivery reports by msgId; return how many rows changed."""
        records = list(records)
        if not records:
            return 0
        if self._row_of_msg is None:
            rows = np.flatnonzero(self._msg_id != None)  # noqa: E711 (elementwise)
            self._row_of_msg = dict(zip(self._msg_id[rows].tolist(), rows.tolist(), strict=True))
        changed = 0
        for rec in records:
            row = self._row_of_msg.get(rec.msg_id)
            if row is None:
                continue
            new_state = _DELIVERY_STATE[rec.status]
            if self._state[row] != new_state or self._delivery[row] != rec.status:
                changed += 1
            self._state[row] = new_state
            self._delivery[row] = rec.status
            if rec.receive_time is not None and rec.status != "sending":
                self._delivered_at[row] = rec.receive_time.timestamp()
        return changed

    def pending_delivery_ids(self) -> list[str]:
        """msgIds accepted by the provider whose delivery is not final yet."""
        mask = np.isin(self._state, (SUBMITTED, SENDING))
        return [m for m in self._msg_id[mask] if m]

    # -- reading ---------------------------------------------------------------------------
    def positions_in(self, *states: str) -> np.ndarray:
        """Row positions whose state is one of ``states``."""
        return np.flatnonzero(np.isin(self._state, states))

    @property
    def states(self) -> np.ndarray:
        return self._state

    @property
    def outcome_columns(self) -> list[str]:
        taken = set(map(str, self.plan.source.columns))
        return [f"sms_{c}" if c in taken else c for c in OUTCOME_COLUMNS]

    @property
    def frame(self) -> pd.DataFrame:
        """A new frame: the user's columns, then the outcome columns; same index and order."""
        rec = self.plan.recipients
        values: dict[str, Any] = {c: rec[c].to_numpy() for c in _FROM_PLAN}
        values.update(
            state=self._state.copy(),
            msg_id=self._msg_id.copy(),
            reason=self._reason.copy(),
            batch=pd.array(np.where(self._batch >= 0, self._batch, -1), dtype="Int64"),
            submitted_at=_to_datetimes(self._submitted_at),
            delivery_status=self._delivery.copy(),
            delivered_at=_to_datetimes(self._delivered_at),
        )
        values["batch"][self._batch < 0] = pd.NA
        out = self.plan.source.copy()
        for name, column in zip(self.outcome_columns, OUTCOME_COLUMNS, strict=True):
            out[name] = values[column]
        return out

    def counts(self) -> dict[str, int]:
        """Rows per state, in the vocabulary's order, zeros left out."""
        states, n = np.unique(self._state.astype(str), return_counts=True)
        found = dict(zip(states.tolist(), n.tolist(), strict=True))
        ordered = {s: found.pop(s) for s in ALL_STATES if s in found}
        ordered.update(found)
        return ordered

    def summary(self) -> ResultSummary:
        """Counts by state (adding up to the rows), requests, retries, time and speed."""
        wall = 0.0
        if self.started_at is not None:
            wall = (self.finished_at or _now()) - self.started_at
        accepted_mask = np.isin(self._state, ACCEPTED_STATES)
        accepted = int(accepted_mask.sum())
        plan_summary = self.plan.summary()
        estimated = getattr(plan_summary, "estimated_cost", None)
        return ResultSummary(
            rows=len(self._state),
            counts=self.counts(),
            requests=len(self.outcomes),
            retries=self.retries,
            wall_time_s=wall,
            numbers_per_s=accepted / wall if wall > 0 else 0.0,
            status=self.status,
            halt_reason=self.halt_reason,
            started_at=_to_datetime(self.started_at),
            finished_at=_to_datetime(self.finished_at),
            segments=int(np.asarray(self._segments)[accepted_mask].sum()),
            estimated_cost=estimated,
        )

    def batches_frame(self) -> pd.DataFrame:
        """One row per request made: time, size, attempts, status code, reason, latency."""
        rows = [
            {
                "batch": o.batch_id,
                "endpoint": self._batches[o.batch_id].endpoint,
                "size": self._batches[o.batch_id].size,
                "started_at": _to_datetime(o.started_at),
                "finished_at": _to_datetime(o.finished_at),
                "latency_s": round(o.finished_at - o.started_at, 4),
                "attempts": o.attempts,
                "status_code": o.code,
                "reason": o.describe() or o.reason,
                "outcome": o.kind,
                "accepted": len(o.accepted),
            }
            for o in self.outcomes
        ]
        columns = [
            "batch", "endpoint", "size", "started_at", "finished_at", "latency_s",
            "attempts", "status_code", "reason", "outcome", "accepted",
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def to_excel(self, path: str | Path, **kwargs: Any) -> Path:
        """Write the Excel report (see :func:`itnio_campaign.excel.write_report`)."""
        from .excel import write_report

        return write_report(self, path, **kwargs)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.counts().items())
        return f"<CampaignResult {self.status}: {counts}>"

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    @classmethod
    def from_outcomes(
        cls,
        plan: PlanLike,
        outcomes: Iterable[BatchOutcome],
        *,
        extra_batches: Iterable[Batch] = (),
        status: CampaignStatus = "completed",
        halt_reason: str | None = None,
        started_at: float | None = None,
        finished_at: float | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> CampaignResult:
        """Rebuild a result from its journal (what ``load_campaign`` does)."""
        result = cls(plan, settings)
        result.add_batches(extra_batches)
        for outcome in outcomes:
            result.apply_outcome(outcome)
        result.status, result.halt_reason = status, halt_reason
        result.started_at, result.finished_at = started_at, finished_at
        return result


def _now() -> float:
    return datetime.now(UTC).timestamp()


def _to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _to_datetimes(epochs: np.ndarray) -> pd.Series:
    return pd.to_datetime(epochs, unit="s", utc=True).array  # type: ignore[return-value]


__all__ = [
    "OUTCOME_COLUMNS",
    "Accepted",
    "BatchOutcome",
    "CampaignResult",
    "ResultSummary",
    "Stopper",
]
