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
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import CI_BOUND, band_name, pick
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.extrapolation import (
    add_to_log_new,
    decades_beyond,
    is_signed,
    new_run,
    ratio_decades,
    resolve_drift,
)
from bayeslaw.posterior.likelihood import noise_draws, supervised_log_mean
from bayeslaw.posterior.reach import fitted_scale


def points(*values: Any) -> list[np.ndarray]:
    """Inputs broadcast against each other as float arrays of at least one dimension."""
    try:
        arrays = [np.atleast_1d(np.asarray(v, float)) for v in values]
    except (TypeError, ValueError, OverflowError) as err:
        raise InputError(f"sizes and tokens must be numbers (raw counts): {err}") from err
    if any(a.ndim > 1 for a in arrays):
        raise InputError(f"sizes and tokens are 1-D lists of points, got shapes {[a.shape for a in arrays]}: "
                         "flatten them (e.g. numpy.ravel) and reshape the result")
    try:
        return list(np.broadcast_arrays(*arrays))
    except ValueError as err:
        raise InputError(f"sizes and tokens must have the same length (or length 1): got lengths "
                         f"{[a.size for a in arrays]}") from err


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
        Each input as ``name`` with dims ``(draw, point)`` and its band ``name_band`` with dims
        ``(ci_bound, point)`` (``lower``, ``median``, ``upper``: the interval's bounds and the draws' median);
        ``attrs`` pin ``interval_kind`` and ``interval_prob``.
    """
    ds = xr.Dataset(coords={k: ("point", np.asarray(v)) for k, v in point_coords.items()})
    ds = ds.assign_coords(ci_bound=list(CI_BOUND))
    for name, x in draws.items():
        ds[name] = (("draw", "point"), x)
        lo, hi = interval(x, prob, kind)
        ds[band_name(name)] = (("ci_bound", "point"), np.stack([lo, np.median(x, axis=0), hi]))
    ds.attrs.update(interval_kind=kind, interval_prob=prob)
    return ds


def predict_supervised(
    fit: Fit, N: Any, D: Any, *, prob: float = 0.9, kind: str = "eti", seed: int = 0,
    calibration: Fit | None = None,
) -> xr.Dataset:
    """Loss at new ``(N, D)``: draws and bands for the mean law and for a new run.

    Parameters
    ----------
    fit, N, D, prob, kind, seed
        As in the ``predict`` verb (:func:`bayeslaw.decision.predict.predict`), which checks them.
    calibration
        The extrapolation calibration (:func:`bayeslaw.posterior.extrapolation.load_calibration`): a new run
        beyond the fitted runs then also carries the law's extrapolation error. None: the law and noise only.

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` and their summaries with dims
        ``(point,)`` (see :func:`summarise_draws`); coordinates ``N``, ``D`` on ``point``. With a
        calibration also ``decades_beyond`` and ``extrapolation_share`` (the share of the new-run band's
        width that is the law's extrapolation error) with dims ``(point,)``.
    """
    N, D = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(D, float)))
    bounds.check_points(N, D)
    log_mu = supervised_log_mean(as_arrays(coefficients(fit)), N, D)
    rng = np.random.default_rng(seed)
    # no new run does worse than a uniform guess, however heavy the fit's noise tails (as the calibrated path)
    log_new = new_run(log_mu, noise_draws(fit, log_mu.shape, rng))
    if calibration is None:
        ds = summarise_draws({"loss_mean": np.exp(log_mu), "loss_new": np.exp(log_new)},
                             {"N": N, "D": D}, prob=prob, kind=kind)
        ds.attrs["extrapolation"] = ("not included: new-run bands hold the law's uncertainty and the run noise "
                                     "only (no extrapolation calibration: `bayeslaw calibrate` builds it)")
        return ds
    scale = fitted_scale(fit)
    d = decades_beyond(scale, N, D)
    # a supervised run's error on log loss as the leave-one-study-out evaluation validated it; past the fitted
    # tokens per parameter also the drift learned across studies (docs/serving.md)
    wide = add_to_log_new(log_new, 0.0, d, calibration, rng, ratio=ratio_decades(scale, N, D),
                          drift=resolve_drift(calibration))
    ds = summarise_draws({"loss_mean": np.exp(log_mu), "loss_new": np.exp(wide)}, {"N": N, "D": D}, prob=prob,
                         kind=kind)
    ds = with_extrapolation_share(ds, np.exp(log_new), d, prob, kind, lean=is_signed(calibration))
    ds["ratio_decades"] = ("point", ratio_decades(scale, N, D))
    if resolve_drift(calibration) is not None:
        ds.attrs["extrapolation"] += ("; past the fitted runs' most tokens per parameter also a drift learned across "
                                      "eight studies (models/ratio_drift.nc): such runs come out worse than the law")
    return ds


def band_share(with_error: tuple[np.ndarray, np.ndarray], without: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per point, the part of a band's width that an added error makes: 1 - width without / width with.

    ``with_error`` and ``without`` are the ``(lower, upper)`` bounds of the same quantity's band with and without
    the error, each ``(point,)``; 0 where the band has no width.
    """
    width = with_error[1] - with_error[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(width > 0, np.clip(1 - (without[1] - without[0]) / width, 0, 1), 0.0)


def bounds_of(ds: xr.Dataset, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``(lower, upper)`` band of ``name`` that :func:`summarise_draws` attached."""
    return pick(ds, name, "lower").values, pick(ds, name, "upper").values


def with_extrapolation_share(ds: xr.Dataset, without: np.ndarray, d: np.ndarray, prob: float,
                             kind: str, lean: bool = False) -> xr.Dataset:
    """Say how much of each new-run band is the law's extrapolation error.

    Parameters
    ----------
    ds
        A prediction whose ``loss_new`` draws include the extrapolation error (:func:`summarise_draws`).
    without
        The same new-run draws without it, dims ``(draw, point)``.
    d
        Decades beyond the fitted runs per point.
    prob, kind
        The band's probability and kind.
    lean
        Whether the error moved the new runs' median too (a calibration's lean), for the sentence.

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``decades_beyond`` and ``extrapolation_share`` (1 - the band's width without the term
        over its width with it) with dims ``(point,)``, and ``attrs['extrapolation']``.
    """
    ds["decades_beyond"] = ("point", d)
    ds["extrapolation_share"] = ("point", band_share(bounds_of(ds, "loss_new"), interval(without, prob, kind)))
    ds.attrs["extrapolation"] = ("new-run bands beyond the fitted runs include the law's extrapolation error "
                                 "learned from public studies (models/extrapolation_calibration.nc)"
                                 + (", its lean as well as its spread: beyond their fits, the studies' runs came out "
                                    "below the law, so a new run's median lies below the law's there" if lean else ""))
    ds.attrs["extrapolation_lean"] = int(lean)  # an int: netCDF attributes hold no booleans
    return ds


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
    bounds.check_optimum_budgets(C, "6nd")
    p = {k: v[:, None] for k, v in as_arrays(coefficients(fit, "paper")).items()
         if k in params.SUPERVISED_PAPER}
    N, D, L = laws.supervised_optimum_6nd(C[None, :], **p)
    ds = summarise_draws({"N_opt": N, "D_opt": D, "L_opt": L}, {"C": C}, prob=prob, kind=kind)
    return ds.rename({"point": "budget"})
