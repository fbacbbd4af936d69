"""Past the tokens per parameter a law was fitted on: reach, the learned drift, and what predictions do with it."""

import json

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.cli import main
from bayeslaw.core import extrapolation as law_error
from bayeslaw.core.serving import Demand, Lifetime
from bayeslaw.decision.lifetime import cheapest
from bayeslaw.posterior import reach
from bayeslaw.posterior.extrapolation import (
    RATIO_DRIFT,
    LawError,
    load_calibration,
    load_drift,
    ratio_decades,
)
from tests.conftest import ROOT

CHINCHILLA = ROOT / "models/supervised_chinchilla_epoch240.nc"


@pytest.fixture(scope="module")
def chinchilla():
    return api.load(CHINCHILLA)


def test_ratio_decades_by_hand():
    assert law_error.ratio_decades(np.array([0.5, 1.0, 10.0, 100.0])).tolist() == [0.0, 0.0, 1.0, 2.0]
    scale = reach.FittedScale(size=1e10, compute=1e22, ratio=200.0)
    assert ratio_decades(scale, [1e9, 1e9], [1e11, 2e12]).tolist() == pytest.approx([0.0, 1.0])


def test_the_fitted_ratio_is_the_most_of_any_run(chinchilla):
    obs = chinchilla.idata["observed_data"]
    most = float(np.exp(obs["log_D"].values - obs["log_N"].values).max())
    assert reach.fitted_scale(chinchilla).ratio == pytest.approx(most)
    r = reach.reach(reach.fitted_scale(chinchilla), [1e9, 1e9], [2e10, 2e12])
    assert r["beyond_ratio"].values.tolist() == [False, True]
    assert r["tokens_per_param"].values.tolist() == pytest.approx([20.0, 2000.0])


def test_the_shipped_drift_says_overtrained_runs_come_out_worse():
    """The learned population drift is positive (runs past the fitted ratio are worse than the law) in more than
    95% of its draws, and every study's own drift is too."""
    drift = load_drift()
    post = drift.draws(["mu_slope", "slope"])
    assert np.mean(post["mu_slope"] > 0) > 0.95
    assert np.all(np.quantile(post["slope"], 0.05, axis=0) > 0)
    assert drift.diagnostics_passed


def test_predictions_past_the_fitted_ratio_move_up_and_widen(chinchilla):
    """Inside the fitted tokens per parameter nothing changes; 1,000 tokens per parameter (2.9x past the most
    fitted) moves the new-run median up by about the drift and widens the band."""
    ds = api.predict(chinchilla, [1e9, 1e9], [2e10, 1e12], seed=3)
    plain = api.predict(chinchilla, [1e9, 1e9], [2e10, 1e12], seed=3, extrapolation=False)
    new, law = ds["loss_new_band"].sel(ci_bound="median").values, ds["loss_mean_band"].sel(ci_bound="median").values
    assert float(ds["ratio_decades"][0]) == 0.0 and float(ds["ratio_decades"][1]) > 0.4
    assert new[0] == pytest.approx(law[0], rel=2e-3)
    mu = float(np.median(load_drift().draws(["mu_slope"])["mu_slope"]))
    assert np.log(new[1] / law[1]) == pytest.approx(mu * float(ds["ratio_decades"][1]), rel=0.35)
    width = lambda d, i: float(np.diff(d["loss_new_band"].sel(ci_bound=["lower", "upper"]).values[:, i])[0])  # noqa: E731
    assert width(ds, 1) > 1.5 * width(plain, 1)


def test_law_error_adds_the_drift_past_the_fitted_ratio(chinchilla):
    rng = np.random.default_rng(0)
    scale = reach.fitted_scale(chinchilla)
    err = LawError.draw(load_calibration(), scale, 500, rng, drift=load_drift())
    inside = err.log_error(np.full((500, 1), 1e9), np.full((500, 1), 2e10), np.zeros(500))
    past = err.log_error(np.full((500, 1), 1e9), np.full((500, 1), 2e12), np.zeros(500))
    assert np.all(inside == 0.0)
    d = float(ratio_decades(scale, 1e9, 2e12))
    np.testing.assert_allclose(past[:, 0], err.slope * d)  # z = 0: the signed drift alone


def test_law_error_adds_a_new_studys_lean_beyond_the_runs(chinchilla):
    """Beyond the fitted runs (in size or compute) each draw's error is centred on its new study's lean,
    ``shift_edge + shift_growth d``; inside them nothing; the shipped population leans down (runs beyond its
    studies' fits came out lower than the law said)."""
    from bayeslaw.posterior.extrapolation import decades_beyond

    scale = reach.fitted_scale(chinchilla)
    err = LawError.draw(load_calibration(), scale, 500, np.random.default_rng(0))
    N, D = np.tile([1e9, 1e12], (500, 1)), np.tile([2e10, 2e13], (500, 1))
    out = err.log_error(N, D, np.zeros(500))
    d = float(decades_beyond(scale, 1e12, 2e13))
    assert d > 1 and np.all(out[:, 0] == 0.0)
    np.testing.assert_allclose(out[:, 1], err.shift_edge + err.shift_growth * d, rtol=1e-12)
    assert np.mean(out[:, 1] < 0) > 0.8  # 88% of these 500 draws, 4 decades out


