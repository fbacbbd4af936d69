"""The cheapest supervised recipe that reaches a loss once serving is paid for, per posterior draw.

Sardana et al.'s question ("Beyond Chinchilla-Optimal", ICML 2024): which N and D reach loss ``L`` at the
least lifetime cost, training plus serving ``T`` tokens? On the law ``L = E + (A N^-alpha + B D^-beta)^gamma``
the loss pins D for each N,

    D(N) = (B / (r - A N^-alpha))^(1/beta),    r = (L - E)^(1/gamma),

defined above ``N_min = (A / r)^(1/alpha)``, so the problem is one search over log N (coarse grid, then
golden-section steps, as the planner's searches). Serving only adds ``F(N) T``, which grows with N, so a
larger demand moves the optimum to a smaller model trained on more tokens.

The budget twin (the lowest loss at a lifetime budget) is :func:`bayeslaw.planning.optima.supervised_optimum`
with ``serving_tokens``.
"""

from __future__ import annotations

import numpy as np

from bayeslaw.core.bounds import LOG_BOX_MAX as LOG_MAX
from bayeslaw.core.bounds import LOG_BOX_MIN as LOG_MIN
from bayeslaw.core.compute import LOG3, log_forward_flops
from bayeslaw.core.params import Laws
from bayeslaw.core.serving import TRAINING_ONLY, Lifetime
from bayeslaw.planning.search import _linspace, _search_1d

#: Coarse points and golden-section steps of the search over log N: 40 steps take the bracket to 1e-8 of a
#: grid cell, far below the 4 significant figures the published cross-checks are quoted to, for a few ms.
COARSE_POINTS = 96
ITERS = 40
#: How far above N_min (in log N) the search looks: past e^30 N_min the tokens D(N) no longer fall.
SPAN = 30.0


def tokens_for_loss(law: Laws, target: float, log_N: np.ndarray) -> np.ndarray:
    """log D at which a model of size ``exp(log_N)`` reaches ``target`` on the law, per draw (axis 0).

    NaN where no token count reaches it (the model is too small, or ``target`` is at or below the draw's E).

    Parameters
    ----------
    law
        Coefficient draws (supervised ones are used).
    target
        The loss to reach (nats/token).
    log_N
        log model sizes with draws on axis 0 (any trailing axes).
    """
    nd = np.ndim(log_N) - 1
    c = {k: np.reshape(np.asarray(getattr(law, k), float), (-1,) + (1,) * nd)
         for k in ("E", "A", "B", "alpha", "beta", "gamma")}
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (target - c["E"]) ** (1.0 / c["gamma"])
        left = r - c["A"] * np.exp(-c["alpha"] * log_N)
        return np.where(left > 0, (np.log(c["B"]) - np.log(left)) / c["beta"], np.nan)


def target_recipe(law: Laws, target: float, lifetime: Lifetime = TRAINING_ONLY, *, iters: int = ITERS
                  ) -> dict[str, np.ndarray]:
    """Per draw, the N and D that reach ``target`` at the least lifetime cost.

    Parameters
    ----------
    law
        Coefficient draws.
    target
        The loss to reach (nats/token).
    lifetime
        The cost to minimise: training plus serving its demand, in FLOPs or money.
    iters
        Golden-section steps after the coarse grid.

    Returns
    -------
    dict
        Arrays of shape (draw,): ``N``, ``D``, ``cost`` (the lifetime cost in ``lifetime.unit``),
        ``training_flops``, ``serving_flops``; NaN in draws where no recipe within [1e6, 1e17] reaches the target.
    """
    c = {k: np.asarray(getattr(law, k), float) for k in ("E", "A", "alpha", "gamma")}
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (target - c["E"]) ** (1.0 / c["gamma"])
        log_N_min = (np.log(c["A"]) - np.log(r)) / c["alpha"]
    lo = np.clip(np.where(np.isfinite(log_N_min), log_N_min, LOG_MAX), LOG_MIN, LOG_MAX)
    hi = np.minimum(lo + SPAN, LOG_MAX)

    def log_cost(log_N):
        log_D = tokens_for_loss(law, target, log_N)
        log_F = log_forward_flops(log_N, lifetime.arch)
        val = lifetime.log_cost(LOG3 + log_F + log_D, log_F)
        return np.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), val, np.inf)

    # the grid's first point sits a hair above N_min, where D is infinite
    grid = _linspace(lo + 1e-9 * (hi - lo), hi, COARSE_POINTS)
    log_N, v = _search_1d(log_cost, grid, lo, hi, iters=iters)
    ok = np.isfinite(v)
    N = np.where(ok, np.exp(log_N), np.nan)
    D = np.where(ok, np.exp(tokens_for_loss(law, target, log_N)), np.nan)
    train = 3.0 * np.exp(log_forward_flops(np.log(N), lifetime.arch)) * D
    return {"N": N, "D": D, "cost": np.where(ok, np.exp(v), np.nan), "training_flops": train,
            "serving_flops": lifetime.serving_flops(N)}
