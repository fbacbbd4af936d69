"""Decision metrics against values worked out by hand on small known draws."""

import numpy as np
import pytest
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import intervals


def draws(values, **coords):
    return xr.DataArray(np.asarray(values, float), dims=("draw",))


def test_expected_quantiles_and_var_on_one_to_ten():
    x = draws(np.arange(1, 11))
    assert float(decide.expected_loss(x)) == 5.5
    # inverted CDF: smallest v with P(X <= v) >= a; P(X <= 8) = 0.8 and P(X <= 9) = 0.9
    assert float(decide.value_at_risk(x, 0.8)) == 8.0
    assert float(decide.value_at_risk(x, 0.85)) == 9.0
    assert float(decide.value_at_risk(x, 0.95)) == 10.0
    assert float(decide.quantiles(x, [0.5]).sel(quantile=0.5)) == 5.5  # linear median of 1..10


def test_cvar_is_mean_of_worst_share_and_rockafellar_uryasev_in_between():
    x = draws(np.arange(1, 11))
    assert float(decide.conditional_value_at_risk(x, 0.8)) == pytest.approx(9.5)  # mean(9, 10)
    assert float(decide.conditional_value_at_risk(x, 0.9)) == pytest.approx(10.0)
    # a = 0.85: VaR = 9, E[(X - 9)+] = 1/10, CVaR = 9 + 0.1 / 0.15 = 9.6667
    assert float(decide.conditional_value_at_risk(x, 0.85)) == pytest.approx(9 + 0.1 / 0.15)
    # CVaR >= VaR and CVaR >= mean at every level
    for a in (0.05, 0.5, 0.7, 0.95):
        cvar = float(decide.conditional_value_at_risk(x, a))
        assert cvar >= float(decide.value_at_risk(x, a)) and cvar >= 5.5 - 1e-12


def test_infeasible_draw_counts_as_infinitely_bad():
    x = draws([2.0, 2.1, np.nan, 2.3])
    assert np.isinf(float(decide.expected_loss(x)))
    assert float(decide.prob_below(x, 2.2)) == 0.5  # 2.0, 2.1 of 4 draws
    assert np.isinf(float(decide.conditional_value_at_risk(x, 0.75)))
    assert float(decide.value_at_risk(x, 0.5)) == 2.1


def test_prob_below_target():
    x = draws([2.0, 2.1, 2.2, 2.3, 2.4])
    assert float(decide.prob_below(x, 2.2)) == pytest.approx(0.6)
    assert float(decide.prob_below(x, 1.9)) == 0.0


def test_regret_and_prob_best_by_hand():
    # three draws, two options: A = [1, 3, 2], B = [2, 1, 2]
    loss = xr.DataArray([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]], dims=("draw", "option"),
                        coords={"option": ["A", "B"]})
    reg = decide.expected_regret(loss)
    # regrets A: [0, 2, 0] -> 2/3 ; B: [1, 0, 0] -> 1/3
    assert reg.sel(option="A") == pytest.approx(2 / 3)
    assert reg.sel(option="B") == pytest.approx(1 / 3)
    pb = decide.prob_best(loss)
    # A best in draw 0, B in draw 1, tie in draw 2 -> A 1.5/3, B 1.5/3
    assert pb.sel(option="A") == pytest.approx(0.5)
    assert pb.sel(option="B") == pytest.approx(0.5)
    assert float(pb.sum()) == pytest.approx(1.0)


def test_infeasible_option_is_never_best_and_has_infinite_regret():
    loss = xr.DataArray([[1.0, np.nan], [3.0, 1.0]], dims=("draw", "option"), coords={"option": ["A", "B"]})
    assert decide.prob_best(loss).sel(option="B") == pytest.approx(0.5)
    assert np.isinf(decide.expected_regret(loss).sel(option="B"))
    assert decide.expected_regret(loss).sel(option="A") == pytest.approx(1.0)


def test_compute_for_target_interpolates_in_log_compute():
    # 4 draws at 3 budgets; P(loss <= 2.0) = 0, 0.5, 1.0
    loss = xr.DataArray([[2.5, 2.1, 1.9], [2.4, 2.05, 1.8], [2.6, 1.9, 1.7], [2.3, 1.8, 1.6]],
                        dims=("draw", "budget"), coords={"budget": [1e19, 1e20, 1e21]})
    c = decide.compute_for_target(loss, 2.0, prob=0.75)
    # P passes 0.75 half way (in log C) between 1e20 (0.5) and 1e21 (1.0)
    assert float(c) == pytest.approx(10 ** 20.5)
    assert np.isnan(float(decide.compute_for_target(loss, 1.5, prob=0.5)))
    first = decide.compute_for_target(loss, 3.0, prob=0.9)
    assert float(first) == 1e19 and first.attrs["at_most"] is True


def test_compute_for_target_keeps_other_dims():
    rng = np.random.default_rng(0)
    base = np.array([2.4, 2.2, 2.0, 1.9])
    opt = np.stack([base, base + 0.1], axis=-1)  # option B is uniformly worse by 0.1
    loss = xr.DataArray(opt[None] + 0.01 * rng.standard_normal((200, 4, 2)), dims=("draw", "budget", "option"),
                        coords={"budget": [1e18, 1e19, 1e20, 1e21], "option": ["A", "B"]})
    c = decide.compute_for_target(loss, 2.05, prob=0.9)
    assert c.dims == ("option",)
    assert float(c.sel(option="A")) < float(c.sel(option="B"))


def test_summary_table_has_every_metric():
    loss = xr.DataArray(np.random.default_rng(1).normal(2.2, 0.02, (400, 2)), dims=("draw", "option"),
                        coords={"option": ["distil", "supervised"]})
    t = decide.summary_table(loss, target=2.2)
    for v in ("expected", "VaR90", "CVaR90", "VaR95", "CVaR95", "p_target", "expected_regret", "p_best"):
        assert v in t and t[v].dims == ("option",)
    assert t["band"].dims == ("ci_bound", "option") and list(t["ci_bound"].values) == ["lower", "median", "upper"]
    lo, med, hi = (t["band"].sel(ci_bound=k) for k in ("lower", "median", "upper"))
    assert np.all(lo < med) and np.all(med < hi) and np.all(t["CVaR95"] >= t["VaR95"])
    # the band is the draws' equal-tailed quantiles, and the flat view renderers read is the same numbers
    assert float(lo.sel(option=t["option"].values[0])) == pytest.approx(
        float(np.quantile(loss.isel(option=0).values, 0.05)), rel=1e-12)
    flat = intervals.flatten(t)
    assert [v for v in flat.data_vars][:4] == ["expected", "median", "lower", "upper"] and "ci_bound" not in flat.coords
    assert float(flat["upper"].max()) == float(hi.max())


def test_levels_are_checked():
    with pytest.raises(ValueError, match="between 0 and 1"):
        decide.value_at_risk(draws([1, 2]), 1.0)
