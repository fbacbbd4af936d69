"""The distillation law's own error beyond its fitted students (issue 25): where it applies, what it adds, that a
simulated error is recovered, and that the held-out students it learns from are each counted once."""

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api
from bayeslaw.core.errors import DataError, PosteriorError
from bayeslaw.inference.student_error import HeldOutStudents, fit_student_error, learning_rows
from bayeslaw.posterior.extrapolation import (
    CALIBRATION,
    STUDENT_ERROR,
    StudentError,
    load_calibration,
    load_student_error,
    new_study_prior,
)
from bayeslaw.posterior.reach import FittedStudents, student_distance, student_reach
from tests.conftest import ROOT

SPAN = FittedStudents(size=2e9, tokens=1e11, tokens_per_param=500.0, loss=2.3, teacher_loss=2.0)


def test_where_the_distillation_error_applies_by_hand():
    N = np.array([1e9, 1e9, 2e10, 1e9, 1e9])
    D = np.array([2e10, 2e10, 2e11, 2e10, 1e12])
    L_S = np.array([2.4, 2.25, 2.4, 2.4, 2.4])
    L_T = np.array([2.2, 2.2, 2.2, 1.9, 2.2])
    decades, outside = student_distance(student_reach(SPAN, N, D, L_S, L_T))
    # inside; below the lowest fitted loss only; 10x the largest student (and 2x its tokens); a stronger teacher
    # than any fitted; 10x the most tokens and 2x the most tokens per parameter
    np.testing.assert_allclose(decades, [0, 0, 1, 0, 1], atol=1e-12)
    np.testing.assert_array_equal(outside, [False, True, True, True, True])
    err = StudentError(edge=np.array([0.003, 0.006]), growth=np.array([0.01, 0.02]), z=np.array([1.0, -2.0]),
                       span=SPAN)
    sd = err.sd(N, D, L_S, L_T, ndim=2)
    expected = np.array([[0, 0.003, np.hypot(0.003, 0.01), 0.003, np.hypot(0.003, 0.01)],
                         [0, 0.006, np.hypot(0.006, 0.02), 0.006, np.hypot(0.006, 0.02)]])
    np.testing.assert_allclose(sd, expected, rtol=1e-12)
    # applied: nothing inside, z sds of log loss to first order beyond, never below E
    log_S = np.log(np.broadcast_to(L_S, (2, 5)))
    moved = err.reached(log_S, N, D, np.log(np.broadcast_to(L_T, (2, 5))), np.log(np.full((2, 1), 1.6)))
    np.testing.assert_array_equal(moved[:, 0], log_S[:, 0])
    np.testing.assert_allclose(moved[0, 1] - log_S[0, 1], 0.003, rtol=0.05)
    assert np.all(moved > np.log(1.6))


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_the_prior_is_a_new_study_of_the_supervised_population():
    cal = load_calibration()
    prior = new_study_prior(cal)
    post = cal.draws(["mu_log_edge", "sd_log_edge", "mu_log_growth"])
    assert prior["log_edge"][0] == pytest.approx(float(np.mean(post["mu_log_edge"])))
    assert prior["log_growth"][0] == pytest.approx(float(np.mean(post["mu_log_growth"])))
    # wider than the population mean's own uncertainty: a new study also varies around it
    assert prior["log_edge"][1] > float(np.std(post["mu_log_edge"]))
    assert prior["log_edge"][1] < float(np.sqrt(np.var(post["mu_log_edge"]) + np.mean(post["sd_log_edge"] ** 2)))


def _simulated(edge: float, n: int = 240, seed: int = 3) -> HeldOutStudents:
    """SYNTHETIC held-out students: predictive draws around a median, observed values off by the predictive noise
    plus an error of sd ``edge`` where they lie outside (two thirds of them), each student in two splits."""
    rng = np.random.default_rng(seed)
    sd = rng.uniform(0.001, 0.003, n)
    med = np.log(rng.uniform(2.2, 2.6, n))
    outside = np.arange(n) % 3 != 0
    obs = med + sd * rng.standard_normal(n) + np.where(outside, edge, 0.0) * rng.standard_normal(n)
    log_new = med[:, None] + sd[:, None] * rng.standard_normal((n, 2000))
    runs = pd.DataFrame({"split": "SYNTHETIC", "threshold": 2.4, "student": np.arange(n), "N_S": 1e9, "D_S": 2e10,
                         "L_T": 2.3, "observed": np.exp(obs), "decades": 0.0, "outside": outside, "first": True})
    second = runs.assign(first=False, threshold=2.35)  # the same students held out again by a later split
    both = pd.concat([runs, second], ignore_index=True)
    log_new = np.concatenate([log_new, log_new])
    return HeldOutStudents(runs=both, log_new=log_new, log_mu=log_new, log_E=np.full_like(log_new, np.log(1.6)),
                           noise={"sigma": np.full_like(log_new, 0.002), "nu": None})


