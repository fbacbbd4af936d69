"""Vectorised one-variable minimisation: a coarse grid finished by golden-section steps.

Written over an array namespace (numpy or JAX), vectorised over any leading problem axes; in
JAX the refinement is one traced loop, so compile time stays flat.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

#: Coarse grid points of each one-variable search (over log L_T in the best case, log N_T in the
#: teacher scenarios, log N for the supervised optimum); the teacher-pretraining searches span
#: only the teacher sizes the budget can pay for, so fewer points give cells as fine.
COARSE = {"supervised": 64, "best_case": 64, "teacher_inference": 64, "teacher_pretraining": 32,
          "teacher_pretraining_edge": 24}
#: Golden-section steps after the coarse grid (the two-cell bracket shrinks by 0.618 each).
GOLDEN_ITERS = 16


def _repeat(n: int, step: Callable, state: tuple, xp=np) -> tuple:
    """``state = step(state)`` ``n`` times: a Python loop in numpy, one traced loop in JAX (an
    unrolled search makes XLA's compile time explode)."""
    if xp.__name__.startswith("jax"):
        import jax  # only a JAX array namespace gets here

        return jax.lax.fori_loop(0, n, lambda _, st: step(st), state)
    for _ in range(n):
        state = step(state)
    return state


#: Golden ratio step of the bracket search.
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def _linspace(lo, hi, n: int, xp=np):
    """``n`` points from ``lo`` to ``hi`` along a new trailing axis."""
    lo, hi = xp.asarray(lo), xp.asarray(hi)
    return lo[..., None] + (hi - lo)[..., None] * xp.asarray(np.linspace(0.0, 1.0, n), dtype=lo.dtype)


def _search_1d(objective: Callable[[np.ndarray], np.ndarray], grid, lo, hi, *, iters: int,
               xp=np) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``objective(x)`` over ``[lo, hi]``, vectorised over the leading (problem) axes.

    ``grid`` holds ascending coarse points along a trailing axis; it and ``lo``/``hi`` broadcast
    against the problem shape (a grid shared by many problems stays small, so whatever the
    objective computes from ``x`` alone is computed once for them). The objective gets ``x``
    with one trailing axis and returns values broadcast to the problem shape plus that axis,
    +inf (or NaN) where infeasible. ``iters`` golden-section steps then search between the best
    grid point's neighbours (each step one evaluation, shrinking the bracket by 0.618). Returns
    ``(x*, f(x*))``, the best point seen.
    """
    def f(x):
        v = objective(x)
        return xp.where(xp.isnan(v), xp.inf, v)

    lo, hi = xp.asarray(lo), xp.asarray(hi)
    vals = f(grid)
    grid = xp.broadcast_to(grid, vals.shape)
    n = vals.shape[-1]
    i = xp.argmin(vals, axis=-1)[..., None]
    best_v = xp.take_along_axis(vals, i, axis=-1)[..., 0]
    best_x = xp.take_along_axis(grid, i, axis=-1)[..., 0]
    a = xp.where(i[..., 0] > 0, xp.take_along_axis(grid, xp.maximum(i - 1, 0), axis=-1)[..., 0], lo)
    b = xp.where(i[..., 0] < n - 1, xp.take_along_axis(grid, xp.minimum(i + 1, n - 1), axis=-1)[..., 0], hi)

    def f1(z):  # one point per problem
        return f(z[..., None])[..., 0]

    c, d = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    fc, fd = f1(c), f1(d)

    def golden(state):
        a, b, c, fc, d, fd = state
        left = fc <= fd  # the minimum lies in [a, d]: d becomes the new c's partner
        a, b = xp.where(left, a, c), xp.where(left, d, b)
        z = xp.where(left, b - _INV_PHI * (b - a), a + _INV_PHI * (b - a))
        fz = f1(z)
        return (a, b, xp.where(left, z, d), xp.where(left, fz, fd), xp.where(left, c, z), xp.where(left, fc, fz))

    a, b, c, fc, d, fd = _repeat(iters, golden, (a, b, c, fc, d, fd), xp)
    for x_, v_ in ((c, fc), (d, fd)):
        better = v_ < best_v
        best_x, best_v = xp.where(better, x_, best_x), xp.where(better, v_, best_v)
    return best_x, best_v
