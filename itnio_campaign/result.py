"""What a campaign did: one outcome per request, applied to one state per recipient.

A :class:`CampaignResult` is a pure function of the plan and the ordered list of
:class:`BatchOutcome` (plus delivery records), which is why a ledger can rebuild it offline.

Example::

    result = await send_campaign(plan, client)
    result.frame[["phone", "state", "msg_id"]].head()
    print(result.summary())
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from .errors import OUTCOME_KINDS, OutcomeKind, describe
from .models import (
    ACCEPTED_STATES,
    ALL_STATES,
    DELIVERED,
    MISSING,
    OUTCOME_COLUMNS,
    PENDING,
    READY,
    REJECTED,
    SENDING,
    SUBMITTED,
    UNDELIVERED,
    UNFINISHED_STATES,
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


#: ``incomplete``: the run ended by itself but left recipients ``pending``, ``unknown`` or
#: ``missing`` (see :attr:`CampaignResult.remaining`); ``completed`` means nobody is left.
CampaignStatus = Literal[
    "planned", "running", "completed", "incomplete", "stopped", "halted", "waiting"
]  # waiting: a campaign with send windows, until the next window opens


@dataclass(frozen=True)
class OutcomeColumns:
    """The names the outcome columns got in :attr:`CampaignResult.frame`.

    The rule: an outcome column keeps its plain name (``state``) unless your frame already
    has a column of that name; then it is ``sms_state``; if that is taken too, ``sms_state_2``,
    ``sms_state_3``, ... Your columns are never renamed or overwritten.

    >>> OutcomeColumns.for_frame(["phone", "state", "sms_state"]).state
    'sms_state_2'
    >>> OutcomeColumns.for_frame(["phone"]).state
    'state'
    """

    number: str
    order_id: str
    content: str
    encoding: str
    segments: str
    state: str
    msg_id: str
    reason: str
    batch: str
    submitted_at: str
    delivery_status: str
    delivered_at: str

    @classmethod
    def for_frame(cls, user_columns: Iterable[Any]) -> OutcomeColumns:
        taken = {str(c) for c in user_columns}
        names = []
        for column in OUTCOME_COLUMNS:
            name, k = column, 1
            while name in taken:
                k += 1
                name = f"sms_{column}" if k == 2 else f"sms_{column}_{k - 1}"
            taken.add(name)
            names.append(name)
        return cls(*names)

    def __iter__(self) -> Iterator[str]:
        return iter(dataclasses.astuple(self))


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
    notice: str | None = None

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
            "notice": self.notice,
            **self.extra,
        }

    def _lines(self) -> list[tuple[str, str]]:
        lines = [("note", self.notice)] if self.notice else []
        why = f" ({self.halt_reason})" if self.halt_reason else ""
        lines.append(("status", self.status + why))
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

    Example::

        result.frame            -> user's columns + number, order_id, state, msg_id, reason, ...
        result.summary()        -> ResultSummary
        result.stop()           -> cooperative stop (in-flight requests finish)
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
        state = _object_values(rec["state"])
        state[state == READY] = PENDING
        self._state = state
        self._reason = _object_values(rec["reason"])
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
        self.started_at: float | None = None  # the first sending session's start
        self.finished_at: float | None = None  # the last sending session's end
        #: Seconds spent sending in earlier sessions (a resumed campaign, from its ledger),
        #: and when the current session started: wall time counts only sending time.
        self.active_seconds_before = 0.0
        self.session_started_at: float | None = None
        #: One line for the user about this result (e.g. "already complete: nothing sent").
        self.notice: str | None = None
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
        """Set the state of every recipient of ``outcome``'s request.

        What each kind means for its recipients is :data:`~itnio_campaign.errors.OUTCOME_KINDS`;
        accepted answers are joined number by number (:meth:`_apply_accepted`).
        """
        batch = self._batches[outcome.batch_id]
        self.outcomes.append(outcome)
        self.retries += max(outcome.attempts - 1, 0)
        pos = np.fromiter(batch.positions, dtype=np.int64, count=len(batch.positions))
        self._batch[pos] = batch.batch_id
        if outcome.kind == "accepted":
            self._apply_accepted(batch, pos, outcome)
            return
        state, _ = OUTCOME_KINDS[outcome.kind]
        self._state[pos] = state
        if state == UNKNOWN:
            self._reason[pos] = f"fate unknown ({outcome.describe()}); run reconcile"
        elif state == PENDING:
            self._reason[pos] = f"not sent: {outcome.describe()}"
        else:
            self._reason[pos] = outcome.describe()

    def _apply_accepted(self, batch: Batch, pos: np.ndarray, outcome: BatchOutcome) -> None:
        """Join an accepted answer on (orderId, number); never call a row rejected unless the
        answer proves it.

        The provider lists only the numbers it accepted. A row missing from the list is
        ``rejected`` only when the list accounts for every accepted number (its length is the
        ``success`` count and each entry matched one row of this request). When the answer
        says more were accepted than it lists (no ``array``, numbers echoed in another format
        without orderIds), the unmatched rows are ``submitted`` without a msgId if the
        provider accepted the whole request, else ``unknown`` (reconcile settles them).
        """
        acc = outcome.accepted
        if acc.order_ids == batch.order_ids and acc.numbers == batch.numbers:
            rows: Sequence[int] = batch.positions  # the usual answer: all, in request order
        else:
            rows, keep = _match_answer(batch, acc)
            acc = Accepted(*(tuple(col[i] for i in keep) for col in (
                acc.order_ids, acc.numbers, acc.msg_ids)))  # fmt: skip
        size = len(pos)
        if len(rows) < size:
            accepted = max(outcome.success, len(outcome.accepted))
            unmatched = accepted - len(rows)
            if unmatched <= 0:  # the answer names every accepted number: the rest were refused
                self._state[pos] = REJECTED
                self._reason[pos] = (
                    f"refused by the provider ({size - len(rows)} of {size} numbers "
                    "in the request failed)"
                )
            elif accepted >= size:  # all accepted, some without a usable msgId
                self._state[pos] = SUBMITTED
                self._reason[pos] = "accepted; the provider's answer gave no msgId for it"
                self._submitted_at[pos] = outcome.finished_at
            else:
                self._state[pos] = UNKNOWN
                self._reason[pos] = (
                    f"the provider accepted {accepted} of {size} numbers but its answer does "
                    "not say which; run reconcile"
                )
        if len(rows):
            idx = pos if rows is batch.positions else np.fromiter(rows, np.int64, len(rows))
            self._state[idx] = SUBMITTED
            self._reason[idx] = None
            self._msg_id[idx] = acc.msg_ids
            self._submitted_at[idx] = outcome.finished_at
            self._row_of_msg = None  # rebuilt from the msgId column when needed

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

    def outcome_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(state, msg_id, submitted_at as epoch seconds, NaN for none) per row, as copies:
        what the workspace records, without building :attr:`frame` (a copy of your frame)."""
        return self._state.copy(), self._msg_id.copy(), self._submitted_at.copy()

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
    def columns(self) -> OutcomeColumns:
        """Where each outcome is in :attr:`frame`: ``result.frame[result.columns.state]``."""
        return OutcomeColumns.for_frame(self.plan.source.columns)

    @property
    def outcome_columns(self) -> list[str]:
        """The outcome columns' names in :attr:`frame`, in the order of ``OUTCOME_COLUMNS``."""
        return list(self.columns)

    def remaining(self) -> dict[str, int]:
        """Recipients not done: ``pending`` (resume sends them), ``unknown`` (reconcile
        settles them) and ``missing`` (resend on request); zeros left out."""
        return {s: n for s in UNFINISHED_STATES if (n := int((self._state == s).sum()))}

    def conclude(self, status: str, reason: str | None) -> None:
        """Set how the run ended. A run that ended by itself (``completed``) but leaves
        anyone pending, unknown or missing is ``incomplete``, with the counts as its reason."""
        self.status, self.halt_reason = status, reason  # type: ignore[assignment]
        if status not in ("completed", "incomplete"):
            return
        left = self.remaining()
        if not left:
            self.status, self.halt_reason = "completed", None
            return
        self.status = "incomplete"
        self.halt_reason = describe_remaining(left)

    @property
    def wall_time_s(self) -> float:
        """Seconds spent sending, over every session (not the time between sessions)."""
        wall = self.active_seconds_before
        start = self.session_started_at
        if start is not None:
            end = self.finished_at if self.finished_at and self.finished_at >= start else _now()
            wall += end - start
        return wall

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
        # A hash count: no conversion to fixed-width text and no sort of a million rows.
        tally = pd.Series(self._state, dtype=object, copy=False).value_counts(
            sort=False, dropna=False
        )
        found = {str(k): int(v) for k, v in tally.items()}
        ordered = {s: found.pop(s) for s in ALL_STATES if s in found}
        ordered.update(found)
        return ordered

    def summary(self) -> ResultSummary:
        """Counts by state (adding up to the rows), requests, retries, time and speed."""
        wall = self.wall_time_s
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
            notice=self.notice,
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

    def by_variant(
        self,
        replies: pd.DataFrame | None = None,
        opted_out: Iterable[str] | None = None,
        *,
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """Per experiment group (variants, ``holdout``, ``rollout``; issue 17): recipients,
        sent (accepted by the provider), delivered, rejected, replied, opted_out, cost (float,
        the price list's currency; NaN without prices), cost_per_delivered, and
        delivered_rate = delivered / sent with its Wilson interval (delivered_low/high).

        ``replies``: the frame of :func:`~itnio_campaign.delivery.fetch_replies` (a reply from a
        recipient's number counts as replied); ``opted_out``: numbers that opted out, e.g.
        ``opt_outs(replies)``. Without them those columns are missing values (<NA>).

        Example::

            result.by_variant(replies, opted_out=opt_outs(replies))
        """
        from .experiment import by_variant

        return by_variant(self, replies, opted_out, confidence=confidence)

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
        result.conclude(status, halt_reason)
        result.started_at, result.finished_at = started_at, finished_at
        if started_at is not None and finished_at is not None:
            result.active_seconds_before = finished_at - started_at
        return result


def _match_answer(batch: Batch, acc: Accepted) -> tuple[list[int], list[int]]:
    """Rows of ``batch`` named by the answer's entries, matched on (orderId, number), and the
    indexes of the entries that matched.

    An entry with an orderId matches the row with that orderId only if the numbers agree
    (compared as digits, so ``+91...`` matches ``91...``); an entry without an orderId matches
    the one row with its number. No row is matched twice.
    """
    numbers = [_digits(n) for n in batch.numbers]
    by_order = {o: i for i, o in enumerate(batch.order_ids) if o}
    by_number: dict[str, list[int]] = {}
    for j, n in enumerate(numbers):
        by_number.setdefault(n, []).append(j)
    taken: set[int] = set()
    rows: list[int] = []
    keep: list[int] = []
    for k, (order_id, number, _) in enumerate(acc):
        digits = _digits(number)
        i: int | None
        if order_id:
            i = by_order.get(order_id)
            if i is None or (digits and numbers[i] != digits):
                continue
        else:
            i = next((j for j in by_number.get(digits, ()) if j not in taken), None)
        if i is None or i in taken:
            continue
        taken.add(i)
        rows.append(batch.positions[i])
        keep.append(k)
    return rows, keep


def _digits(number: str) -> str:
    """A number as its digits without an international prefix: ``+91 98`` -> ``9198``."""
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    return digits[2:] if str(number).lstrip().startswith("00") else digits


def describe_remaining(left: Mapping[str, int]) -> str:
    """``{"pending": 1000, "unknown": 5}`` -> "1,000 pending (not sent yet), 5 unknown (...)"."""
    why = {
        PENDING: "not sent yet: resume sends them",
        UNKNOWN: "fate unknown: reconcile settles them",
        MISSING: "proven never accepted: resume with resend_missing sends them",
    }
    return "; ".join(f"{n:,} {state} ({why[state]})" for state, n in left.items())


def _object_values(column: pd.Series) -> np.ndarray:
    """A new object array of ``column``'s values, each distinct value one shared object
    (a million rows of a few states are not a million Python strings).

    >>> _object_values(pd.Series(["ready", None, "ready"], dtype="string")).tolist()
    ['ready', <NA>, 'ready']
    """
    if column.dtype == object:  # any Python values: 1, 1.0 and True would be one key
        return column.to_numpy(dtype=object).copy()
    codes, uniques = pd.factorize(column)
    out = np.asarray(uniques, dtype=object)[codes]
    missing = np.flatnonzero(codes < 0)
    if len(missing):  # the column's own missing value (NA, NaN or None), as to_numpy gives it
        out[missing] = column.iloc[missing].to_numpy(dtype=object)
    return out


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
    "OutcomeColumns",
    "ResultSummary",
    "Stopper",
]
