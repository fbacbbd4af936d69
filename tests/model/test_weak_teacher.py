"""The weak-teacher gain (``JointSpec.weak_teacher``): Eq. 8 lets a student beat a teacher weaker than its own
supervised loss by a learned share of the gap (issue 25: the digitized table's 41 students below their teacher and
the 1.82B ladder's residual past parity).

Recovery: SYNTHETIC students on the digitized table's design drawn from Eq. 8 with a known gain; the fit with the
gain must hold it (and the capacity-gap coefficients these runs measure) inside its 90% intervals, and the shipped
default posterior must be of that form and measure the gain away from 0.
"""

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core import laws, params
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.data.registry import SHIPPED, shipped_form
from bayeslaw.data.tables import load_shipped
from bayeslaw.model.spec import JointSpec
from bayeslaw.posterior.draws import laws as planner_laws
from bayeslaw.posterior.extrapolation import DEFAULT_FORM, law_form
from tests.conftest import ROOT

DEFAULT = ROOT / "models/distillation_busbridge2025_digitized.nc"


def test_a_table_states_its_form_and_a_caller_who_names_one_gets_it():
    digitized = SHIPPED["busbridge2025_digitized"]
    assert shipped_form(digitized, None, None) == (True, "normal")  # the table's evidence (docs/validation.md)
    assert shipped_form(digitized, None, "student_t") == (True, "student_t")
    assert shipped_form(digitized, False, None) == (False, "student_t")  # Eq. 8 as printed, as shipped before
    assert shipped_form(digitized, True, None) == (True, "student_t")
    assert shipped_form(None, None, None) == (False, "student_t")  # a user's table: Eq. 8 as printed
    assert shipped_form(None, True, "normal") == (True, "normal")


def test_the_spec_carries_the_gain_and_its_prior_through_the_card():
    spec = JointSpec(preset="busbridge2025", supervised_cut=True, weak_teacher=True)
    prior = spec.priors["weak_teacher_gain"]
    assert prior.dist == "TruncatedNormal" and prior.kwargs["lower"] == 0.0 and prior.kwargs["upper"] == 1.0
    again = JointSpec.from_dict(spec.to_dict())
    assert again.weak_teacher and "weak_teacher_gain" in again.priors
    assert law_form(spec.to_dict()) == ("weak_teacher",) == DEFAULT_FORM
    old = {k: v for k, v in JointSpec(preset="busbridge2025").to_dict().items()}
    assert "weak_teacher" not in old and not JointSpec.from_dict(old).weak_teacher  # cards written before it


def test_each_form_of_the_law_names_its_shipped_error_and_backtest():
    from types import SimpleNamespace

    from bayeslaw.decision.caveats import distillation_backtest
    from bayeslaw.posterior.extrapolation import form_suffix, student_error_path

    names = {(): "_paper_form", ("weak_teacher",): "", ("size_effect",): "_size_effect",
             ("size_effect", "weak_teacher"): "_size_effect_weak_teacher"}
    for form, suffix in names.items():
        assert form_suffix(form) == suffix
        assert student_error_path(form).name == f"distillation_error{suffix}.nc"
        fit = SimpleNamespace(card={"spec": dict.fromkeys(form, True)})
        assert distillation_backtest(fit).name == f"busbridge2025_digitized{suffix}_summary.csv"
    for suffix in ("", "_paper_form", "_size_effect"):  # the shipped ones exist
        assert (ROOT / f"models/distillation_error{suffix}.nc").exists()
        assert (ROOT / f"reports/backtests/busbridge2025_digitized{suffix}_summary.csv").exists()


