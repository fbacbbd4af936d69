"""The importance-weight update of ``pilot`` against exact NUTS refits on a small supervised table."""

from __future__ import annotations

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core.errors import InputError
from bayeslaw.decision import pilot as pilot_module
from bayeslaw.decision import value as voi
from bayeslaw.decision.pilot import Candidate, _noise, pilot, predicted_runs, supervised_decisions, supervised_options
from bayeslaw.decision.pipeline import decision_draws
from bayeslaw.decision.question import Question
from bayeslaw.inference.preposterior import refit_with_outcomes
from bayeslaw.posterior.draws import as_arrays, coefficients, laws
from bayeslaw.posterior.likelihood import noise_parameters
from tests.conftest import synthetic_supervised

pytestmark = pytest.mark.heavy  # NUTS fits


@pytest.fixture(scope="module")
def small():
    df = synthetic_supervised(n=16, seed=4, noise=0.01)
    return api.fit(df, seed=0)


def test_importance_weights_match_refits_outcome_by_outcome(small):
    q = Question(student_size=None, budgets=(3e21,))
    draws = decision_draws(small, max_draws=None, seed=0, calibration=None)
    dec, = supervised_decisions(small, draws, q, np.random.default_rng(0))
    run = Candidate("supervised", 2.5e10, 2e11)  # beyond the 16 runs (<= 1e10 params): it moves the posterior
    pred, sd = predicted_runs(small, draws, run)
    nu = _noise(small, draws, "supervised")[1]
    rng = np.random.default_rng(1)
    pick = rng.choice(draws.n, 4, replace=False)
    y = voi.simulate(pred[pick], sd[pick], None if nu is None else nu[pick], rng)
    w = np.exp(voi.log_weights(y, pred, sd, nu))
    ess = 1 / (w ** 2).sum(axis=1)
    assert ess.min() > voi.ESS_FLOOR  # a case the weights can carry
    rel = dec.loss - dec.loss[:, [0]]  # the options' losses against the smallest model: what the choice turns on
    by_weights = w @ rel
    sd_w = np.sqrt(w @ rel ** 2 - by_weights ** 2)
    for j, f in enumerate(refit_with_outcomes(small, [(run.N, run.D)], y, seed=0)):
        # sampling gates hold; a 17-run table's one or two high-leverage runs may fail the Pareto-k gate
        assert all("Pareto k" in x for x in f.card["diagnostics"]["failures"])
        s_f, nu_f = noise_parameters(f, "sigma")
        named = supervised_options(laws(f), as_arrays(coefficients(f)), None, dec.budget, None, dec.sizes, s_f,
                                   nu_f, rng)
        m = np.column_stack([named[o] for o in dec.options])
        by_refit = (m - m[:, [0]]).mean(axis=0)
        # the two estimates of the same posterior mean differ by Monte Carlo error: ~ sd / sqrt(ESS) for the weights
        tol = 4 * sd_w[j] / np.sqrt(ess[j]) + 4 * (m - m[:, [0]]).std(axis=0) / np.sqrt(400) + 1e-6
        assert np.all(np.abs(by_refit - by_weights[j]) <= tol), (by_refit, by_weights[j], tol)
        assert np.argmin(by_refit) == np.argmin(by_weights[j]) or np.sort(by_refit)[1] - by_refit.min() < tol.max()


def test_pilot_values_runs_by_refits_where_asked(small, monkeypatch):
    # will the compute-optimal run at 1e23 FLOPs reach its median loss: a coin flip the pilot run informs
    med = float(np.ravel(api.optimum(small, [1e23])["L_opt_band"].values)[1])
    q = Question(student_size=None, budgets=(1e23,), target=round(med, 3))
    run = Candidate("supervised", 2.5e10, 2e11)
    weights = pilot(small, q, candidates=[run], max_draws=400, seed=0, extrapolation=False)
    row_w = weights.candidates[0]
    assert weights.budgets[0]["status"] == "ranked" and row_w["method"].startswith("importance")
    monkeypatch.setattr(pilot_module, "REFIT_WHEN", -1.0)  # refit every run, as where the weights degenerate
    refits = pilot(small, q, candidates=[run], max_draws=400, seed=0, extrapolation=False, refit=6,
                   refitter=refit_with_outcomes)
    row = refits.candidates[0]
    assert row["method"].startswith("NUTS refits at 6")
    assert 0.0 <= row["evsi"] <= 1.0 and 0.0 <= row["p_wrong_after"] <= 1.0
    # six outcomes against 400 weighted ones: the same value up to the refits' Monte Carlo error
    assert abs(row["evsi"] - row_w["evsi"]) < 0.25
    with pytest.raises(InputError, match="refit"):
        pilot(small, q, candidates=[run], max_draws=400, seed=0, refit=4,
              refitter=refit_with_outcomes)  # with the extrapolation error
