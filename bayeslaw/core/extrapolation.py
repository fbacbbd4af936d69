"""The law's own error beyond its fitted runs: one functional form, written once over an array namespace.

A run ``d > 0`` decades beyond the runs a law was fitted on (in size or in 6ND, whichever is more;
0 inside them) meets an error of sd ``sqrt(edge**2 + (growth d)**2)`` on its log loss: a step at the
edge of the fitted runs and growth per decade; and, where the calibration learned one, a signed mean
``shift_edge + shift_growth d`` (a law's lean when it extrapolates). The hierarchical calibration across studies
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


def error_variance(edge: Array, growth: Array, decades: Array, xp: ModuleType = np, outside: Array = None) -> Array:
    """Variance of the law's extrapolation error on log loss: ``edge**2 + (growth d)**2`` beyond the runs, 0 inside.

    Beyond means ``d > 0`` unless ``outside`` says otherwise: a distilled student can lie beyond the fitted
    students in loss or teacher strength while inside their sizes and tokens (``d = 0``, the step alone).
    """
    beyond = decades > 0 if outside is None else outside
    return xp.where(beyond, edge**2 + (growth * decades) ** 2, 0.0)


def error_sd(edge: Array, growth: Array, decades: Array, xp: ModuleType = np, outside: Array = None) -> Array:
    """Its sd: ``sqrt`` of :func:`error_variance`."""
    return xp.sqrt(error_variance(edge, growth, decades, xp, outside))


def error_mean(shift_edge: Array, shift_growth: Array, decades: Array, xp: ModuleType = np,
               outside: Array = None) -> Array:
    """The law's signed mean error on log loss beyond the runs: ``shift_edge + shift_growth d`` (0 inside; beyond
    as :func:`error_variance` reads it). Negative: runs beyond the fitted ones beat the law."""
    beyond = decades > 0 if outside is None else outside
    return xp.where(beyond, shift_edge + shift_growth * decades, 0.0)


def within_bounds(log_L: Array, shift: Array, log_floor: Array, log_ceiling: Array, xp: ModuleType = np) -> Array:
    """``log L`` moved by an error ``shift`` on log loss, in a way that keeps the loss inside its physical bounds.

    The calibrated error is an error on ``log L``. Far beyond the fitted runs it grows without bound, and added
    to ``log L`` directly a draw can put a model below its law's irreducible loss ``E`` (or a distilled student,
    through Eq. 8's ``L_T**-c0``, at hundreds of nats). Here a downward error shrinks the reducible part and an
    upward one the headroom below the ceiling, each exponentially::

        s < 0:  L' = floor + (L - floor) exp(s L / (L - floor))
        s > 0:  L' = ceiling - (ceiling - L) exp(-s L / (ceiling - L))

    Both have slope ``L`` at ``s = 0``, so to first order the error is the calibrated one on ``log L`` (small
    errors are unchanged), the map is monotone and smooth, and every result lies between ``floor`` (the law's
    ``E``) and ``ceiling`` (the loss of a uniform guess over the vocabulary). Where ``L`` itself is outside
    ``(floor, ceiling)`` the shift is added to ``log L`` as it is; no shift leaves ``log L`` exactly as it is.

    Parameters
    ----------
    log_L
        The law's log loss.
    shift
        The error on log loss to apply (sd times a standard normal draw), broadcast against ``log_L``.
    log_floor, log_ceiling
        Log of the bounds, broadcast against ``log_L``.
    xp
        The array namespace.

    Returns
    -------
    Array
        The moved log loss, ``log_L``'s broadcast shape.
    """
    L, lo, hi = xp.exp(log_L), xp.exp(log_floor), xp.exp(log_ceiling)
    inside = (L > lo) & (L < hi)
    room_lo, room_hi = xp.where(inside, L - lo, 1.0), xp.where(inside, hi - L, 1.0)
    down = lo + room_lo * xp.exp(xp.minimum(shift, 0.0) * L / room_lo)
    up = hi - room_hi * xp.exp(-xp.maximum(shift, 0.0) * L / room_hi)
    moved = xp.log(xp.where(shift < 0, down, up))
    moved = xp.minimum(xp.maximum(moved, log_floor), log_ceiling)  # the asymptotes, not a rounding past them
    # no error (inside the fitted runs) leaves the law exactly as it is
    return xp.where(shift == 0, log_L, xp.where(inside, moved, log_L + shift))


def ratio_decades(ratio_factor: Array, xp: ModuleType = np) -> Array:
    """Decades past the most tokens per parameter of the fitted runs, from a run's tokens per parameter over that
    most (0 within them; NaN stays NaN)."""
    return xp.maximum(0.0, xp.log10(ratio_factor))
