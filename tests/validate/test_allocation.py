"""The compute-optimal size's own error (issue 27): observed IsoFLOP optima, the error's recovery from simulated
misses, and what it does to an optimum's N* band (inside the fitted runs nothing; beyond, the learned width)."""

import json

import numpy as np
import pandas as pd
import pytest

from bayeslaw import api
from bayeslaw.core import compute
from bayeslaw.core.intervals import pick
from bayeslaw.posterior.extrapolation import ALLOCATION, load_allocation
from bayeslaw.validate.allocation import coverage, error_sd, fit_error, observed_optimum, sweeps
from tests.conftest import ROOT

CHIN = ROOT / "models/supervised_chinchilla_epoch240.nc"


def test_the_vertex_of_an_exact_parabola_and_what_is_not_an_observation():
    N = np.logspace(8, 10, 7)
    x = np.log10(N)
    level = pd.DataFrame({"N": N, "loss": np.exp(0.8 + 0.05 * (x - 9.3) ** 2)})
    assert observed_optimum(level) == pytest.approx(9.3, abs=1e-9)
    assert np.isnan(observed_optimum(level.head(4)))  # too few runs
    assert np.isnan(observed_optimum(level.assign(loss=np.exp(0.8 - 0.05 * (x - 9.3) ** 2))))  # no valley
    assert np.isnan(observed_optimum(level.assign(loss=np.exp(0.8 + 0.05 * (x - 11) ** 2))))  # vertex off the sizes


def test_the_error_is_recovered_from_simulated_misses():
    rng = np.random.default_rng(3)
    rows = []
    for study in range(40):
        d = rng.uniform(0.2, 1.5, 6)
        s = rng.uniform(0.02, 0.06, 6)
        rows.append(pd.DataFrame({"study": f"s{study}", "decades": d, "sd": s,
                                  "error": rng.normal(0, np.sqrt(s**2 + 0.05**2 + (0.1 * d) ** 2))}))
    err = fit_error(pd.concat(rows, ignore_index=True))
    assert err["a"] == pytest.approx(0.05, abs=0.02) and err["b"] == pytest.approx(0.1, abs=0.02)
    assert error_sd(err, [0.0, -1.0])[0] == 0 and error_sd(err, [1.0])[0] == pytest.approx(np.hypot(err["a"], err["b"]))


def test_shipped_error_and_its_replays():
    err = load_allocation()
    rec = json.loads(ALLOCATION.read_text())
    rows = pd.read_csv(ROOT / "reports/calibration/allocation_replay.csv")
    assert rec["n"] == len(rows) and set(rows["study"]) == set(sweeps())
    # the learned error is what fit_error gives on the shipped replays, and it raises their 90% coverage
    assert fit_error(rows)["a"] == pytest.approx(err["a"], rel=1e-6)
    assert coverage(rows, None) < 0.6 < 0.9 <= coverage(rows, err)


def test_an_optimum_carries_it_beyond_the_fitted_runs_only():
    chin = api.load(CHIN)
    law = api.optimum(chin, [1e20, 1e25], extrapolation=False)
    with_err = api.optimum(chin, [1e20, 1e25])
    np.testing.assert_array_equal(with_err["N_opt_law"].values, law["N_opt"].values)
    # 1e20 FLOPs lies inside the fitted runs' compute: the law's N* exactly
    assert float(with_err["allocation_decades"][0]) == 0
    np.testing.assert_array_equal(with_err["N_opt"].values[:, 0], law["N_opt"].values[:, 0])
    # 1e25 lies ~2.9 decades beyond: the band's width is the law's and the learned error's together
    err, d = load_allocation(), float(with_err["allocation_decades"][1])
    got = np.log10(with_err["N_opt"].values[:, 1]).std()
    want = np.hypot(np.log10(law["N_opt"].values[:, 1]).std(), error_sd(err, [d])[0])
    assert got == pytest.approx(want, rel=0.05)
    # the tokens are what the budget buys at the moved size (3 F(N) D = C)
    N, D = with_err["N_opt"].values[:, 1], with_err["D_opt"].values[:, 1]
    np.testing.assert_allclose(compute.supervised_flops(N, D), 1e25, rtol=1e-9)
    assert float(pick(with_err, "L_opt").values[1]) == float(pick(law, "L_opt").values[1])


@pytest.mark.heavy  # 23 split fits over four sweeps, about 2 minutes
def test_the_shipped_error_rebuilds(tmp_path):
    from bayeslaw.validate.allocation import run

    rows, loso, err = run(tmp_path, seed=0, model=tmp_path / "allocation_error.json")
    shipped = json.loads(ALLOCATION.read_text())
    assert err["a"] == pytest.approx(shipped["a"], rel=1e-9) and err["b"] == pytest.approx(shipped["b"], rel=1e-9)
    pooled = loso.set_index("study").loc["pooled"]
    assert pooled["coverage90_with"] >= 0.85 and pooled["coverage90_without"] <= 0.6
    assert 0.35 <= pooled["coverage50_with"] <= 0.65


def test_the_free_sizes_supervised_route_carries_it_and_the_distilled_do_not():
    from bayeslaw.decision.free_size import SUPERVISED, free_size

    joint = api.load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    ds = free_size(joint, [1e20, 1e23], inference_tokens=(0.0, 1e12), max_draws=100)
    law = free_size(joint, [1e20, 1e23], inference_tokens=(0.0, 1e12), max_draws=100, extrapolation=False)
    assert "allocation" in ds.attrs and "allocation" not in law.attrs
    distilled = [r for r in ds["route"].values if r != SUPERVISED]
    np.testing.assert_array_equal(ds["size"].sel(route=distilled).values, ds["size_law"].sel(route=distilled).values)
    sup, sup_law = ds["size"].sel(route=SUPERVISED), ds["size_law"].sel(route=SUPERVISED)
    # one shift per draw and budget, shared by the demands: the ratio moved / law is the same at both demands
    ratio = (sup / sup_law).values
    np.testing.assert_allclose(ratio[:, 0, :], ratio[:, 1, :], rtol=1e-12)
    # far beyond the fitted students (1e23 FLOPs) the band of the supervised size widens; the tokens are what the
    # lifetime budget buys at the moved size
    assert np.log10(sup.sel(budget=1e23).values).std() > np.log10(sup_law.sel(budget=1e23).values).std()
    N = sup.sel(budget=1e23, tokens=1e12).values
    D = ds["student_tokens"].sel(route=SUPERVISED, budget=1e23, tokens=1e12).values
    ok = np.isfinite(D)  # a moved size whose serving would take the whole budget has no recipe
    assert ok.mean() > 0.9
    np.testing.assert_allclose(compute.supervised_flops(N[ok], D[ok]) + compute.forward_flops_per_token(N[ok]) * 1e12,
                               1e23, rtol=1e-9)