@pytest.mark.heavy
@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_simulated_error_is_recovered_from_each_student_once():
    h = _simulated(edge=0.004)
    rows = learning_rows(h)
    assert rows.sum() == len(h.runs) // 2  # each student once
    fit = fit_student_error(h, rows, load_calibration(), seed=2, source="SYNTHETIC")
    assert fit.diagnostics_passed, fit.card["diagnostics"]["failures"]
    lo, hi = np.quantile(fit.idata["posterior"]["edge"].values, [0.05, 0.95])
    assert lo <= 0.004 <= hi and hi < 0.008
    assert fit.card["data"]["n_runs"] == 240 and fit.card["data"]["n_outside"] == 160
    # with no error at all the edge goes below what the population expects of a new study
    none = fit_student_error(_simulated(edge=0.0), rows, load_calibration(), seed=2, source="SYNTHETIC")
    assert float(none.idata["posterior"]["edge"].median()) < 0.5 * float(np.exp(new_study_prior(
        load_calibration())["log_edge"][0]))
    # nothing outside: nothing to learn from
    inside = _simulated(0.004)
    inside.runs["outside"] = False
    with pytest.raises(DataError, match="nothing to learn"):
        fit_student_error(inside, learning_rows(inside), load_calibration())


def test_a_split_whose_fit_failed_its_gates_is_not_learned_from():
    h = _simulated(edge=0.004)
    n = len(h.runs) // 2
    h.runs["split"] = ["L_S >= 2.4"] * n + ["L_S >= 2.35"] * n
    h.fits.extend([{"split": "L_S >= 2.4", "diagnostics_passed": False},
                   {"split": "L_S >= 2.35", "diagnostics_passed": True}])
    rows = learning_rows(h)
    # each student once still, now from the later split that held it out again and passed
    assert rows.sum() == n and not rows[:n].any() and rows[n:].all()
    h.fits[1]["diagnostics_passed"] = False  # no split passed: nothing to learn from
    assert not learning_rows(h).any()


@pytest.mark.skipif(not (STUDENT_ERROR.exists() and CALIBRATION.exists()), reason="both ship with the repository")
def test_the_two_error_files_are_not_interchangeable():
    with pytest.raises(PosteriorError, match="not the supervised calibration"):
        load_calibration(STUDENT_ERROR)
    with pytest.raises(PosteriorError, match="not a distillation-law error"):
        load_student_error(CALIBRATION)
    err = load_student_error()
    assert err.diagnostics_passed and err.card["data"]["n_outside"] > 0


@pytest.mark.skipif(not STUDENT_ERROR.exists(), reason="ships with the repository")
def test_each_shipped_error_was_learned_by_split_fits_of_the_form_its_name_says_and_serves_only_that_form():
    from bayeslaw.posterior import extrapolation as ex

    for form in (ex.DEFAULT_FORM, ex.PAPER_FORM, ("size_effect",)):
        err = load_student_error(ex.student_error_path(form))
        assert ex.law_form(err.card["data"]) == form and err.diagnostics_passed
    assert ex.student_error_path(ex.PAPER_FORM) == ex.STUDENT_ERROR_PAPER
    assert ex.student_error_path(("size_effect",)) == ex.STUDENT_ERROR_SIZE
    default = api.load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    paper = api.load(ROOT / "models/distillation_busbridge2025_digitized_paper_form.nc")
    assert ex.law_form(default.card["spec"]) == ex.DEFAULT_FORM and ex.law_form(paper.card["spec"]) == ()
    cal = ex.load_calibration()
    with pytest.raises(PosteriorError, match="Eq. 8 as printed and the posterior is of Eq. 8 with the weak-teacher"):
        ex.plan_law_error(default, cal, np.arange(10), np.random.default_rng(0),
                          student_error=load_student_error(ex.STUDENT_ERROR_PAPER))
    with pytest.raises(PosteriorError, match="weak-teacher gain and the posterior is of Eq. 8 as printed"):
        ex.plan_law_error(paper, cal, np.arange(10), np.random.default_rng(0), student_error=load_student_error())


def test_a_held_out_student_takes_its_sizes_fitted_offset_or_a_new_one_drawn_from_their_spread():
    import xarray as xr

    from bayeslaw.inference.student_error import size_effects
    from bayeslaw.posterior.card import Fit

    rng = np.random.default_rng(0)
    sizes = np.array([1.43e8, 5.46e8, 1.82e9])
    effect = rng.normal(0, 0.003, (2, 4000, 3))
    sd = np.full((2, 4000), 0.004)
    post = xr.Dataset({"size_effect": (("chain", "draw", "student_size"), effect),
                       "size_effect_sd": (("chain", "draw"), sd)}, coords={"student_size": sizes})
    fit = Fit(idata=xr.DataTree.from_dict({"posterior": post}), card={"law": "distillation",
                                                                      "spec": {"size_effect": True}})
    held = pd.DataFrame({"N_S": [5.46e8, 1.82e9, 1e9, 1e9, 2e9]})
    got = size_effects(fit, held, np.random.default_rng(1))
    np.testing.assert_array_equal(got[:, 0], effect.reshape(-1, 3)[:, 1])
    np.testing.assert_array_equal(got[:, 1], effect.reshape(-1, 3)[:, 2])
    # a size the fit has not seen: an offset per draw with the fitted spread, shared by that size's students
    # (one architecture) and apart from another new size's
    assert np.std(got[:, 2]) == pytest.approx(0.004, rel=0.03)
    np.testing.assert_array_equal(got[:, 2], got[:, 3])
    assert abs(np.corrcoef(got[:, 2], got[:, 4])[0, 1]) < 0.05
    # only fitted sizes: nothing is drawn
    rng, again = np.random.default_rng(2), np.random.default_rng(2)
    size_effects(fit, held.iloc[:2], rng)
    assert rng.random() == again.random()
    without = Fit(idata=fit.idata, card={"law": "distillation", "spec": {}})
    assert size_effects(without, held, np.random.default_rng(1)) == 0.0
