"""Winner rollout: after the test share, send the winning variant to the rows held back.

A plan with ``test_share=0.2`` sends its variants to 20% of the list; the rest is
``held_for_rollout``. :func:`rollout_winner` measures each variant on the chosen metric,
picks the winner, records the decision in the ledger, and sends the winner's text to the held
rows — in the same ledger, so the usual guarantees hold: every rollout request is journaled
before it leaves, nobody is sent twice, and a crash or a stop is continued by calling
:func:`rollout_winner` again (or ``resume_campaign``). Once decided, the winner never changes.

The decision is one transaction: the record (winner, metric, per-variant rates, why), the held
rows' new text in the stored recipients frame (state ``ready``, content, encoding, segments of
the winner; ``variant`` stays ``"rollout"``) and the rollout's requests. A crash before it
leaves no trace; after it, the rollout is decided and only sending remains.

Example::

    result = await send_campaign(plan, client, ledger="spring.sqlite")   # the 20% test
    ...                                                                  # wait for reports
    rollout = await rollout_winner("spring.sqlite", client, metric="delivered", min_n=200)
    print(rollout)          # winner, why, what was sent
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Hashable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import stats
from .client import AsyncClient
from .delivery import fetch_replies, refresh_delivery
from .errors import UsageError
from .experiment import ROLLOUT, VARIANT_COLUMN, by_variant, outcome_values, variant_groups
from .ledger import Ledger
from .message import WORK_STRING
from .models import DELIVERED, HELD_FOR_ROLLOUT, PENDING, READY, SENDING, SUBMITTED
from .options import SendOptions
from .plan import Plan, load_plan, make_batches, plan_campaign
from .recovery import rebuild_result, resume_campaign
from .result import CampaignResult, Stopper
from .sending import ProgressEvent

_SCHEMA = "CREATE TABLE IF NOT EXISTS rollout(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
#: The significance level the decision's reason is judged at.
ALPHA = 0.05


@dataclass(frozen=True)
class RolloutRecord:
    """The rollout decision as kept in the ledger (table ``rollout``)."""

    winner: str
    metric: str
    reason: str
    rates: dict[str, dict[str, float]]
    decided_at: float
    positions: list[int]
    batch_ids: list[int]
    template: str
    skipped: int = 0


@dataclass
class RolloutResult:
    """What :func:`rollout_winner` did.

    ``winner``/``metric``/``reason``/``rates`` are the recorded decision (``rates``: per
    variant n, successes or total, rate or mean, interval); ``sent_now``: rollout recipients
    sent by this call (0 when the rollout was already done: ``already_done``); ``result``:
    the whole campaign after it.
    """

    winner: str
    metric: str
    reason: str
    rates: pd.DataFrame
    decided_at: float
    rollout_rows: int
    sent_now: int
    already_done: bool
    result: CampaignResult
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        when = datetime.fromtimestamp(self.decided_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [f"winner: {self.winner} (on {self.metric}, decided {when})", f"why: {self.reason}"]
        if self.already_done and not self.sent_now:
            lines.append("the rollout was already sent: nothing was sent now")
        else:
            lines.append(f"sent now: {self.sent_now:,} of {self.rollout_rows:,} rollout recipients")
        lines += self.notes
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        body = "".join(f"<p>{html.escape(line)}</p>" for line in str(self).splitlines())
        return body + self.rates.to_html()


async def rollout_winner(
    ledger: str | os.PathLike[str],
    client: AsyncClient,
    metric: Hashable = "delivered",
    min_n: int = 100,
    outcomes: pd.DataFrame | None = None,
    *,
    on: Hashable = "customer_id",
    window: Any = "7d",
    time_col: Hashable | None = None,
    replies: pd.DataFrame | None = None,
    options: SendOptions | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    stopper: Stopper | None = None,
    now: float | None = None,
    **option_overrides: Any,
) -> RolloutResult:
    """Pick the best variant of the test and send it to the held rows, at most once.

    ``metric``: ``"delivered"`` (delivered / recipients of the variant: a refused or
    undelivered message counts against it), ``"replied"`` (recipients who replied; the
    replies are read with ``fetch_replies`` from the campaign's start, or pass
    ``replies=``), or a column of ``outcomes`` (joined on ``on``, like
    :func:`~itnio_campaign.experiment.measure_lift`, with ``window``/``time_col``). The
    highest rate (or mean) wins; a tie goes to the first variant. Every variant needs at
    least ``min_n`` recipients in the test, else :class:`UsageError` and nothing is decided.
    The test must be finished: recipients still ``pending`` raise :class:`UsageError`.

    Once decided (a record in the ledger), calling again never decides again: it sends what
    the rollout has not sent yet (after a stop or a crash) or, when all is sent, nothing.
    Send options are those of ``send_campaign`` (``options=`` or ``concurrency=`` ...);
    ``stopper`` stops the rollout's sending (calling again continues it). ``now``: the
    decision's time (default: the clock).

    With ``metric="delivered"`` the test's delivery reports are refreshed first (one
    ``getReport`` pass, kept in the ledger); messages still without a final report count as
    not delivered, and the reason says how many there were.

    Example::

        rollout = await rollout_winner("spring.sqlite", client, metric="replied", min_n=300)
        rollout.winner, rollout.reason
    """
    path = _ledger_path(ledger)
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise UsageError(f"min_n must be a whole number of at least 1, not {min_n!r}")
    with Ledger.open(path, create=False) as led:
        plan = load_plan(led)
        _check_rollout_plan(plan)
        record = load_rollout(led)
        already = record is not None
        if record is None:
            led.settle_in_flight()
            _check_min_n(plan, min_n)
            result = rebuild_result(led, plan)
            if metric == "delivered" and result.pending_delivery_ids():
                result = await refresh_delivery(led, client)
            pending = int((result.states == PENDING).sum())
            if pending:
                raise UsageError(
                    f"{pending:,} recipients of the test are still pending: finish the test "
                    "first (resume_campaign), then roll out"
                )
            if metric == "replied" and replies is None:
                replies = await _replies_since(client, led.started_at)
            rates = metric_rates(result, metric, outcomes, on, window, time_col, replies)
            winner, reason = choose_winner(rates, str(metric))
            if metric == "delivered":
                waiting = int(np.isin(result.states, (SUBMITTED, SENDING)).sum())
                if waiting:
                    reason += (
                        f"; {waiting:,} test messages had no final delivery report yet "
                        "(counted as not delivered)"
                    )
            record = _decide(led, plan, winner, reason, str(metric), rates, now)
        before = _states_at(rebuild_result(led), record.positions)
    result = await resume_campaign(
        path, client, options=options, on_progress=on_progress, stopper=stopper,
        **option_overrides,
    )  # fmt: skip
    after = _states_at(result, record.positions)
    sent_now = int(((before == PENDING) & (after != PENDING)).sum())
    notes = []
    if record.skipped:
        notes.append(
            f"{record.skipped:,} held rows could not take the winner's text (see their reason)"
        )
    return RolloutResult(
        record.winner, record.metric, record.reason, _rates_frame(record.rates),
        record.decided_at, len(record.positions), sent_now, already, result, notes,
    )  # fmt: skip


def _ledger_path(ledger: Any) -> Path:
    if isinstance(ledger, Ledger):
        raise UsageError("rollout_winner takes the ledger's path (it opens the ledger itself)")
    if not isinstance(ledger, str | os.PathLike):
        raise UsageError(f"ledger must be a campaign ledger's path, not {type(ledger).__name__}")
    path = Path(ledger)
    if not path.is_file():
        raise UsageError(f"no campaign ledger at {path}")
    return path


def _check_rollout_plan(plan: Plan) -> None:
    exp = plan.settings.get("experiment") or {}
    if exp.get("test_share") is None or VARIANT_COLUMN not in plan.recipients:
        raise UsageError(
            "this campaign holds no rows for a rollout: plan it with variants=... and "
            "test_share=0.2 (the variants go to 20% first)"
        )


async def _replies_since(client: AsyncClient, started_at: float | None) -> pd.DataFrame:
    if started_at is None:
        raise UsageError("the campaign was not sent yet: there are no replies to count")
    return await fetch_replies(client, datetime.fromtimestamp(started_at - 60, UTC))


# -- measuring and choosing -------------------------------------------------------------------
def metric_rates(
    result: CampaignResult,
    metric: Hashable,
    outcomes: pd.DataFrame | None = None,
    on: Hashable = "customer_id",
    window: Any = "7d",
    time_col: Hashable | None = None,
    replies: pd.DataFrame | None = None,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per variant of the test: n (recipients), total (successes, or the values' sum),
    level (rate or mean), low/high (Wilson interval for rates) and kind."""
    rec = result.plan.recipients
    names = list(result.settings.get("experiment", {}).get("variants") or {})
    group = variant_groups(rec)
    if metric == "delivered":
        values, kind = (
            (np.asarray(result.states, dtype=object) == DELIVERED).astype(float),
            "binary",
        )
    elif metric == "replied":
        table = by_variant(result, replies=replies)
        return _rates_from_counts({n: (int(table.loc[n, "recipients"]),
                                       int(table.loc[n, "replied"])) for n in names},
                                  confidence)  # fmt: skip
    else:
        if outcomes is None:
            raise UsageError(
                f"metric={metric!r} is an outcome column: give outcomes= (a frame with "
                f"{on!r} and {metric!r})"
            )
        found = outcome_values(result, outcomes, on, metric, window, time_col)
        values, kind = found.values, found.kind
    rows: dict[str, tuple[int, float]] = {}
    for name in names:
        x = values[group == name]
        if kind == "binary":
            rows[name] = (len(x), int(x.sum()))
        else:
            rows[name] = (len(x), float(x.sum()))
    if kind == "binary":
        return _rates_from_counts({k: (n, int(t)) for k, (n, t) in rows.items()}, confidence)
    out = []
    for name, (n, total) in rows.items():
        out.append({"variant": name, "n": n, "total": total,
                    "level": total / n if n else math.nan, "low": math.nan, "high": math.nan,
                    "kind": "value"})  # fmt: skip
    frame = pd.DataFrame(out).set_index("variant")
    frame.attrs["values"] = {name: values[group == name] for name in names}
    return frame


