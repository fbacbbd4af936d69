"""Serving-aware supervised recipes: the cheapest model that reaches a loss once its serving is paid for.

Sardana et al.'s question, answered from a posterior: for a target loss and a lifetime demand of inference
tokens, which N and D reach the target at the least lifetime cost (training plus serving, in FLOPs or money)?
Two answers, because they differ:

- per draw, the law's cheapest recipe (:func:`bayeslaw.planning.lifetime.target_recipe`): how uncertain the
  recipe is (bands on N, D and the cost), and what it saves against the equal-loss recipe that ignores serving;
- the one recipe to commit to: the cheapest (N, D) whose *new run* (the law, the run's noise and, beyond the
  fitted runs, the law's extrapolation error) reaches the target with probability ``prob`` -- larger and
  longer than the median draw's recipe, since it must hold in ``prob`` of the draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core.bounds import LOG_BOX_MAX, LOG_BOX_MIN
from bayeslaw.core.compute import LOG3, log_forward_flops
from bayeslaw.core.errors import InputError
from bayeslaw.core.params import Laws
from bayeslaw.core.seeds import Streams
from bayeslaw.core.serving import TRAINING_ONLY, Lifetime
from bayeslaw.decision.caveats import check_above_floor
from bayeslaw.decision.pipeline import Extrapolation, calibration_for, subsample
from bayeslaw.planning.lifetime import target_recipe
from bayeslaw.planning.optima import _log_sup_nd
from bayeslaw.posterior import predict as posterior_predict
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.extrapolation import LOG_CEILING, LawError, resolve_drift
from bayeslaw.posterior.likelihood import noise_draws
from bayeslaw.posterior.reach import fitted_scale

#: Grid of the committed recipe's search: model sizes, then tokens per size (log-spaced), each refined once.
SIZE_POINTS, TOKEN_POINTS = 33, 97


def cheapest(fit: Fit, target: float, lifetime: Lifetime = TRAINING_ONLY, *, prob: float = 0.9, kind: str = "eti",
             seed: int = 0, max_draws: int = 1000, extrapolation: Extrapolation = True) -> xr.Dataset:
    """The N and D that reach ``target`` at the least lifetime cost, as a distribution and as a recipe to commit to.

    Parameters
    ----------
    fit
        A supervised posterior (a joint one's supervised law is used too).
    target
        The loss to reach (nats/token), above the law's irreducible loss.
    lifetime
        Training plus serving demand, in FLOPs (default) or money (with prices); its ``arch`` sets the FLOP
        convention (None: 6ND training and 2N per served token).
    prob, kind
        The probability the committed recipe must reach the target with; the bands' probability and kind.
    seed
        Seeds the draws' subsample, run noise and the law's error.
    max_draws
        Posterior draws used (a seeded subsample where there are more).
    extrapolation
        The law's extrapolation error beyond the fitted runs in the committed recipe's new run (True: the shipped
        calibration; a path; False: the law and the run noise only).

    Returns
    -------
    xarray.Dataset
        Per draw (dims ``(draw, point)``, one point) ``N``, ``D``, ``cost``, ``training_flops``, ``serving_flops``,
        ``saving`` (1 - cost / the cost of the equal-loss recipe that ignores serving, under the same demand) with
        their bands; ``attrs`` hold the unit, target, demand, prices and the committed recipe (``commit_N``,
        ``commit_D``, ``commit_cost``, ``commit_prob``; NaN where no recipe in the box reaches ``prob``).
    """
    fit.require("supervised", verb="predict --target")
    if not 0.5 <= prob < 1:
        raise InputError(f"--prob must be in [0.5, 1), got {prob}")
    check_above_floor(fit, target, "target loss (--target)")
    law, idx = subsample(fit, max_draws, seed)
    per_draw = target_recipe(law, target, lifetime)
    reached = np.isfinite(per_draw["N"])
    if not reached.any():
        raise InputError(f"no recipe within the planning box (1e6-1e17 parameters and tokens) reaches {target:g} "
                         "nats/token in any posterior draw; give a higher --target")
    plain = target_recipe(law, target, Lifetime(arch=lifetime.arch))  # the recipe that ignores serving
    plain_cost = lifetime.cost(plain["N"], plain["training_flops"])
    draws = {**per_draw, "saving": 1.0 - per_draw["cost"] / plain_cost}
    # bands over the draws that reach it; the share that do not is said beside them
    kept = {k: v[reached][:, None] for k, v in draws.items()}
    ds = posterior_predict.summarise_draws(kept, {"target": np.array([target])}, prob=prob, kind=kind)
    cal = calibration_for(fit, extrapolation)
    commit = commit_recipe(fit, law, idx, target, lifetime, prob=prob, seed=seed, calibration=cal)
    ds.attrs.update(unit=lifetime.unit, target=target, inference_tokens=lifetime.demand.tokens,
                    input_tokens=lifetime.demand.input_tokens, output_tokens=lifetime.demand.output_tokens,
                    flops="6nd" if lifetime.arch is None else "3fnd", prices=str(lifetime.prices.as_dict()
                                                                                  if lifetime.prices else None),
                    p_recipe_exists=float(reached.mean()), n_draws=int(law.n_draws),
                    extrapolation="included" if cal is not None else "not included", **commit)
    return ds


def commit_recipe(fit: Fit, law: Laws, idx: np.ndarray, target: float, lifetime: Lifetime, *, prob: float,
                  seed: int, calibration: Fit | None) -> dict[str, float]:
    """The cheapest (N, D) whose new run reaches ``target`` in at least ``prob`` of the draws.

    Each draw meets one run noise and one new study's extrapolation error (common to every candidate
    recipe, so the probability is smooth in N and D); the search is a log grid over N, then over D for each
    N (the smallest D reaching ``prob``, interpolated in log D), refined once around the best N.

    Parameters
    ----------
    fit, law, idx
        The posterior, its subsampled coefficient draws and their indices.
    target, lifetime, prob
        As in :func:`cheapest`.
    seed
        Seeds the noise and the law's error.
    calibration
        The extrapolation calibration, or None.

    Returns
    -------
    dict
        ``commit_N``, ``commit_D``, ``commit_cost``, ``commit_prob`` (P(the new run reaches the target)),
        ``commit_tokens_per_param`` (NaN where none reaches ``prob``) and ``commit_best_prob``, the highest
        P(reach) of any recipe in the box.
    """
    rng = np.random.default_rng(Streams(seed).predictive)
    n = law.n_draws
    noise = noise_draws(fit, (n, 1), rng, draws=idx)[:, :, None]
    err = (None if calibration is None else
           LawError.draw(calibration, fitted_scale(fit), n, rng, drift=resolve_drift(calibration)))

    def p_reach(log_N: np.ndarray, log_D: np.ndarray) -> np.ndarray:
        """P(new run <= target) on a (size, tokens) grid."""
        log_L = _log_sup_nd(np, law, log_N[None], log_D[None]) + noise
        if err is not None:
            log_L = log_L + err.log_error(np.exp(log_N)[None], np.exp(log_D)[None], err.z_student)
        return np.mean(np.minimum(log_L, LOG_CEILING) <= math.log(target), axis=0)

    def best(lo: float, hi: float) -> tuple[float, float, float, float] | None:
        log_N = np.linspace(lo, hi, SIZE_POINTS)
        log_D = np.linspace(LOG_BOX_MIN, LOG_BOX_MAX, TOKEN_POINTS)
        p = p_reach(log_N[:, None], log_D[None, :])
        top[0] = max(top[0], float(p.max()))
        out = None
        for i, row in enumerate(p):
            j = int(np.argmax(row >= prob)) if (row >= prob).any() else -1
            if j < 0:
                continue
            if j > 0:  # bisect the crossing between the grid's tokens
                a, b = log_D[j - 1], log_D[j]
                for _ in range(30):
                    mid = 0.5 * (a + b)
                    a, b = (a, mid) if p_reach(log_N[i:i + 1, None], np.array([[mid]]))[0, 0] >= prob else (mid, b)
                ld = b
            else:
                ld = log_D[0]
            log_F = log_forward_flops(log_N[i], lifetime.arch)
            c = float(np.exp(lifetime.log_cost(LOG3 + log_F + ld, log_F)))
            if out is None or c < out[2]:
                out = (float(log_N[i]), float(ld), c, float(p_reach(log_N[i:i + 1, None], np.array([[ld]]))[0, 0]))
        return out

    top = [0.0]  # the highest P(reach) seen on the grids, said where none reaches prob
    found = best(LOG_BOX_MIN, LOG_BOX_MAX)
    if found is not None:
        step = (LOG_BOX_MAX - LOG_BOX_MIN) / (SIZE_POINTS - 1)
        finer = best(max(found[0] - step, LOG_BOX_MIN), min(found[0] + step, LOG_BOX_MAX))
        found = finer if finer is not None and finer[2] <= found[2] else found
    if found is None:
        return {"commit_N": math.nan, "commit_D": math.nan, "commit_cost": math.nan, "commit_prob": math.nan,
                "commit_tokens_per_param": math.nan, "commit_best_prob": top[0]}
    N, D = math.exp(found[0]), math.exp(found[1])
    return {"commit_N": N, "commit_D": D, "commit_cost": found[2], "commit_prob": found[3],
            "commit_tokens_per_param": D / N, "commit_best_prob": top[0]}


def records(ds: xr.Dataset) -> dict[str, Any]:
    """:func:`cheapest`'s result as JSON-ready numbers: the per-draw recipe's medians and bands, the committed one.

    Parameters
    ----------
    ds
        :func:`cheapest`'s result.
    """
    out: dict[str, Any] = {k: ds.attrs[k] for k in ("target", "unit", "inference_tokens", "input_tokens",
                                                    "output_tokens", "flops", "p_recipe_exists", "n_draws",
                                                    "extrapolation")}
    for name in ("N", "D", "cost", "training_flops", "serving_flops", "saving"):
        band = ds[posterior_predict.band_name(name)].isel(point=0)
        out[name] = {str(b): float(band.sel(ci_bound=b)) for b in band["ci_bound"].values}
    out["commit"] = {k.removeprefix("commit_"): (None if not np.isfinite(ds.attrs[k]) else float(ds.attrs[k]))
                     for k in ("commit_N", "commit_D", "commit_cost", "commit_prob", "commit_tokens_per_param",
                               "commit_best_prob")}
    out["interval"] = {"prob": ds.attrs["interval_prob"], "kind": ds.attrs["interval_kind"]}
    return out