def test_no_drift_file_no_drift(tmp_path, monkeypatch, chinchilla):
    """Without the shipped drift (an older checkout) predictions fall back to the size/compute error."""
    from bayeslaw.posterior import extrapolation

    monkeypatch.setattr(extrapolation, "RATIO_DRIFT", tmp_path / "missing.nc")
    assert extrapolation.resolve_drift(load_calibration()) is None
    assert RATIO_DRIFT.exists()


def test_a_drift_file_is_not_a_calibration():
    from bayeslaw.core.errors import PosteriorError

    with pytest.raises(PosteriorError, match="another error model"):
        load_calibration(RATIO_DRIFT)


def test_the_committed_recipe_reaches_its_target_by_independent_simulation(chinchilla):
    """predict --target's committed recipe: a fresh Monte Carlo of new runs at it (other seed, the same law, noise,
    extrapolation error and drift, through api.predict) reaches the target in about prob of them."""
    ds = cheapest(chinchilla, 2.15, Lifetime(Demand.total(1e12)), prob=0.9, seed=1)
    N, D = ds.attrs["commit_N"], ds.attrs["commit_D"]
    check = api.predict(chinchilla, [N], [D], seed=11)
    p = float(np.mean(check["loss_new"].values[:, 0] <= 2.15))
    assert p == pytest.approx(0.9, abs=0.04)
    # and it costs more than the median draw's recipe: certainty is bought
    assert ds.attrs["commit_cost"] > float(ds["cost_band"].sel(ci_bound="median").isel(point=0))


def test_predict_target_json(capsys):
    rc = main(["predict", str(CHINCHILLA), "--target", "2.1", "--inference-tokens", "1e12", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0
    r = out["result"]["cheapest"]
    assert {"N", "D", "cost", "commit", "saving"} <= set(r)
    assert r["N"]["lower"] < r["N"]["median"] < r["N"]["upper"]
    assert 0 < r["saving"]["median"] < 1 and r["unit"] == "FLOPs"
    assert r["commit"]["prob"] == pytest.approx(0.9, abs=0.01)


def test_a_study_allocation_moves_the_isoflop_curve_and_keeps_its_lowest_loss():
    """StudyAllocation: no move inside the fitted runs; beyond them the move's spread is the learned error's
    (sqrt(a^2 + (b d)^2), simulated); a run is read at the same compute, so on one IsoFLOP curve the lowest loss is
    the law's and its size 10^e times the law's N* (a dense search, one draw of Table 6's law)."""
    from bayeslaw.core import compute, laws
    from bayeslaw.core.params import Laws
    from bayeslaw.data.reference import paper_coefficients
    from bayeslaw.planning.optima import supervised_optimum
    from bayeslaw.posterior.extrapolation import StudyAllocation

    fit = api.load(CHINCHILLA)
    err = {"a": 0.049, "b": 0.112}
    al = StudyAllocation.draw(fit, err, 200_000, np.random.default_rng(0))
    inside, beyond = al.compute / 10, al.compute * 100
    assert np.all(al.shift(np.full(200_000, inside)) == 0)
    sd = float(np.std(al.shift(np.full(200_000, beyond))))
    assert sd == pytest.approx(np.hypot(0.049, 0.112 * 2), rel=0.01)
    # one draw, a known move: the moved curve's minimum
    sup, _ = paper_coefficients()
    law = Laws.from_points(sup)
    one = StudyAllocation(0.049, 0.112, np.array([[1.0, -0.5]]), al.compute)
    e = float(one.shift(np.array([beyond]))[0])
    assert e == pytest.approx(0.049 - 0.5 * 0.112 * 2)
    N = np.geomspace(1e9, 1e12, 4001)[None, :]
    D = compute.supervised_tokens(N, beyond)
    N_law, D_law = one.moved(N, D)
    np.testing.assert_allclose(compute.supervised_flops(N_law, D_law), beyond, rtol=1e-12)
    L = laws.supervised_loss(N_law, D_law, **sup)
    o = supervised_optimum(law, np.array([beyond]))
    assert float(L.min()) == pytest.approx(float(o["L"][0, 0]), abs=1e-6)
    assert float(N[0, L.argmin()]) == pytest.approx(10 ** e * float(o["N"][0, 0]), rel=2e-3)