def _rates_from_counts(counts: dict[str, tuple[int, int]], confidence: float) -> pd.DataFrame:
    out = []
    for name, (n, k) in counts.items():
        low, high = stats.wilson_interval(k, n, confidence)
        out.append({"variant": name, "n": n, "total": float(k),
                    "level": k / n if n else math.nan, "low": low, "high": high,
                    "kind": "binary"})  # fmt: skip
    return pd.DataFrame(out).set_index("variant")


def _check_min_n(plan: Plan, min_n: int) -> None:
    """Every variant has at least ``min_n`` recipients in the test (checked before any call)."""
    group = plan.recipients[VARIANT_COLUMN]
    names = plan.settings["experiment"]["variants"]
    short = [f"{name} has {int((group == name).sum()):,}" for name in names
             if (group == name).sum() < min_n]  # fmt: skip
    if short:
        raise UsageError(
            f"not enough recipients to choose a winner (min_n={min_n:,}): {', '.join(short)}; "
            "plan a larger test_share or lower min_n"
        )


def choose_winner(rates: pd.DataFrame, metric: str) -> tuple[str, str]:
    """The variant with the highest level (ties: the first), and why in one line."""
    levels = rates["level"].astype(float)
    winner = str(levels.idxmax())  # the first of equal maxima
    binary = bool((rates["kind"] == "binary").all())
    info: dict[str, dict[Any, Any]] = {str(k): v for k, v in rates.to_dict("index").items()}

    def shown(name: str) -> str:
        row = info[name]
        if binary:
            return (f"{name} {row['level']:.1%} [{row['low']:.1%}, {row['high']:.1%}] "
                    f"of {int(row['n']):,}")  # fmt: skip
        return f"{name} mean {row['level']:,.4g} of {int(row['n']):,}"

    parts = [shown(str(name)) for name in rates.index]
    reason = f"{winner} had the highest {metric}: " + "; ".join(parts)
    others = levels.drop(winner)
    if len(others):
        second = str(others.idxmax())
        w, s = info[winner], info[second]
        if binary:
            p = stats.two_proportion_test(
                int(w["total"]), int(w["n"]), int(s["total"]), int(s["n"])
            )[1]
            low, high = stats.newcombe_interval(
                int(w["total"]), int(w["n"]), int(s["total"]), int(s["n"])
            )
            gap = (w["level"] - s["level"]) * 100
            diff = f"{gap:+.2f} points [{low * 100:+.2f}, {high * 100:+.2f}]"
        else:
            values = rates.attrs.get("values") or {}
            boot = stats.bootstrap_diff(values[winner], values[second], seed=0)
            p = boot.p_value
            diff = f"{boot.diff:+,.4g} [{boot.low:+,.4g}, {boot.high:+,.4g}]"
        verdict = (
            "significant at 5%"
            if p < ALPHA
            else "not significant at 5%: the variants may do equally well"
        )
        reason += f"; {winner} vs {second}: {diff}, p={p:.3g} ({verdict})"
    return winner, reason


