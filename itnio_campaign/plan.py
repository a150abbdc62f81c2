"""DataFrame → plan: recipients (one row per input row, a state each), requests, dry-run summary.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"phone": ["+91 98765 43210", "98765-43210", None],
    ...                    "first_name": ["Zoë", "Ann", "Raj"]})
    >>> plan = plan_campaign(df, number_col="phone", content="Hi {first_name}!")
    >>> plan.recipients["state"].tolist()
    ['ready', 'skipped_duplicate', 'skipped_invalid']
    >>> plan.summary().as_dict()["requests"]
    1

When a row has several problems, the first one in this order decides its state:
``skipped_invalid`` (number, then the row's own orderId), ``skipped_suppressed``,
``skipped_duplicate`` (the first valid, non-suppressed row with a number keeps it),
``skipped_missing_field`` (or ``skipped_invalid`` for broken text in a placeholder column),
``skipped_too_long``, and last ``skipped_invalid`` for an orderId an earlier ready row uses.

Rows are named by their index label in reasons, plainly: ``duplicate of row 5``,
``duplicate of row 'r1'`` (text labels quoted).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import UsageError
from .experiment import (
    HOLDOUT,
    ROLLOUT,
    VARIANT_COLUMN,
    ExperimentSpec,
    ExperimentSummary,
    assign_groups,
    experiment_summary,
    min_detectable_lift_table,
    variant_groups,
)
from .message import (
    GSM7_BASIC_CLASS,
    GSM7_PART,
    GSM7_SINGLE,
    WORK_STRING,
    check_content,
    count_segments_cached,
    field_column,
    format_value,
    parse_template,
    render_frame,
)
from .models import (
    ASTRAL,
    HELD_FOR_ROLLOUT,
    MAX_CONTENT_CHARS,
    MAX_NUMBERS_POST,
    MAX_ORDER_ID_CHARS,
    MAX_SENDER_ID_CHARS,
    READY,
    SKIPPED_ALREADY_SENT,
    SKIPPED_DUPLICATE,
    SKIPPED_FREQUENCY_CAP,
    SKIPPED_HOLDOUT,
    SKIPPED_INVALID,
    SKIPPED_MISSING_FIELD,
    SKIPPED_NO_WINDOW,
    SKIPPED_OPTED_OUT,
    SKIPPED_STATES,
    SKIPPED_SUPPRESSED,
    SKIPPED_TOO_LONG,
    Balance,
    Batch,
    BatchItem,
    Endpoint,
    check_sender_id,
    has_surrogate,
    utf16_len,
)
from .numbers import calling_codes, check_region, normalize_numbers
from .pricing import PriceTable, read_prices
from .schedule import (
    ASSUMED_RATE,
    SCHEDULE_COLUMNS,
    Schedule,
    row_windows,
    schedule_frame,
    schedule_warnings,
)
from .smart_encoding import apply_smart_encoding_array, char_name, replacement_for, ucs2_chars
from .suppression import SuppressionList, read_suppression
from .workspace.planning import apply_workspace as _ws_apply
from .workspace.planning import reason_keys as _ws_reason_keys
from .workspace.planning import summary_line as _ws_summary_line
from .workspace.planning import workspace_step as _ws_step

# Old names of the provider limits (defined once, in models).
MAX_NUMBERS_PER_REQUEST = MAX_NUMBERS_POST
MAX_SENDER_ID = MAX_SENDER_ID_CHARS
MAX_ORDER_ID = MAX_ORDER_ID_CHARS

RECIPIENT_COLUMNS = (
    "number", "order_id", "content", "encoding", "segments", "state", "reason", "ucs2_chars",
)  # fmt: skip
_Prices = PriceTable | Decimal | None


#: Characters forcing UCS-2 listed when printed (all are in ``ucs2_characters``).
_UCS2_SHOWN = 8
#: Zones listed in the printed summary (all of them: :meth:`Plan.schedule`).
_SCHEDULE_SHOWN = 12
#: Summary values up to this long are right-aligned in one column when printed.
_VALUE_WIDTH = 25


class _BalanceClient(Protocol):
    async def get_balance(self) -> Balance: ...


# --- summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ucs2Char:
    """One character that forces UCS-2: its Unicode name, the ready rows holding it, where it
    comes from (``"template"`` or placeholder column names) and smart encoding's replacement
    (``None``: it has none, e.g. an emoji or a letter such as ``ë``)."""

    char: str
    name: str
    rows: int
    sources: tuple[str, ...]
    replacement: str | None

    def describe(self) -> str:
        where = ", ".join(self.sources) or "?"
        fix = (
            f"smart encoding: {self.replacement!r}"
            if self.replacement is not None
            else "no GSM-7 equivalent"
        )
        return f"{self.rows:,} row{'' if self.rows == 1 else 's'}; from {where}; {fix}"


@dataclass(frozen=True)
class PlanSummary:
    """The dry run in numbers; ``counts`` (rows per state) always add up to ``rows``.

    ``skipped`` breaks skipped rows down by state and reason, e.g.
    ``{("skipped_invalid", "precision_lost"): 12}``. Money is ``Decimal``; ``estimated_cost``
    is ``None`` when no price is known, and ``unpriced_rows`` counts ready rows whose country
    has no price. Balance fields are filled by :meth:`Plan.check_balance`.

    Suppression: ``suppression_entries`` values were read (``None``: no suppression list
    given), ``suppression_valid`` of them are phone numbers, and they removed
    ``suppressed_rows`` rows. ``utf16_rows`` ready messages hold characters that count 2
    UTF-16 units (emoji): their length is counted in UTF-16 units against the
    1,024-character limit, the stricter count.
    """

    rows: int
    ready: int
    counts: dict[str, int]
    skipped: dict[tuple[str, str], int]
    unique_contents: int
    requests: int
    requests_by_endpoint: dict[str, int]
    segments: int
    encodings: dict[str, int]
    estimated_cost: Decimal | None = None
    unpriced_rows: int = 0
    balance: Balance | None = None
    suppression_entries: int | None = None
    suppression_valid: int = 0
    suppressed_rows: int = 0
    suppression_examples: tuple[str, ...] = ()
    utf16_rows: int = 0
    segments_per_message: dict[int, int] = field(default_factory=dict)
    ucs2_characters: tuple[Ucs2Char, ...] = ()
    ucs2_extra_segments: int = 0
    ucs2_extra_cost: Decimal | None = None
    smart_encoding: bool = False
    smart_saving_segments: int = 0
    smart_saving_cost: Decimal | None = None
    cost_by_country: dict[str, Decimal] = field(default_factory=dict)
    cost_by_encoding: dict[str, Decimal] = field(default_factory=dict)
    currency: str | None = None
    truncated_rows: int = 0
    footer: str | None = None
    #: Variants, holdout and rollout (issue 17); None for a plan without an experiment.
    experiment: ExperimentSummary | None = None
    #: Send windows: the settings in one line, the per-zone dry run (rows of
    #: :meth:`Plan.schedule` as dicts), its warnings, and how many ready rows got the most
    #: restrictive window of the zones their number may be in.
    schedule: str | None = None
    schedule_rows: tuple[dict[str, Any], ...] = ()
    schedule_warnings: tuple[str, ...] = ()
    restrictive_rows: int = 0
    #: The workspace checked (location, password masked; ``None``: none), what it excluded
    #: (``counts`` has them too) and how many replies await review (``ws.optout_review()``).
    workspace: str | None = None
    workspace_opted_out: int = 0
    workspace_capped: int = 0
    workspace_already_sent: int = 0
    review_pending: int = 0

    @property
    def available(self) -> Decimal | None:
        """Balance + gift + credit, once the balance was checked."""
        b = self.balance
        return None if b is None else b.balance + b.gift + b.credit

    @property
    def enough_balance(self) -> bool | None:
        if self.available is None or self.estimated_cost is None:
            return None
        return self.available >= self.estimated_cost

    def _lines(self) -> list[tuple[str, str]]:
        lines = [("rows", f"{self.rows:,}"), ("ready", f"{self.ready:,}")]
        for (state, reason), n in self.skipped.items():
            lines.append((f"  {state}" + (f" ({reason})" if reason else ""), f"{n:,}"))
        lines.append(("suppression", self._suppression_line()))
        if self.suppression_examples:
            lines.append(("  not phone numbers, e.g.", ", ".join(self.suppression_examples)))
        if self.workspace is not None:
            lines.append(("workspace", _ws_summary_line(self.counts, self.review_pending)))
        lines += [
            ("unique contents", f"{self.unique_contents:,}"),
            ("requests", f"{self.requests:,}"),
        ]
        for endpoint, n in self.requests_by_endpoint.items():
            lines.append((f"  {endpoint}", f"{n:,}"))
        lines.append(("segments", f"{self.segments:,}"))
        for enc, n in self.encodings.items():
            lines.append((f"  {enc} messages", f"{n:,}"))
        if self.segments_per_message:
            lines.append(
                (
                    "  segments per message",
                    " · ".join(f"{k}: {n:,}" for k, n in self.segments_per_message.items()),
                )
            )
        if self.truncated_rows:
            lines.append(("  shortened to fit the cap", f"{self.truncated_rows:,}"))
        if self.utf16_rows:
            lines.append(
                (
                    "  messages with emoji",
                    f"{self.utf16_rows:,}, counted as UTF-16 units against the "
                    f"{MAX_CONTENT_CHARS:,} limit",
                )
            )
        lines += self._ucs2_lines()
        lines += self._schedule_lines()
        if self.estimated_cost is None:
            cost = "unknown (no prices given)"
        else:
            cost = self._money(self.estimated_cost)
            if self.unpriced_rows:
                cost += f" (+ {self.unpriced_rows:,} ready rows without a price)"
        lines.append(("estimated cost", cost))
        if len(self.cost_by_country) > 1 or len(self.cost_by_encoding) > 1:
            for country, c in self.cost_by_country.items():
                lines.append((f"  {country}", self._money(c)))
            for enc, c in self.cost_by_encoding.items():
                lines.append((f"  {enc}", self._money(c)))
        if self.balance is not None:
            b = self.balance
            lines += [
                ("balance", f"{b.balance:,}"),
                ("gift", f"{b.gift:,}"),
                ("credit", f"{b.credit:,}"),
                ("available", f"{self.available:,}"),
            ]
            verdict = {True: "yes", False: "NO", None: "unknown"}[self.enough_balance]
            lines.append(("enough balance", verdict))
        if self.experiment is not None:
            lines += self.experiment.lines()
        return lines

    def _schedule_lines(self) -> list[tuple[str, str]]:
        """The send windows: per zone when it opens and closes, how many, how long."""
        if self.schedule is None:
            return []
        lines = [("send window", self.schedule)]
        for r in self.schedule_rows[:_SCHEDULE_SHOWN]:
            tz = str(r["tz"])
            zones = tz.split(",")
            name = tz if len(zones) == 1 else f"{zones[0]} +{len(zones) - 1} zones"
            when = (
                "never opens"
                if r["opens_at"] is None
                else (
                    f"opens {r['opens_at']:%Y-%m-%d %H:%M}, "
                    f"closes {r['closes_at']:%Y-%m-%d %H:%M} UTC"
                )
            )
            lines.append((f"  {name} ({r['window']})",
                          f"{r['recipients']:,}; {when}; ~{r['est_send_s']:,.0f} s"))  # fmt: skip
        if len(self.schedule_rows) > _SCHEDULE_SHOWN:
            more = len(self.schedule_rows) - _SCHEDULE_SHOWN
            lines.append(("  ...", f"{more:,} more zones (plan.schedule())"))
        if self.restrictive_rows:
            lines.append(("  uncertain zone: strictest window", f"{self.restrictive_rows:,}"))
        for w in self.schedule_warnings:
            lines.append(("  warning", w))
        return lines

    def _money(self, amount: Decimal) -> str:
        return f"{amount:,}" + (f" {self.currency}" if self.currency else "")

    def _ucs2_lines(self) -> list[tuple[str, str]]:
        """What makes messages UCS-2, what it costs, and what smart encoding does about it."""
        lines: list[tuple[str, str]] = []
        if self.ucs2_characters:
            lines.append(("characters forcing UCS-2", ""))
            shown = self.ucs2_characters[:_UCS2_SHOWN]
            for c in shown:
                lines.append((f"  {c.char} {c.name}", c.describe()))
            if len(self.ucs2_characters) > len(shown):
                more = len(self.ucs2_characters) - len(shown)
                lines.append(("  ...", f"{more:,} more (summary().ucs2_characters)"))
            extra = f"{self.ucs2_extra_segments:,}"
            if self.ucs2_extra_cost is not None:
                extra += f" ≈ {self._money(self.ucs2_extra_cost)}"
            lines.append(("  extra segments from UCS-2", extra))
        saving = f"{self.smart_saving_segments:,} segments"
        if self.smart_saving_cost is not None:
            saving += f" ≈ {self._money(self.smart_saving_cost)}"
        if self.smart_encoding:
            lines.append(("smart encoding", f"on: saved {saving}"))
        elif self.smart_saving_segments or any(
            c.replacement is not None for c in self.ucs2_characters
        ):
            # Said whenever a character has a look-alike, also when it would save nothing.
            lines.append(("smart encoding", f"off: would save {saving} (smart_encoding=True)"))
        return lines

    def _suppression_line(self) -> str:
        removed = f"removed {self.suppressed_rows:,} row{'' if self.suppressed_rows == 1 else 's'}"
        if self.suppression_entries is None:
            return f"none ({removed})" if self.suppressed_rows else "none"
        entries = self.suppression_entries
        valid = self.suppression_valid
        return (
            f"{entries:,} entr{'y' if entries == 1 else 'ies'} read, "
            f"{valid:,} valid number{'' if valid == 1 else 's'}, {removed}"
        )

    def __str__(self) -> str:
        lines = self._lines()
        width = max(len(k) for k, _ in lines)
        # numbers right-aligned in one column; longer text starts there and runs on
        vwidth = max((len(v) for _, v in lines if len(v) <= _VALUE_WIDTH), default=0)
        return "\n".join(f"{k:<{width}}  {v:>{vwidth}}".rstrip() for k, v in lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td style='text-align:left'>{html.escape(k).replace(' ', '&nbsp;')}</td>"
            f"<td style='text-align:right'>{html.escape(v)}</td></tr>"
            for k, v in self._lines()
        )
        return f"<table><thead><tr><th>plan</th><th></th></tr></thead><tbody>{rows}</tbody></table>"

    def to_frame(self) -> pd.DataFrame:
        """The summary as a two-column frame (metric, value), as printed."""
        return pd.DataFrame([(k.strip(), v) for k, v in self._lines()], columns=["metric", "value"])

    def as_dict(self) -> dict[str, Any]:
        """Plain values (Decimal kept; skipped keys joined as ``"state: reason"``)."""
        return {
            "rows": self.rows,
            "ready": self.ready,
            "counts": dict(self.counts),
            "skipped": {f"{s}: {r}" if r else s: n for (s, r), n in self.skipped.items()},
            "unique_contents": self.unique_contents,
            "requests": self.requests,
            "requests_by_endpoint": dict(self.requests_by_endpoint),
            "segments": self.segments,
            "encodings": dict(self.encodings),
            "estimated_cost": self.estimated_cost,
            "unpriced_rows": self.unpriced_rows,
            "suppression_entries": self.suppression_entries,
            "suppression_valid": self.suppression_valid,
            "suppressed_rows": self.suppressed_rows,
            "utf16_rows": self.utf16_rows,
            "segments_per_message": dict(self.segments_per_message),
            "ucs2_characters": [
                {
                    "char": c.char,
                    "name": c.name,
                    "rows": c.rows,
                    "sources": list(c.sources),
                    "replacement": c.replacement,
                }
                for c in self.ucs2_characters
            ],
            "ucs2_extra_segments": self.ucs2_extra_segments,
            "ucs2_extra_cost": self.ucs2_extra_cost,
            "smart_encoding": self.smart_encoding,
            "smart_saving_segments": self.smart_saving_segments,
            "smart_saving_cost": self.smart_saving_cost,
            "cost_by_country": dict(self.cost_by_country),
            "cost_by_encoding": dict(self.cost_by_encoding),
            "currency": self.currency,
            "truncated_rows": self.truncated_rows,
            "footer": self.footer,
            "schedule": self.schedule,
            "schedule_rows": [dict(r) for r in self.schedule_rows],
            "schedule_warnings": list(self.schedule_warnings),
            "restrictive_rows": self.restrictive_rows,
            "workspace": self.workspace,
            "workspace_opted_out": self.workspace_opted_out,
            "workspace_capped": self.workspace_capped,
            "workspace_already_sent": self.workspace_already_sent,
            "review_pending": self.review_pending,
            "balance": None if self.balance is None else self.balance.balance,
            "available": self.available,
            "enough_balance": self.enough_balance,
            "experiment": None if self.experiment is None else self.experiment.as_dict(),
        }


# --- the plan -----------------------------------------------------------------------------


@dataclass
class Plan:
    """A planned campaign. Build it with :func:`plan_campaign`; nothing is sent.

    ``source`` is the user's frame (never mutated), ``recipients`` a new frame with the same
    index and order (:data:`RECIPIENT_COLUMNS`), ``batches`` the requests sending will make.
    """

    source: pd.DataFrame
    recipients: pd.DataFrame
    batches: list[Batch]
    settings: dict[str, Any]
    fingerprint: str
    prices: _Prices = None
    _balance: Balance | None = field(default=None, repr=False)
    #: The workspace this plan was checked against (in memory only; ``settings`` names it).
    workspace: Any = field(default=None, repr=False, compare=False)
    #: What :func:`plan_campaign` built the requests from (see :meth:`requests_match_recipients`).
    _built: _BuiltFrom | None = field(default=None, repr=False, compare=False)

    def requests_match_recipients(self) -> bool:
        """True when every request's numbers and orderIds are, by construction, the recipients
        frame's at the request's positions: the plan is as :func:`plan_campaign` made it.

        Proven by identity, not by comparing a million values: the same request objects, and
        the same immutable Arrow arrays behind the ``number`` and ``order_id`` columns (pandas
        replaces a column's array when a value is set). After any change, or for a plan
        restored from a ledger, this is False and the ledger compares value by value.

        >>> plan = plan_campaign(pd.DataFrame({"phone": ["+919812345678"]}), content="Hi")
        >>> plan.requests_match_recipients()
        True
        >>> plan.recipients.loc[plan.recipients.index[0], "number"] = "919800000000"
        >>> plan.requests_match_recipients()
        False
        """
        built = self._built
        return built is not None and built.matches(self.batches, self.recipients)

    def __repr__(self) -> str:
        ready = int((self.recipients["state"] == READY).sum())
        return (
            f"<Plan rows={len(self.recipients):,} ready={ready:,} requests={len(self.batches):,} "
            f"fingerprint={self.fingerprint[:12]}>"
        )

    @classmethod
    def restore(
        cls,
        *,
        source: pd.DataFrame,
        recipients: pd.DataFrame,
        batches: list[Batch],
        settings: dict[str, Any],
        fingerprint: str,
    ) -> Plan:
        """A plan rebuilt from stored parts (the ledger); prices come back from ``settings``."""
        return cls(
            source,
            recipients,
            list(batches),
            dict(settings),
            fingerprint,
            prices=_parse_prices(settings.get("prices")),
        )

    def summary(self) -> PlanSummary:
        """Counts by state and reason, requests, segments and the estimated cost."""
        rec = self.recipients
        # States compared in their own (Arrow) type, then the reasons of the skipped rows
        # only: a million ready rows cost no per-row Python text work.
        state = rec["state"]
        ready_mask = (state == READY).to_numpy(dtype=bool, na_value=False)
        counts = {str(s): int(n) for s, n in state.value_counts(sort=False).items()}
        ordered = {s: counts.pop(s) for s in (READY, *SKIPPED_STATES) if s in counts}
        ordered.update(counts)
        skipped_at = np.flatnonzero(~ready_mask)
        skipped_state = rec["state"].iloc[skipped_at].astype(object)
        key = _reason_keys(skipped_state, rec["reason"].iloc[skipped_at])
        skipped_frame = pd.DataFrame({"s": skipped_state.to_numpy(), "k": key.to_numpy()})
        skipped: dict[tuple[str, str], int] = {}
        for s in SKIPPED_STATES:
            part = skipped_frame[skipped_frame["s"] == s]
            for k, n in part["k"].value_counts(sort=True).items():
                skipped[(s, str(k))] = int(n)
        seg = rec["segments"].to_numpy(dtype=np.int64)[ready_mask]
        endpoints: dict[str, int] = {}
        for b in self.batches:
            endpoints[b.endpoint] = endpoints.get(b.endpoint, 0) + 1
        enc = rec["encoding"][ready_mask].value_counts(sort=False)
        ready_numbers = rec["number"][ready_mask]
        costs = _cost_breakdown(ready_numbers, seg, rec["encoding"][ready_mask], self.prices)
        cost, unpriced = costs.total, costs.unpriced_rows
        ucs2 = _ucs2_report(self, ready_mask)
        hist = np.bincount(seg) if len(seg) else np.zeros(0, dtype=np.int64)
        unique_contents, utf16_rows = _content_counts(rec["content"][ready_mask])
        st = self.settings
        entries = st.get("suppression_entries")
        if entries is None and st.get("suppress") is not None:  # a plan stored before counts
            entries = st.get("suppressed_numbers")
        return PlanSummary(
            rows=len(rec),
            ready=int(ready_mask.sum()),
            counts=ordered,
            skipped=skipped,
            unique_contents=unique_contents,
            requests=len(self.batches),
            requests_by_endpoint=endpoints,
            segments=int(seg.sum()),
            encodings={str(k): int(v) for k, v in enc.items()},
            estimated_cost=cost,
            unpriced_rows=unpriced,
            balance=self._balance,
            suppression_entries=entries,
            suppression_valid=int(st.get("suppression_valid", entries or 0)),
            suppressed_rows=ordered.get(SKIPPED_SUPPRESSED, 0),
            suppression_examples=tuple(st.get("suppression_examples") or ()),
            utf16_rows=utf16_rows,
            segments_per_message={k: int(v) for k, v in enumerate(hist.tolist()) if v},
            cost_by_country=costs.by_country,
            cost_by_encoding=costs.by_encoding,
            currency=getattr(self.prices, "currency", None),
            truncated_rows=int(st.get("truncated_rows", 0)),
            footer=st.get("footer"),
            experiment=self._experiment_summary(),
            workspace=st.get("workspace"),
            workspace_opted_out=ordered.get(SKIPPED_OPTED_OUT, 0),
            workspace_capped=ordered.get(SKIPPED_FREQUENCY_CAP, 0),
            workspace_already_sent=ordered.get(SKIPPED_ALREADY_SENT, 0),
            review_pending=int(st.get("workspace_review") or 0),
            **ucs2,
            **self._schedule_summary(ready_mask),
        )

    # -- experiments (issue 17) ------------------------------------------------------------
    def _experiment_summary(self, baseline: float | None = None) -> ExperimentSummary | None:
        if "experiment" not in self.settings or VARIANT_COLUMN not in self.recipients:
            return None
        rec = self.recipients
        ready = (rec["state"] == READY).to_numpy(dtype=bool, na_value=False)
        group = variant_groups(rec)
        seg = rec["segments"].to_numpy(dtype=np.int64)
        costs = {
            name: _estimate_cost(rec["number"][ready & (group == name)],
                                 seg[ready & (group == name)], self.prices)[0]
            for name in self.settings["experiment"]["variants"]
        }  # fmt: skip
        extra = {} if baseline is None else {"baseline": baseline}
        currency = getattr(self.prices, "currency", None)
        return experiment_summary(rec, self.settings, costs, currency=currency, **extra)

    def min_detectable_lift(
        self, baseline: float = 0.05, *, alpha: float = 0.05, power: float = 0.8
    ) -> pd.DataFrame:
        """Per variant: the smallest lift over ``baseline`` (a conversion rate) its rows and the
        holdout can detect — a two-sided two-proportion test at ``alpha``, with ``power``.

        >>> df = pd.DataFrame({"phone": [f"+9198765{i:05d}" for i in range(2000)]})
        >>> plan = plan_campaign(df, content="Hi", holdout=0.5, split_seed=1)
        >>> round(float(plan.min_detectable_lift(0.05).loc["A", "min_abs_lift"]), 3)
        0.031
        """
        if VARIANT_COLUMN not in self.recipients:
            raise UsageError("this plan has no holdout: plan it with holdout=0.1 (and variants=)")
        names = list(self.settings.get("experiment", {}).get("variants") or {})
        return min_detectable_lift_table(
            self.recipients, names, baseline=baseline, alpha=alpha, power=power
        )

    def _schedule_summary(self, ready_mask: np.ndarray) -> dict[str, Any]:
        """The summary's send-window fields (none for a plan without windows)."""
        sched = self.schedule_settings
        if sched is None:
            return {}
        frame = self.schedule()
        src = self.recipients["tz_source"].astype(object).to_numpy()[ready_mask]
        rate = self.settings.get("rate") or ASSUMED_RATE
        return {
            "schedule": f"{sched.describe()}; times at {rate:g} SMS/s (plan.schedule(rate=))",
            "schedule_rows": tuple(_plain_row(r) for r in frame.to_dict("records")),
            "schedule_warnings": tuple(schedule_warnings(frame, sched)),
            "restrictive_rows": int((src == "country-restrictive").sum()),
        }

    async def check_balance(self, client: _BalanceClient) -> PlanSummary:
        """Ask the account balance (``client.get_balance()``); the summary with it added."""
        self._balance = await client.get_balance()
        return self.summary()

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first ``n`` ready messages: number, content, encoding, segments."""
        rec = self.recipients
        ready = rec[(rec["state"] == READY).to_numpy()]
        return ready[["number", "content", "encoding", "segments"]].head(n).copy()

    # -- send windows (issue 14) -----------------------------------------------------------
    @property
    def schedule_settings(self) -> Schedule | None:
        """The plan's send windows (``plan_campaign(window=..., ...)``), or None."""
        return Schedule.from_settings(self.settings)

    def schedule(self, *, now: float | None = None, rate: float | None = None) -> pd.DataFrame:
        """The dry run of the send windows: one row per zone (and window) of the ready
        recipients: ``tz``, ``window``, ``tz_source``, ``recipients``, ``opens_at`` and
        ``closes_at`` (the next window, aware UTC datetimes), ``est_send_s`` at ``rate``
        SMS/s (default: the plan's ``rate`` setting, else
        :data:`~itnio_campaign.schedule.ASSUMED_RATE`), ``fits`` and ``left_over`` (how many
        would not be sent before the window closes or ``expire_at``). ``now``: epoch seconds
        (default: the clock). A plan without windows gives an empty frame.

        >>> df = pd.DataFrame({"phone": ["+1 212 555 0143", "+91 98765 43210"]})
        >>> plan = plan_campaign(df, content="Hi", window="09:00-20:00")
        >>> noon_utc = 1777896000.0                              # 2026-05-04 12:00 UTC
        >>> frame = plan.schedule(now=noon_utc)
        >>> [(r.tz, f"{r.opens_at:%H:%M}", f"{r.closes_at:%H:%M}") for r in frame.itertuples()]
        [('Asia/Kolkata', '12:00', '14:30'), ('America/New_York', '13:00', '00:00')]
        """
        sched = self.schedule_settings
        if sched is None:
            return pd.DataFrame(columns=list(SCHEDULE_COLUMNS))
        ready = (self.recipients["state"] == READY).to_numpy()
        rate = rate if rate is not None else self.settings.get("rate")
        return schedule_frame(self.recipients, sched, ready=ready, now=now, rate=rate)

    def save_for_run(self, path: str | Path) -> str:
        """Write this plan into a new ledger at ``path`` (or check it holds this plan) and
        return the command that sends it unattended: ``itnio-campaign run PATH``.

        Nothing is sent. The windows, ``not_before`` and ``expire_at`` live in the ledger,
        so ``run`` (under nohup, cron or systemd) waits for them; ``status`` shows progress.

        Example::

            print(plan.save_for_run("spring.sqlite"))   # itnio-campaign run spring.sqlite
        """
        from .schedule_send import save_for_run

        return save_for_run(self, path)


def load_plan(ledger: Any) -> Plan:
    """The plan a campaign ledger holds, exactly as it was stored (same fingerprint, frames
    and requests).

    Example::

        with Ledger.open("spring-promo.sqlite", readonly=True) as ledger:
            plan = load_plan(ledger)
    """
    return Plan.restore(**ledger.plan_parts())


def _reason_keys(state: pd.Series, reason: pd.Series) -> pd.Series:
    """Group key of each row's reason (duplicates and lengths lose their detail)."""
    state, reason = state.astype(object), reason.fillna("").astype(object)
    key = reason.copy()
    key[(state == SKIPPED_DUPLICATE).to_numpy()] = ""
    key[(state == SKIPPED_TOO_LONG).to_numpy()] = ""
    key[(state == SKIPPED_SUPPRESSED).to_numpy()] = ""
    key[(state == SKIPPED_HOLDOUT).to_numpy()] = ""  # one reason for all
    _ws_reason_keys(state, reason, key)
    missing = (state == SKIPPED_MISSING_FIELD).to_numpy()
    key[missing] = reason[missing].str.replace("missing field ", "", regex=False)
    invalid = (state == SKIPPED_INVALID).to_numpy()
    if invalid.any():
        key[invalid] = reason[invalid].str.replace(
            f"^{_ORDER_ID_REPEATS} .*", "order_id also used by an earlier ready row", regex=True
        )
    return key


def _content_counts(contents: pd.Series) -> tuple[int, int]:
    """(distinct contents, rows whose content has characters counting 2 UTF-16 units)."""
    codes, uniques = pd.factorize(contents, use_na_sentinel=True)
    if len(uniques) == 0:
        return 0, 0
    u = pd.Series(uniques, dtype=WORK_STRING)
    astral = u.str.contains(ASTRAL, regex=True).to_numpy(dtype=bool, na_value=False)
    per_unique = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return len(uniques), int(per_unique[astral].sum())


def _ucs2_report(plan: Plan, ready_mask: np.ndarray) -> dict[str, Any]:
    """The summary's UCS-2 fields: offending characters (name, rows, sources), the extra
    segments UCS-2 costs, and smart encoding's saving (done, or possible). Only the ready
    UCS-2 rows are looked at, once per distinct content."""
    rec, st = plan.recipients, plan.settings
    smart = bool(st.get("smart_encoding"))
    out: dict[str, Any] = {"smart_encoding": smart}
    if smart:
        out["smart_saving_segments"] = int(st.get("smart_encoding_saved_segments", 0))
        saved_cost = st.get("smart_encoding_saved_cost")
        out["smart_saving_cost"] = None if saved_cost is None else Decimal(saved_cost)
    is_ucs2 = ready_mask & (rec["encoding"] == "UCS-2").to_numpy(dtype=bool, na_value=False)
    if not is_ucs2.any():
        return out
    contents = rec["content"][is_ucs2]
    codes, uniques = pd.factorize(contents)
    texts = [str(u) for u in uniques]
    chars = [ucs2_chars(t) for t in texts]
    seg = np.array([count_segments_cached(t)[1] for t in texts], dtype=np.int64)
    # as GSM-7: each offending character replaced by one GSM-7 character
    as_gsm = np.array(
        [count_segments_cached(t.translate(dict.fromkeys(map(ord, c), "?")))[1]
         for t, c in zip(texts, chars, strict=True)], dtype=np.int64,
    )  # fmt: skip
    numbers = rec["number"][is_ucs2]
    extra = (seg - as_gsm)[codes]
    out["ucs2_extra_segments"] = int(extra.sum())
    out["ucs2_extra_cost"] = _estimate_cost(numbers, extra, plan.prices)[0]
    if not smart:
        from .smart_encoding import apply_smart_encoding

        after = np.array(
            [count_segments_cached(apply_smart_encoding(t))[1] for t in texts], dtype=np.int64
        )
        saving = (seg - after)[codes]
        out["smart_saving_segments"] = int(saving.sum())
        out["smart_saving_cost"] = _estimate_cost(numbers, saving, plan.prices)[0]
    rows_per = np.bincount(codes, minlength=len(texts))
    per_char: dict[str, int] = {}
    for c, n in zip(chars, rows_per.tolist(), strict=True):
        for ch in c:
            per_char[ch] = per_char.get(ch, 0) + n
    sources = _ucs2_sources(plan, is_ucs2, set(per_char))
    out["ucs2_characters"] = tuple(
        Ucs2Char(ch, char_name(ch), n, tuple(sources.get(ch, ())), replacement_for(ch))
        for ch, n in sorted(per_char.items(), key=lambda kv: -kv[1])
    )
    return out


def _ucs2_sources(plan: Plan, rows: np.ndarray, chars: set[str]) -> dict[str, list[str]]:
    """Where each of ``chars`` comes from: ``"template"`` and/or placeholder column names
    (their values in ``rows``, each distinct value looked at once)."""
    found: dict[str, list[str]] = {}
    template = str(plan.settings.get("content") or "")
    if not template and "experiment" in plan.settings:  # issue 17: every variant's template
        template = " ".join(plan.settings["experiment"]["variants"].values())
    try:
        tpl = parse_template(template)
    except UsageError:
        return found
    literal = "".join(lit for lit, _ in tpl.pieces)
    for ch in chars & set(literal):
        found.setdefault(ch, []).append("template")
    src = plan.source
    if len(src) != len(rows):
        return found
    for name in tpl.fields:
        label = field_column(name, src.columns)
        if label is None or isinstance(src[label], pd.DataFrame):
            continue
        values = pd.unique(src[label].iloc[np.flatnonzero(rows)].astype(object))
        seen: set[str] = set()
        for v in values:
            seen.update(format_value(v) or "")
        for ch in sorted(chars & seen):
            found.setdefault(ch, []).append(f"column {name}")
    return found


def _row_label(label: Any) -> str:
    """An index label as users wrote it: ``5`` (not ``np.int64(5)``), ``'r1'``, ``('a', 1)``."""
    if isinstance(label, tuple):
        return "(" + ", ".join(_row_label(x) for x in label) + ")"
    if isinstance(label, np.generic):
        label = label.item()
    return repr(label) if isinstance(label, str) else str(label)


def _row_labels(labels: pd.Index, positions: np.ndarray) -> np.ndarray:
    """:func:`_row_label` of ``labels[positions]``, each distinct position formatted once."""
    uniq, inverse = np.unique(positions, return_inverse=True)
    texts = np.array([_row_label(labels[int(p)]) for p in uniq], dtype=object)
    return texts[inverse]


def _first_of_repeats(keys: Any, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``at`` whose key repeats an earlier one: (their positions, the first's position)."""
    codes, _ = pd.factorize(keys)
    _, first = np.unique(codes, return_index=True)
    first_of = at[first][codes]
    repeat = first_of != at
    return at[repeat], first_of[repeat]


# --- inputs -------------------------------------------------------------------------------


def _column(df: pd.DataFrame, name: Any, what: str) -> pd.Series:
    if name not in df.columns:
        raise UsageError(
            f"{what} {name!r} is not a column; columns are: {', '.join(map(repr, df.columns))}"
        )
    col = df[name]
    if isinstance(col, pd.DataFrame):
        raise UsageError(f"{what} {name!r} names more than one column (duplicate column names)")
    return col


def _parse_prices(prices: Any) -> _Prices:
    """A price per segment: one number for all, or a :class:`~itnio_campaign.pricing.PriceTable`
    (dict, DataFrame or CSV price list, see :func:`~itnio_campaign.pricing.read_prices`)."""
    return read_prices(prices)


def _prices_setting(prices: _Prices) -> Any:
    if prices is None:
        return None
    if isinstance(prices, Decimal):
        return str(prices)
    return prices.to_setting()


@dataclass(frozen=True)
class CostBreakdown:
    """Estimated cost in total, by country and by encoding (``None`` without prices)."""

    total: Decimal | None
    unpriced_rows: int
    by_country: dict[str, Decimal]
    by_encoding: dict[str, Decimal]


def _country_label(code: int) -> str:
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(int(code))
    return f"{region} (+{code})" if region and region != "ZZ" else f"+{code}"


def _cost_breakdown(
    numbers: pd.Series, segments: np.ndarray, encodings: pd.Series | None, prices: _Prices
) -> CostBreakdown:
    """Cost of ``segments`` sent to ``numbers`` (aligned), grouped per (price, country,
    encoding) on integer codes, so a million rows cost a handful of Decimal products."""
    if prices is None:
        return CostBreakdown(None, 0, {}, {})
    n = len(numbers)
    cc = calling_codes(numbers).to_numpy(dtype=np.int64)
    if isinstance(prices, Decimal):
        pcodes = np.zeros(n, dtype=np.int64)
        plist: list[Decimal | None] = [prices]
    else:
        pcodes, puniq = pd.factorize(pd.Series(prices.prefix_of(numbers), dtype=object))
        plist = [prices.by_prefix.get(str(p)) for p in puniq]
    ecodes, euniq = (
        pd.factorize(encodings.astype(object).fillna(""))
        if encodings is not None
        else (np.zeros(n, dtype=np.int64), pd.Index([""]))
    )
    frame = pd.DataFrame({"p": pcodes, "c": cc, "e": ecodes, "s": segments, "n": 1})
    groups = frame.groupby(["p", "c", "e"], sort=True)[["s", "n"]].sum()
    total, unpriced = Decimal(0), 0
    by_country: dict[str, Decimal] = {}
    by_encoding: dict[str, Decimal] = {}
    for key, row in groups.iterrows():
        p, c, e = (int(x) for x in key)  # type: ignore[attr-defined]
        price = plist[int(p)] if int(p) >= 0 else None
        if price is None:
            unpriced += int(row["n"])
            continue
        cost = price * int(row["s"])
        total += cost
        country = _country_label(int(c))
        by_country[country] = by_country.get(country, Decimal(0)) + cost
        enc = str(euniq[int(e)]) if encodings is not None else ""
        if enc:
            by_encoding[enc] = by_encoding.get(enc, Decimal(0)) + cost
    return CostBreakdown(total, unpriced, by_country, by_encoding)


def _estimate_cost(
    numbers: pd.Series, segments: np.ndarray, prices: _Prices
) -> tuple[Decimal | None, int]:
    b = _cost_breakdown(numbers, segments, None, prices)
    return b.total, b.unpriced_rows


def _suppression_settings(sup: SuppressionList | None) -> dict[str, Any]:
    """What the plan's settings record of the suppression list (JSON values)."""
    if sup is None:
        return {"suppress": None, "suppressed_numbers": 0}
    return {
        "suppress": sup.description,
        "suppressed_numbers": len(sup),
        "suppression_entries": sup.entries,
        "suppression_valid": sup.valid,
        "suppression_examples": list(sup.examples),
    }


# --- pieces of the plan -------------------------------------------------------------------


@dataclass(frozen=True)
class _Encoded:
    """Contents factorized (``codes`` into ``uniques``, -1 for none) and counted per row."""

    codes: np.ndarray
    uniques: pd.Series
    content: pd.Series  # per row, the text that is sent (None where there is none)
    encoding: np.ndarray
    segments: np.ndarray
    ucs2_chars: Any  # per row, the characters that force UCS-2 ("" for GSM-7)
    u_chars: np.ndarray
    u_units: np.ndarray
    saved: np.ndarray | int  # per row, segments smart encoding saved (0 when off)


def _encode(content_col: pd.Series, smart: bool) -> _Encoded:
    """Encoding, segments and UCS-2 characters of each row's content, once per distinct
    content; with ``smart``, contents are smart-encoded first (per distinct content)."""
    codes, uniques = pd.factorize(content_col, use_na_sentinel=True)
    u = pd.Series(uniques, dtype=WORK_STRING)
    saved: np.ndarray | int = 0
    content = content_col
    if smart and len(u):
        before = _segments_of(u)[1]
        encoded = pd.Series(apply_smart_encoding_array(u), dtype=WORK_STRING)
        if not encoded.equals(u):  # two contents may now be equal: factorize again
            c2, u2 = pd.factorize(encoded)
            old = codes
            codes = np.r_[c2, -1][codes]
            u = pd.Series(u2, dtype=WORK_STRING)
            after = _segments_of(u)[1]
            saved = np.r_[before, 0][old] - np.r_[after, 0][codes]
            content = pd.Series(u.array.take(codes, allow_fill=True), dtype=WORK_STRING)
    u_enc, u_seg, u_chars, u_units = _segments_of(u)
    u_ucs2 = np.array(
        [ucs2_chars(str(u.iat[i])) if e == "UCS-2" else "" for i, e in enumerate(u_enc)] + [""],
        dtype=object,
    )
    return _Encoded(
        codes=codes,
        uniques=u,
        content=content,
        encoding=np.r_[u_enc, None][codes],
        segments=np.r_[u_seg, 0][codes].astype(np.int64),
        ucs2_chars=pd.array(u_ucs2[codes], dtype=WORK_STRING),
        u_chars=u_chars,
        u_units=u_units,
        saved=saved,
    )


def _with_footer(content: str, footer: str | None) -> str:
    """``content`` with ``footer`` appended (braces kept literal), unless it ends with it."""
    if footer is None:
        return content
    if not isinstance(footer, str) or not footer.strip() or has_surrogate(footer):
        raise UsageError("footer must be a non-empty text, e.g. 'Reply STOP to opt out'")
    footer = footer.strip()
    if content.rstrip().endswith(footer):
        return content
    sep = "" if content[-1:].isspace() else " "
    return content + sep + footer.replace("{", "{{").replace("}", "}}")


def _check_cap(df: pd.DataFrame, max_segments: int | None, on_long: str) -> str | None:
    """The column to truncate (``on_long="truncate:<column>"``), or ``None`` (skip)."""
    if max_segments is None:
        return None
    if (
        isinstance(max_segments, bool)
        or not isinstance(max_segments, int | np.integer)
        or (max_segments < 1)
    ):
        raise UsageError(f"max_segments must be a whole number >= 1, got {max_segments!r}")
    if on_long == "skip":
        return None
    if not isinstance(on_long, str) or not on_long.startswith("truncate:"):
        raise UsageError(f"on_long must be 'skip' or 'truncate:<column>', got {on_long!r}")
    col = on_long.removeprefix("truncate:")
    if field_column(col, df.columns) is None:
        raise UsageError(
            f"on_long={on_long!r}: {col!r} is not a column; columns are: "
            + ", ".join(map(str, df.columns))
        )
    return col


def _truncate_rows(
    df: pd.DataFrame,
    template: str,
    column: str,
    rows: np.ndarray,
    enc: _Encoded,
    max_segments: int,
    smart: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """For each row in ``rows`` (positions): the message with ``column``'s value shortened
    (longest prefix + ellipsis that fits ``max_segments``), and whether it could fit at all.
    Each distinct (content, value) pair is searched once, by bisection."""
    from .message import render_template
    from .smart_encoding import apply_smart_encoding

    tpl = parse_template(template)
    labels = {f: field_column(f, df.columns) for f in tpl.fields}
    if column not in tpl.fields:
        raise UsageError(f"on_long='truncate:{column}': the template has no {{{column}}}")
    out = np.full(len(rows), "", dtype=object)
    fits = np.zeros(len(rows), dtype=bool)
    cache: dict[tuple[int, str], str | None] = {}
    for k, pos in enumerate(rows.tolist()):
        values = {f: df[lab].iat[pos] for f, lab in labels.items()}
        value = format_value(values[column]) or ""
        key = (int(enc.codes[pos]), value)
        if key not in cache:
            ell = "…" if enc.encoding[pos] == "UCS-2" else "..."

            def message(
                cut: int, values: dict[str, Any] = values, value: str = value, ell: str = ell
            ) -> str:
                text = render_template(template, {**values, column: value[:cut].rstrip() + ell})
                return apply_smart_encoding(text) if smart else text

            lo, hi, best = 0, len(value) - 1, None
            while lo <= hi:  # the longest prefix whose message fits
                mid = (lo + hi) // 2
                text = message(mid)
                if count_segments_cached(text)[1] <= max_segments:
                    best, lo = text, mid + 1
                else:
                    hi = mid - 1
            cache[key] = best
        found = cache[key]
        if found is not None:
            out[k], fits[k] = found, True
    return out, fits


def _segments_of(
    contents: pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(encoding, segments, characters, UTF-16 units) per distinct content: pure GSM-7 basic
    text by length, vectorised; the rest through :func:`count_segments` (cached)."""
    n = len(contents)
    enc = np.full(n, "GSM-7", dtype=object)
    seg = np.zeros(n, dtype=np.int64)
    if n == 0:
        return enc, seg, seg.copy(), seg.copy()
    lengths = contents.str.len().to_numpy(dtype=np.int64)
    units = lengths.copy()
    with np.errstate(all="ignore"):
        basic = contents.str.fullmatch(GSM7_BASIC_CLASS + "*").to_numpy(dtype=bool, na_value=False)
    seg[basic] = np.where(lengths[basic] <= GSM7_SINGLE, 1, -(-lengths[basic] // GSM7_PART))
    seg[basic & (lengths == 0)] = 0
    for i in np.flatnonzero(~basic):  # GSM-7 basic text is one unit a character
        text = str(contents.iat[int(i)])
        enc[i], seg[i] = count_segments_cached(text)
        units[i] = utf16_len(text)
    return enc, seg, lengths, units


def _too_long_reason(chars: int, units: int) -> str:
    if units == chars:
        return f"content is {chars} characters; the limit is {MAX_CONTENT_CHARS}"
    return (
        f"content is {units} UTF-16 units ({chars} characters, emoji count 2); "
        f"the limit is {MAX_CONTENT_CHARS}"
    )


_BASE36 = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def _base36(positions: np.ndarray, n: int) -> np.ndarray:
    """Fixed-width base-36 strings of ints in ``range(n)``, vectorised."""
    top = max(n - 1, 0)
    width = 1
    while 36**width <= top:
        width += 1
    digits = np.empty((len(positions), width), dtype=np.uint8)
    rest = positions.astype(np.int64)
    for k in range(width - 1, -1, -1):
        digits[:, k] = _BASE36[rest % 36]
        rest = rest // 36
    return digits.view(f"S{width}").ravel().astype(str)


_ORDER_ID_REPEATS = "order_id also used by row"


def order_id_problem(order_id: str) -> str:
    """Why the API could not take ``order_id`` as a row's own id ("" if it can).

    Refused: empty, broken text (a lone surrogate), spaces at either end (the provider may
    trim them, and ``" a"`` would collide with ``"a"``), control or invisible characters
    (line breaks included), commas (the API's list separator), more than
    :data:`~itnio_campaign.models.MAX_ORDER_ID_CHARS` characters.

    >>> order_id_problem("A-17"), order_id_problem(" A-17")
    ('', 'order_id has spaces at the start or end')
    """
    if not order_id:
        return "order_id is empty"
    if has_surrogate(order_id):
        return "order_id has a broken character (an unpaired surrogate)"
    if order_id != order_id.strip():
        return "order_id has spaces at the start or end"
    if not order_id.isprintable():
        return "order_id has a control or invisible character (e.g. a line break)"
    if "," in order_id:
        return "order_id contains a comma"
    if utf16_len(order_id) > MAX_ORDER_ID_CHARS:
        return f"order_id is longer than {MAX_ORDER_ID_CHARS} characters"
    return ""


def _order_ids_from_column(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The user's order ids as text, and each row's :func:`order_id_problem` ("" if none);
    checked once per distinct value."""
    codes, uniques = pd.factorize(col.astype(object), use_na_sentinel=True)
    texts = [format_value(u) or "" for u in uniques] + [""]
    problems = np.array([order_id_problem(t) for t in texts], dtype=object)
    return np.array(texts, dtype=object)[codes], problems[codes]


@dataclass(frozen=True, eq=False)
class _BuiltFrom:
    """The requests a planner made, and the Arrow arrays it made them from."""

    batches: tuple[Batch, ...]
    arrays: tuple[Any, ...]  # behind the number and order_id columns

    @classmethod
    def of(cls, batches: list[Batch], recipients: pd.DataFrame) -> _BuiltFrom | None:
        arrays = _arrow_arrays(recipients)
        return None if arrays is None else cls(tuple(batches), arrays)

    def matches(self, batches: list[Batch], recipients: pd.DataFrame) -> bool:
        arrays = _arrow_arrays(recipients)
        return (
            arrays is not None
            and all(a is b for a, b in zip(arrays, self.arrays, strict=True))
            and len(batches) == len(self.batches)
            and all(a is b for a, b in zip(batches, self.batches, strict=True))
        )


def _arrow_arrays(recipients: pd.DataFrame) -> tuple[Any, ...] | None:
    """The Arrow arrays behind the ``number`` and ``order_id`` columns (None if not Arrow)."""
    out = []
    for name in ("number", "order_id"):
        if name not in recipients.columns:
            return None
        values = recipients[name].array
        if not hasattr(values, "_pa_array"):  # not Arrow-backed: nothing immutable to point to
            return None
        out.append(values.__arrow_array__())
    return tuple(out)


def make_batches(
    numbers: np.ndarray,
    content_codes: np.ndarray,
    contents: np.ndarray,
    order_ids: np.ndarray,
    positions: np.ndarray,
    sender_id: str | None,
    max_numbers: int = MAX_NUMBERS_PER_REQUEST,
) -> list[Batch]:
    """Requests for the ready rows (arrays aligned, in frame order; ``contents[code]``).

    Rows are grouped by content (first appearance order). Each content's full thousands go
    out as ``sendSms``; the remainders are packed in order into requests of at most
    ``max_numbers`` (1000) numbers (``sendSms`` when one content fills it, else
    ``sendSms/batch``). That makes ⌈ready / max_numbers⌉ requests, the fewest possible.
    """
    if len(numbers) == 0:
        return []
    # first-appearance order of contents, then stable by row
    _, first_seen = np.unique(content_codes, return_index=True)
    rank = np.empty(len(contents), dtype=np.int64)
    rank[content_codes[np.sort(first_seen)]] = np.arange(len(first_seen))
    order = np.argsort(rank[content_codes], kind="stable")
    codes_sorted = content_codes[order]
    starts = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]])
    ends = np.r_[starts[1:], len(order)]
    full: list[list[tuple[int, int]]] = []  # each request: (start, end) slices of `order`
    rest: list[tuple[int, int]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        while e - s >= max_numbers:
            full.append([(s, s + max_numbers)])
            s += max_numbers
        if e > s:
            rest.append((s, e))
    packed: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    room = max_numbers
    for s, e in rest:
        while e > s:
            take = min(room, e - s)
            current.append((s, s + take))
            s += take
            room -= take
            if room == 0:
                packed.append(current)
                current, room = [], max_numbers
    if current:
        packed.append(current)

    num_s = numbers[order].tolist()
    oid_s = order_ids[order].tolist()
    pos_s = positions[order].tolist()
    batches: list[Batch] = []
    for slices in full + packed:
        items = tuple(
            BatchItem(
                numbers=tuple(num_s[s:e]),
                content=contents[codes_sorted[s]],
                sender_id=sender_id,
                order_ids=tuple(oid_s[s:e]),
            )
            for s, e in slices
        )
        pos: list[int] = []
        for s, e in slices:
            pos.extend(pos_s[s:e])
        endpoint: Endpoint = "sendSms" if len(items) == 1 else "sendSms/batch"
        batches.append(Batch(len(batches), endpoint, items, tuple(pos)))
    return batches


def fingerprint_batches(batches: Iterable[Batch]) -> str:
    """A stable SHA-256 over the requests: endpoints, numbers, contents, sender, order ids."""
    h = hashlib.sha256()
    for b in batches:
        h.update(f"B{b.batch_id}\x1e{b.endpoint}\x1e".encode())
        for item in b.items:
            h.update(item.content.encode())
            h.update(b"\x1f" + (item.sender_id or "").encode() + b"\x1f")
            h.update(",".join(item.numbers).encode())
            h.update(b"\x1f" + ",".join(item.order_ids or ()).encode() + b"\x1d")
    return h.hexdigest()


# --- plan_campaign ------------------------------------------------------------------------


def plan_campaign(
    df: pd.DataFrame,
    number_col: Any = "phone",
    content: str = "",
    sender_id: str | None = None,
    order_id_col: Any = None,
    default_region: str = "IN",
    region_col: Any = None,
    suppress: Any = None,
    prices: Any = None,
    *,
    smart_encoding: bool = False,
    max_segments: int | None = None,
    on_long: str = "skip",
    footer: str | None = None,
    variants: dict[str, str] | None = None,
    holdout: float = 0.0,
    split_seed: int | None = None,
    stratify: Any = None,
    test_share: float | None = None,
    window: Any = None,
    days: Any = None,
    not_before: Any = None,
    expire_at: Any = None,
    tz_col: Any = None,
    default_tz: str | None = None,
    holidays: Any = None,
    late: str = "next_window",
    workspace: Any = None,
    frequency_cap: str | None = None,
    repeat_guard: Any = "7d",
) -> Plan:
    """Plan a campaign from a DataFrame; nothing is sent and ``df`` is never modified.

    ``content`` is a template with ``{column}`` placeholders (``{{``/``}}`` for braces;
    ``{1}`` addresses an integer column label 1); ``sender_id`` is checked by
    :func:`~itnio_campaign.models.check_sender_id`; ``order_id_col`` holds the rows' own ids
    (rows whose id the API could not take, see :func:`order_id_problem`, or whose id an
    earlier ready row uses, are ``skipped_invalid``); ``suppress`` numbers to exclude: a path,
    a string of numbers, a list/Series/DataFrame, or several of them, see
    :mod:`~itnio_campaign.suppression` (the summary says how many entries were read, how many
    were valid and how many rows they removed); ``prices`` a price per segment, one number or
    ``{country calling code: price}``, or a price list (dict of prefixes or country codes,
    DataFrame, CSV as the provider's portal exports it; see :func:`~itnio_campaign.pricing.
    read_prices`): the summary shows cost by country and by encoding.

    ``smart_encoding=True`` replaces characters with a GSM-7 look-alike (’ “ — … non-breaking
    spaces, ...) in the template and the placeholder values before counting (see
    :mod:`~itnio_campaign.smart_encoding`); off, the summary says what it would save.
    ``max_segments=N`` caps segments per message: ``on_long="skip"`` skips longer rows
    (``skipped_too_long``), ``on_long="truncate:<column>"`` shortens that placeholder's value
    with an ellipsis just enough to fit (the row's reason says so). ``footer`` is appended to
    every message (``"Reply STOP to opt out"``), unless the template already ends with it.

    Experiments (:mod:`~itnio_campaign.experiment`): ``variants={"A": "Hi {name}", "B": ...}``
    (then ``content`` stays empty) and/or ``holdout=0.1`` give each sendable row a
    ``variant`` column (``"A"``, ``"B"``, ... or ``"holdout"``) by a random draw seeded by
    ``split_seed`` (drawn and recorded when not given) and stratified by the ``stratify``
    column(s); holdout rows are ``skipped_holdout``. ``test_share=0.2`` sends the variants to
    20% of the list first; the rest is ``held_for_rollout`` until
    :func:`~itnio_campaign.rollout.rollout_winner` sends them the winner.

    Send windows (see :mod:`~itnio_campaign.schedule`): ``window=("09:00", "20:00")``,
    ``"09:00-20:00"`` (``"22:00-06:00"`` crosses midnight) or ``"promotional"`` (per-country
    presets, :mod:`~itnio_campaign.quiet_hours`), in each recipient's local time;
    ``days="mon-sat"``; ``holidays`` (local dates); ``not_before``/``expire_at`` (aware
    datetimes or ISO text with an offset). A recipient's zone comes from ``tz_col``, else
    their number, else ``default_tz``; a number whose zone stays uncertain must be inside
    the window in every zone it may be in (``tz_source="country-restrictive"``). Requests
    never mix recipients of different windows; :meth:`Plan.schedule` is the dry run per
    zone. ``late="skip"`` skips those whose window passed instead of waiting for the next.

    ``workspace`` (a :class:`~itnio_campaign.workspace.Workspace`, a path or a
    ``postgresql://`` URL; ``None``: none) skips, last, rows otherwise ready: opted-out
    numbers (``skipped_opted_out``, the reason names the opt-out's source), recipients over
    ``frequency_cap`` (``"1/24h,4/30d"``: ``skipped_frequency_cap``, the reason names the
    rule) and, unless ``repeat_guard`` is ``None``/``False``/``"off"``, recipients who got the
    same content within it (default ``"7d"``: ``skipped_already_sent``). Sending checks the
    workspace again just before it starts or resumes.

    >>> df = pd.DataFrame({"phone": ["+91 98765 43210"], "name": ["Zoë"], "store": ["Pune"]})
    >>> plan = plan_campaign(df, content="Hi {name}, 20% off at {store}!", prices=0.1)
    >>> plan.preview()[["number", "content"]].iloc[0].tolist()
    ['919876543210', 'Hi Zoë, 20% off at Pune!']
    """
    if variants is not None or holdout or test_share is not None:  # issue 17: an experiment
        windows = dict(window=window, days=days, not_before=not_before, expire_at=expire_at,
                       tz_col=tz_col, default_tz=default_tz, holidays=holidays)  # fmt: skip
        windows = {k: v for k, v in windows.items() if v is not None}
        if windows and test_share is not None:
            raise UsageError(
                "a winner rollout (test_share=) cannot have send windows yet: plan the "
                "variants with windows and no test_share=, or the rollout without windows"
            )
        if windows:
            windows["late"] = late
        return _plan_experiment(
            df, content, variants, holdout, split_seed, stratify, test_share,
            dict(number_col=number_col, sender_id=sender_id, order_id_col=order_id_col,
                 default_region=default_region, region_col=region_col, suppress=suppress,
                 prices=prices, smart_encoding=smart_encoding, max_segments=max_segments,
                 on_long=on_long, footer=footer, workspace=workspace,
                 frequency_cap=frequency_cap, repeat_guard=repeat_guard, **windows),
        )  # fmt: skip
    if split_seed is not None or stratify is not None:
        raise UsageError(
            "split_seed= and stratify= split an experiment: give variants= or holdout="
        )
    # -- every check that can fail, before any work --------------------------------------
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"plan_campaign needs a pandas DataFrame, got {type(df).__name__}")
    if df.empty or len(df) == 0:
        raise UsageError("the DataFrame has no rows: nothing to plan")
    number_series = _column(df, number_col, "number_col")
    region_series = _column(df, region_col, "region_col") if region_col is not None else None
    order_series = _column(df, order_id_col, "order_id_col") if order_id_col is not None else None
    template = parse_template(check_content(content))
    for name in template.fields:
        label = field_column(name, df.columns)
        _column(df, name if label is None else label, "content placeholder")
    sender_id = check_sender_id(sender_id)
    region = check_region(default_region)
    price_table = _parse_prices(prices)
    content = _with_footer(content, footer)
    truncate_col = _check_cap(df, max_segments, on_long)
    suppression = None if suppress is None else read_suppression(suppress, default_region=region)
    schedule = Schedule.of(
        window=window, days=days, not_before=not_before, expire_at=expire_at, tz_col=tz_col,
        default_tz=default_tz, holidays=holidays, late=late,
    )  # fmt: skip
    tz_series = _column(df, tz_col, "tz_col") if tz_col is not None else None
    ws_step = _ws_step(workspace, frequency_cap, repeat_guard)

    # -- per row ---------------------------------------------------------------------------
    n = len(df)
    labels = df.index
    variant = _VARIANT_PLANNING.get()  # planning one variant of an experiment (issue 17)
    key = (id(df), number_col, region, region_col)
    nums = variant.numbers if variant is not None and variant.key == key else None
    if nums is None:
        nums = normalize_numbers(
            number_series.reset_index(drop=True),
            default_region=region,
            regions=None if region_series is None else region_series.to_numpy(),
        )
        if variant is not None:
            variant.key, variant.numbers = key, nums
    number = nums["number"]
    state = np.full(n, READY, dtype=object)
    reason = nums["reason"].to_numpy(dtype=object, na_value="")

    valid = (nums["state"] == READY).to_numpy(dtype=bool, na_value=False)
    state[~valid] = SKIPPED_INVALID
    given_ids = None
    if order_series is not None:  # the row's own id must be one the API can take
        given_ids, id_problem = _order_ids_from_column(order_series.reset_index(drop=True))
        bad_id = valid & (id_problem != "")
        state[bad_id] = SKIPPED_INVALID
        reason[bad_id] = id_problem[bad_id]
        valid &= ~bad_id
    if suppression is not None and suppression.numbers:
        sup = valid & number.isin(suppression.numbers).to_numpy(dtype=bool, na_value=False)
        state[sup] = SKIPPED_SUPPRESSED
        reason[sup] = "number is in the suppression list"
        valid &= ~sup

    # duplicates among valid, non-suppressed rows: the first row keeps the number
    at = np.flatnonzero(valid)
    dup_rows, first_rows = _first_of_repeats(number.iloc[at], at)
    if len(dup_rows):
        state[dup_rows] = SKIPPED_DUPLICATE
        reason[dup_rows] = "duplicate of row " + _row_labels(labels, first_rows)
        valid[dup_rows] = False

    rendered = render_frame(content, df.reset_index(drop=True))
    missing = rendered.missing.to_numpy(dtype=object)
    has_text = missing == ""
    miss = valid & ~has_text
    state[miss] = SKIPPED_MISSING_FIELD
    reason[miss] = "missing field " + missing[miss].astype(str)
    valid &= ~miss
    broken = rendered.broken.to_numpy(dtype=object)
    is_broken = broken != ""
    has_text &= ~is_broken
    bad_text = valid & is_broken
    state[bad_text] = SKIPPED_INVALID
    reason[bad_text] = "broken text (an unpaired surrogate) in " + broken[bad_text].astype(str)
    valid &= ~bad_text

    # -- encoding, segments and length, once per distinct content --------------------------
    text = rendered.content.reset_index(drop=True)
    content_col = text.where(pd.Series(has_text), None)
    enc_ = _encode(content_col, smart_encoding)
    truncated = 0
    if max_segments is not None:
        over = valid & (enc_.segments > max_segments)
        if over.any() and truncate_col is not None:
            new_text, fits = _truncate_rows(
                df.reset_index(drop=True), content, truncate_col, np.flatnonzero(over),
                enc_, max_segments, smart_encoding,
            )  # fmt: skip
            if fits.any():
                rows = np.flatnonzero(over)[fits]
                values = enc_.content.to_numpy(dtype=object)
                values[rows] = new_text[fits]
                saved = enc_.saved
                enc_ = _encode(pd.Series(values, dtype=object), smart_encoding)
                enc_ = replace(enc_, saved=saved)
                reason[rows] = f"{truncate_col} shortened to fit {max_segments} segment" + (
                    "s" if max_segments > 1 else ""
                )
                truncated = len(rows)
                over[rows] = False
        if over.any():
            state[over] = SKIPPED_TOO_LONG
            reason[over] = (
                "message is " + enc_.segments[over].astype(str)
                + f" segments; the cap is {max_segments} (max_segments)"
            )  # fmt: skip
            valid &= ~over
    ccodes, uniques, content_col = enc_.codes, enc_.uniques, enc_.content
    u_chars, u_units = enc_.u_chars, enc_.u_units
    encoding, segments = enc_.encoding, enc_.segments
    # the stricter of the two counts: UTF-16 units (an emoji counts 2) >= characters
    u_long = u_units > MAX_CONTENT_CHARS
    long_ = valid & np.r_[u_long, False][ccodes]
    if long_.any():
        u_reason = np.array(
            [_too_long_reason(int(c), int(u)) if bad else "" for c, u, bad in
             zip(u_chars, u_units, u_long, strict=True)] + [""], dtype=object,
        )  # fmt: skip
        state[long_] = SKIPPED_TOO_LONG
        reason[long_] = u_reason[ccodes][long_]
        valid &= ~long_

    # -- the workspace: opt-outs, frequency caps, repeat guard (last, on ready rows) -------
    _ws_apply(ws_step, number, content_col, valid, state, reason)

    # -- order ids and requests -----------------------------------------------------------
    if given_ids is not None:  # two ready rows never share an orderId: the first keeps it
        at = np.flatnonzero(valid)
        dup_rows, first_rows = _first_of_repeats(given_ids[at], at)
        if len(dup_rows):
            state[dup_rows] = SKIPPED_INVALID
            reason[dup_rows] = f"{_ORDER_ID_REPEATS} " + _row_labels(labels, first_rows)
            valid[dup_rows] = False
    win = None
    if schedule is not None:  # send windows: each ready row's zone and window (issue 14)
        win = _plan_windows(schedule, number, valid, tz_series, state, reason)
        valid &= ~win.no_window
    ready = valid
    positions = np.flatnonzero(ready)
    order_ids = np.full(n, None, dtype=object)
    if given_ids is not None:  # the user's (an experiment reads them from its variants' plans)
        order_ids[positions] = given_ids[positions]
    if variant is not None:  # the experiment makes its requests (and orderIds) itself
        positions = positions[:0]
    ready_numbers = number.iloc[positions].to_numpy(dtype=object)
    if given_ids is not None:
        ready_ids = given_ids[positions]
    else:
        # short, deterministic, unique: a hash of what is sent + the row position in base 36
        h = hashlib.sha256(f"{n}\x1f{content}\x1f{sender_id}\x1f".encode())
        h.update(pd.util.hash_array(ready_numbers).tobytes())
        h.update(ccodes[positions].tobytes())
        ready_ids = np.char.add(h.hexdigest()[:6] + "-", _base36(positions, n)).astype(object)
        order_ids[positions] = ready_ids
    batches = (make_batches if win is None else win.make_batches)(
        ready_numbers,
        ccodes[positions],
        np.asarray(uniques, dtype=object),
        ready_ids,
        positions,
        sender_id,
    )

    recipients = pd.DataFrame(
        {
            "number": number.array,
            "order_id": pd.array(order_ids, dtype=WORK_STRING),
            "content": content_col.array,
            "encoding": pd.array(encoding, dtype=WORK_STRING),
            "segments": segments,
            "state": pd.array(state, dtype=WORK_STRING),
            "reason": pd.array(reason, dtype=WORK_STRING),
            "ucs2_chars": enc_.ucs2_chars,
        },
        index=labels.copy(),
    )
    if win is not None:
        recipients["tz"] = pd.array(win.tz, dtype=WORK_STRING)
        recipients["tz_source"] = pd.array(win.tz_source, dtype=WORK_STRING)
        recipients["window"] = pd.array(win.window, dtype=WORK_STRING)
    settings = {
        "number_col": _jsonable(number_col),
        "content": content,
        "sender_id": sender_id,
        "order_id_col": _jsonable(order_id_col),
        "default_region": region,
        "region_col": _jsonable(region_col),
        **_suppression_settings(suppression),
        "prices": _prices_setting(price_table),
        "rows": n,
    }
    if footer is not None:
        settings["footer"] = footer
    if schedule is not None:
        settings["schedule"] = schedule.to_settings()
    settings.update(ws_step.settings())
    if max_segments is not None:
        settings.update(max_segments=max_segments, on_long=on_long, truncated_rows=truncated)
    if smart_encoding:
        saved = np.where(ready, enc_.saved, 0)
        settings["smart_encoding"] = True
        settings["smart_encoding_saved_segments"] = int(saved.sum())
        cost = _estimate_cost(number, saved, price_table)[0]
        settings["smart_encoding_saved_cost"] = None if cost is None else str(cost)
    return Plan(
        source=df,
        recipients=recipients,
        batches=batches,
        settings=settings,
        fingerprint=fingerprint_batches(batches),
        prices=price_table,
        workspace=ws_step.workspace,
        _built=_BuiltFrom.of(batches, recipients),
    )


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


# --- experiments (issue 17) ---------------------------------------------------------------
_HOLDOUT_REASON = "holdout: kept out to measure the lift (never sent)"
_ROLLOUT_REASON = "held for the rollout: rollout_winner() sends it the winning variant"
_SHORTENED = "shortened to fit"


def _plan_experiment(
    df: pd.DataFrame,
    content: str,
    variants: dict[str, str] | None,
    holdout: float,
    split_seed: int | None,
    stratify: Any,
    test_share: float | None,
    kwargs: dict[str, Any],
) -> Plan:
    """:func:`plan_campaign` with variants and/or a holdout (see :mod:`.experiment`).

    Each variant is planned on its own; a row enters the draw only when every variant is
    ready for it (the groups come from one population), a row that is not keeps the first
    variant's reason. The draw fills the ``variant`` column; requests are made for the
    variant rows only.
    """
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"plan_campaign needs a pandas DataFrame, got {type(df).__name__}")
    if variants is None:
        if not content:
            raise UsageError("holdout= needs the message: give content= (or variants=)")
        variants = {"A": content}
    elif content:
        raise UsageError("give content= or variants=, not both (each variant is a template)")
    spec = ExperimentSpec.of(
        variants, holdout=holdout, test_share=test_share, seed=split_seed, stratify=stratify,
        columns=df.columns,
    )  # fmt: skip
    shared = _VariantPlanning()
    with shared.active():
        plans = {n: plan_campaign(df, content=tpl, **kwargs) for n, tpl in spec.variants.items()}
    first = next(iter(plans.values()))
    n = len(first.recipients)
    cols = ("content", "encoding", "segments", "state", "reason", "ucs2_chars")
    parts = {name: {c: p.recipients[c].to_numpy(dtype=object) for c in cols}
             for name, p in plans.items()}  # fmt: skip
    out = {c: parts[next(iter(plans))][c].copy() for c in cols}
    eligible = np.ones(n, dtype=bool)
    for name in reversed(list(plans)):  # a row not ready keeps the first variant's reason
        not_ready = parts[name]["state"] != READY
        eligible &= ~not_ready
        for c in cols:
            out[c][not_ready] = parts[name][c][not_ready]
    strata = df[list(spec.stratify)].reset_index(drop=True) if spec.stratify else None
    groups = assign_groups(eligible, spec.arms(), spec.seed, strata)
    for name in plans:
        mine = groups == name
        for c in cols:
            out[c][mine] = parts[name][c][mine]
    for label, state, reason in ((HOLDOUT, SKIPPED_HOLDOUT, _HOLDOUT_REASON),
                                 (ROLLOUT, HELD_FOR_ROLLOUT, _ROLLOUT_REASON)):  # fmt: skip
        mine = groups == label
        out["state"][mine], out["reason"][mine] = state, reason
        out["content"][mine], out["encoding"][mine], out["ucs2_chars"][mine] = None, None, ""
        out["segments"][mine] = 0
    numbers = first.recipients["number"]
    ready = np.isin(groups, list(plans))
    with_id = ready | (groups == ROLLOUT)  # rollout rows get their ids now, for their requests
    order_ids = _experiment_order_ids(first, kwargs, spec, numbers, with_id)
    positions = np.flatnonzero(ready)
    ccodes, uniques = pd.factorize(pd.Series(out["content"][positions], dtype=object))
    sender_id = first.settings.get("sender_id")
    windowed = "tz" in first.recipients  # the zones and windows follow the number: any plan's
    win = None
    if windowed:
        tz, tz_source, window = (
            first.recipients[c].astype(object).to_numpy() for c in ("tz", "tz_source", "window")
        )
        win = _Windows(tz, tz_source, window, no_window=np.zeros(n, dtype=bool))
    batches = (make_batches if win is None else win.make_batches)(
        numbers.iloc[positions].to_numpy(dtype=object), ccodes, np.asarray(uniques, dtype=object),
        order_ids[positions], positions, sender_id,
    )  # fmt: skip
    recipients = pd.DataFrame(
        {
            "number": numbers.array,
            "order_id": pd.array(order_ids, dtype=WORK_STRING),
            "content": pd.array(out["content"], dtype=WORK_STRING),
            "encoding": pd.array(out["encoding"], dtype=WORK_STRING),
            "segments": out["segments"].astype(np.int64),
            "state": pd.array(out["state"], dtype=WORK_STRING),
            "reason": pd.array(out["reason"], dtype=WORK_STRING),
            "ucs2_chars": pd.array(out["ucs2_chars"], dtype=WORK_STRING),
            VARIANT_COLUMN: pd.array(groups, dtype=WORK_STRING),
        },
        index=first.recipients.index.copy(),
    )
    if windowed:
        for c in ("tz", "tz_source", "window"):
            recipients[c] = first.recipients[c].to_numpy()
    settings = {**first.settings, "content": ""}
    if kwargs.get("smart_encoding"):  # what smart encoding saved on the rows each variant sends
        saved = np.zeros(n, dtype=np.int64)
        for name, tpl in spec.variants.items():
            with shared.active():
                plain = plan_campaign(df, content=tpl, **{**kwargs, "smart_encoding": False})
            mine = (groups == name) & (plain.recipients["state"] == READY).to_numpy(dtype=bool)
            before = plain.recipients["segments"].to_numpy(dtype=np.int64)
            saved[mine] = before[mine] - out["segments"][mine].astype(np.int64)
        settings["smart_encoding_saved_segments"] = int(saved.sum())
        cost = _estimate_cost(numbers, saved, first.prices)[0]
        settings["smart_encoding_saved_cost"] = None if cost is None else str(cost)
    if "truncated_rows" in settings:
        reasons = pd.Series(out["reason"][positions], dtype=object).fillna("")
        settings["truncated_rows"] = int(reasons.str.contains(_SHORTENED, regex=False).sum())
    held = groups == ROLLOUT
    experiment = spec.to_setting()
    if held.any():
        seg = {name: parts[name]["segments"][held].astype(np.int64) for name in plans}
        experiment["rollout_segments"] = {name: int(s.sum()) for name, s in seg.items()}
        costs = {name: _estimate_cost(numbers[held], s, first.prices)[0] for name, s in seg.items()}
        experiment["rollout_cost"] = {k: None if c is None else str(c) for k, c in costs.items()}
    settings["experiment"] = experiment
    return Plan(
        source=df,
        recipients=recipients,
        batches=batches,
        settings=settings,
        fingerprint=fingerprint_batches(batches),
        prices=first.prices,
        workspace=first.workspace,
        _built=_BuiltFrom.of(batches, recipients),
    )


@dataclass
class _VariantPlanning:
    """Shared by the plans of one experiment's variants (each variant is planned whole):
    the numbers are normalized once, and a variant's plan makes no requests, as the
    experiment makes its own for the rows it draws."""

    key: tuple[Any, ...] | None = None  # (id(df), number_col, region, region_col)
    numbers: pd.DataFrame | None = None  # normalize_numbers' frame for that key

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Plans made inside are variant plans sharing this (reset on the way out)."""
        token = _VARIANT_PLANNING.set(self)
        try:
            yield
        finally:
            _VARIANT_PLANNING.reset(token)


_VARIANT_PLANNING: ContextVar[_VariantPlanning | None] = ContextVar(
    "itnio_variant_planning", default=None
)


def _experiment_order_ids(
    first: Plan, kwargs: dict[str, Any], spec: ExperimentSpec, numbers: pd.Series, rows: np.ndarray
) -> np.ndarray:
    """Order ids of ``rows``: the user's (from ``order_id_col``: the same in every variant's
    plan), or short deterministic ones over the experiment and the row position."""
    n = len(numbers)
    ids = np.full(n, None, dtype=object)
    at = np.flatnonzero(rows)
    if kwargs.get("order_id_col") is not None:
        ids[at] = first.recipients["order_id"].to_numpy(dtype=object)[at]
        return ids
    h = hashlib.sha256(
        f"{n}\x1f{json.dumps(spec.to_setting(), sort_keys=True, default=str)}\x1f"
        f"{first.settings.get('sender_id')}\x1f".encode()
    )
    h.update(pd.util.hash_array(numbers.iloc[at].to_numpy(dtype=object)).tobytes())
    ids[at] = np.char.add(h.hexdigest()[:6] + "-", _base36(at, n)).astype(object)
    return ids


# --- send windows (issue 14) -----------------------------------------------------------------
@dataclass
class _Windows:
    """Each row's zone and window (None where not ready) and the rows no window fits."""

    tz: np.ndarray
    tz_source: np.ndarray
    window: np.ndarray
    no_window: np.ndarray

    def make_batches(
        self,
        numbers: np.ndarray,
        content_codes: np.ndarray,
        contents: np.ndarray,
        order_ids: np.ndarray,
        positions: np.ndarray,
        sender_id: str | None,
    ) -> list[Batch]:
        """:func:`make_batches` per window group (groups in key order): a request never
        mixes recipients whose windows differ."""
        codes, uniques = _group_codes(self.tz[positions], self.window[positions])
        out: list[Batch] = []
        for k in np.argsort(np.asarray(uniques, dtype=object), kind="stable"):
            sel = codes == k
            for b in make_batches(
                numbers[sel], content_codes[sel], contents, order_ids[sel], positions[sel],
                sender_id,
            ):  # fmt: skip
                out.append(Batch(len(out), b.endpoint, b.items, b.positions))
        return out


def _plan_windows(
    schedule: Schedule,
    number: pd.Series,
    valid: np.ndarray,
    tz_series: pd.Series | None,
    state: np.ndarray,
    reason: np.ndarray,
) -> _Windows:
    """Zones (column, number, default, or every zone the number may be in) and windows of
    the ``valid`` rows; rows whose window never opens get ``skipped_no_window``."""
    from .timezones import assign_zones

    n = len(number)
    at = np.flatnonzero(valid)
    nums = number.iloc[at].reset_index(drop=True)
    given = None if tz_series is None else tz_series.iloc[at].reset_index(drop=True)
    _, tz, source = assign_zones(nums, tz_values=given, default_tz=schedule.default_tz)
    text = row_windows(schedule, calling_codes(nums).to_numpy())
    tz_a, src_a, win_a = (np.full(n, None, dtype=object) for _ in range(3))
    tz_a[at], src_a[at], win_a[at] = tz.to_numpy(), source.to_numpy(), text
    no_window = np.zeros(n, dtype=bool)
    ref = schedule.not_before if schedule.not_before is not None else time.time()
    codes, uniques = _group_codes(tz.to_numpy(), text)
    for k, key in enumerate(uniques):
        zone_text, window_text = str(key).split("|", 1)
        rows = at[codes == k]
        why = ""
        if not window_text:
            why = "days= and the country's promotional days share no day"
        else:
            group = replace(schedule.group(zone_text, window_text), expire_at=None)
            if group.next_open(ref) is None:
                zones = zone_text.split(",")
                why = (
                    f"no time inside {window_text} in all {len(zones)} zones the number may "
                    "be in: give tz_col= or default_tz="
                    if len(zones) > 1
                    else f"the window {window_text} never opens"
                )
        if why:
            no_window[rows] = True
            state[rows] = SKIPPED_NO_WINDOW
            reason[rows] = why
            tz_a[rows] = src_a[rows] = win_a[rows] = None
    return _Windows(tz_a, src_a, win_a, no_window)


def _group_codes(tz: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, Any]:
    """A code per row for its window group, and the groups' keys (``tz|window``)."""
    tz_codes, tz_u = pd.factorize(tz)
    w_codes, w_u = pd.factorize(window)
    codes, pairs = pd.factorize(tz_codes.astype(np.int64) * max(len(w_u), 1) + w_codes)
    keys = [f"{tz_u[p // max(len(w_u), 1)]}|{w_u[p % max(len(w_u), 1)]}" for p in pairs.tolist()]
    return codes, keys


def _plain_row(row: dict[Any, Any]) -> dict[str, Any]:
    """A schedule row with plain Python values (datetime or None, int, float, bool, str)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
            value = None
        elif isinstance(value, np.generic):
            value = value.item()
        out[str(key)] = value
    return out
