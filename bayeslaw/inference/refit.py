"""Refits of one compiled supervised model on parts of a run table, and its predictions at the runs left out.

What leave-future-out work shares: the backtests (:mod:`bayeslaw.validate.backtest`) and the extrapolation
calibration across studies (:mod:`bayeslaw.inference.calibration`) fit a split's runs with the model compiled
once for the table and predict the held-out runs from the draws.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from bayeslaw.core.seeds import Streams
from bayeslaw.inference.config import ESCALATION
from bayeslaw.inference.engine import data_record, sample_fit
from bayeslaw.posterior import extrapolation
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import noise_draws, noise_parameters, supervised_log_mean
from bayeslaw.posterior.reach import FittedScale


def fit_split(compiled, spec, sampler, tr: pd.DataFrame, label: str, seed: int):
    """Refit the compiled supervised model on a split's runs; a fit that fails its gates is retried along the
    law's escalation ladder, as a default fit is."""
    data = {"log_N": np.log(tr["N"].to_numpy()), "log_D": np.log(tr["D"].to_numpy()),
            "log_loss": np.log(tr["loss"].to_numpy())}
    return sample_fit(compiled.model, spec.to_dict(), "supervised", data_record(tr, f"backtest split {label}", None),
                      sampler, seed, None, False, data=data, compiled=compiled,
                      escalate=[replace(sampler, **rung) for rung in ESCALATION["supervised"][1:]])


def predictive(fit, te: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """Mean-law draws, new-run draws and the noise parameters at the held-out runs."""
    log_mu = supervised_log_mean(as_arrays(coefficients(fit)), te["N"].to_numpy(), te["D"].to_numpy())
    eps = noise_draws(fit, log_mu.shape, np.random.default_rng(Streams(seed).predictive))
    sigma, nu = noise_parameters(fit)
    return {"log_mu": log_mu, "eps": eps, "sigma": sigma, "nu": nu}


def decades_beyond(train: pd.DataFrame, N, D) -> np.ndarray:
    """How many decades a run lies beyond the training runs: in size or in 6ND, whichever is more."""
    scale = FittedScale(size=float(train["N"].max()), compute=float((6 * train["N"] * train["D"]).max()))
    return extrapolation.decades_beyond(scale, N, D)
