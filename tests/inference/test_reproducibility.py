"""The same seed gives the same posterior, whatever PyTensor's compile cache holds."""

import os
import subprocess
import sys

import numpy as np
import pytest

# two fresh processes each compiling the joint model: the slow tier (CI runs it)
pytestmark = pytest.mark.slow

_FIT = """
import sys, numpy as np
from bayeslaw.data.synthetic import SMALL_DESIGN, GeneratorSettings, simulate
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference import engine as inference

dis, sup = simulate(GeneratorSettings(seed=5, design=SMALL_DESIGN))
fit = inference.fit(dis, law="distillation", supervised=sup, seed=2,
                    sampler=SamplerConfig(draws=30, tune=30, chains=1, target_accept=0.99))
np.save(sys.argv[1], np.stack([fit.idata["posterior"][v].values for v in ("log_d1", "c0", "P")]))
"""


def test_same_seed_same_draws_with_an_empty_and_a_full_compile_cache(tmp_path):
    # The joint model's log density compiled fresh and loaded from the cache differed in the last
    # bits under numba's fastmath, and NUTS turned that into different draws (bayeslaw.inference).
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp_path / 'cache'}")
    draws = []
    for run in ("empty_cache", "full_cache"):
        out = tmp_path / f"{run}.npy"
        subprocess.run([sys.executable, "-c", _FIT, str(out)], env=env, check=True, capture_output=True)
        draws.append(np.load(out))
    assert np.array_equal(draws[0], draws[1])
