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
