"""Summaries of a planning grid over draws: P(distillation wins), bands, crossover compute."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from bayeslaw.core.intervals import band, band_name


def summarise(ds: xr.Dataset, prob: float = 0.9) -> xr.Dataset:
    """Probabilities, medians and equal-tailed bands over draws, and the crossover compute.

    Parameters
    ----------
    ds
        A planning grid (:func:`bayeslaw.planning.grid.plan_grid`), dims
        ``(draw, student_size, budget, scenario)``.
    prob
        The probability of the equal-tailed bands.

    Returns
    -------
    xarray.Dataset
        ``p_distill_wins`` (share of draws with ``diff < 0``; NaN draws excluded) and the bands of ``diff``,
        ``L_S``, ``L_sup``, ``D_S``, ``N_T``, ``D_T``, ``L_T`` (``diff_band`` etc., dims ``(ci_bound, student_size,
        budget, scenario)``); the per-draw crossover's band ``crossover_band`` (dims ``(ci_bound, student_size,
        scenario)``) and ``crossover_at_p50`` with dims ``(student_size, scenario)``
        (the per-draw bands leave out the draws that never cross); ``n_always_distil`` and
        ``n_never_distil``, the draws in which distillation wins at every budget and at none, with dims
        ``(student_size, scenario)``; ``attrs['n_draws']``.
    """
    out = xr.Dataset()
    out["p_distill_wins"] = (ds["diff"] < 0).where(ds["diff"].notnull()).mean("draw")
    for v in ("diff", "L_S", "L_sup", "D_S", "N_T", "D_T", "L_T"):
        out[band_name(v)] = band(ds[v], prob)
    cross = crossover(ds)
    with warnings.catch_warnings():  # all-NaN where no draw crosses inside the grid
        warnings.simplefilter("ignore", RuntimeWarning)
        out[band_name("crossover")] = band(cross, prob)
    out["crossover_at_p50"] = crossover_of_probability(out["p_distill_wins"])
    wins = (ds["diff"] < 0).where(ds["diff"].notnull(), False)
    out["n_always_distil"] = wins.all("budget").sum("draw")
    out["n_never_distil"] = (~wins).all("budget").sum("draw")
    out.attrs["n_draws"] = int(ds.sizes["draw"])
    out.attrs.update(ds.attrs, interval_kind="eti", interval_prob=prob)
    return out


def crossover(ds: xr.Dataset) -> xr.DataArray:
    """Per draw: the budget above which supervised training is at least as good (log-interpolated).

    NaN where distillation still wins at the largest budget; the smallest budget where
    supervised already wins everywhere gives that budget.

    Parameters
    ----------
    ds
        A planning grid with ``diff`` over ``(draw, student_size, budget, scenario)``.

    Returns
    -------
    xarray.DataArray
        FLOPs with dims ``(draw, student_size, scenario)``.
    """
    d = ds["diff"].transpose("draw", "student_size", "scenario", "budget").values
    logC = np.log(ds["budget"].values)
    wins = d < 0
    # last budget index where distillation wins; crossover lies between it and the next one
    last = np.where(wins.any(-1), wins.shape[-1] - 1 - np.argmax(wins[..., ::-1], axis=-1), -1)
    out = np.full(last.shape, np.nan)
    inside = (last >= 0) & (last < wins.shape[-1] - 1)
    i = np.where(inside, last, 0)
    d0 = np.take_along_axis(d, i[..., None], -1)[..., 0]
    d1 = np.take_along_axis(d, np.minimum(i + 1, wins.shape[-1] - 1)[..., None], -1)[..., 0]
    frac = np.clip(d0 / np.where(d0 - d1 != 0, d0 - d1, np.nan), 0, 1)
    out[inside] = np.exp(logC[i] + frac * (logC[np.minimum(i + 1, logC.size - 1)] - logC[i]))[inside]
    out[last < 0] = ds["budget"].values[0]
    return xr.DataArray(out, dims=("draw", "student_size", "scenario"),
                        coords={"student_size": ds["student_size"], "scenario": ds["scenario"]})


def crossover_of_probability(p: xr.DataArray) -> xr.DataArray:
    """The budget where P(distillation wins) falls through 0.5 (log-interpolated; NaN if it never does).

    Parameters
    ----------
    p
        P(distillation wins) with dims ``(student_size, budget, scenario)``.

    Returns
    -------
    xarray.DataArray
        FLOPs with dims ``(student_size, scenario)``; the smallest budget where P < 0.5 already there.
    """
    arr = p.transpose("student_size", "scenario", "budget").values
    logC = np.log(p["budget"].values)
    out = np.full(arr.shape[:2], np.nan)
    for idx in np.ndindex(arr.shape[:2]):
        row = arr[idx]
        above = np.flatnonzero(row >= 0.5)
        if above.size == 0:
            out[idx] = p["budget"].values[0]
            continue
        j = above[-1]
        if j == row.size - 1:
            continue
        f = (row[j] - 0.5) / (row[j] - row[j + 1])
        out[idx] = np.exp(logC[j] + f * (logC[j + 1] - logC[j]))
    return xr.DataArray(out, dims=("student_size", "scenario"),
                        coords={"student_size": p["student_size"], "scenario": p["scenario"]})


def windows(p: xr.DataArray, level: float = 0.5) -> list[dict]:
    """The budget intervals in which P(distillation wins) >= ``level``, per student size and scenario.

    A window's ends are log-interpolated where P crosses ``level`` between planned budgets; an end
    at the first or last planned budget is open (``from_open``/``to_open``: P may stay above the
    level beyond it). So a window where distillation wins only inside a budget range shows as one,
    instead of hiding behind a single crossing.

    Parameters
    ----------
    p
        P(distillation wins) with dims ``(student_size, budget, scenario)`` (NaN: outside the bounds).
    level
        The probability a window must reach.

    Returns
    -------
    list of dict
        One entry per (student size, scenario): ``student_size``, ``scenario`` and ``windows``, a list of
        ``{"from": FLOPs, "to": FLOPs, "from_open": bool, "to_open": bool}`` (empty: never).
    """
    C = p["budget"].values
    logC = np.log(C)
    out = []
    for n in p["student_size"].values:
        for sc in p["scenario"].values:
            row = p.sel(student_size=n, scenario=sc).values
            up = np.where(np.isfinite(row), row >= level, False)
            spans, k = [], 0
            while k < up.size:
                if not up[k]:
                    k += 1
                    continue
                j = k
                while j + 1 < up.size and up[j + 1]:
                    j += 1
                spans.append({"from": _cross(row, logC, k - 1, k, level) if k > 0 else float(C[0]),
                              "to": _cross(row, logC, j, j + 1, level) if j < up.size - 1 else float(C[-1]),
                              "from_open": k == 0, "to_open": j == up.size - 1})
                k = j + 1
            out.append({"student_size": float(n), "scenario": str(sc), "windows": spans})
    return out


def _cross(row: np.ndarray, logC: np.ndarray, i: int, j: int, level: float) -> float:
    """Where P crosses ``level`` between budgets ``i`` and ``j`` (log-interpolated; the budget at ``j``
    or ``i`` when the other side is not finite)."""
    a, b = row[i], row[j]
    if not (np.isfinite(a) and np.isfinite(b)) or a == b:
        return float(np.exp(logC[j] if np.isfinite(b) and b >= level else logC[i]))
    f = (a - level) / (a - b)
    return float(np.exp(logC[i] + f * (logC[j] - logC[i])))
