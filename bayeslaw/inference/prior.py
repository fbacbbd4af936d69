"""``prior_predictive``: what the supervised priors imply for the loss, before any run is seen."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayeslaw.core import bounds, params
from bayeslaw.core.seeds import Streams
from bayeslaw.inference.fit import read_priors
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.posterior.likelihood import supervised_log_mean
from bayeslaw.posterior.predict import points, summarise_draws


def prior_predictive(
    N: Any, D: Any, *, gamma_free: bool = False, likelihood: str = "student_t",
    priors: str | Path | Mapping[str, Any] | None = None, draws: int = 4000,
    prob: float = 0.9, seed: int = 0,
) -> xr.Dataset:
    """What the supervised priors imply for the loss at ``(N, D)`` (mean law and new run).

    Parameters
    ----------
    N, D
        Model sizes and tokens (raw counts).
    gamma_free, likelihood, priors
        The law's form, likelihood and prior overrides, as in :func:`fit`.
    draws
        Prior draws.
    prob
        The interval's probability.
    seed
        Seeds the prior draws.

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` and summaries with dims ``(point,)``.
    """
    N, D = points(N, D)
    bounds.check_points(N, D)
    bounds.check_interval(prob)
    spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=read_priors(priors) or {})
    import pymc as pm  # after the checks: PyMC

    from bayeslaw.model.build import build_supervised  # after the checks: PyMC
    table = pd.DataFrame({"N": N, "D": D, "loss": np.ones_like(N)})
    with build_supervised(spec, table):
        pri = pm.sample_prior_predictive(draws=draws, random_seed=Streams(seed).predictive)
    prior = pri["prior"].to_dataset()
    coefs = {k: prior[k].values.reshape(-1) for k in params.SUPERVISED_SAMPLED if k != "gamma"}
    coefs["gamma"] = prior["gamma"].values.reshape(-1) if gamma_free else np.ones(draws)
    new = np.exp(pri["prior_predictive"]["obs"].values.reshape(draws, -1))
    mean = np.exp(supervised_log_mean(coefs, N, D))
    return summarise_draws({"loss_mean": mean, "loss_new": new}, {"N": N, "D": D},
                           prob=prob, kind="eti")
