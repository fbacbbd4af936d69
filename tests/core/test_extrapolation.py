"""The law's extrapolation error: one functional form, the same in numpy and PyTensor."""

import numpy as np
import pytest

from bayeslaw.core import extrapolation as law_error


def test_error_sd_by_hand():
    d = np.array([-1.0, 0.0, 0.5, 2.0, np.nan])
    sd = law_error.error_sd(0.003, 0.01, d)
    np.testing.assert_allclose(sd, [0.0, 0.0, np.hypot(0.003, 0.005), np.hypot(0.003, 0.02), 0.0], rtol=1e-15)
    assert law_error.decades_beyond(np.array([0.5, 10.0, 2.0]), np.array([0.1, 1.0, 1000.0])).tolist() == \
        pytest.approx([0.0, 1.0, 3.0])


def test_the_model_graph_computes_the_same_variance():
    import pytensor.tensor as pt

    d = np.array([0.0, 0.3, 1.7])
    e, g = pt.dscalar("e"), pt.dscalar("g")
    f = law_error.error_variance(e, g, pt.as_tensor_variable(d), xp=pt).eval({e: 0.004, g: 0.02})
    np.testing.assert_allclose(f, law_error.error_variance(0.004, 0.02, d), rtol=1e-15)


def test_the_lean_by_hand_in_numpy_and_pytensor():
    import pytensor.tensor as pt

    d = np.array([-1.0, 0.0, 0.5, 2.0, np.nan])
    np.testing.assert_allclose(law_error.error_mean(-0.003, -0.01, d), [0.0, 0.0, -0.008, -0.023, 0.0], rtol=1e-15)
    # a distilled student beyond in loss only (d = 0, outside) leans by the step at the edge
    assert law_error.error_mean(-0.003, -0.01, np.array([0.0]), outside=np.array([True])).tolist() == [-0.003]
    a, b = pt.dscalar("a"), pt.dscalar("b")
    f = law_error.error_mean(a, b, pt.as_tensor_variable(d[:4]), xp=pt).eval({a: -0.003, b: -0.01})
    np.testing.assert_allclose(f, law_error.error_mean(-0.003, -0.01, d[:4]), rtol=1e-15)


def test_bounded_errors_stay_between_the_floor_and_the_ceiling_and_are_the_calibrated_ones_when_small():
    log_L = np.log(np.full(7, 2.0))
    lo, hi = np.log(1.2), np.log(10.4)
    shift = np.array([-50.0, -3.0, -1e-4, 0.0, 1e-4, 3.0, 50.0])
    out = law_error.within_bounds(log_L, shift, lo, hi)
    assert np.all((out >= lo) & (out <= hi)) and np.all(np.diff(out) >= 0)  # monotone in the error, within bounds
    assert np.all(np.diff(out)[1:-1] > 0)
    # first order: a small error on log L is that error
    np.testing.assert_allclose(out[[2, 4]] - log_L[[2, 4]], shift[[2, 4]], rtol=1e-3)
    assert out[3] == log_L[3]
    # by hand: up, 10.4 - 8.4 exp(-0.1 * 2 / 8.4); down, 1.2 + 0.8 exp(-0.1 * 2 / 0.8)
    up = float(np.exp(law_error.within_bounds(np.log(2.0), 0.1, lo, hi)))
    down = float(np.exp(law_error.within_bounds(np.log(2.0), -0.1, lo, hi)))
    assert up == pytest.approx(10.4 - 8.4 * np.exp(-0.2 / 8.4), rel=1e-12)
    assert down == pytest.approx(1.2 + 0.8 * np.exp(-0.2 / 0.8), rel=1e-12)
    # close to E a large upward error no longer explodes: about what it is on log L
    near = float(np.exp(law_error.within_bounds(np.log(1.25), 0.2, lo, hi)))
    assert 1.25 < near < 1.25 * np.exp(0.2)
    # a law already outside its bounds is moved on log L as before
    assert float(law_error.within_bounds(np.log(1.0), 0.1, lo, hi)) == pytest.approx(np.log(1.0) + 0.1)
