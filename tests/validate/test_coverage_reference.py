"""What a split's coverage would be if its predictive were right, and how sure a split is of beating the point
fit: against binomial and Gaussian closed forms and hand-built cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bayeslaw.core.intervals import ABOUT_STATED, coverage_if_right
from bayeslaw.validate.backtest import ERROR_AGAINST_POINT, POINT, coverage_reference, median_error_against_point
from bayeslaw.validate.backtest import summarise as summarise_backtest

RUNS = 40


def test_independent_runs_cover_as_a_binomial():
    draws = np.random.default_rng(0).standard_normal((20000, RUNS))
    right = coverage_if_right(draws, 0.9)
    assert right.mean() == pytest.approx(0.9, abs=0.003)
    assert right.std() == pytest.approx(np.sqrt(0.9 * 0.1 / RUNS), rel=0.05)
    k = np.rint(right * RUNS)
    assert np.mean(k >= 39) == pytest.approx(stats.binom.sf(38, RUNS, 0.9), abs=0.006)


def test_runs_that_err_together_spread_the_coverage_as_the_gaussian_closed_form_says():
    rho, h = 0.5, stats.norm.ppf(0.95)
    rng = np.random.default_rng(1)
    shared = rng.standard_normal((20000, 1))
    draws = np.sqrt(rho) * shared + np.sqrt(1 - rho) * rng.standard_normal((20000, RUNS))
    right = coverage_if_right(draws, 0.9)
    # given the shared part z, each run is inside with p(z); the coverage's variance is Var p(z) + E p(1-p) / n
    z = stats.norm.ppf((np.arange(20000) + 0.5) / 20000)
    s = np.sqrt(1 - rho)
    p = stats.norm.cdf((h - np.sqrt(rho) * z) / s) - stats.norm.cdf((-h - np.sqrt(rho) * z) / s)
    assert right.std() == pytest.approx(np.sqrt(p.var() + np.mean(p * (1 - p)) / RUNS), rel=0.05)
    assert right.std() > 2 * np.sqrt(0.09 / RUNS)


def test_a_split_inside_every_band_gets_the_binomial_tail_as_its_p_value():
    rng = np.random.default_rng(2)
    log_new = np.log(2.5) + 0.01 * rng.standard_normal((20000, RUNS))
    observed = np.full(RUNS, 2.5)  # every run at its predictive median
    ref = coverage_reference(log_new, observed)
    assert ref["coverage90_p_value"] == pytest.approx(2 * 0.9 ** RUNS, abs=0.01)
    assert ref["coverage50_p_value"] < 1e-6
    low, high = ABOUT_STATED[0.9]
    inside = stats.binom.cdf(round(high * RUNS), RUNS, 0.9) - stats.binom.cdf(round(low * RUNS) - 1, RUNS, 0.9)
    assert ref["coverage90_target_chance"] == pytest.approx(inside, abs=0.01)
    assert ref["coverage90_if_right_5pct"] < 0.9 < ref["coverage90_if_right_95pct"]
    # a split that misses every band: the other tail
    far = coverage_reference(log_new, np.full(RUNS, 3.0))
    assert far["coverage90_p_value"] < 1e-6 and far["coverage50_p_value"] < 1e-6


def _runs(errors: dict[str, np.ndarray], teachers: np.ndarray) -> pd.DataFrame:
    n = len(teachers)
    return pd.concat([pd.DataFrame({"split": "s", "method": m, "observed": np.arange(n, dtype=float),
                                    "rel_error": e, "L_T": teachers, "in50": 0.5, "in90": 0.9, "crps": 0.0,
                                    "lpd": 0.0}) for m, e in errors.items()], ignore_index=True)


def test_the_bootstrap_against_the_point_fit_by_hand():
    rng = np.random.default_rng(3)
    point = rng.uniform(0.001, 0.003, 60)
    teachers = np.repeat(np.arange(12), 5).astype(float)
    runs = _runs({POINT: point, "same": point.copy(), "twice": 2 * point, "half": point / 2}, teachers)
    p = median_error_against_point(runs, n_boot=500)
    assert p[("s", "same")] == 1.0 and p[("s", "twice")] == 0.0 and p[("s", "half")] == 1.0
    # one teacher's students err together: a method that is worse on half the teachers and better on the others
    worse = np.where(teachers < 6, point * 1.5, point * 0.6)
    by_teacher = median_error_against_point(_runs({POINT: point, "mixed": worse}, teachers), n_boot=2000)
    by_run = median_error_against_point(_runs({POINT: point, "mixed": worse}, np.full(60, np.nan)), n_boot=2000)
    assert 0.0 < by_teacher[("s", "mixed")] < 1.0 and 0.0 < by_run[("s", "mixed")] < 1.0
    # the same seed, the same answer; the summary carries it beside each method
    assert median_error_against_point(runs, n_boot=500, seed=7) == median_error_against_point(runs, n_boot=500,
                                                                                             seed=7)
    s = summarise_backtest(runs).set_index("method")
    assert s.loc["twice", ERROR_AGAINST_POINT] == 0.0 and np.isnan(s.loc[POINT, ERROR_AGAINST_POINT])


def test_the_bootstrap_refuses_methods_that_score_other_runs():
    runs = _runs({POINT: np.ones(4), "other": np.ones(4)}, np.arange(4.0))
    runs.loc[runs["method"] == "other", "observed"] += 1
    with pytest.raises(ValueError, match="do not score the same runs"):
        median_error_against_point(runs)