# -- the decision in the ledger ---------------------------------------------------------------
def _decide(
    led: Ledger,
    plan: Plan,
    winner: str,
    reason: str,
    metric: str,
    rates: pd.DataFrame,
    now: float | None,
) -> RolloutRecord:
    """Render the winner for the held rows and store the decision, the rows' new text and the
    rollout's requests in one transaction."""
    rec = plan.recipients.copy()
    held = np.flatnonzero(
        ((rec[VARIANT_COLUMN] == ROLLOUT) & (rec["state"] == HELD_FOR_ROLLOUT)).to_numpy(
            dtype=bool, na_value=False
        )
    )
    template = plan.settings["experiment"]["variants"][winner]
    sub = _render_winner(plan, template, held)
    cols = ("content", "encoding", "segments", "state", "reason", "ucs2_chars")
    for c in cols:
        values = rec[c].to_numpy(dtype=object).copy()
        values[held] = sub[c].to_numpy(dtype=object)
        rec[c] = values.astype(np.int64) if c == "segments" else pd.array(values, dtype=WORK_STRING)
    ready = held[(sub["state"] == READY).to_numpy(dtype=bool, na_value=False)]
    first_id = max((b.batch_id for b in led.batches()), default=-1) + 1
    codes, uniques = pd.factorize(rec["content"].iloc[ready].astype(object))
    batches = [
        replace(b, batch_id=first_id + i)
        for i, b in enumerate(
            make_batches(
                rec["number"].iloc[ready].to_numpy(dtype=object),
                codes,
                np.asarray(uniques, dtype=object),
                rec["order_id"].iloc[ready].to_numpy(dtype=object),
                ready,
                plan.settings.get("sender_id"),
            )
        )
    ]
    record = RolloutRecord(
        winner, metric, reason, _rates_record(rates), time.time() if now is None else now,
        [int(p) for p in held], [b.batch_id for b in batches], template, len(held) - len(ready),
    )  # fmt: skip

    def store_decision(cur: sqlite3.Cursor) -> None:
        cur.execute(_SCHEMA)
        cur.execute(
            "INSERT INTO rollout(key, value) VALUES ('rollout', ?)",
            (json.dumps(asdict(record)),),
        )

    led.amend_plan(rec, batches, also=store_decision)
    return record


