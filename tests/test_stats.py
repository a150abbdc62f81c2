"""itnio_campaign.stats against scipy/statsmodels (tests only) and published worked examples,
and simulations: with a known true lift the intervals cover it at about their nominal rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from itnio_campaign import stats
from itnio_campaign.errors import UsageError

COUNTS = [(0, 20), (1, 20), (8, 20), (20, 20), (3, 1000), (512, 1000), (49_000, 1_000_000)]
PAIRS = [(60, 1000, 40, 1000), (56, 70, 48, 80), (9, 10, 3, 10), (0, 50, 5, 60), (1, 5, 0, 7),
         (4_800, 90_000, 430, 10_000)]  # fmt: skip


def test_normal_quantiles_and_tails_match_scipy() -> None:
    for p in [1e-12, 1e-6, 0.001, 0.02425, 0.025, 0.2, 0.5, 0.8, 0.975, 0.999999]:
        assert stats.norm_ppf(p) == pytest.approx(sps.norm.ppf(p), rel=1e-12, abs=1e-12)
    for x in [-8.0, -3.0, -1.0, 0.0, 0.5, 2.0, 6.0]:
        assert stats.norm_cdf(x) == pytest.approx(sps.norm.cdf(x), rel=1e-12)
        assert stats.norm_sf(x) == pytest.approx(sps.norm.sf(x), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), COUNTS)
@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_wilson_interval_matches_statsmodels(k: int, n: int, confidence: float) -> None:
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert stats.wilson_interval(k, n, confidence) == pytest.approx((low, high), abs=1e-12)
    arr_low, arr_high = stats.wilson_intervals(np.array([k]), np.array([n]), confidence)
    assert (arr_low[0], arr_high[0]) == pytest.approx((low, high), abs=1e-12)


def test_wilson_interval_of_nothing_is_unknown_and_bad_counts_are_refused() -> None:
    assert all(math.isnan(x) for x in stats.wilson_interval(0, 0))
    low, high = stats.wilson_intervals(np.array([0, 2]), np.array([0, 4]))
    assert math.isnan(low[0]) and math.isnan(high[0]) and 0 < low[1] < 0.5 < high[1]
    with pytest.raises(UsageError, match="successes"):
        stats.wilson_interval(5, 3)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), PAIRS)
def test_two_proportion_test_matches_statsmodels(k1: int, n1: int, k2: int, n2: int) -> None:
    z, p = proportions_ztest([k1, k2], [n1, n2])
    assert stats.two_proportion_test(k1, n1, k2, n2) == pytest.approx((z, p), rel=1e-9)


def test_two_proportion_test_of_equal_extremes_finds_no_difference() -> None:
    assert stats.two_proportion_test(0, 10, 0, 30) == (0.0, 1.0)
    assert all(math.isnan(x) for x in stats.two_proportion_test(0, 0, 1, 3))


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), PAIRS)
def test_newcombe_interval_matches_statsmodels(k1: int, n1: int, k2: int, n2: int) -> None:
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert stats.newcombe_interval(k1, n1, k2, n2) == pytest.approx((low, high), abs=1e-12)


def test_newcombe_interval_reproduces_the_published_worked_examples() -> None:
    """Newcombe (1998), Stat Med 17:873, Table II, method 10 (score, no continuity correction)."""
    published = {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
    }
    for (k1, n1, k2, n2), expected in published.items():
        got = stats.newcombe_interval(k1, n1, k2, n2)
        assert got == pytest.approx(expected, abs=6e-5), (k1, n1, k2, n2)


@pytest.mark.parametrize(
    ("baseline", "n1", "n2"), [(0.05, 10_000, 1_000), (0.02, 5_000, 5_000), (0.3, 800, 200)]
)
def test_min_detectable_lift_matches_statsmodels_power(baseline: float, n1: int, n2: int) -> None:
    lift = stats.min_detectable_lift(baseline, n1, n2)
    h = 2 * math.asin(math.sqrt(baseline + lift)) - 2 * math.asin(math.sqrt(baseline))
    # statsmodels' power of that effect is the asked 0.8 (its own solver stops within ~1e-4)
    power = NormalIndPower().power(effect_size=h, nobs1=n1, ratio=n2 / n1, alpha=0.05)
    assert power == pytest.approx(0.8, abs=1e-9)
    assert stats.power_two_proportions(h, n1, n2) == pytest.approx(power, rel=1e-12)
    solved = NormalIndPower().solve_power(nobs1=n1, ratio=n2 / n1, alpha=0.05, power=0.8)
    expected = math.sin(math.asin(math.sqrt(baseline)) + solved / 2) ** 2 - baseline
    assert lift == pytest.approx(expected, rel=1e-4)


def test_min_detectable_lift_refuses_a_baseline_that_is_not_a_rate() -> None:
    with pytest.raises(UsageError, match="baseline"):
        stats.min_detectable_lift(5, 100, 100)
    assert math.isnan(stats.min_detectable_lift(0.05, 100, 0))


def test_bootstrap_agrees_with_scipy_and_welch_on_fixed_data() -> None:
    rng = np.random.default_rng(42)
    x = np.where(rng.random(4000) < 0.12, rng.gamma(2.0, 30.0, 4000), 0.0)
    y = np.where(rng.random(3000) < 0.08, rng.gamma(2.0, 30.0, 3000), 0.0)
    boot = stats.bootstrap_diff(x, y, resamples=4000, seed=3)
    assert boot.diff == pytest.approx(x.mean() - y.mean())
    ref = sps.bootstrap(
        (x, y), lambda a, b, axis=-1: a.mean(axis=axis) - b.mean(axis=axis),
        method="percentile", n_resamples=4000, random_state=np.random.default_rng(3),
        vectorized=True,
    )  # fmt: skip
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert boot.low == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert boot.high == pytest.approx(ref.confidence_interval.high, abs=0.05 * width)
    welch = sps.ttest_ind(x, y, equal_var=False)
    assert boot.p_value == pytest.approx(welch.pvalue, abs=0.01)
    again = stats.bootstrap_diff(x, y, resamples=4000, seed=3)
    assert (again.low, again.high, again.p_value) == (boot.low, boot.high, boot.p_value)


def test_bootstrap_refuses_missing_values_and_too_few_resamples() -> None:
    with pytest.raises(UsageError, match="missing"):
        stats.bootstrap_diff(np.array([1.0, np.nan]), np.array([1.0]))
    with pytest.raises(UsageError, match="resamples"):
        stats.bootstrap_diff(np.array([1.0]), np.array([1.0]), resamples=10)


# -- simulations: intervals cover the true lift at about their nominal rate ---------------------
def test_newcombe_and_wilson_cover_the_true_values_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2026)
    n1, n2, p1, p2 = 400, 250, 0.12, 0.07  # a true lift of 5 points
    sims = 3000
    k1 = rng.binomial(n1, p1, sims)
    k2 = rng.binomial(n2, p2, sims)
    diff_cover = np.mean(
        [lo <= p1 - p2 <= hi for lo, hi in (stats.newcombe_interval(a, n1, b, n2)
                                            for a, b in zip(k1, k2, strict=True))]
    )  # fmt: skip
    low, high = stats.wilson_intervals(k1, np.full(sims, n1))
    rate_cover = np.mean((low <= p1) & (p1 <= high))
    # nominal 95%; with 3,000 runs the simulation's own error is about ±0.8 points
    assert 0.93 <= diff_cover <= 0.97, diff_cover
    assert 0.93 <= rate_cover <= 0.97, rate_cover


def test_the_z_test_is_wrong_about_5_percent_of_the_time_when_there_is_no_lift() -> None:
    rng = np.random.default_rng(7)
    sims, n1, n2, p = 3000, 500, 300, 0.1
    k1 = rng.binomial(n1, p, sims)
    k2 = rng.binomial(n2, p, sims)
    false_alarms = np.mean(
        [
            stats.two_proportion_test(int(a), n1, int(b), n2)[1] < 0.05
            for a, b in zip(k1, k2, strict=True)
        ]
    )
    assert 0.035 <= false_alarms <= 0.065, false_alarms


def test_the_bootstrap_interval_covers_a_known_revenue_lift_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    sims, n = 300, 400
    # revenue: 10% (treated) vs 6% (control) buy, each order ~ gamma(2, 25): true lift 0.04·50 = 2
    true_lift = (0.10 - 0.06) * 50.0
    covered = 0
    for i in range(sims):
        x = np.where(rng.random(n) < 0.10, rng.gamma(2.0, 25.0, n), 0.0)
        y = np.where(rng.random(n) < 0.06, rng.gamma(2.0, 25.0, n), 0.0)
        boot = stats.bootstrap_diff(x, y, resamples=400, seed=i)
        covered += boot.low <= true_lift <= boot.high
    # nominal 95%; percentile intervals run a little narrow with skewed data and small n
    assert 0.90 <= covered / sims <= 0.98, covered / sims
