"""Experiments: variants, a holdout group, and the lift measured on the analyst's own outcomes.

``plan_campaign(df, variants={"A": "Hi {first_name}, 20% off", "B": "..."}, holdout=0.1,
split_seed=7, stratify="country")`` gives every row that could be sent a ``variant`` (``"A"``,
``"B"``, ... or ``"holdout"``) by a seeded random draw, stratified: within each stratum every
group gets its share to within one row (unbiased rounding). Holdout rows are
``skipped_holdout`` and never sent. With ``test_share=0.2`` only 20% of the list gets the
variants; the rest is ``held_for_rollout`` (variant ``"rollout"``) until
:func:`~itnio_campaign.rollout.rollout_winner` sends them the winner.

A row enters the draw only if every variant can be sent to it (valid number, not suppressed,
no missing placeholder, not too long): the groups are drawn from one population, so their
outcomes compare. The split lives in the plan's recipients frame (column ``variant``), which
the ledger stores: a resumed campaign keeps it, and the same data and seed give the same
split.

After sending, :meth:`~itnio_campaign.result.CampaignResult.by_variant` shows delivery per
variant, and :func:`measure_lift` joins an outcomes frame (orders, visits) to measure what
the SMS changed against the holdout::

    lift = measure_lift(result, orders, on="customer_id", metric="converted", window="7d",
                        time_col="ordered_at")
    lift.table      # per variant: n, rate, abs_lift (+ interval), rel_lift, p_value, ...

Statistics are :mod:`itnio_campaign.stats` (Wilson, Newcombe, bootstrap, power).
"""

from __future__ import annotations

import html
import math
import os
import re
import secrets
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import stats
from .errors import UsageError
from .models import (
    ACCEPTED_STATES,
    DELIVERED,
    HELD_FOR_ROLLOUT,
    READY,
    REJECTED,
    SKIPPED_HOLDOUT,
)

if TYPE_CHECKING:
    from .result import CampaignResult

#: The group label of the holdout (control) rows and of the rows held for the rollout.
HOLDOUT = "holdout"
ROLLOUT = "rollout"
#: The conversion rate the dry run's smallest detectable lift is stated at.
DEFAULT_BASELINE = 0.05
#: The recipients frame's column holding each row's group.
VARIANT_COLUMN = "variant"


# -- the experiment's settings --------------------------------------------------------------
@dataclass(frozen=True)
class ExperimentSpec:
    """The checked experiment settings of a plan (kept in ``plan.settings["experiment"]``).

    >>> spec = ExperimentSpec.of({"A": "Hi", "B": "Hello"}, holdout=0.1, test_share=0.2, seed=7)
    >>> spec.arms()
    [('A', 0.1), ('B', 0.1), ('holdout', 0.1), ('rollout', 0.7)]
    """

    variants: dict[str, str]
    holdout: float
    test_share: float | None
    seed: int
    stratify: tuple[Any, ...] = ()

    @classmethod
    def of(
        cls,
        variants: Mapping[str, str],
        *,
        holdout: float = 0.0,
        test_share: float | None = None,
        seed: int | None = None,
        stratify: Any = None,
        columns: Iterable[Hashable] | None = None,
    ) -> ExperimentSpec:
        """Checked settings; :class:`UsageError` (one line) for anything unusable."""
        if not isinstance(variants, Mapping) or not variants:
            raise UsageError(
                'variants must be a dict of name -> template, e.g. {"A": "Hi {first_name}", '
                '"B": "Hello {first_name}"}'
            )
        checked: dict[str, str] = {}
        for name, template in variants.items():
            if not isinstance(name, str) or not name.strip() or name != name.strip():
                raise UsageError(f"a variant name must be a short text like 'A', not {name!r}")
            if name in (HOLDOUT, ROLLOUT):
                raise UsageError(f"{name!r} is reserved for the {name} group; name variants A, B…")
            if not isinstance(template, str) or not template.strip():
                raise UsageError(
                    f"variant {name!r} needs a message template (text), got {template!r}"
                )
            checked[name] = template
        holdout = _share(holdout, "holdout", allow_zero=True)
        share = None if test_share is None else _share(test_share, "test_share")
        if share is not None and holdout + share >= 1:
            raise UsageError(
                f"holdout ({holdout:.0%}) + test_share ({share:.0%}) must leave rows for the "
                "rollout (below 100%)"
            )
        if seed is None:
            seed = secrets.randbits(31)  # recorded in the plan, so the split stays reproducible
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise UsageError(f"split_seed must be a non-negative whole number, not {seed!r}")
        strata: tuple[Any, ...] = ()
        if stratify is not None:
            strata = tuple(stratify) if isinstance(stratify, list | tuple) else (stratify,)
            known = list(columns) if columns is not None else None
            for col in strata:
                if known is not None and col not in known:
                    raise UsageError(
                        f"stratify {col!r} is not a column; columns are: "
                        + ", ".join(map(repr, known))
                    )
        return cls(checked, holdout, share, int(seed), strata)

    def arms(self) -> list[tuple[str, float]]:
        """(group, share of the drawn rows), variants first, in their order."""
        k = len(self.variants)
        each = (self.test_share if self.test_share is not None else 1 - self.holdout) / k
        out = [(name, each) for name in self.variants]
        if self.holdout:
            out.append((HOLDOUT, self.holdout))
        if self.test_share is not None:
            out.append((ROLLOUT, 1 - self.holdout - self.test_share))
        return out

    def to_setting(self) -> dict[str, Any]:
        return {
            "variants": dict(self.variants),
            "holdout": self.holdout,
            "test_share": self.test_share,
            "split_seed": self.seed,
            "stratify": [_jsonable(c) for c in self.stratify],
        }


