"""Slow: real joint fits. The preset carries few runs and yields to many; recovery on a fresh table."""

import numpy as np
import pytest

from bayeslaw import api
from bayeslaw.core.intervals import pick
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.data.synthetic import SMALL_DESIGN, GeneratorSettings, simulate
from bayeslaw.inference import engine as inference
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.posterior.students import predict

pytestmark = pytest.mark.slow


def _shifted():
    """A 'user's' law: the paper's, with a different capacity-gap exponent c0 and slope."""
    sup, dis = paper_coefficients()
    return sup, dis | {"c0": 2.0, "alpha_p": 0.36}


def test_preset_leans_on_the_paper_with_few_runs_and_follows_many():
    sup, dis = _shifted()
    full, sup_runs = simulate(GeneratorSettings(seed=5, design=SMALL_DESIGN, supervised=sup, distillation=dis))
    few = full.sample(8, random_state=0)
    cfg = SamplerConfig(draws=500, tune=500, chains=4, target_accept=0.95)
    c0 = {}
    for label, table in (("few", few), ("many", full)):
        fit = inference.fit(table, law="distillation", supervised=sup_runs, preset="busbridge2025", sampler=cfg, seed=1)
        c0[label] = float(fit.idata["posterior"]["c0"].median())
    paper_c0 = paper_coefficients()[1]["c0"]
    assert abs(c0["few"] - paper_c0) < abs(c0["few"] - 2.0)   # the prior's value dominates
    assert abs(c0["many"] - 2.0) < abs(c0["many"] - paper_c0)  # the data's value dominates


def test_refit_recovers_a_fresh_paper_design_table():
    """A fresh SYNTHETIC table (not the shipped one) at the default settings (the API's, escalation included)
    passes every gate."""
    dis, sup = simulate(GeneratorSettings(seed=99))
    fit = api.fit(dis, law="distillation", supervised=sup, seed=3)
    assert fit.diagnostics_passed, fit.card["attempts"]
    ds = predict(fit, N_S=546e6, D_S=20 * 546e6, N_T=1.821e9, D_T=20 * 1.821e9)
    assert float(pick(ds, "loss_new", "lower")[0]) <= 2.42 <= float(pick(ds, "loss_new", "upper")[0])
    post = fit.idata["posterior"]
    truth = paper_coefficients()[1]
    lo, hi = np.quantile(post["c0"].values, [0.05, 0.95])
    assert lo <= truth["c0"] <= hi