def _render_winner(plan: Plan, template: str, held: np.ndarray) -> pd.DataFrame:
    """The winner's text for the held rows, planned as the test was (same settings)."""
    st = plan.settings
    sub = plan_campaign(
        plan.source.iloc[held],
        number_col=st.get("number_col", "phone"),
        content=template,
        sender_id=st.get("sender_id"),
        default_region=st.get("default_region", "IN"),
        region_col=st.get("region_col"),
        smart_encoding=bool(st.get("smart_encoding")),
        max_segments=st.get("max_segments"),
        on_long=st.get("on_long", "skip"),
        footer=st.get("footer"),
    )
    out = sub.recipients.reset_index(drop=True)
    out["reason"] = out["reason"].where(out["state"] != READY, "")
    return out


def load_rollout(led: Ledger) -> RolloutRecord | None:
    """The campaign's rollout decision, or None (not decided yet)."""
    with led.extension() as cur:
        try:
            row = cur.execute("SELECT value FROM rollout WHERE key='rollout'").fetchone()
        except sqlite3.OperationalError:  # no table: never decided
            return None
    return None if row is None else RolloutRecord(**json.loads(row[0]))


def _rates_record(rates: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {
        str(name): {str(k): (float(v) if k != "kind" else v) for k, v in row.items()}
        for name, row in rates.iterrows()
    }


def _rates_frame(rates: dict[str, dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_dict(rates, orient="index")
    frame.index.name = "variant"
    frame["n"] = frame["n"].astype(np.int64)
    return frame


def _states_at(result: CampaignResult, positions: list[int]) -> np.ndarray:
    return np.asarray(result.states, dtype=object)[np.asarray(positions, dtype=np.int64)]


__all__ = [
    "RolloutRecord",
    "RolloutResult",
    "choose_winner",
    "load_rollout",
    "metric_rates",
    "rollout_winner",
]
