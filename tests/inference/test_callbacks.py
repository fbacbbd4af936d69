"""nutpie's callbacks compiled from bayeslaw's cacheable source: same draws as nutpie's own, cached per graph."""

import ctypes
import subprocess
import sys

import numpy as np
import nutpie
import pytensor
import pytest

from bayeslaw.inference import callbacks
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.sampler import REPRODUCIBLE_FLAGS, jittered
from bayeslaw.model.build import build_supervised
from bayeslaw.model.priors import Prior
from bayeslaw.model.spec import SupervisedSpec
from tests.conftest import synthetic_supervised

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons


def _draws(compiled, seed=5):
    idata = nutpie.sample(compiled, draws=150, tune=150, chains=2, cores=1, seed=seed, progress_bar=False,
                          adaptation="low_rank")
    post = idata["posterior"].to_dataset()
    return np.stack([post[v].values for v in sorted(post.data_vars)])


def test_same_draws_as_nutpies_own_compile_and_refit_on_new_data():
    df = synthetic_supervised(n=40, seed=2)
    model = build_supervised(SupervisedSpec(), df)
    with pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):
        ours, fallback = callbacks.compile_model(model, jittered(model))
        assert fallback is None
        theirs = nutpie.compile_pymc_model(model, jitter_rvs=jittered(model))
    assert ours.compiled_logp_func is not theirs.compiled_logp_func
    np.testing.assert_array_equal(_draws(ours), _draws(theirs))
    # new data through the pointer table: the same as nutpie's own refit
    new = {"log_loss": np.log(df["loss"].to_numpy() * 1.02)}
    np.testing.assert_array_equal(_draws(ours.with_data(**new)), _draws(theirs.with_data(**new)))


def _logp(compiled, x):
    """The logp callback called as nutpie calls it: (return code, log density)."""
    out, logp = np.zeros(len(x)), np.zeros(())
    code = compiled.compiled_logp_func.ctypes(len(x), x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                              out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                              logp.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                              compiled.user_data.ctypes.data)
    return code, float(logp)


def test_a_changed_graph_gets_its_own_callbacks():
    """Same data and dimensions, another prior: the cache must not hand one graph's callbacks to the other."""
    df = synthetic_supervised(n=40, seed=2)
    with pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):
        a, _ = callbacks.compile_model(m := build_supervised(SupervisedSpec(), df), jittered(m))
        b, _ = callbacks.compile_model(m := build_supervised(
            SupervisedSpec(priors={"sigma": Prior("HalfNormal", {"sigma": 0.2})}), df), jittered(m))
    assert a.n_dim == b.n_dim
    x = np.random.default_rng(0).normal(0, 0.3, a.n_dim)
    (code_a, la), (code_b, lb) = _logp(a, x), _logp(b, x)
    assert code_a == code_b == 0
    # each callback is its own graph's PyTensor log density, and the two differ
    assert la == pytest.approx(float(a.logp_func(x)[0]), rel=1e-12)
    assert lb == pytest.approx(float(b.logp_func(x)[0]), rel=1e-12)
    assert abs(la - lb) > 1e-3
    assert _logp(a, x[:-1].copy())[0] == -1  # a wrong dimension is refused, not read


def test_a_second_process_loads_the_callbacks_from_the_cache():
    """The point of the module: compile in one process, load in the next (numba's cache hits)."""
    code = (
        "import pytensor, time\n"
        "from bayeslaw.inference import callbacks\n"
        "from bayeslaw.inference.sampler import REPRODUCIBLE_FLAGS, jittered\n"
        "from bayeslaw.model.build import build_supervised\n"
        "from bayeslaw.model.spec import SupervisedSpec\n"
        "from tests.conftest import synthetic_supervised\n"
        "m = build_supervised(SupervisedSpec(), synthetic_supervised(n=40, seed=2))\n"
        "with pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):\n"
        "    c, fallback = callbacks.compile_model(m, jittered(m))\n"
        "print(fallback, c.compiled_logp_func.cache_hits, c.compiled_expand_func.cache_hits)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[1].split() == ["None", "1", "1"], runs


def test_a_second_fit_of_the_same_shape_reuses_the_compiled_model_with_the_same_draws():
    """The in-process compile memo: a hit (another table of the same length) equals a fresh compile."""
    from bayeslaw.inference import engine as inference

    a, b = synthetic_supervised(n=40, seed=2), synthetic_supervised(n=40, seed=3)
    cfg = SamplerConfig(draws=200, tune=200, chains=2)
    inference._COMPILED.clear()
    inference.fit(b, sampler=cfg, seed=1)
    hit = inference.fit(a, sampler=cfg, seed=1)
    assert hit.card["timing"]["reused_compiled_model"] and hit.card["timing"]["compile_seconds"] == 0.0
    inference._COMPILED.clear()
    fresh = inference.fit(a, sampler=cfg, seed=1)
    assert not fresh.card["timing"]["reused_compiled_model"]
    for v in ("alpha", "beta", "log_E", "sigma"):
        np.testing.assert_array_equal(hit.draws([v])[v], fresh.draws([v])[v])
    assert hit.card["config_hash"] == fresh.card["config_hash"]