def variant_groups(recipients: pd.DataFrame) -> np.ndarray:
    """Each row's group as plain text (``"A"``, ``"holdout"``, ...; ``""`` for rows left out
    of the draw), so ``groups == name`` is a plain boolean mask (a missing variant is
    ``<NA>`` in the frame, and ``NA == "A"`` is not False).

    >>> variant_groups(pd.DataFrame({"variant": pd.array(["A", None], dtype="string")}))
    array(['A', ''], dtype=object)
    """
    return recipients[VARIANT_COLUMN].astype(object).fillna("").to_numpy(dtype=object)


def _share(value: Any, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise UsageError(f"{name} must be a share like 0.1 (10%), not {value!r}")
    share = float(value)
    if not (0 <= share < 1 if allow_zero else 0 < share < 1) or math.isnan(share):
        limits = "from 0 up to (not including) 1" if allow_zero else "above 0 and below 1"
        raise UsageError(f"{name} must be a share {limits}, not {value!r}")
    return share


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


# -- the split --------------------------------------------------------------------------------
def assign_groups(
    eligible: np.ndarray,
    arms: Sequence[tuple[str, float]],
    seed: int,
    strata: pd.DataFrame | None = None,
) -> np.ndarray:
    """Each row's group (``None`` where not ``eligible``): a seeded, stratified random draw.

    Within each stratum (the distinct value combinations of ``strata``' columns, missing
    values a stratum of their own) every group gets its share of the stratum's rows rounded
    down, and the rows left over go by systematic sampling on the remainders, so each count
    is within one row of ``share × stratum size`` and no group is favoured by rounding; which
    rows go where is a random permutation. The same
    ``eligible``, ``strata`` and ``seed`` always give the same answer.

    >>> groups = assign_groups(np.ones(10, dtype=bool), [("A", 0.5), ("holdout", 0.5)], seed=1)
    >>> sorted(pd.Series(groups).value_counts().items())
    [('A', 5), ('holdout', 5)]
    """
    n = len(eligible)
    out = np.full(n, None, dtype=object)
    at = np.flatnonzero(eligible)
    if len(at) == 0:
        return out
    names = np.array([a for a, _ in arms], dtype=object)
    shares = np.array([s for _, s in arms], dtype=float)
    shares = shares / shares.sum()
    rng = np.random.default_rng(seed)
    if strata is None or strata.shape[1] == 0:
        codes = np.zeros(len(at), dtype=np.int64)
    else:
        part = strata.iloc[at].reset_index(drop=True)
        keys = [pd.factorize(part[c].astype(object), use_na_sentinel=False)[0] for c in part]
        codes = pd.factorize(pd.MultiIndex.from_arrays(keys))[0] if len(keys) > 1 else keys[0]
    sizes = np.bincount(codes)
    counts = _largest_remainder(sizes, shares, rng)  # strata × groups
    # rows in a random order within each stratum; the stratum's first counts[0] rows take the
    # first group, the next counts[1] the second, ...
    rows = np.lexsort((rng.random(len(at)), codes))
    row_codes = codes[rows]
    first_row = np.r_[0, np.cumsum(sizes)[:-1]]
    rank = np.arange(len(at)) - first_row[row_codes]
    bounds = np.cumsum(counts, axis=1)[row_codes]
    out[at[rows]] = names[(rank[:, None] >= bounds).sum(axis=1)]
    return out


def _largest_remainder(
    sizes: np.ndarray, shares: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Whole counts per (stratum, group) adding up to each stratum's size, each within one of
    ``size × share``: the floors, then the rows left over given by systematic sampling on the
    remainders, so a group gets its extra row with probability equal to its remainder (many
    small strata add up to the right shares overall: no group is favoured by rounding)."""
    exact = sizes[:, None] * shares[None, :]
    counts = np.floor(exact).astype(np.int64)
    left = sizes - counts.sum(axis=1)
    cum = np.cumsum(exact - counts, axis=1)
    cum[:, -1] = left  # the remainders add up to the rows left (exactly, not in floating point)
    u = rng.random(len(sizes))[:, None]
    marks = np.ceil(cum - u).astype(np.int64)  # how many of u, u+1, u+2, ... lie below cum
    counts += np.diff(marks, axis=1, prepend=0)
    return counts


# -- the dry run ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VariantLine:
    """One group in the dry run: rows drawn, rows the first send makes, segments and cost."""

    name: str
    rows: int
    to_send: int
    segments: int
    cost: Decimal | None


@dataclass(frozen=True)
class ExperimentSummary:
    """The experiment part of :meth:`~itnio_campaign.plan.Plan.summary`.

    ``min_detectable_lift``: per variant, the smallest absolute rise over ``baseline`` the
    holdout lets a test detect (alpha 0.05, power 0.8); ``rollout_cost``: what sending the
    held rows would cost if each variant won (None without prices).
    """

    variants: tuple[VariantLine, ...]
    holdout: int
    held_for_rollout: int
    split_seed: int
    stratify: tuple[Any, ...]
    test_share: float | None
    baseline: float
    min_detectable_lift: dict[str, float]
    rollout_segments: dict[str, int] = field(default_factory=dict)
    rollout_cost: dict[str, Decimal | None] = field(default_factory=dict)
    currency: str | None = None

    def lines(self) -> list[tuple[str, str]]:
        """(label, value) rows, as the plan summary prints them."""
        how = f"seed {self.split_seed}"
        if self.stratify:
            how += ", stratified by " + ", ".join(map(str, self.stratify))
        out = [("experiment", how)]
        for v in self.variants:
            text = f"{v.to_send:,} to send, {v.segments:,} segments"
            if v.cost is not None:
                text += f", {self._money(v.cost)}"
            out.append((f"  variant {v.name}", text))
        out.append((f"  {HOLDOUT}", f"{self.holdout:,} (never sent)"))
        if self.test_share is not None:
            out.append((f"  {HELD_FOR_ROLLOUT}", f"{self.held_for_rollout:,}"))
            for name, seg in self.rollout_segments.items():
                cost = self.rollout_cost.get(name)
                text = f"{seg:,} segments" + (f", {self._money(cost)}" if cost is not None else "")
                out.append((f"    rollout if {name} wins", text))
        if not self.holdout:
            out.append(("  smallest detectable lift", "needs a holdout (holdout=0.1)"))
        for name, lift in self.min_detectable_lift.items():
            if not self.holdout:
                break
            shown = "not measurable" if math.isnan(lift) else f"+{lift * 100:.2f} points"
            out.append(
                (
                    f"  smallest detectable lift, {name}",
                    f"{shown} at a {self.baseline:.1%} baseline",
                )
            )
        return out

    def _money(self, amount: Decimal) -> str:
        return f"{amount:,}" + (f" {self.currency}" if self.currency else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "variants": {
                v.name: {
                    "rows": v.rows,
                    "to_send": v.to_send,
                    "segments": v.segments,
                    "cost": v.cost,
                }
                for v in self.variants
            },
            "holdout": self.holdout,
            "held_for_rollout": self.held_for_rollout,
            "split_seed": self.split_seed,
            "stratify": list(self.stratify),
            "test_share": self.test_share,
            "baseline": self.baseline,
            "min_detectable_lift": dict(self.min_detectable_lift),
            "rollout_segments": dict(self.rollout_segments),
            "rollout_cost": dict(self.rollout_cost),
        }


def experiment_summary(
    recipients: pd.DataFrame,
    settings: Mapping[str, Any],
    costs: Mapping[str, Decimal | None],
    *,
    baseline: float = DEFAULT_BASELINE,
    currency: str | None = None,
) -> ExperimentSummary:
    """The experiment part of the dry run, from a plan's recipients and settings.

    ``costs``: the estimated cost of each variant's rows to send (the plan computes them).
    """
    exp = settings["experiment"]
    group = variant_groups(recipients)
    state = recipients["state"].astype(object).to_numpy()
    seg = recipients["segments"].to_numpy(dtype=np.int64)
    lines = []
    for name in exp["variants"]:
        mine = group == name
        ready = mine & (state == READY)
        lines.append(
            VariantLine(
                name, int(mine.sum()), int(ready.sum()), int(seg[ready].sum()), costs.get(name)
            )
        )
    holdout = int(((group == HOLDOUT) & (state == SKIPPED_HOLDOUT)).sum())
    held = int(((group == ROLLOUT) & (state == HELD_FOR_ROLLOUT)).sum())
    mde = {v.name: _mde(baseline, v.rows, holdout) for v in lines}
    rollout_cost = {
        k: None if c is None else Decimal(c) for k, c in (exp.get("rollout_cost") or {}).items()
    }
    return ExperimentSummary(
        tuple(lines), holdout, held, int(exp["split_seed"]), tuple(exp.get("stratify") or ()),
        exp.get("test_share"), baseline, mde,
        {k: int(v) for k, v in (exp.get("rollout_segments") or {}).items()}, rollout_cost,
        currency,
    )  # fmt: skip


def _mde(baseline: float, n1: int, n2: int) -> float:
    return stats.min_detectable_lift(baseline, n1, n2) if n1 and n2 else math.nan


def min_detectable_lift_table(
    recipients: pd.DataFrame,
    variants: Iterable[str],
    *,
    baseline: float = DEFAULT_BASELINE,
    alpha: float = 0.05,
    power: float = 0.8,
) -> pd.DataFrame:
    """Per variant: its rows, the holdout's, and the smallest detectable absolute and
    relative lift over ``baseline`` (a two-sided two-proportion test)."""
    group = variant_groups(recipients)
    n_hold = int((group == HOLDOUT).sum())
    rows = []
    for name in variants:
        n = int((group == name).sum())
        lift = (
            stats.min_detectable_lift(baseline, n, n_hold, alpha=alpha, power=power)
            if n and n_hold
            else math.nan
        )
        rows.append(
            {"variant": name, "n": n, "holdout_n": n_hold, "baseline": baseline,
             "min_abs_lift": lift, "min_rel_lift": lift / baseline}
        )  # fmt: skip
    return pd.DataFrame(rows).set_index("variant")


# -- results by variant -----------------------------------------------------------------------
def held_note(result: CampaignResult, path: Any) -> str:
    """``"; N held for the rollout: ..."`` when rows wait for the winner, else ``""``."""
    if not result.plan.settings.get("experiment"):  # only an experiment holds rows back
        return ""
    held = int((np.asarray(result.states, dtype=object) == HELD_FOR_ROLLOUT).sum())
    if not held:
        return ""
    return (
        f"; {held:,} recipients are held for the rollout: rollout_winner({str(path)!r}, "
        "client) sends them the winning variant"
    )


def group_order(recipients: pd.DataFrame, settings: Mapping[str, Any]) -> list[str]:
    """The groups present: variants in their order, then holdout, then rollout."""
    names = list((settings.get("experiment") or {}).get("variants") or {})
    present = set(recipients[VARIANT_COLUMN].dropna().astype(str))
    return [g for g in [*names, HOLDOUT, ROLLOUT] if g in present] + sorted(
        present - {*names, HOLDOUT, ROLLOUT}
    )


def by_variant(
    result: CampaignResult,
    replies: pd.DataFrame | None = None,
    opted_out: Iterable[str] | pd.Series | None = None,
    *,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per group (variants, holdout, rollout): what sending did. See
    :meth:`~itnio_campaign.result.CampaignResult.by_variant`."""
    rec = result.plan.recipients
    if VARIANT_COLUMN not in rec.columns:
        raise UsageError(
            "this campaign has no variants or holdout: plan it with plan_campaign(..., "
            'variants={"A": ..., "B": ...}, holdout=0.1)'
        )
    group = variant_groups(rec)
    states = np.asarray(result.states, dtype=object)
    sent = np.isin(states, ACCEPTED_STATES)
    delivered = states == DELIVERED
    rejected = states == REJECTED
    numbers = rec["number"].astype(object)
    digits = _digit_keys(numbers)
    replied = _in_numbers(digits, None if replies is None else _reply_numbers(replies))
    opted = _in_numbers(digits, None if opted_out is None else _number_list(opted_out))
    cost = _row_costs(numbers, rec["segments"].to_numpy(dtype=float), result.plan)
    rows = []
    for name in group_order(rec, result.settings):
        mine = group == name
        n_sent = int((sent & mine).sum())
        n_del = int((delivered & mine).sum())
        c = float(np.nansum(np.where(sent & mine, cost, 0.0))) if cost is not None else math.nan
        low, high = stats.wilson_interval(n_del, n_sent, confidence)
        rows.append(
            {
                "variant": name,
                "recipients": int(mine.sum()),
                "sent": n_sent,
                "delivered": n_del,
                "rejected": int((rejected & mine).sum()),
                "replied": int((replied & mine).sum()) if replied is not None else pd.NA,
                "opted_out": int((opted & mine).sum()) if opted is not None else pd.NA,
                "cost": c,
                "cost_per_delivered": c / n_del if n_del and not math.isnan(c) else math.nan,
                "delivered_rate": n_del / n_sent if n_sent else math.nan,
                "delivered_low": low,
                "delivered_high": high,
            }
        )
    out = pd.DataFrame(rows).set_index("variant")
    for col in ("replied", "opted_out"):
        out[col] = out[col].astype("Int64")
    return out


def _digit_keys(numbers: pd.Series) -> np.ndarray:
    text = numbers.astype("string").fillna("")
    text = text.str.replace(r"^\s*00", "", regex=True).str.replace(r"\D", "", regex=True)
    return text.to_numpy(dtype=object)


def _reply_numbers(replies: Any) -> pd.Series:
    if isinstance(replies, pd.DataFrame):
        if "number" not in replies.columns:
            raise UsageError("replies must be the frame from fetch_replies (a 'number' column)")
        return replies["number"]
    return _number_list(replies)


def _number_list(values: Any) -> pd.Series:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise UsageError(
            "opted_out must be numbers (e.g. opt_outs(replies)), not " + type(values).__name__
        )
    return pd.Series(list(values), dtype=object)


def _in_numbers(digits: np.ndarray, numbers: pd.Series | None) -> np.ndarray | None:
    if numbers is None:
        return None
    keys = set(_digit_keys(numbers).tolist()) - {""}
    return np.fromiter((d in keys for d in digits), dtype=bool, count=len(digits))


def _row_costs(numbers: pd.Series, segments: np.ndarray, plan: Any) -> np.ndarray | None:
    """Each row's cost (segments × its price; NaN where unpriced); None without prices."""
    prices = getattr(plan, "prices", None)
    if prices is None:
        return None
    if isinstance(prices, Decimal):
        return segments * float(prices)
    each = prices.price_of(numbers.astype(object).fillna("").reset_index(drop=True))
    per = np.array([math.nan if p is None else float(p) for p in each], dtype=float)
    return segments * per


# -- lift -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LiftResult:
    """What :func:`measure_lift` found; ``table`` has one row per variant and the holdout.

    Columns: ``n``, ``rate`` (binary metric) or ``mean`` (value metric), ``abs_lift`` with
    ``abs_lift_low``/``abs_lift_high`` (its confidence interval), ``rel_lift`` (abs_lift over
    the holdout's rate or mean), ``p_value``, ``incremental`` (abs_lift × n: extra
    conversions, or extra value), ``cost`` (what the variant's sends cost) and
    ``cost_per_incremental``. The holdout's row has the baseline and no lift.
    """

    table: pd.DataFrame
    metric: str
    kind: str  # "binary" (two-proportion z-test, Newcombe interval) or "value" (bootstrap)
    window: pd.Timedelta | None
    time_col: Any
    start: pd.Timestamp | None
    confidence: float
    notes: tuple[str, ...] = ()

    def _lines(self) -> list[str]:
        what = "rate" if self.kind == "binary" else "mean"
        head = f"lift on {self.metric} ({what}) vs holdout"
        if self.window is not None and self.start is not None:
            head += f", {self.time_col} within {self.window} of {self.start:%Y-%m-%d %H:%M} UTC"
        out = [head]
        for name, row in self.table.iterrows():
            level = row[what]
            shown = f"{level:.2%}" if self.kind == "binary" else f"{level:,.4g}"
            if name == HOLDOUT:
                out.append(f"  {name}: n={int(row['n']):,}, {what} {shown}")
                continue
            fmt = (lambda v: f"{v * 100:+.2f} pts") if self.kind == "binary" else (
                lambda v: f"{v:+,.4g}")  # fmt: skip
            out.append(
                f"  {name}: n={int(row['n']):,}, {what} {shown}, lift {fmt(row['abs_lift'])} "
                f"[{fmt(row['abs_lift_low'])}, {fmt(row['abs_lift_high'])}], "
                f"p={row['p_value']:.3g}"
            )
        out += [f"  note: {n}" for n in self.notes]
        return out

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def _repr_html_(self) -> str:
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return f"<p>{html.escape(self._lines()[0])}</p>{self.table.to_html()}{notes}"


def measure_lift(
    result: CampaignResult,
    outcomes: pd.DataFrame,
    on: Hashable = "customer_id",
    metric: Hashable = "converted",
    window: str | pd.Timedelta | float | None = "7d",
    time_col: Hashable | None = None,
    *,
    confidence: float = 0.95,
    resamples: int = stats.DEFAULT_BOOTSTRAP,
    seed: int = 0,
) -> LiftResult:
    """Join the analyst's ``outcomes`` (orders, visits...) to the campaign and measure, per
    variant, what the SMS changed against the holdout.

    ``on``: the key column, in the campaign's frame and in ``outcomes``. ``metric``: a column
    of ``outcomes`` — 0/1 or booleans (a conversion: rate per recipient, pooled two-proportion
    z-test and Newcombe's interval for the difference), or values such as revenue (summed per
    recipient, mean per group, bootstrap interval and p-value, seeded by ``seed``). The default
    ``"converted"``, when ``outcomes`` has no such column, means "has any outcome row".
    ``window`` with ``time_col`` (a time column of ``outcomes``) keeps the outcomes from the
    campaign's first send to ``window`` later (``"7d"``, ``"48h"``); naive times are UTC.
    Without ``time_col`` every outcome row counts (a note says so).

    Everyone drawn into a group counts (intention to treat): a variant's rejected or
    undelivered rows stay in it, so the comparison with the holdout stays fair. Rows held for
    the rollout are not part of the comparison.

    >>> lift = measure_lift(result, orders, on="customer_id", window="7d",
    ...                     time_col="ordered_at")                          # doctest: +SKIP
    >>> lift.table[["rate", "abs_lift", "p_value"]]                        # doctest: +SKIP
    """
    _check_result(result)
    rec = result.plan.recipients
    _check_groups(rec)
    group = variant_groups(rec)
    if not (group == HOLDOUT).any():
        raise UsageError(
            "this campaign has no holdout group: lift needs one (plan with holdout=0.1)"
        )
    names = [g for g in group_order(rec, result.settings) if g != ROLLOUT]
    found = outcome_values(result, outcomes, on, metric, window, time_col)
    values, kind, notes = found.values, found.kind, list(found.notes)
    missing_key = found.missing_key & np.isin(group, names)
    if missing_key.any():
        notes.append(f"{int(missing_key.sum()):,} recipients without a {on} value are left out")
    start, span = found.start, found.window
    if (group == ROLLOUT).any():
        notes.append(
            "rows held for the rollout are not compared (they were not drawn into the test)"
        )
    costs = _row_costs(
        rec["number"].astype(object), rec["segments"].to_numpy(dtype=float), result.plan
    )
    sent = np.isin(np.asarray(result.states, dtype=object), ACCEPTED_STATES)
    usable = ~missing_key
    hold = values[(group == HOLDOUT) & usable]
    table = []
    for name in names:
        mine = (group == name) & usable
        x = values[mine]
        row: dict[str, Any] = {"variant": name, "n": int(mine.sum())}
        level = float(x.mean()) if len(x) else math.nan
        row["rate" if kind == "binary" else "mean"] = level
        if name == HOLDOUT:
            row.update(abs_lift=math.nan, abs_lift_low=math.nan, abs_lift_high=math.nan,
                       rel_lift=math.nan, p_value=math.nan, incremental=math.nan)  # fmt: skip
        else:
            row.update(_compare(x, hold, kind, confidence, resamples, seed))
        cost = (
            float(np.nansum(np.where(sent & (group == name), costs, 0.0)))
            if costs is not None
            else math.nan
        )
        row["cost"] = cost if name != HOLDOUT else 0.0
        inc = row["incremental"]
        row["cost_per_incremental"] = cost / inc if name != HOLDOUT and inc > 0 else math.nan
        table.append(row)
    frame = pd.DataFrame(table).set_index("variant")
    return LiftResult(frame, str(metric), kind, span, time_col, start, confidence, tuple(notes))


def _check_result(result: Any) -> None:
    if isinstance(result, str | os.PathLike):
        raise UsageError(
            "measure_lift takes the campaign's result: measure_lift(load_campaign(path), ...)"
        )
    if not hasattr(result, "plan") or not hasattr(result, "states"):
        raise UsageError(
            f"expected the campaign's result (from send_campaign or load_campaign), not "
            f"{type(result).__name__}"
        )


def _check_groups(rec: pd.DataFrame) -> None:
    if VARIANT_COLUMN not in rec.columns:
        raise UsageError(
            "this campaign has no variants or holdout: plan it with plan_campaign(..., "
            "variants={...}, holdout=0.1)"
        )


@dataclass(frozen=True)
class OutcomeValues:
    """An outcome per recipient row (0/1 or a value; 0 without an outcome row)."""

    values: np.ndarray
    kind: str  # "binary" or "value"
    missing_key: np.ndarray  # rows whose key is missing (not comparable)
    start: pd.Timestamp | None
    window: pd.Timedelta | None
    notes: tuple[str, ...]


def outcome_values(
    result: CampaignResult,
    outcomes: pd.DataFrame,
    on: Hashable,
    metric: Hashable,
    window: Any,
    time_col: Hashable | None,
) -> OutcomeValues:
    """Join ``outcomes`` to the campaign's rows on ``on``: the metric per row (see
    :func:`measure_lift` for what ``metric``, ``window`` and ``time_col`` mean)."""
    if not isinstance(outcomes, pd.DataFrame):
        raise UsageError(
            f"outcomes must be a DataFrame (orders, visits...), not {type(outcomes).__name__}"
        )
    source = result.plan.source
    if on not in source.columns:
        raise UsageError(f"on={on!r} is not a column of the campaign's frame; columns are: "
                         + ", ".join(map(repr, source.columns)))  # fmt: skip
    if on not in outcomes.columns:
        raise UsageError(f"on={on!r} is not a column of outcomes; columns are: "
                         + ", ".join(map(repr, outcomes.columns)))  # fmt: skip
    notes: list[str] = []
    kept, start, span = _in_window(result, outcomes, window, time_col, notes)
    per_key, kind = _per_key(kept, on, metric, notes)
    keys = source[on].reset_index(drop=True)
    values = keys.map(per_key).astype(float).fillna(0.0).to_numpy()
    return OutcomeValues(values, kind, keys.isna().to_numpy(), start, span, tuple(notes))


def _compare(
    x: np.ndarray, hold: np.ndarray, kind: str, confidence: float, resamples: int, seed: int
) -> dict[str, float]:
    if len(x) == 0 or len(hold) == 0:
        nan = math.nan
        return dict(abs_lift=nan, abs_lift_low=nan, abs_lift_high=nan, rel_lift=nan,
                    p_value=nan, incremental=nan)  # fmt: skip
    base = float(hold.mean())
    if kind == "binary":
        k1, k2 = int(x.sum()), int(hold.sum())
        diff = k1 / len(x) - k2 / len(hold)
        low, high = stats.newcombe_interval(k1, len(x), k2, len(hold), confidence)
        p = stats.two_proportion_test(k1, len(x), k2, len(hold))[1]
    else:
        boot = stats.bootstrap_diff(x, hold, resamples=resamples, seed=seed, confidence=confidence)
        diff, low, high, p = boot.diff, boot.low, boot.high, boot.p_value
    return {
        "abs_lift": diff,
        "abs_lift_low": low,
        "abs_lift_high": high,
        "rel_lift": diff / base if base else math.nan,
        "p_value": p,
        "incremental": diff * len(x),
    }


def _in_window(
    result: CampaignResult,
    outcomes: pd.DataFrame,
    window: Any,
    time_col: Hashable | None,
    notes: list[str],
) -> tuple[pd.DataFrame, pd.Timestamp | None, pd.Timedelta | None]:
    """The outcome rows inside the window, its start and length."""
    if time_col is None:
        if window is not None:
            notes.append(
                "no time_col given: every outcome row counts, whatever its time (give "
                "time_col= to keep only the window after the send)"
            )
        return outcomes, None, None
    if time_col not in outcomes.columns:
        raise UsageError(f"time_col={time_col!r} is not a column of outcomes")
    span = _timedelta(window)
    if result.started_at is None:
        raise UsageError("the campaign was not sent yet: there is no send time to measure from")
    start = pd.Timestamp(result.started_at, unit="s", tz="UTC")
    try:
        times = pd.to_datetime(outcomes[time_col], utc=True)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"time_col={time_col!r} does not hold times ({exc})") from None
    keep = times >= start
    if span is not None:
        keep &= times <= start + span
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"{dropped:,} outcome rows outside the window left out")
    return outcomes[keep.to_numpy()], start, span


