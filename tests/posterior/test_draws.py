"""The one coefficient reader: what the fit stored agrees with the maps in core.params."""

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core import params
from bayeslaw.core.errors import InputError
from bayeslaw.posterior.draws import as_arrays, coefficients, laws
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def joint():
    return api.load(ROOT / "models/distillation_SYNTHETIC_paper_design.nc")


@pytest.fixture(scope="module")
def chinchilla():
    return api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")


def test_paper_scale_is_the_sampled_scale_mapped(joint):
    """The model's PyTensor deterministics and the numpy maps of core.params give the same coefficients."""
    sampled = as_arrays(coefficients(joint))
    stored = as_arrays(coefficients(joint, "paper"))
    mapped = params.supervised_to_paper(sampled) | params.distillation_to_paper(sampled)
    assert set(stored) == set(params.SUPERVISED_PAPER) | set(params.DISTILLATION_PAPER)
    for name, value in stored.items():
        np.testing.assert_allclose(mapped[name], value, rtol=1e-10, err_msg=name)
    # and back: the slopes form of the stored paper coefficients is what the model sampled
    back = params.paper_to_slopes(**{k: stored[k] for k in params.DISTILLATION_PAPER if k != "c0"})
    for name in ("P", "Q", "gamma_p", "log_k", "log_s", "log_d1"):
        np.testing.assert_allclose(back[name], sampled[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_reader_shapes_and_the_fixed_gamma(chinchilla):
    ds = coefficients(chinchilla)
    assert list(ds.data_vars) == list(params.SUPERVISED_SAMPLED)
    assert all(ds[v].dims == ("draw",) and ds[v].size == chinchilla.n_draws for v in ds.data_vars)
    assert np.all(ds["gamma"].values == 1.0)  # Chinchilla form: gamma fixed, not sampled
    law = laws(chinchilla)
    assert law.n_draws == chinchilla.n_draws and not law.has_distillation
    # A = exp(log_size_term + alpha log N_REF), draw by draw
    np.testing.assert_allclose(np.log(law.A), ds["log_size_term"] + ds["alpha"] * np.log(params.N_REF), rtol=1e-12)
    with pytest.raises(InputError, match="scale must be one of"):
        coefficients(chinchilla, "natural")