def _synthetic_students(gain: float, seed: int = 12, noise_slope: float = 0.0):
    """SYNTHETIC: the digitized design, L_S from Eq. 8 with the weak-teacher gain, noisy teachers and students (the
    students' noise sd 0.2% at 1B parameters, times ``(N_S / 1e9) ** noise_slope``)."""
    rng = np.random.default_rng(seed)
    d = load_shipped("busbridge2025_digitized").drop(columns="teacher_id")
    sup, dis = paper_coefficients()
    truth = dis | {"c0": 2.2, "f1": 0.105}
    N, D, true_T = (d[k].to_numpy() for k in ("N_S", "D_S", "L_T"))
    tilde = laws.supervised_loss(N, D, **{k: sup[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")})
    log_S = laws.distillation_log_loss(
        np.log(N), np.log(D), np.log(true_T), np.log(tilde), log_A_p=np.log(truth["A_p"]),
        log_B_p=np.log(truth["B_p"]), alpha_p=truth["alpha_p"], beta_p=truth["beta_p"], gamma_p=truth["gamma_p"],
        c0=truth["c0"], **params.break_from_paper(truth["c1"], truth["f1"], truth["d1"]), weak_teacher_gain=gain)
    teachers = np.unique(true_T)
    noise = dict(zip(teachers, np.exp(0.002 * rng.standard_normal(teachers.size)), strict=True))
    d["L_T"] = true_T * np.array([noise[t] for t in true_T])
    d["L_S"] = np.exp(log_S + 0.002 * (N / 1e9) ** noise_slope * rng.standard_normal(len(d)))
    return d, truth, np.exp(log_S) < true_T


@pytest.mark.heavy
def test_a_known_gain_is_recovered_and_the_students_past_parity_are_reached():
    table, truth, below = _synthetic_students(gain=0.1)
    assert below.sum() >= 20  # the design's weak-teacher ladder: students that beat their teacher
    fit = api.fit(table, law="distillation", weak_teacher=True, likelihood="normal", seed=3)
    assert fit.diagnostics_passed, fit.card["diagnostics"]["failures"]
    post = fit.idata["posterior"]
    for name, true in (("weak_teacher_gain", 0.1), ("c0", truth["c0"]), ("f1", truth["f1"])):
        # three coefficients at once: each inside its 99% interval (at 90% one of three misses about a time in four)
        lo, hi = np.quantile(post[name].values, [0.005, 0.995])
        assert lo <= true <= hi, (name, lo, hi, true)
    assert float(post["weak_teacher_gain"].quantile(0.05)) > 0.03  # measured, not the prior's mass at 0
    # the paper's form cannot reach the students below their teacher: it misses them from above
    paper = api.fit(table, law="distillation", weak_teacher=False, likelihood="normal", seed=3)
    from bayeslaw.posterior.draws import as_arrays, coefficients
    from bayeslaw.posterior.likelihood import student_log_mean

    def residual(f):
        c = as_arrays(coefficients(f))
        log_T = np.broadcast_to(np.log(table["L_T"].to_numpy())[None], (f.n_draws, len(table)))
        log_S, _ = student_log_mean(c, table["N_S"].to_numpy(), table["D_S"].to_numpy(), log_T)
        return np.log(table["L_S"].to_numpy()) - np.median(log_S, axis=0)

    assert abs(np.median(residual(fit)[below])) < 0.002 < -np.median(residual(paper)[below])


@pytest.mark.heavy
def test_the_default_posterior_measures_the_gain_and_the_planner_uses_it():
    fit = api.load(DEFAULT, expect_law="distillation")
    assert fit.diagnostics_passed and law_form(fit.card["spec"]) == DEFAULT_FORM
    assert fit.card["spec"]["likelihood"] == "normal"
    gain = fit.idata["posterior"]["weak_teacher_gain"].values.ravel()
    lo, hi = np.quantile(gain, [0.05, 0.95])
    assert 0.02 < lo < hi < 0.1  # docs/validation.md: 0.052 (0.043-0.060) on the full table
    law = planner_laws(fit)
    assert law.weak_teacher_gain is not None and law.weak_teacher_gain.shape == gain.shape
    # the planner's law at a student past parity (a 1.82B student of a teacher 10% above its supervised loss) is
    # lower with the gain than the same draws without it, and the same for a stronger teacher
    from dataclasses import replace

    from bayeslaw.planning.optima import log_student

    N, D = np.log(1.82e9), np.log(3.89e10)
    tilde = np.log(2.245)
    weak, strong = log_student(law, N, D, tilde + 0.1, tilde, 0), log_student(law, N, D, tilde - 0.15, tilde, 0)
    plain = replace(law, weak_teacher_gain=None)
    assert np.all(weak < log_student(plain, N, D, tilde + 0.1, tilde, 0))
    np.testing.assert_allclose(strong, log_student(plain, N, D, tilde - 0.15, tilde, 0), atol=1e-6)


@pytest.mark.heavy
def test_a_teacher_weaker_against_its_student_than_any_fitted_is_named_as_the_gain_extrapolated():
    from bayeslaw.posterior.reach import describe_student, fitted_students, student_distance, student_reach

    span = fitted_students(api.load(DEFAULT))
    assert 1.1 < span.teacher_ratio < 1.3  # the 1.82B ladder's weakest teachers (1.17 at the measured losses)
    tilde = float(span.tilde(1e9, 2e10))
    assert tilde == pytest.approx(laws.supervised_loss(1e9, 2e10, **paper_coefficients()[0]), rel=1e-3)  # Table 6
    inside = student_reach(span, 1e9, 2e10, 2.4, tilde * 1.05)
    past = student_reach(span, 1e9, 2e10, 2.6, tilde * 1.3 * span.teacher_ratio / 1.2)
    assert inside["teacher_ratio_factor"] < 1 and past["teacher_ratio_factor"] > 1
    assert not student_distance(inside)[1] and student_distance(past)[1]  # the distillation law's error applies
    assert "weak-teacher gain carried by its form" in describe_student("x", {k: float(v) for k, v in past.items()})
    # Eq. 8 as printed has no gain to carry: nothing is past it
    plain = fitted_students(api.load(ROOT / "models/distillation_busbridge2025_digitized_paper_form.nc"))
    assert plain.twin is None and np.isnan(student_reach(plain, 1e9, 2e10, 2.6, 3.5)["teacher_ratio_factor"])
