"""The fitted likelihood's log density against scipy.stats (the independent reference)."""

import numpy as np
import pytest
from scipy import stats

from bayeslaw.posterior.likelihood import log_density


@pytest.mark.parametrize("student", [True, False])
def test_log_density_matches_scipy(student):
    rng = np.random.default_rng(3)
    observed = rng.normal(0.8, 0.1, size=7)
    log_mean = rng.normal(0.8, 0.1, size=(5, 7))
    sigma = rng.uniform(0.005, 0.05, size=(5, 1))
    nu = rng.uniform(1.0, 40.0, size=(5, 1)) if student else None
    ours = log_density(observed, log_mean, sigma, nu)
    ref = (stats.t.logpdf(observed[None, :], df=nu, loc=log_mean, scale=sigma) if student
           else stats.norm.logpdf(observed[None, :], loc=log_mean, scale=sigma))
    assert ours.shape == (5, 7)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
