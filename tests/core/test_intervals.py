"""Bands written once: their levels, the ci_bound dimension and the flat view renderers read."""

import numpy as np
import pytest
import xarray as xr

from bayeslaw.core import intervals


def test_levels_are_a_central_band_around_the_median():
    assert intervals.levels(0.9) == pytest.approx((0.05, 0.5, 0.95))
    assert intervals.tails(0.5) == pytest.approx((0.25, 0.75))


def test_band_is_the_draws_quantiles_along_ci_bound():
    x = xr.DataArray(np.random.default_rng(0).normal(size=(2000, 3)), dims=("draw", "point"))
    b = intervals.band(x, 0.8)
    assert b.dims == ("ci_bound", "point") and list(b["ci_bound"].values) == list(intervals.CI_BOUND)
    hand = np.quantile(x.values, [0.1, 0.5, 0.9], axis=0)
    np.testing.assert_array_equal(b.values, hand)
    assert b.attrs == {"interval_kind": "eti", "interval_prob": 0.8}
    np.testing.assert_array_equal(intervals.quantile_band(x.values, 0.8), hand)


def test_flatten_and_pick_read_the_same_numbers_in_the_old_order():
    x = xr.DataArray(np.arange(30.0).reshape(10, 3), dims=("draw", "point"))
    ds = xr.Dataset({"y": x, intervals.band_name("y"): intervals.band(x, 0.5), "z": ("point", [1.0, 2.0, 3.0])})
    flat = intervals.flatten(ds)
    assert list(flat.data_vars) == ["y", "y_median", "y_lower", "y_upper", "z"]
    assert "ci_bound" not in flat.coords
    for k in intervals.CI_BOUND:
        np.testing.assert_array_equal(flat[f"y_{k}"].values, intervals.pick(ds, "y", k).values)
    assert intervals.as_dict([1, 2, 3]) == {"lower": 1.0, "median": 2.0, "upper": 3.0}
