"""Credible bands, written once: the quantile levels of a central interval and bands as a ``ci_bound`` dimension.

A band is ``lower``, ``median`` and ``upper`` along a ``ci_bound`` dimension (as arviz-stats' ``eti``/``hdi``
put ``lower``/``upper``), with the interval's kind and probability in its attrs. Pure functions: the xarray
helper only calls the object's own methods, so this module imports nothing but numpy.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

#: The coordinates of a band's ``ci_bound`` dimension, in order.
CI_BOUND = ("lower", "median", "upper")


def levels(prob: float) -> tuple[float, float, float]:
    """Quantile levels of a central (equal-tailed) band of probability ``prob``, with the median between."""
    return (1 - prob) / 2, 0.5, (1 + prob) / 2


def tails(prob: float) -> tuple[float, float]:
    """The two tail levels of :func:`levels` (no median)."""
    lo, _, hi = levels(prob)
    return lo, hi


def quantile_band(values: np.ndarray, prob: float, axis: int = 0, *, skipna: bool = False) -> np.ndarray:
    """``(lower, median, upper)`` of an equal-tailed band over ``axis`` (stacked on a new first axis).

    ``skipna`` uses :func:`numpy.nanquantile` (NaN draws left out) instead of :func:`numpy.quantile`.
    """
    return (np.nanquantile if skipna else np.quantile)(values, levels(prob), axis=axis)


def as_dict(values: Any) -> dict[str, float]:
    """A ``(lower, median, upper)`` triple as ``{"lower": ..., "median": ..., "upper": ...}`` of floats."""
    return dict(zip(CI_BOUND, (float(v) for v in values), strict=True))


def band(x: Any, prob: float, dim: str = "draw") -> Any:
    """An xarray object's equal-tailed band over ``dim`` as a ``ci_bound`` dimension (NaN draws left out).

    Parameters
    ----------
    x
        An ``xarray.DataArray`` or ``Dataset`` with ``dim``.
    prob
        The band's probability.
    dim
        The sample dimension.

    Returns
    -------
    The same kind of object, ``dim`` replaced by ``ci_bound`` (``lower``, ``median``, ``upper``);
    ``attrs`` hold ``interval_kind`` ("eti") and ``interval_prob``.
    """
    with warnings.catch_warnings():  # a cell with no recipe in any draw (all NaN) has a NaN band, said elsewhere
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        out = x.quantile(list(levels(prob)), dim=dim).rename(quantile="ci_bound")
    out = out.assign_coords(ci_bound=list(CI_BOUND))
    out.attrs.update(interval_kind="eti", interval_prob=prob)
    return out


#: A band variable's name: the quantity's name and this suffix (``loss_new_band``); a table of metrics over
#: options names its band ``band``.
SUFFIX = "_band"


def band_name(name: str) -> str:
    """The name of ``name``'s band variable."""
    return f"{name}{SUFFIX}"


def pick(ds: Any, name: str, which: str = "median") -> Any:
    """One bound (``lower``, ``median`` or ``upper``) of ``name``'s band in an xarray Dataset."""
    return ds[band_name(name)].sel(ci_bound=which, drop=True)


def flatten(ds: Any) -> Any:
    """A Dataset's bands as one variable per bound, for renderers and JSON records.

    ``X_band`` (dims ``ci_bound`` and others) becomes ``X_median``, ``X_lower`` and ``X_upper`` in its place, and a
    variable named ``band`` becomes ``median``, ``lower`` and ``upper``; everything else is kept in order, with
    the coordinates and attrs.
    """
    out = ds.drop_vars(list(ds.data_vars))
    for name in ds.data_vars:
        v = ds[name]
        if "ci_bound" not in v.dims:
            out[name] = v
            continue
        base = str(name)[: -len(SUFFIX)] if str(name).endswith(SUFFIX) else ""
        for which in ("median", "lower", "upper"):
            out[f"{base}_{which}" if base else which] = v.sel(ci_bound=which, drop=True)
    out.attrs = dict(ds.attrs)
    return out.drop_vars("ci_bound", errors="ignore")


#: What "about its stated rate" means for one backtest split's held-out runs (issue 25's targets): a 50% band
#: should hold 35-65% of them, a 90% band 80-95%.
ABOUT_STATED = {0.5: (0.35, 0.65), 0.9: (0.80, 0.95)}


def coverage_if_right(draws: np.ndarray, prob: float) -> np.ndarray:
    """The share of runs inside their central ``prob`` bands, once per draw of ``draws`` (draw, run) taken as the
    runs' outcome: the coverage a split would see if its predictive were exactly right.

    A draw keeps whatever its runs share (the law's coefficients, a teacher's latent loss, a study's error), so the
    spread is that of a split's coverage when its runs err together, wider than a binomial's. The bands are the
    draws' own quantiles (the same draws: with a thousand of them the optimism is a tenth of a percent).
    """
    lo, hi = np.quantile(draws, tails(prob), axis=0)
    return np.mean((draws >= lo) & (draws <= hi), axis=1)