_SPAN = re.compile(r"(?:(\d+(?:\.\d+)?)w)?(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?"
                   r"(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")  # fmt: skip
_SPAN_SECONDS = (604800.0, 86400.0, 3600.0, 60.0, 1.0)


def _timedelta(window: Any) -> pd.Timedelta | None:
    """``"7d"``, ``"48h"``, ``"1d12h"``, ``"2w"``, seconds, or a Timedelta (None: no limit)."""
    if window is None:
        return None
    span: pd.Timedelta | None = None
    if isinstance(window, pd.Timedelta):
        span = window
    elif isinstance(window, int | float) and not isinstance(window, bool):
        span = pd.Timedelta(seconds=float(window))
    elif isinstance(window, str):
        found = _SPAN.fullmatch(window.strip().lower().replace(" ", ""))
        if found is not None and any(found.groups()):
            seconds = sum(
                float(g or 0) * k for g, k in zip(found.groups(), _SPAN_SECONDS, strict=True)
            )
            span = pd.Timedelta(seconds=seconds)
    if span is None or pd.isna(span):
        raise UsageError(f"window is like '7d', '48h' or a number of seconds, not {window!r}")
    if span <= pd.Timedelta(0):
        raise UsageError(f"window must be positive, not {window!r}")
    return span


def _per_key(
    outcomes: pd.DataFrame, on: Hashable, metric: Hashable, notes: list[str]
) -> tuple[pd.Series, str]:
    """The metric per key (0/1 for a conversion, a sum for values) and the metric's kind."""
    keyed = outcomes[outcomes[on].notna()]
    if metric not in outcomes.columns:
        if metric != "converted":
            raise UsageError(
                f"metric={metric!r} is not a column of outcomes; columns are: "
                + ", ".join(map(repr, outcomes.columns))
            )
        notes.append("converted = has at least one outcome row")
        return pd.Series(1.0, index=pd.Index(keyed[on].unique())), "binary"
    col = keyed[metric]
    if col.dtype == bool or str(col.dtype) == "boolean":
        col = col.astype("Float64")
    try:
        values = pd.to_numeric(col, errors="raise").astype(float)
    except (ValueError, TypeError):
        raise UsageError(f"metric={metric!r} must hold numbers or booleans") from None
    bad = int(values.isna().sum())
    if bad:
        notes.append(f"{bad:,} outcome rows with no {metric} value left out")
    frame = pd.DataFrame({"k": keyed[on].to_numpy(), "v": values.to_numpy()}).dropna()
    binary = bool(frame["v"].isin([0.0, 1.0]).all())
    agg = frame.groupby("k")["v"].max() if binary else frame.groupby("k")["v"].sum()
    return agg, "binary" if binary else "value"


__all__ = [
    "DEFAULT_BASELINE",
    "HOLDOUT",
    "ROLLOUT",
    "ExperimentSpec",
    "ExperimentSummary",
    "LiftResult",
    "assign_groups",
    "by_variant",
    "measure_lift",
    "min_detectable_lift_table",
]
