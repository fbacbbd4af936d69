"""Prior specifications: validation, merging, and the JSON/TOML round trip."""

import json

import pytest

from bayeslaw.core.errors import PriorError
from bayeslaw.model.presets import supervised_defaults
from bayeslaw.model.priors import Prior, read_prior_file
from bayeslaw.model.spec import SupervisedSpec


def test_round_trip_and_files(tmp_path):
    p = supervised_defaults(gamma_free=True, likelihood="student_t")
    assert set(p) == {"log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma", "sigma", "nu"}
    js = tmp_path / "p.json"
    js.write_text(json.dumps({"alpha": {"dist": "LogNormal", "kwargs": {"mu": -1.0, "sigma": 0.2}}}))
    toml = tmp_path / "p.toml"
    toml.write_text('[alpha]\ndist = "LogNormal"\nkwargs = { mu = -1.0, sigma = 0.2 }\n')
    assert read_prior_file(js) == read_prior_file(toml) == {"alpha": Prior("LogNormal", {"mu": -1.0, "sigma": 0.2})}
    spec = SupervisedSpec(priors=read_prior_file(js))
    assert spec.priors["alpha"].kwargs["sigma"] == 0.2
    assert SupervisedSpec.from_dict(spec.to_dict()) == spec


def test_bad_priors(tmp_path):
    with pytest.raises(PriorError, match="no parameter named 'alhpa'"):
        SupervisedSpec(priors={"alhpa": Prior("Normal", {"mu": 0, "sigma": 1})})
    with pytest.raises(PriorError, match="unsupported prior"):
        Prior("Cauchyish", {})
    with pytest.raises(PriorError, match="takes"):
        Prior("Normal", {"mean": 0})
    with pytest.raises(PriorError, match="positive"):
        Prior("Normal", {"mu": 0, "sigma": -1})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PriorError, match="could not parse"):
        read_prior_file(bad)
    assert Prior("Normal", {"mu": 1.0, "sigma": 2.0}).scaled(0.5).kwargs["sigma"] == 1.0


def test_student_t_degrees_of_freedom_never_go_below_one():
    """nu = 1 + Gamma(2, 0.1): below 1 a new run's predictive has no mean (a backtest once gave a CRPS of 1e14)."""
    import numpy as np
    import pymc as pm
    from scipy import stats

    from bayeslaw.model.build import NU_MIN, build_supervised
    from tests.conftest import synthetic_supervised

    with build_supervised(SupervisedSpec(), synthetic_supervised(n=20, seed=2)) as model:
        nu = pm.draw(model["nu"], draws=20000, random_seed=3)
    assert NU_MIN == 1.0 and nu.min() >= 1.0
    # the shift is exact: nu - 1 follows the stated Gamma(2, rate 0.1)
    assert stats.kstest(nu - 1.0, stats.gamma(a=2.0, scale=10.0).cdf).pvalue > 0.01
    # and the unshifted prior would have put 0.47% of its mass below 1 (1 - e^-0.1 (1 + 0.1))
    assert abs(stats.gamma(a=2.0, scale=10.0).cdf(1.0) - (1 - np.exp(-0.1) * 1.1)) < 1e-12
