"""The joint model without supervised runs, teachers known by their loss only (the digitized paper table).

Recovery: a SYNTHETIC table on the digitized table's design (its students and teachers' losses), students
drawn from a law whose capacity-gap coefficients differ from Table 6, teachers' losses observed with noise,
no supervised runs. The coefficients these runs measure (identified on the real table: c0, f1) must hold
the truth inside their 90% intervals, and the fit says that the supervised law came from the preset.
"""

import warnings

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core import laws
from bayeslaw.core.errors import DataWarning
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.data.tables import load_shipped
from bayeslaw.model.spec import JointSpec
from bayeslaw.reporting.text import fit_notes
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons

SHIPPED = ROOT / "models/distillation_busbridge2025_digitized.nc"


def _synthetic_students(seed: int = 11):
    """SYNTHETIC: the digitized design, L_S from a shifted Eq. 8, noisy teacher and student losses."""
    rng = np.random.default_rng(seed)
    d = load_shipped("busbridge2025_digitized").drop(columns="teacher_id")
    sup, dis = paper_coefficients()
    truth = dis | {"c0": 2.2, "f1": 0.105}
    true_T = d["L_T"].to_numpy()
    tilde = laws.supervised_loss(d["N_S"].to_numpy(), d["D_S"].to_numpy(),
                                 **{k: sup[k] for k in ("E", "A", "B", "alpha", "beta", "gamma")})
    L_S = laws.distillation_loss(d["N_S"].to_numpy(), d["D_S"].to_numpy(), true_T, tilde, **truth)
    teacher_err = dict(zip(np.unique(true_T), np.exp(0.002 * rng.standard_normal(np.unique(true_T).size)),
                           strict=True))
    d["L_T"] = true_T * np.array([teacher_err[t] for t in true_T])
    d["L_S"] = L_S * np.exp(0.002 * rng.standard_normal(len(d)))
    return d, truth


def test_fit_without_supervised_runs_recovers_the_measured_coefficients():
    table, truth = _synthetic_students()
    weak = int(np.argmax(table["L_T"].to_numpy()))  # a student that beats its (weakest) teacher
    table.loc[weak, "L_S"] = table.loc[weak, "L_T"] * 0.995
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = api.fit(table, law="distillation", draws=1000, tune=1000, target_accept=0.95, seed=4)
    said = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("busbridge2025 preset" in m for m in said)
    below = [int(i) for i in np.flatnonzero(table["L_S"] < table["L_T"])]
    assert weak in below and any(f"{len(below)} students lie below their teacher's loss" in m for m in said)
    assert fit.card["data"]["students_below_teacher"] == below
    assert fit.card["spec"]["preset"] == "busbridge2025" and fit.card["data"]["supervised"]["n_runs"] == 0
    assert any("no supervised runs" in n for n in fit_notes(fit))
    post = fit.idata["posterior"]
    for name in ("c0", "f1"):
        lo, hi = np.quantile(post[name].values, [0.05, 0.95])
        assert lo <= truth[name] <= hi, (name, lo, hi, truth[name])
    # c0 is measured, not the prior's: the posterior moved from Table 6's 2.549 towards the truth 2.2
    assert abs(float(post["c0"].median()) - 2.2) < abs(float(post["c0"].median()) - 2.549)
    assert fit.card["diagnostics"]["metrics"]["contraction"]["c0"] < 0.5


def test_shipped_digitized_posterior_passes_its_gates_and_names_its_data():
    fit = api.load(SHIPPED, expect_law="distillation")
    assert fit.diagnostics_passed, fit.card["diagnostics"]["failures"]
    again = api.diagnose(fit)
    assert again.passed and again.metrics["divergences"] == 0 and again.metrics["max_rhat"] <= 1.01
    assert again.metrics["min_ess_bulk"] >= 400
    data = fit.card["data"]
    assert data["n_runs"] == 328 and data["supervised"]["n_runs"] == 0
    assert "digitized" in data["provenance"] and "Table 6 prior" in data["provenance"]
    assert fit.card["spec"]["teacher_noise"] == 0.003 and len(data["students_below_teacher"]) == 41
    assert abs(fit.card["spec"]["supervised_scale"] - 1 / 3) < 1e-12
    # the table's stated form (bayeslaw.data.registry): the weak-teacher gain with a Normal likelihood
    assert fit.card["spec"]["weak_teacher"] is True and fit.card["spec"]["likelihood"] == "normal"
    assert "nu" not in fit.idata["posterior"] and "weak_teacher_gain" in fit.idata["posterior"]
    # the cut: the students leave the supervised law at its prior (posterior sd / prior sd ~ 1, centre unmoved)
    assert fit.card["spec"]["supervised_cut"] is True
    contraction = again.metrics["contraction"]
    post = fit.idata["posterior"]
    priors = JointSpec.from_dict(fit.card["spec"]).priors
    for name in ("log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma"):
        assert 0.9 < contraction[name] < 1.1, (name, contraction[name])
        x = np.log(post[name].values) if priors[name].dist == "LogNormal" else post[name].values
        assert abs(float(x.mean()) - priors[name].kwargs["mu"]) < 0.1 * priors[name].kwargs["sigma"], name
