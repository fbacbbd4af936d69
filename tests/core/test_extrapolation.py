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
