"""The statistics of experiments, in plain numpy and math (no scipy at run time).

* :func:`wilson_interval` — a proportion's confidence interval (Wilson score, no continuity
  correction): right even for 0 of 20 or 20 of 20, where the textbook Wald interval fails.
* :func:`two_proportion_test` — the pooled two-proportion z-test (two-sided), and
  :func:`newcombe_interval` — the confidence interval of a difference of two proportions by
  Newcombe's hybrid score method (his method 10, built from two Wilson intervals).
* :func:`bootstrap_diff` — difference of two means (a value per customer, e.g. revenue):
  percentile bootstrap interval and a bootstrap p-value, seeded.
* :func:`min_detectable_lift` — the smallest difference a two-proportion test detects with
  the given sizes (power calculation on Cohen's arcsine effect size *h*).

Tests check each against scipy/statsmodels on fixed data (``tests/test_stats.py``).

>>> [round(x, 4) for x in wilson_interval(8, 20)]
[0.2188, 0.6134]
>>> round(two_proportion_test(60, 1000, 40, 1000)[1], 4)
0.0402
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import UsageError

#: Bootstrap resamples unless told otherwise.
DEFAULT_BOOTSTRAP = 2000


# -- the normal distribution ------------------------------------------------------------------
def norm_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_sf(x: float) -> float:
    """P(Z > x), accurate far in the tail."""
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """The standard normal quantile: ``norm_cdf(norm_ppf(p)) == p`` (to ~1e-15).

    Acklam's rational approximation, polished by two Newton steps on ``erfc``.

    >>> round(norm_ppf(0.975), 6)
    1.959964
    """
    if not 0.0 < p < 1.0:
        if p == 0.0:
            return -math.inf
        if p == 1.0:
            return math.inf
        raise ValueError(f"a probability is between 0 and 1, not {p!r}")
    if p > 0.5:  # by symmetry: 1 - p is exact here, and the lower tail is accurate
        return -norm_ppf(1.0 - p)
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif p <= 1 - lo:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    else:
        q = math.sqrt(-2 * math.log(1 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    for _ in range(2):  # Newton on the exact cdf
        err = norm_cdf(x) - p
        x -= err * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise UsageError(f"a confidence level is between 0 and 1 (e.g. 0.95), not {confidence!r}")
    return norm_ppf(1 - (1 - confidence) / 2)


# -- proportions ------------------------------------------------------------------------------
def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials; ``(nan, nan)`` for n = 0.

    >>> [round(x, 3) for x in wilson_interval(0, 20)]
    [0.0, 0.161]
    """
    _check_counts(k, n)
    if n == 0:
        return math.nan, math.nan
    z = _z(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact at the ends (rounding would otherwise leave 1e-17 outside [0, 1])
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def wilson_intervals(
    k: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`wilson_interval` for arrays of counts (NaN where n = 0)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        low = np.where(k == 0, 0.0, np.maximum(0.0, centre - half))
        high = np.where(k == n, 1.0, np.minimum(1.0, centre + half))
    low = np.where(n > 0, low, np.nan)
    high = np.where(n > 0, high, np.nan)
    return low, high


def two_proportion_test(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """(z, two-sided p) of the pooled z-test of p1 = p2 (``statsmodels``' ``proportions_ztest``).

    Both groups empty of successes (or all successes) give z = 0, p = 1; an empty group
    gives NaN.

    >>> z, p = two_proportion_test(60, 1000, 40, 1000)
    >>> round(z, 3)
    2.052
    """
    _check_counts(k1, n1)
    _check_counts(k2, n2)
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    diff = k1 / n1 - k2 / n2
    if var == 0:
        return 0.0, 1.0
    z = diff / math.sqrt(var)
    return z, min(1.0, 2 * norm_sf(abs(z)))


def newcombe_interval(
    k1: int, n1: int, k2: int, n2: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Confidence interval of p1 - p2, Newcombe's hybrid score method (no continuity correction).

    Newcombe (1998), Statistics in Medicine 17:873-890, method 10; ``statsmodels``'
    ``confint_proportions_2indep(..., method="newcomb")``.

    >>> [round(x, 4) for x in newcombe_interval(56, 70, 48, 80)]
    [0.0524, 0.3339]
    """
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson_interval(k1, n1, confidence)
    l2, u2 = wilson_interval(k2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def _check_counts(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise UsageError(f"counts must satisfy 0 <= successes <= trials, got {k} of {n}")


# -- value metrics ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapDiff:
    """mean(x) - mean(y), its percentile interval and two-sided bootstrap p-value."""

    diff: float
    low: float
    high: float
    p_value: float
    resamples: int
    seed: int


def bootstrap_diff(
    x: np.ndarray,
    y: np.ndarray,
    *,
    resamples: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapDiff:
    """Bootstrap mean(x) - mean(y): each group resampled with replacement, ``resamples`` times.

    The interval is the percentile interval of the resampled differences. The p-value tests
    equal means: both groups are shifted to the pooled mean (the null made true, Efron &
    Tibshirani 1993, §16.4) and p is the share of resampled differences at least as far from
    0 as the observed one. Resampling draws multinomial counts over each group's distinct
    values, so a million customers, most with 0, cost little. Same seed, same answer.

    >>> r = bootstrap_diff(np.array([0.0] * 90 + [10.0] * 10), np.array([0.0] * 95 + [10.0] * 5),
    ...                    resamples=500, seed=1)
    >>> round(r.diff, 2)
    0.5
    """
    x = _values(x, "x")
    y = _values(y, "y")
    if resamples < 100:
        raise UsageError(f"resamples must be at least 100, not {resamples!r}")
    _z(confidence)
    diff = float(x.mean() - y.mean())
    rng = np.random.default_rng(seed)
    pooled = float(np.concatenate([x, y]).mean())
    mx = _resampled_means(x, resamples, rng)
    my = _resampled_means(y, resamples, rng)
    boot = mx - my
    alpha = 1 - confidence
    low, high = (float(v) for v in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    # under the null: each group moved to the pooled mean (a shift moves its mean exactly)
    null = (mx - x.mean() + pooled) - (my - y.mean() + pooled)
    extreme = int((np.abs(null) >= abs(diff) - 1e-12 * max(1.0, abs(diff))).sum())
    p = (extreme + 1) / (resamples + 1)
    return BootstrapDiff(diff, low, high, min(1.0, p), resamples, seed)


def _values(a: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim != 1 or len(arr) == 0:
        raise UsageError(f"{name} needs at least one value")
    if not np.isfinite(arr).all():
        raise UsageError(f"{name} holds missing or infinite values")
    return arr


def _resampled_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``resamples`` bootstrap samples of ``values`` (multinomial over distinct values)."""
    uniq, counts = np.unique(values, return_counts=True)
    n = len(values)
    if len(uniq) == 1:
        return np.full(resamples, float(uniq[0]))
    probs = counts / n
    out = np.empty(resamples)
    chunk = max(1, min(resamples, 2_000_000 // len(uniq)))  # bounded memory
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.multinomial(n, probs, size=size)
        out[start : start + size] = draws @ uniq / n
    return out


# -- power --------------------------------------------------------------------------------------
def power_two_proportions(h: float, n1: int, n2: int, alpha: float = 0.05) -> float:
    """Power of the two-sided two-proportion test for Cohen's effect size ``h`` (arcsine),
    as ``statsmodels``' ``NormalIndPower`` computes it."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    crit = norm_ppf(1 - alpha / 2)
    shift = abs(h) * math.sqrt(n1 * n2 / (n1 + n2))
    return norm_sf(crit - shift) + norm_cdf(-crit - shift)


def min_detectable_lift(
    baseline: float, n1: int, n2: int, *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest absolute rise over ``baseline`` (a rate, 0..1) that a two-sided
    two-proportion test at level ``alpha`` detects with probability ``power``, with ``n1``
    treated and ``n2`` control recipients. NaN when a group is empty; the rise may stop at 1.

    Solved on Cohen's h = 2·asin(√p1) − 2·asin(√p0) (``statsmodels``' ``NormalIndPower`` /
    ``proportion_effectsize``), then turned back into rates.

    >>> round(min_detectable_lift(0.05, 10_000, 1_000), 4)
    0.0222
    """
    if not 0.0 < baseline < 1.0:
        raise UsageError(f"baseline must be a rate between 0 and 1 (e.g. 0.05), not {baseline!r}")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise UsageError(f"alpha and power are between 0 and 1, not {alpha!r} and {power!r}")
    if n1 <= 0 or n2 <= 0:
        return math.nan
    lo, hi = 0.0, 2 * math.pi
    if power_two_proportions(hi, n1, n2, alpha) < power:
        return math.nan
    for _ in range(200):  # bisection: power rises with h
        mid = (lo + hi) / 2
        if power_two_proportions(mid, n1, n2, alpha) < power:
            lo = mid
        else:
            hi = mid
    h = hi
    angle = math.asin(math.sqrt(baseline)) + h / 2
    target = 1.0 if angle >= math.pi / 2 else math.sin(angle) ** 2
    return target - baseline


__all__ = [
    "BootstrapDiff",
    "bootstrap_diff",
    "min_detectable_lift",
    "newcombe_interval",
    "norm_cdf",
    "norm_ppf",
    "norm_sf",
    "power_two_proportions",
    "two_proportion_test",
    "wilson_interval",
    "wilson_intervals",
]
