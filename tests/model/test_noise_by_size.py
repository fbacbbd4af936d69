"""A students' noise that varies with size (``JointSpec.noise_by_size``, experimental; issue 25's 90% over-coverage).

The model's students' sd is checked against the formula at a point of the PyMC graph, the numpy side
(:func:`bayeslaw.posterior.likelihood.student_noise`) against the same formula on draws, and a known slope is
recovered from SYNTHETIC students on the digitized design.
"""

import numpy as np
import pytensor
import pytest

from bayeslaw import api
from bayeslaw.core.errors import DataError, InputError
from bayeslaw.core.params import NOISE_SIZE_REF
from bayeslaw.data.tables import load_shipped, split_teachers, validate_distillation
from bayeslaw.model.build import build_joint
from bayeslaw.model.spec import NOISE_SIZE_SLOPE_SD, JointSpec
from bayeslaw.posterior.likelihood import noise_parameters, observed_terms, student_noise
from tests.conftest import ROOT
from tests.model.test_weak_teacher import _synthetic_students

SPEC = {"preset": "busbridge2025", "supervised_cut": True, "weak_teacher": True, "likelihood": "normal"}


def _digitized():
    d = validate_distillation(load_shipped("busbridge2025_digitized").drop(columns="teacher_id"))
    teachers, rest, index = split_teachers(d, None)
    return d, teachers, rest, index


def test_the_spec_carries_the_slope_and_old_cards_have_one_noise():
    spec = JointSpec(**SPEC, noise_by_size=True)
    prior = spec.priors["noise_size_slope"]
    assert prior.dist == "Normal" and prior.kwargs == {"mu": 0.0, "sigma": NOISE_SIZE_SLOPE_SD}
    assert JointSpec.from_dict(spec.to_dict()) == spec
    plain = JointSpec(**SPEC).to_dict()
    assert "noise_by_size" not in plain and not JointSpec.from_dict(plain).noise_by_size
    assert "noise_size_slope" not in JointSpec(**SPEC).priors


def test_the_models_students_sd_is_sigma_times_size_to_the_slope():
    d, teachers, rest, index = _digitized()
    model = build_joint(JointSpec(**SPEC, noise_by_size=True), d, rest, teachers, index)
    sigma = model["obs_student"].owner.inputs[-1]  # Normal(mu, sigma): the last input
    (graph,) = model.replace_rvs_by_values([sigma])
    values = [model.rvs_to_values[model[name]] for name in ("sigma_dis", "noise_size_slope")]
    sd = pytensor.function(values, graph, on_unused_input="ignore")(np.log(0.002), -0.5)  # sigma_dis is log-valued
    np.testing.assert_allclose(sd, 0.002 * (d["N_S"].to_numpy() / NOISE_SIZE_REF) ** -0.5, rtol=1e-12)
    assert sd.max() / sd.min() == pytest.approx((1.82e9 / 1.43e8) ** 0.5)


def test_one_student_size_cannot_measure_a_slope():
    d, teachers, rest, index = _digitized()
    one = d["N_S"].to_numpy() == 5.46e8
    teachers, rest, index = split_teachers(d[one].reset_index(drop=True), None)
    with pytest.raises(DataError, match="at least two sizes"):
        build_joint(JointSpec(**SPEC, noise_by_size=True), d[one].reset_index(drop=True), rest, teachers, index)


def test_one_noise_for_every_student_without_it():
    fit = api.load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    sigma, nu = student_noise(fit, [1e8, 1e9, 1e10])
    assert nu is None and sigma.shape == (fit.n_draws, 3)
    np.testing.assert_array_equal(sigma, np.repeat(noise_parameters(fit, "sigma_dis")[0][:, None], 3, axis=1))


@pytest.mark.slow  # an experimental option's recovery fit (~45 s): the slow tier, which CI runs
def test_a_known_slope_is_recovered_and_not_carried_past_the_fitted_sizes():
    table, _, _ = _synthetic_students(gain=0.05, noise_slope=-0.5)
    fit = api.fit(table, law="distillation", weak_teacher=True, likelihood="normal", noise_by_size=True, seed=3)
    assert fit.diagnostics_passed, fit.card["diagnostics"]["failures"]
    d = fit.draws(["noise_size_slope", "sigma_dis"])
    lo, hi = np.quantile(d["noise_size_slope"], [0.005, 0.995])
    assert lo <= -0.5 <= hi and hi < -0.2, (lo, hi)  # measured, and not the prior's 0
    lo, hi = np.quantile(d["sigma_dis"], [0.005, 0.995])
    assert lo <= 0.002 <= hi, (lo, hi)
    with pytest.raises(InputError, match="student_noise"):
        noise_parameters(fit, "sigma_dis")  # one sd per draw would be a silent wrong answer here
    sd, _ = student_noise(fit, [1e8, 1.43e8, 1e9, 1.82e9, 7.75e9])
    np.testing.assert_array_equal(sd[:, 0], sd[:, 1])  # below the smallest fitted size: its noise
    np.testing.assert_array_equal(sd[:, 4], sd[:, 3])  # above the largest: the largest's
    np.testing.assert_allclose(sd[:, 2], d["sigma_dis"], rtol=1e-12)  # sigma_dis is the noise at 1B
    (_, _, _, term_sd), = [t for t in observed_terms(fit) if t[0] == "obs_student"]
    N = table["N_S"].to_numpy()
    np.testing.assert_allclose(term_sd, d["sigma_dis"][:, None] * (N / 1e9) ** d["noise_size_slope"][:, None],
                               rtol=1e-12)
