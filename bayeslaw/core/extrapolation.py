"""The law's own error beyond its fitted runs: one functional form, written once over an array namespace.

A run ``d > 0`` decades beyond the runs a law was fitted on (in size or in 6ND, whichever is more;
0 inside them) meets an error of sd ``sqrt(edge**2 + (growth d)**2)`` on its log loss: a step at the
edge of the fitted runs and growth per decade. The hierarchical calibration across studies
(:mod:`bayeslaw.model.build`), the backtests' in-sample calibration (:mod:`bayeslaw.validate.backtest`)
and every prediction beyond the runs (:mod:`bayeslaw.posterior.extrapolation`) use these functions.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

Array = Any


def decades_beyond(size_factor: Array, compute_factor: Array, xp: ModuleType = np) -> Array:
    """Decades beyond the fitted runs from the factors by which a run exceeds their largest size and
    6ND (``N / N_max``, ``6ND / C_max``): the larger, in decades, and 0 inside (NaN stays NaN)."""
    return xp.maximum(0.0, xp.log10(xp.maximum(size_factor, compute_factor)))


def error_variance(edge: Array, growth: Array, decades: Array, xp: ModuleType = np) -> Array:
    """Variance of the law's extrapolation error on log loss: ``edge**2 + (growth d)**2`` beyond the runs
    (``d > 0``), 0 inside them."""
    return xp.where(decades > 0, edge**2 + (growth * decades) ** 2, 0.0)


def error_sd(edge: Array, growth: Array, decades: Array, xp: ModuleType = np) -> Array:
    """Its sd: ``sqrt`` of :func:`error_variance`."""
    return xp.sqrt(error_variance(edge, growth, decades, xp))
