"""Calibrated extrapolation: the discrepancy model recovers a known error growth, studies too small to split are
refused by name, a prediction inside the fitted runs gets no extra term, and a calibration is sealed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api
from bayeslaw.core.errors import DataError, PosteriorError
from bayeslaw.core.intervals import pick
from bayeslaw.inference import calibration as production
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.posterior.card import load
from bayeslaw.posterior.extrapolation import CALIBRATION, load_calibration, population_error
from bayeslaw.validate import calibration as cal
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons


def _synthetic_heldout(seed: int = 0, studies: int = 6, lean: tuple[float, float] = (0.0, 0.0)) -> cal.HeldOut:
    """SYNTHETIC held-out runs: ``studies`` studies whose law errs beyond its runs with edge 0.4% and 1.5% per decade
    (each study its own, scattered around those) and leans by ``lean`` (mean error at the edge and per decade, each
    study within 0.2% of it), on top of a predictive sd of 0.5%."""
    rng = np.random.default_rng(seed)
    rows, log_new = [], []
    for k in range(studies):
        edge, growth = 0.004 * np.exp(0.3 * rng.standard_normal()), 0.015 * np.exp(0.3 * rng.standard_normal())
        b0, b1 = lean[0] + 0.001 * rng.standard_normal(), lean[1] + 0.001 * rng.standard_normal()
        d = rng.uniform(0.0, 1.5, 60)
        tau = np.where(d > 0, np.sqrt(edge ** 2 + (growth * d) ** 2), 0.0)
        truth = np.log(2.5) + 0.005 * rng.standard_normal((60, cal.KEEP))  # the predictive's draws
        mean = np.where(d > 0, b0 + b1 * d, 0.0)
        obs = np.exp(np.log(2.5) + mean + rng.normal(0, np.sqrt(0.005 ** 2 + tau ** 2)))
        rows.append(pd.DataFrame({"study": f"s{k}", "split": "x", "N": 1e9, "D": 2e10, "observed": obs,
                                  "decades": d, "point": 2.5}))
        log_new.append(truth)
    runs = pd.concat(rows, ignore_index=True)
    x = np.concatenate(log_new)
    return cal.HeldOut(runs=runs, log_new=x, log_new_insample=x,
                       pred={"log_mu": x, "sigma": np.full(x.shape, 0.005), "nu": np.full(x.shape, 30.0)})


def test_the_discrepancy_model_recovers_a_known_growth_per_decade():
    h = _synthetic_heldout()
    fit = cal.fit_discrepancy(h, [f"s{k}" for k in range(6)], seed=1,
                              sampler=SamplerConfig(draws=1000, target_accept=0.95))
    post = fit.idata["posterior"]
    g = np.exp(post["mu_log_growth"].values.ravel())
    lo, hi = np.quantile(g, [0.05, 0.95])
    assert lo <= 0.015 <= hi and hi / lo < 3
    # a new study's error at 1 decade: around sqrt(0.004^2 + 0.015^2) = 1.55%, leaning neither way
    mean, sd = population_error(fit, np.array([0.0, 1.0]), 4000, np.random.default_rng(2))
    assert np.all(sd[:, 0] == 0.0) and np.all(mean[:, 0] == 0.0)  # inside the fitted runs: nothing
    assert 0.008 < np.median(sd[:, 1]) < 0.03
    assert abs(np.median(mean[:, 1])) < 0.004


def test_the_discrepancy_model_recovers_a_known_lean_and_the_unsigned_one_cannot():
    # the laws lean beyond their runs: -0.3% at the edge, -0.8% more per decade
    h = _synthetic_heldout(seed=4, lean=(-0.003, -0.008))
    names = [f"s{k}" for k in range(6)]
    fit = cal.fit_discrepancy(h, names, seed=1, sampler=SamplerConfig(draws=1000, target_accept=0.95))
    assert fit.card["spec"]["signed"] and fit.diagnostics_passed, fit.card["diagnostics"]["failures"]
    post = fit.idata["posterior"]
    for name, truth in (("mu_shift_edge", -0.003), ("mu_shift_growth", -0.008)):
        lo, hi = np.quantile(post[name].values.ravel(), [0.05, 0.95])
        assert lo <= truth <= hi and hi - lo < 0.01, (name, lo, hi)
    mean, _ = population_error(fit, np.array([1.0]), 4000, np.random.default_rng(2))
    assert np.median(mean) == pytest.approx(-0.011, abs=0.004)
    # the model without a lean has none to give: its new study's error is centred at 0 whatever the runs say
    plain = cal.fit_discrepancy(h, names, seed=1, sampler=SamplerConfig(draws=500, target_accept=0.95), signed=False)
    assert not plain.card["spec"]["signed"] and "mu_shift_edge" not in plain.idata["posterior"]
    mean, _ = population_error(plain, np.array([1.0]), 4000, np.random.default_rng(2))
    assert np.all(mean == 0.0)
    # and it draws a new study exactly as the zero-mean calibration always did: a draw of the population, then edge
    # and growth from its central part, nothing more taken from the stream (a plan's later draws do not move)
    from bayeslaw.posterior.extrapolation import LawError, _central
    from bayeslaw.posterior.reach import FittedScale

    post = plain.draws(["mu_log_edge", "mu_log_growth", "sd_log_edge", "sd_log_growth"])
    rng = np.random.default_rng(3)
    pick = rng.integers(0, post["mu_log_edge"].size, 50)
    edge = np.exp(post["mu_log_edge"][pick] + post["sd_log_edge"][pick] * _central(rng, 50))
    growth = np.exp(post["mu_log_growth"][pick] + post["sd_log_growth"][pick] * _central(rng, 50))
    after = rng.standard_normal(50)
    rng = np.random.default_rng(3)
    err = LawError.draw(plain, FittedScale(1e9, 1e20, 1e8, 1e18, 20.0), 50, rng)
    np.testing.assert_array_equal(err.edge, edge)
    np.testing.assert_array_equal(err.growth, growth)
    np.testing.assert_array_equal(err.z_student, after)
    assert err.shift_edge is None and err.shift_growth is None


def test_leaving_one_study_out_scores_wider_bands_from_the_same_draws(tmp_path):
    # six studies: with three left to learn from, the lean's spread is the prior's (bands at ~96%, not 90%)
    h = _synthetic_heldout(seed=3, studies=6)
    ev = cal.leave_one_study_out(h, seed=0, widths=(1.0, 3.0))
    pop = ev.per_run[ev.per_run["method"] == "bayeslaw + population discrepancy"]
    one = ev.widths[ev.widths["width"] == 1.0]
    # width 1 is the population method itself, run for run
    np.testing.assert_array_equal(one["in90"].to_numpy(), pop["in90"].to_numpy())
    np.testing.assert_allclose(one["crps"].to_numpy(), pop["crps"].to_numpy(), rtol=1e-12)
    summary = cal.widths_summary(ev.widths, ev.per_run).set_index("width")
    # the SYNTHETIC studies err as the model says: as learned the bands are calibrated, three times wider they
    # hold nearly everything and miss the pooled targets
    assert 0.85 <= summary.loc[1.0, "coverage_90"] <= 0.95 and summary.loc[1.0, "pooled_90_ok"]
    assert summary.loc[3.0, "coverage_90"] > 0.98 and not summary.loc[3.0, "pooled_90_ok"]
    assert summary.loc[3.0, "coverage_50"] > summary.loc[1.0, "coverage_50"]
    assert summary.loc[3.0, "crps"] > summary.loc[1.0, "crps"]
    paths = cal.write_loso(ev, cal.summarise(ev), h, tmp_path)
    assert pd.read_csv(paths["widths"])["width"].tolist() == [1.0, 3.0]


def test_on_studies_that_lean_the_signed_population_scores_better_left_out_than_the_zero_mean_one():
    """Issue 25's condition for a lean that moves medians, on SYNTHETIC studies whose laws lean (-0.3% at the edge,
    -0.8% per decade): leaving one study out, both the CRPS and the median error improve on the zero-mean model."""
    h = _synthetic_heldout(seed=6, lean=(-0.003, -0.008))
    scores = {}
    for signed in (True, False):
        ev = cal.leave_one_study_out(h, seed=0, widths=(1.0,), signed=signed)
        pop = ev.per_run[ev.per_run["method"] == "bayeslaw + population discrepancy"]
        scores[signed] = (pop["crps"].mean(), pop["rel_error"].median(), pop["in90"].mean())
    assert scores[True][0] < scores[False][0] and scores[True][1] < scores[False][1], scores
    assert 0.85 <= scores[True][2] <= 0.97, scores


def test_studies_drawn_from_the_population_are_covered_at_the_nominal_rate_on_average():
    # the check behind "a study this far out is expected": averaged over studies drawn from the population,
    # the population's own bands cover at their nominal level; one study at a time they scatter widely
    cal_fit = load_calibration()
    rng = np.random.default_rng(5)
    d = np.linspace(0.05, 1.0, 50)
    law = np.log(2.5) + 0.005 * rng.standard_normal((d.size, 4000))
    lean, sd = population_error(cal_fit, d, 4000, rng)
    band = law + (lean + sd * rng.standard_normal((4000, d.size))).T
    hyp = cal.coverage_if_from_population(cal_fit, law, band, d, rng, n=4000)
    assert abs(hyp.mean() - 0.90) < 0.02
    assert np.mean(hyp < 0.75) > 0.05 and np.median(hyp) > 0.9
    # the law's band alone (no extrapolation error) covers such studies far less often
    narrow = cal.coverage_if_from_population(cal_fit, law, law, d, rng, n=4000)
    assert narrow.mean() < 0.6


def test_a_study_too_small_for_leave_future_out_is_refused_by_name():
    small = pd.DataFrame({"N": [1e8, 1e8, 2e8, 2e8] * 5, "D": [2e9, 4e9] * 10, "loss": np.linspace(3, 2.5, 20)})
    with pytest.raises(DataError, match="study 'tiny' has .* 2 sizes"):
        production.study_splits("tiny", small)
    # every shipped study gives splits
    for name in cal.STUDIES:
        from bayeslaw.data.tables import load_shipped

        assert production.study_splits(name, load_shipped(name))


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_prediction_inside_the_fitted_runs_gets_no_extrapolation_term():
    fit = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    inside = api.predict(fit, [1e9], [2e10], seed=3)
    plain = api.predict(fit, [1e9], [2e10], seed=3, extrapolation=False)
    assert float(inside["decades_beyond"][0]) == 0.0 and float(inside["extrapolation_share"][0]) == 0.0
    np.testing.assert_array_equal(inside["loss_new"].values, plain["loss_new"].values)
    beyond = api.predict(fit, [7e10], [1.4e12], seed=3)
    plain = api.predict(fit, [7e10], [1.4e12], seed=3, extrapolation=False)
    assert float(beyond["decades_beyond"][0]) > 1.0 and float(beyond["extrapolation_share"][0]) > 0.2
    w = lambda ds: float(pick(ds, "loss_new", "upper")[0] - pick(ds, "loss_new", "lower")[0])  # noqa: E731
    assert w(beyond) > 1.2 * w(plain)
    # the median moves by about a new study's lean there (the population's: runs beyond beat the law), no more
    lean, _ = population_error(load_calibration(), beyond["decades_beyond"].values, 8000, np.random.default_rng(1))
    assert float(beyond["ratio_decades"][0]) == 0.0 and np.median(lean) < -0.002
    moved = np.log(float(pick(beyond, "loss_new")[0]) / float(pick(plain, "loss_new")[0]))
    assert moved == pytest.approx(float(np.median(lean)), abs=0.25 * abs(float(np.median(lean))) + 1e-3)
    # and the text says so: the new run's own median beside the law's, only where it is moved
    from bayeslaw.reporting.text import format_prediction

    assert "its lean" in beyond.attrs["extrapolation"] and "(median " in format_prediction(beyond)
    assert "(median " not in format_prediction(inside)


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_calibration_from_another_version_or_edited_is_refused(tmp_path):
    good = load_calibration()
    assert good.diagnostics_passed, good.card["diagnostics"]["failures"]
    other = load(CALIBRATION, expect_law="calibration")
    other.card["versions"]["bayeslaw"] = "0.0.1"
    other.save(tmp_path / "old.nc")
    with pytest.raises(PosteriorError, match="calibrated by bayeslaw 0.0.1"):
        load_calibration(tmp_path / "old.nc")
    raw = bytearray((CALIBRATION).read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "edited.nc").write_bytes(bytes(raw))
    with pytest.raises(PosteriorError):
        load_calibration(tmp_path / "edited.nc")
    with pytest.raises(PosteriorError, match="calibration posterior is needed"):
        load_calibration(ROOT / "models/supervised_chinchilla_epoch240.nc")


DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized.nc"
SYNTHETIC = ROOT / "models/distillation_SYNTHETIC_paper_design.nc"


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_plans_law_error_with_zero_sds_gives_back_the_planners_losses():
    """The outcome code re-evaluates both laws: at z = 0 it must be the planner's own arithmetic."""
    from bayeslaw.posterior.draws import as_arrays, coefficients
    from bayeslaw.posterior.extrapolation import LawError, student_outcome, supervised_outcome
    from bayeslaw.posterior.reach import fitted_scale

    fit = api.load(DIGITIZED)
    grid, _ = api.plan(fit, [3e8, 1e9], [1e20, 1e22], max_draws=None, extrapolation=False)
    n = fit.n_draws
    err = LawError.draw(load_calibration(), fitted_scale(fit), n, np.random.default_rng(0))
    zero = LawError(err.edge, err.growth, np.zeros(n), np.zeros(n), err.scale)
    c = as_arrays(coefficients(fit))
    g = grid.transpose("draw", "student_size", "budget", "scenario")
    N_S = np.broadcast_to(g["student_size"].values[None, :, None, None], g["L_S"].shape)
    log_S = student_outcome(c, zero, N_S, g["D_S"].values, np.log(g["L_T"].values), g["N_T"].values,
                            g["D_T"].values)
    ok = np.isfinite(g["L_S"].values)
    np.testing.assert_allclose(np.exp(log_S)[ok], g["L_S"].values[ok], rtol=1e-10)
    from bayeslaw.core.compute import forward_flops_per_token

    N = g["student_size"].values[None, :, None]
    D_sup = np.broadcast_to(g["budget"].values[None, None, :] / (3 * forward_flops_per_token(N)), g["L_sup"].shape)
    log_sup = supervised_outcome(c, zero, np.broadcast_to(N, D_sup.shape), D_sup)
    np.testing.assert_allclose(np.exp(log_sup), g["L_sup"].values, rtol=1e-10)


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
@pytest.mark.parametrize("posterior", ["joint", "cut"])
def test_a_plan_carries_the_law_errors_beyond_the_runs(posterior):
    # the SYNTHETIC posterior is joint (supervised runs: Eq. 8's L~_S is the sampled law); the digitized one cut
    fit = api.load(SYNTHETIC if posterior == "joint" else DIGITIZED)
    assert bool(fit.card["spec"].get("supervised_cut")) == (posterior == "cut")
    big = 1e22 if posterior == "cut" else 1e24  # beyond the fitted runs (the SYNTHETIC ones reach further)
    args = (fit, [1e9], [1e20, big], ("teacher_pretraining",))
    law, s_law = api.plan(*args, max_draws=300, extrapolation=False)
    grid, s = api.plan(*args, max_draws=300)
    assert "not included" in law.attrs["extrapolation"] and "extrapolation error" in grid.attrs["extrapolation"]
    np.testing.assert_array_equal(grid["diff_law"].values, law["diff"].values)
    share = s["extrapolation_share"].sel(student_size=1e9, scenario="teacher_pretraining")
    assert 0.0 <= float(share.sel(budget=1e20)) < float(share.sel(budget=big)) <= 1.0
    # far beyond the runs the reached losses spread more than the law's expectation ...
    far = dict(student_size=1e9, budget=big)
    spread = lambda x: float(x.quantile(0.95, "draw") - x.quantile(0.05, "draw"))  # noqa: E731

    def widen(v):
        sel = far if v == "L_sup" else far | {"scenario": "teacher_pretraining"}
        return spread(grid[v].sel(sel)) / spread(law[v].sel(sel))

    assert widen("L_sup") > 2
    cell = far | {"scenario": "teacher_pretraining"}
    if posterior == "joint":
        # ... and the distillation law's own error, drawn apart for the distilled student, widens the difference
        # beyond what the supervised law's errors (at the student, shared; at the teacher) make of it
        plain = grid["diff_without_distillation_error"].sel(cell)
        assert spread(plain) > spread(law["diff"].sel(cell)) and spread(grid["diff"].sel(cell)) > spread(plain)
    else:
        # ... and under the cut the distilled student does not carry the supervised law's error at the student
        # (its L~_S is Table 6's): nothing cancels, the difference widens at least as much as the supervised loss
        assert widen("diff") > widen("L_sup")
    # two signed parts move the supervised student's median: a new study's lean beyond the runs (down: runs beyond
    # beat the law) and the drift past the fitted tokens per parameter (up; docs/serving.md), each about the
    # population's mean at the student's decades beyond
    from bayeslaw.core.compute import supervised_tokens
    from bayeslaw.posterior.extrapolation import decades_beyond, load_drift, ratio_decades
    from bayeslaw.posterior.reach import fitted_scale

    D = supervised_tokens(1e9, big)
    d = float(ratio_decades(fitted_scale(fit), 1e9, D))
    assert d > 0.5
    mu = float(np.median(load_drift().draws(["mu_slope"])["mu_slope"]))
    lean, _ = population_error(load_calibration(), np.atleast_1d(decades_beyond(fitted_scale(fit), 1e9, D)), 8000,
                               np.random.default_rng(1))
    lean = float(np.median(lean))
    moved = np.log(float(grid["L_sup"].sel(far).median()) / float(law["L_sup"].sel(far).median()))
    assert moved == pytest.approx(mu * d + lean, abs=0.3 * (abs(mu * d) + abs(lean)))


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_distilled_prediction_carries_the_law_error_in_its_difference_only_beyond_the_runs():
    fit = api.load(DIGITIZED)
    plain = api.predict_distillation(fit, N_S=[1e8, 1e9], D_S=[2e9, 2e11], L_T=2.2, seed=4, extrapolation=False)
    ds = api.predict_distillation(fit, N_S=[1e8, 1e9], D_S=[2e9, 2e11], L_T=2.2, seed=4)
    np.testing.assert_array_equal(ds["difference_law"].values, plain["difference"].values)
    # a measured teacher and a student inside the fitted runs: nothing to add
    assert float(ds["decades_beyond"][0]) == 0.0
    np.testing.assert_array_equal(ds["difference"].values[:, 0], plain["difference"].values[:, 0])
    # beyond them the difference widens, and says by how much
    assert float(ds["decades_beyond"][1]) > 0 and float(ds["difference_extrapolation_share"][1]) > 0.05
    assert "as a plan does" in ds.attrs["extrapolation"]


@pytest.mark.skipif(not CALIBRATION.exists(), reason="the calibration ships with the repository")
def test_a_plan_cell_outside_the_planners_bounds_stays_undefined_with_the_law_error():
    """A supervised student needing more than 1e17 tokens has no loss in the plan, with or without the error."""
    grid, s = api.plan(api.load(DIGITIZED), [1e8], [1e20, 1e27], ("teacher_inference",), max_draws=50)
    far = dict(student_size=1e8, budget=1e27)
    assert grid["L_sup_law"].sel(far).isnull().all() and grid["L_sup"].sel(far).isnull().all()
    assert grid["diff"].sel(far).isnull().all() and np.isnan(float(s["p_distill_wins"].sel(far).squeeze()))
    assert grid["L_sup"].sel(student_size=1e8, budget=1e20).notnull().all()
