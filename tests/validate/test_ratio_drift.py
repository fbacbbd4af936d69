"""The tokens-per-parameter drift: rebuilt by its command, and held on studies it never saw (issue 27's targets:
held-out heavily trained runs, 90% coverage >= 0.75, median error no worse than today's)."""

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.posterior.extrapolation import load_drift
from bayeslaw.validate.ratio_drift import TODAY, WITH_DRIFT

pytestmark = pytest.mark.heavy  # eight studies' splits and nine small NUTS fits: about 70 s


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    out = tmp_path_factory.mktemp("drift")
    return api.calibrate_ratio(out=out / "ratio_drift.nc", loso=True, out_dir=out, seed=0)


def test_the_command_rebuilds_the_shipped_drift(rebuilt):
    """models/ratio_drift.nc is what `bayeslaw calibrate --ratio --seed 0` writes: the same posterior up to Monte
    Carlo error. Not bit for bit: the same seed gives the same draws on one machine (test_reproducibility.py), but
    NUTS trajectories part with the last bits of floating point across CPUs (on two machines: means 0.01-0.03 sd
    apart, 5% and 95% quantiles up to 0.11 sd), so the check is on the distribution."""
    drift, _, _ = rebuilt
    shipped = load_drift()
    for name in ("mu_slope", "sd_slope", "spread", "slope"):
        a, b = (f.draws([name])[name].reshape(f.n_draws, -1) for f in (drift, shipped))
        sd = b.std(axis=0)
        assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) < 0.1 * sd), name
        q = np.quantile(a, [0.05, 0.5, 0.95], axis=0) - np.quantile(b, [0.05, 0.5, 0.95], axis=0)
        assert np.all(np.abs(q) < 0.25 * sd), name


def test_leave_one_study_out_meets_the_targets(rebuilt):
    _, table, paths = rebuilt
    pooled = table[table["study"] == "all"].set_index("method")
    assert pooled.loc[WITH_DRIFT, "n"] >= 50
    assert pooled.loc[WITH_DRIFT, "cover90"] >= 0.75
    assert pooled.loc[TODAY, "cover90"] < 0.75  # what it fixes
    assert pooled.loc[WITH_DRIFT, "median_abs_error"] <= pooled.loc[TODAY, "median_abs_error"]
    assert pooled.loc[WITH_DRIFT, "crps"] < pooled.loc[TODAY, "crps"]
    per = table[table["study"] != "all"].pivot(index="study", columns="method", values="cover90")
    assert (per[WITH_DRIFT] >= per[TODAY]).all()
    assert paths["loso"].endswith("ratio_loso.csv")
