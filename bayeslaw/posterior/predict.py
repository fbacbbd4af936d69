"""Predictions of the supervised law from posterior draws: mean-law and new-run bands, optima.

Everything is numpy over the draws (no PyMC): the law is evaluated per draw, and new runs add
observation noise drawn from the fitted likelihood on log loss. Results are xarray objects
with a ``draw`` dimension (chains flattened) and the interval pinned in their attrs.
"""

from __future__ import annotations

from typing import Any

import arviz_stats  # noqa: F401  (registers the .azstats accessor)
import numpy as np
import xarray as xr

from bayeslaw.core import bounds, laws, params
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import noise_draws, supervised_log_mean


def interval(samples: np.ndarray, prob: float, kind: str = "eti") -> tuple[np.ndarray, np.ndarray]:
    """Credible interval over axis 0 (draws): equal-tailed or highest-density."""
    bounds.check_interval(prob, kind)
    da = xr.DataArray(samples, dims=("draw",) + tuple(f"d{i}" for i in range(samples.ndim - 1)))
    res = getattr(da.azstats, kind)(prob=prob, dim="draw")
    return res.sel(ci_bound="lower").values, res.sel(ci_bound="upper").values


def summarise_draws(draws: dict[str, np.ndarray], point_coords: dict[str, np.ndarray], *,
                    prob: float, kind: str) -> xr.Dataset:
    """Attach median and interval bounds to ``(draw, point)`` draws.

    Parameters
    ----------
    draws
        Arrays of shape ``(draw, point)`` by name.
    point_coords
        Coordinates on ``point`` (e.g. ``N``, ``D``).
    prob, kind
        The interval's probability and kind (``"eti"`` or ``"hdi"``).

    Returns
    -------
    xarray.Dataset
        Each input as ``name`` with dims ``(draw, point)`` and ``name_median``, ``name_lower``,
        ``name_upper`` with dims ``(point,)``; ``attrs`` pin ``interval_kind`` and ``interval_prob``.
    """
    ds = xr.Dataset(coords={k: ("point", np.asarray(v)) for k, v in point_coords.items()})
    for name, x in draws.items():
        ds[name] = (("draw", "point"), x)
        lo, hi = interval(x, prob, kind)
        ds[f"{name}_median"] = ("point", np.median(x, axis=0))
        ds[f"{name}_lower"] = ("point", lo)
        ds[f"{name}_upper"] = ("point", hi)
    ds.attrs.update(interval_kind=kind, interval_prob=prob)
    return ds


def predict_supervised(
    fit: Fit, N: Any, D: Any, *, prob: float = 0.9, kind: str = "eti", seed: int = 0
) -> xr.Dataset:
    """Loss at new ``(N, D)``: draws and bands for the mean law and for a new run.

    Parameters
    ----------
    fit
        A supervised posterior.
    N, D
        Model sizes and training tokens (raw counts), broadcast against each other.
    prob, kind
        The interval's probability and kind (``"eti"`` or ``"hdi"``).
    seed
        Seeds the new-run noise.

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` and their summaries with dims
        ``(point,)`` (see :func:`summarise_draws`); coordinates ``N``, ``D`` on ``point``.
    """
    N, D = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(D, float)))
    bounds.check_points(N, D)
    log_mu = supervised_log_mean(as_arrays(coefficients(fit)), N, D)
    rng = np.random.default_rng(seed)
    log_new = log_mu + noise_draws(fit, log_mu.shape, rng)
    return summarise_draws({"loss_mean": np.exp(log_mu), "loss_new": np.exp(log_new)},
                           {"N": N, "D": D}, prob=prob, kind=kind)


def optimum_6nd(fit: Fit, C: Any, *, prob: float = 0.9, kind: str = "eti") -> xr.Dataset:
    """Compute-optimal ``N*, D*, L*`` at budgets ``C`` with FLOPs = 6ND, as distributions.

    (The planner's supervised optimum, :func:`bayeslaw.planning.optima.supervised_optimum`, counts
    FLOPs as the paper does, 3 F(N) D.)

    Parameters
    ----------
    fit
        A supervised (or joint) posterior.
    C
        Budgets in FLOPs.
    prob, kind
        The interval's probability and kind.

    Returns
    -------
    xarray.Dataset
        ``N_opt``, ``D_opt``, ``L_opt`` with dims ``(draw, budget)`` and their summaries with dims
        ``(budget,)``; coordinate ``C`` (FLOPs) on ``budget``.
    """
    C = np.atleast_1d(np.asarray(C, float))
    bounds.check_optimum_budgets(C)
    p = {k: v[:, None] for k, v in as_arrays(coefficients(fit, "paper")).items()
         if k in params.SUPERVISED_PAPER}
    N, D, L = laws.supervised_optimum_6nd(C[None, :], **p)
    ds = summarise_draws({"N_opt": N, "D_opt": D, "L_opt": L}, {"C": C}, prob=prob, kind=kind)
    return ds.rename({"point": "budget"})
