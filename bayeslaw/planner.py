"""Compute-optimal recipes as posterior distributions, vectorised over draws and grids.

For every posterior draw, student size and budget this module finds the supervised optimum
and the distillation optimum in each compute scenario (Eq. 10 of Busbridge et al.), with
sizes and tokens bounded to [1e6, 1e17] as in the paper. There are no closed forms, so each
problem is reduced to one free variable and searched on a coarse log-space grid finished by
golden-section steps, all in arrays of shape (draw, student size, budget, grid) over an array
namespace (numpy or JAX). Draws are processed in chunks to bound memory.

Reductions:
- supervised at fixed N_S: closed form, D_S = C / (3 F(N_S));
- supervised optimum: log N (D from the budget);
- best case (teacher free): the teacher loss L_T >= L(1e17, 1e17);
- teacher inference: D_T costs nothing, so it sits at the upper bound; N_T;
- teacher pretraining (and + inference): N_T. L_S depends on the teacher only through L_T and
  falls with D_S, so the optimal teacher is the cheapest one of its loss; its tokens follow
  from a first-order condition (the supervised compute-optimal frontier, shifted to longer
  training by the inference cost), and D_S from what the budget leaves.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayeslaw import compute, laws
from bayeslaw.compute import PAPER_ARCHITECTURE, Architecture

LOG_MIN, LOG_MAX = math.log(1e6), math.log(1e17)
LOG3 = math.log(3.0)
SCENARIO_NAMES = tuple(compute.SCENARIOS)


@dataclass(frozen=True)
class Laws:
    """Coefficient draws on the paper's scale, each an array of shape (draw,)."""

    E: np.ndarray
    A: np.ndarray
    B: np.ndarray
    alpha: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    A_p: np.ndarray | None = None
    B_p: np.ndarray | None = None
    alpha_p: np.ndarray | None = None
    beta_p: np.ndarray | None = None
    gamma_p: np.ndarray | None = None
    c0: np.ndarray | None = None
    c1: np.ndarray | None = None
    f1: np.ndarray | None = None
    d1: np.ndarray | None = None

    @property
    def n_draws(self) -> int:
        return int(np.size(self.E))

    def take(self, idx: slice | np.ndarray) -> Laws:
        return Laws(**{k: (None if v is None else np.asarray(v)[idx]) for k, v in self.__dict__.items()})

    @classmethod
    def from_points(cls, sup: dict[str, float], dis: dict[str, float] | None = None) -> Laws:
        """A one-draw 'posterior' from point coefficients (e.g. the paper's Table 6)."""
        d = {k: np.atleast_1d(float(v)) for k, v in {**sup, **(dis or {})}.items()}
        return cls(**d)


def _shape(x: np.ndarray, ndim: int, xp=np) -> np.ndarray:
    """Coefficients (draw,) broadcast against arrays with ``ndim`` trailing axes."""
    return xp.reshape(xp.asarray(x), (-1,) + (1,) * ndim)


def log_student(law: Laws, log_N_S, log_D_S, log_L_T, log_L_tilde, nd: int, xp=np) -> np.ndarray:
    """log L_S of the distillation law for draws (axis 0) and ``nd`` trailing axes."""
    c = {k: _shape(getattr(law, k), nd, xp) for k in ("A_p", "B_p", "alpha_p", "beta_p", "gamma_p", "c0",
                                                      "c1", "f1", "d1")}
    return laws.distillation_log_loss(
        log_N_S, log_D_S, log_L_T, log_L_tilde, log_A_p=xp.log(c["A_p"]), log_B_p=xp.log(c["B_p"]),
        alpha_p=c["alpha_p"], beta_p=c["beta_p"], gamma_p=c["gamma_p"], c0=c["c0"],
        log_k=xp.log(c["c1"] * c["f1"]), log_s=-xp.log(c["f1"]), log_d1=xp.log(c["d1"]), xp=xp)


def log_F(log_N: np.ndarray, arch: Architecture | None, xp=np) -> np.ndarray:
    return xp.log(compute.forward_flops_per_token(xp.exp(log_N), arch, xp))


def _repeat(n: int, step: Callable, state: tuple, xp=np) -> tuple:
    """``state = step(state)`` ``n`` times: a Python loop in numpy, one traced loop in JAX (an
    unrolled search makes XLA's compile time explode)."""
    if xp.__name__.startswith("jax"):
        import jax

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


def supervised_optimum(law: Laws, C: np.ndarray, arch: Architecture | None = PAPER_ARCHITECTURE,
                       iters: int | None = None, xp=np) -> dict[str, np.ndarray]:
    """argmin L(N, D) subject to 3 F(N) D = C, per draw and budget: N*, D*, L* of shape (draw, budget)."""
    log_C = xp.log(xp.asarray(C, dtype=float))[None, :] + xp.zeros((law.n_draws, 1))

    def objective(log_N):
        log_D = log_C[..., None] - LOG3 - log_F(log_N, arch, xp)
        val = _log_sup_nd(xp, law, log_N, log_D)
        return xp.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), val, xp.inf)

    log_N, v = _search_1d(objective, _linspace(xp.full((1, 1), LOG_MIN), LOG_MAX, COARSE["supervised"], xp),
                          LOG_MIN, LOG_MAX, iters=iters or GOLDEN_ITERS, xp=xp)
    log_D = log_C - LOG3 - log_F(log_N, arch, xp)
    return {"N": xp.exp(log_N), "D": xp.exp(log_D), "L": xp.exp(v)}


def _log_sup_nd(xp, law: Laws, log_N: np.ndarray, log_D: np.ndarray) -> np.ndarray:
    """log L with draws on axis 0 of broadcast(log_N, log_D)."""
    nd = len(np.broadcast_shapes(xp.shape(log_N), xp.shape(log_D))) - 1
    c = {k: _shape(getattr(law, k), nd, xp) for k in ("E", "A", "B", "alpha", "beta", "gamma")}
    return laws.supervised_log_loss(log_N, log_D, log_E=xp.log(c["E"]), log_A=xp.log(c["A"]),
                                    log_B=xp.log(c["B"]), alpha=c["alpha"], beta=c["beta"], gamma=c["gamma"], xp=xp)


def supervised_student(law: Laws, N_S: np.ndarray, C: np.ndarray,
                       arch: Architecture | None = PAPER_ARCHITECTURE, xp=np) -> np.ndarray:
    """Loss of a student of size N_S trained supervised on the whole budget: (draw, size, budget)."""
    log_N = xp.log(xp.asarray(N_S, dtype=float))[None, :, None]
    log_D = xp.log(xp.asarray(C, dtype=float))[None, None, :] - xp.log(3.0) - log_F(log_N, arch, xp)
    log_N, log_D = xp.broadcast_arrays(log_N + xp.zeros((law.n_draws, 1, 1)), log_D)
    # beyond the paper's bounds (D > 1e17 or < 1e6) the comparison is undefined: NaN
    return xp.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), xp.exp(_log_sup_nd(xp, law, log_N, log_D)), xp.nan)


def distillation_optimum(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, n_students: int = 1,
                         arch: Architecture | None = PAPER_ARCHITECTURE, iters: int | None = None,
                         xp=np) -> dict[str, np.ndarray]:
    """The distillation optimum per draw, student size and budget in one scenario (Eq. 10).

    Returns arrays of shape (draw, size, budget): L_S, D_S, N_T, D_T, L_T (N_T, D_T are NaN in the
    best case, where the teacher is free and only its loss is chosen). Where no allocation within
    the bounds spends the budget, everything is NaN. ``iters`` is the number of golden-section
    steps after each coarse grid (default :data:`GOLDEN_ITERS`).
    """
    res = _distillation_optimum(law, N_S, C, scenario, n_students=n_students, arch=arch,
                                iters=iters or GOLDEN_ITERS, xp=xp)
    bad = ~xp.isfinite(res["L_S"])
    return {k: xp.where(bad, xp.nan, v) for k, v in res.items()}


def _log_axes(N_S, C, xp=np):
    """log N_S and log C on their own axes of the problem shape: (1, size, 1) and (1, 1, budget)."""
    return xp.log(xp.asarray(N_S, dtype=float))[None, :, None], xp.log(xp.asarray(C, dtype=float))[None, None, :]


def _problem_axes(n_draws: int, N_S, C, xp=np):
    """log N_S and log C broadcast to the problem shape (draw, student size, budget)."""
    zeros = xp.zeros((n_draws, 1, 1))
    return xp.broadcast_arrays(*(x + zeros for x in _log_axes(N_S, C, xp)))


#: Coarse grid points of each one-variable search (over log L_T in the best case, log N_T in the
#: teacher scenarios, log N for the supervised optimum); the teacher-pretraining searches span
#: only the teacher sizes the budget can pay for, so fewer points give cells as fine.
COARSE = {"supervised": 64, "best_case": 64, "teacher_inference": 64, "teacher_pretraining": 32,
          "teacher_pretraining_edge": 24}
#: Golden-section steps after the coarse grid (the two-cell bracket shrinks by 0.618 each).
GOLDEN_ITERS = 16
#: Newton steps for the inference-aware teacher's tokens (monotone from below, quadratic).
NEWTON_STEPS = 4


def frontier_log_tokens(law: Laws, log_N, arch: Architecture | None, nd: int, xp=np):
    """log D of the supervised compute-optimal model of size N (draws on axis 0, ``nd`` more axes).

    At fixed compute ``L(N, D)`` is minimal where ``alpha A N**-alpha / (beta B D**-beta)``
    equals ``d log F / d log N`` (neither E nor gamma enters): solved for D in closed form.
    """
    c = {k: _shape(getattr(law, k), nd, xp) for k in ("A", "B", "alpha", "beta")}
    log_g = xp.log(compute.flops_elasticity(xp.exp(log_N), arch, xp))
    return (xp.log(c["beta"] * c["B"]) + log_g - xp.log(c["alpha"] * c["A"]) + c["alpha"] * log_N) / c["beta"]


def _distillation_optimum(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, n_students: int,
                          arch: Architecture | None, iters: int, xp=np) -> dict[str, np.ndarray]:
    """The four scenarios' searches (see the module docstring for the reductions)."""
    sc = compute.get_scenario(scenario)
    n = law.n_draws
    log_NS, log_C = _problem_axes(n, N_S, C, xp)
    lead = log_NS.shape
    # the same axes unbroadcast, so that what depends on fewer of them is computed once
    log_NS_u, log_C_u = _log_axes(N_S, C, xp)
    log_FS_u = log_F(log_NS_u, arch, xp)
    log_FS = xp.broadcast_to(log_FS_u, lead)
    log_k = math.log(float(n_students))

    def student(log_DS, log_LT, nd):
        tilde = _log_sup_nd(xp, law, log_NS[(...,) + (None,) * nd] + 0 * log_DS, log_DS)
        return log_student(law, log_NS[(...,) + (None,) * nd], log_DS, log_LT, tilde, len(lead) - 1 + nd, xp)

    def ok(*logs):
        m = True
        for x in logs:
            m = m & (x >= LOG_MIN - 1e-9) & (x <= LOG_MAX + 1e-9)
        return m

    def search(name, objective, lo, hi, grid=None):
        grid = _linspace(lo, hi, COARSE[name], xp) if grid is None else grid
        return _search_1d(objective, grid, lo, hi, iters=iters, xp=xp)

    if sc.name == "best_case":
        log_DS = log_C - LOG3 - log_FS
        floor = _log_sup_nd(xp, law, xp.full((n, 1), LOG_MAX), xp.full((n, 1), LOG_MAX))[:, 0]
        lo = floor[:, None, None]

        def obj(log_LT):
            v = student(log_DS[..., None], log_LT, 1)
            return xp.where(ok(log_DS)[..., None], v, xp.inf)

        log_LT, v = search("best_case", obj, lo, lo + math.log(10.0))
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "L_T": xp.exp(log_LT),
                "N_T": xp.full(lead, xp.nan), "D_T": xp.full(lead, xp.nan)}

    if sc.name == "teacher_inference":
        log_DT = LOG_MAX

        def tokens(log_NT):
            return log_C[..., None] - xp.logaddexp(LOG3 + log_FS[..., None], log_F(log_NT, arch, xp))

        def obj(log_NT):
            log_DS = tokens(log_NT)
            log_LT = _log_sup_nd(xp, law, log_NT, xp.full_like(log_NT, log_DT))
            return xp.where(ok(log_DS, log_NT), student(log_DS, log_LT, 1), xp.inf)

        log_NT, v = search("teacher_inference", obj, xp.full((1, 1, 1), LOG_MIN),
                           xp.full((1, 1, 1), LOG_MAX))
        log_DS = tokens(log_NT[..., None])[..., 0]
        log_LT = _log_sup_nd(xp, law, log_NT, xp.full_like(log_NT, log_DT))
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT),
                "D_T": xp.full(lead, math.exp(log_DT)), "L_T": xp.exp(log_LT)}

    # Teacher pretraining (+ inference). At the optimum the teacher is the cheapest of its loss:
    # otherwise a cheaper one of the same loss would leave compute for more student tokens, and
    # L_S falls with D_S at fixed L_T. Minimising F_T (3 D_T / k + delta D_S) over the teacher's
    # iso-loss curve gives, for each N_T, one D_T: (D_T / D_frontier)^beta = 1 + delta k D_S / (3 D_T)
    # (D_T = D_frontier, the compute-optimal teacher, without inference). N_T is the one free variable.
    beta = _shape(law.beta, 3, xp)
    lgt = sc.delta_logits > 0

    def allocation(log_NT):
        """(log D_S, log D_T) for teacher sizes with one trailing axis."""
        log_FT = log_F(log_NT, arch, xp)
        log_Du = frontier_log_tokens(law, log_NT, arch, 3, xp)
        log_pt = LOG3 + log_FS_u[..., None]  # cost per student token
        if lgt:
            log_pt = xp.logaddexp(log_pt, log_FT)
            # h(x) = beta (x - log D_u) - log(a + b e^-x) = 0 with a = 3 F_S / pt, b = k C / (3 pt):
            # h is increasing and concave, so Newton from the lower bracket end climbs to the root
            log_a = LOG3 + log_FS_u[..., None] - log_pt
            log_b = log_k + log_C_u[..., None] - LOG3 - log_pt
            x = xp.maximum(log_Du + log_a / beta, (beta * log_Du + log_b) / (beta + 1.0))

            def newton(state):
                (x,) = state
                h = beta * (x - log_Du) - xp.logaddexp(log_a, log_b - x)
                return (x - h / (beta + 1.0 / (1.0 + xp.exp(log_a - log_b + x))),)

            (log_Du,) = _repeat(NEWTON_STEPS, newton, (x,), xp)
        log_DT = xp.clip(log_Du, LOG_MIN, LOG_MAX)
        share = xp.exp(LOG3 + log_FT + log_DT - log_k - log_C_u[..., None])  # the teacher's share of C
        # a teacher that takes the whole budget leaves no tokens: a finite value below the bound
        fits = share < 1.0
        log_DS = xp.where(fits, log_C_u[..., None] + xp.log1p(-xp.where(fits, share, 0.0)) - log_pt, LOG_MIN - 10.0)
        return log_DS, log_DT

    def obj(log_NT):
        log_DS, log_DT = allocation(log_NT)
        log_LT = _log_sup_nd(xp, law, log_NT + 0 * log_DT, log_DT)
        return xp.where(ok(log_DS, log_NT), student(log_DS, log_LT, 1), xp.inf)

    # the largest teacher the budget pays for, trained at least to the frontier (per draw and budget)
    lo_b = xp.full((n, 1, log_C_u.shape[-1]), LOG_MIN)
    hi_b = xp.full(lo_b.shape, LOG_MAX)

    def bisect(state):
        lo_b, hi_b = state
        mid = 0.5 * (lo_b + hi_b)
        cost = (LOG3 + log_F(mid, arch, xp) + xp.clip(frontier_log_tokens(law, mid, arch, 2, xp), LOG_MIN, LOG_MAX)
                - log_k)
        over = cost > log_C_u
        return xp.where(over, lo_b, mid), xp.where(over, mid, hi_b)

    _, hi_b = _repeat(48, bisect, (lo_b, hi_b), xp)
    # Near the largest affordable teacher the student's tokens fall steeply with N_T (a student of
    # 1e6-1e9 tokens lives within ~1e-3 nats of log N_T there), so the grid is also log-spaced in
    # the distance to that end: both basins get cells a golden-section search can finish.
    lo = xp.full((1, 1, 1), LOG_MIN)
    gaps = xp.asarray(np.geomspace(1e-10, 1.0, COARSE["teacher_pretraining_edge"]))
    grid = xp.sort(xp.concatenate([_linspace(lo, hi_b, COARSE["teacher_pretraining"], xp),
                                   xp.maximum(hi_b[..., None] - gaps, LOG_MIN)], axis=-1), axis=-1)
    log_NT, v = search("teacher_pretraining", obj, lo, hi_b, grid)
    # where the student alone could pass 1e17 tokens, its bound may bind and the cheapest teacher
    # need not be best: beyond the paper's bounds, as for the supervised student, so undefined
    v = xp.where(log_C > LOG3 + log_FS + LOG_MAX, xp.nan, v)
    log_DS, log_DT = (x[..., 0] for x in allocation(log_NT[..., None]))
    log_LT = _log_sup_nd(xp, law, log_NT, log_DT)
    return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT), "D_T": xp.exp(log_DT),
            "L_T": xp.exp(log_LT)}


def distill_with_teacher(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, N_T: float,
                         D_T: float | None = None, L_T: float | None = None, n_students: int = 1,
                         teacher_sunk: bool = False,
                         arch: Architecture | None = PAPER_ARCHITECTURE) -> dict[str, np.ndarray]:
    """A chosen teacher: the student spends what the scenario leaves of the budget on tokens.

    The teacher is ``(N_T, D_T)`` (its loss from the supervised law, per draw) or an existing
    teacher ``(N_T, L_T)`` with a measured loss. Its pretraining ``3 F(N_T) D_T / k`` is charged
    when the scenario counts it, unless ``teacher_sunk``. No search: ``D_S`` follows from the
    budget. Returns ``L_S, D_S, L_T`` of shape (draw, size, budget), NaN where the budget does
    not cover the teacher's cost or ``D_S`` leaves [1e6, 1e17].
    """
    sc = compute.get_scenario(scenario)
    log_NS, log_C = _problem_axes(law.n_draws, N_S, C)
    if L_T is None and D_T is None:
        raise ValueError("give the teacher's tokens D_T (its loss then follows the law) or its measured loss L_T")
    charge_pre = sc.delta_pretrain > 0 and not teacher_sunk
    if charge_pre and D_T is None:
        raise ValueError(f"scenario {sc.name} charges the teacher's pretraining: give D_T, or teacher_sunk=True")
    log_NT = np.log(float(N_T))
    F_T = float(compute.forward_flops_per_token(float(N_T), arch))
    if L_T is not None:
        log_LT = np.full(log_NS.shape, np.log(float(L_T)))
    else:
        log_LT = _log_sup_nd(np, law, np.full(log_NS.shape, log_NT), np.full(log_NS.shape, np.log(float(D_T))))
    pre = 3.0 * F_T * float(D_T) / n_students if charge_pre else 0.0
    per_token = 3.0 * np.exp(log_F(log_NS, arch)) + sc.delta_logits * F_T
    with np.errstate(invalid="ignore", divide="ignore"):
        log_DS = np.log(np.exp(log_C) - pre) - np.log(per_token)
    feasible = np.isfinite(log_DS) & (log_DS >= LOG_MIN) & (log_DS <= LOG_MAX)
    log_DS = np.where(feasible, log_DS, LOG_MIN)
    tilde = _log_sup_nd(np, law, log_NS, log_DS)
    log_LS = log_student(law, log_NS, log_DS, log_LT, tilde, 2)
    nan = np.where(feasible, 1.0, np.nan)
    return {"L_S": np.exp(log_LS) * nan, "D_S": np.exp(log_DS) * nan, "L_T": np.exp(log_LT)}


def fixed_tokens(law: Laws, student_sizes, tokens, *, arch: Architecture | None = PAPER_ARCHITECTURE,
                 iters: int | None = None) -> xr.Dataset:
    """Distilled vs supervised at the same student tokens ``D_S``, with the best teacher (the paper's
    fixed-token comparison; the teacher's cost is not counted).

    Returns dims ``(draw, student_size, tokens)``: ``L_S`` with the best-case teacher, its loss
    ``L_T`` (the best-case L_T*), the supervised student ``L_sup`` on the same tokens and ``diff``.
    """
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    D = np.atleast_1d(np.asarray(tokens, float))
    if np.any(~np.isfinite(D)) or np.any(D < 1e6) or np.any(D > 1e17):
        raise ValueError("student tokens must be raw counts within [1e6, 1e17] (e.g. 2e10, not 20)")
    _check_inputs(N_S, 3 * compute.forward_flops_per_token(N_S.max(), arch) * D, ("best_case",), 1)
    L_S, L_T, L_sup = [], [], []
    for n in N_S:
        C = 3 * compute.forward_flops_per_token(n, arch) * D
        res = distillation_optimum(law, [n], C, "best_case", arch=arch, iters=iters)
        L_S.append(res["L_S"][:, 0, :])
        L_T.append(res["L_T"][:, 0, :])
        L_sup.append(np.exp(_log_sup_nd(np, law, np.full((law.n_draws, D.size), np.log(n)),
                                        np.broadcast_to(np.log(D), (law.n_draws, D.size)))))
    dims = ("draw", "student_size", "tokens")
    ds = xr.Dataset({"L_S": (dims, np.stack(L_S, 1)), "L_T": (dims, np.stack(L_T, 1)),
                     "L_sup": (dims, np.stack(L_sup, 1))},
                    coords={"draw": np.arange(law.n_draws), "student_size": N_S, "tokens": D})
    ds["diff"] = ds["L_S"] - ds["L_sup"]
    ds.attrs.update(comparison="same student tokens; best-case teacher (its cost not counted)")
    return ds


def laws_from_fit(fit) -> Laws:
    """Paper-scale coefficient draws from a fitted posterior (supervised or joint)."""
    names = ["E", "A", "B", "alpha", "beta", "gamma", "A_p", "B_p", "alpha_p", "beta_p", "gamma_p", "c0",
             "c1", "f1", "d1"]
    post = fit.idata["posterior"]
    got = fit.draws([n for n in names if n in post.data_vars])
    got.setdefault("gamma", np.ones_like(got["alpha"]))
    return Laws(**got)


def _check_inputs(N_S: np.ndarray, C: np.ndarray, scenarios: tuple[str, ...], n_students: int) -> None:
    if np.any(~np.isfinite(N_S)) or np.any(N_S < 1e6) or np.any(N_S > 1e17):
        raise ValueError("student sizes must be raw parameter counts within [1e6, 1e17] (e.g. 1e9, not 1)")
    if np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise ValueError("budgets must be positive FLOPs")
    smallest = 3 * compute.forward_flops_per_token(np.min(N_S)) * 1e6
    if np.any(C < smallest):
        raise ValueError(f"budget {C.min():.3g} FLOPs cannot train the smallest student on the minimum 1e6 tokens "
                         f"(needs >= {smallest:.3g} FLOPs)")
    for s in scenarios:
        compute.get_scenario(s)
    if n_students < 1:
        raise ValueError("n_students must be >= 1")


#: Largest number of grid evaluations held in one temporary array (float64: 64 MB).
MAX_GRID_ELEMENTS = 2**23
_GRID_POINTS = max(COARSE.values())  # the widest search grid per problem


def every_tenth(callback: Callable[[int, int], None]) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` for :func:`plan_grid` that passes on only each new tenth."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        if (step := int(10 * done / total)) != shown[0]:
            shown[0] = step
            callback(done, total)

    return progress


def auto_chunk(n_sizes: int, n_budgets: int) -> int:
    """Draws per chunk so that one search grid stays within :data:`MAX_GRID_ELEMENTS`."""
    return max(1, MAX_GRID_ELEMENTS // (n_sizes * n_budgets * _GRID_POINTS))


@functools.cache
def _jax_kernel(scenario: str, n_students: int, arch: Architecture | None, iters: int | None):
    import jax
    import jax.numpy as jnp

    def kernel(coefs, N_S, C):
        return distillation_optimum(Laws(**coefs), N_S, C, scenario, n_students=n_students, arch=arch,
                                    iters=iters, xp=jnp)

    return jax.jit(kernel)


def _optimum(sub: Laws, N_S, C, scenario: str, *, n_students: int, arch, iters: int | None, backend: str):
    if backend == "numpy":
        return distillation_optimum(sub, N_S, C, scenario, n_students=n_students, arch=arch, iters=iters)
    if backend == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            raise RuntimeError("the JAX planner needs 64-bit floats: set JAX_ENABLE_X64=1 (or "
                               "jax.config.update('jax_enable_x64', True)) before JAX is first used")
        coefs = {k: v for k, v in sub.__dict__.items() if v is not None}
        out = _jax_kernel(scenario, n_students, arch, iters)(coefs, N_S, C)
        return {k: np.asarray(v) for k, v in out.items()}
    raise ValueError(f"backend must be 'numpy' or 'jax', got {backend!r}")


def plan_chunk(sub: Laws, N_S: np.ndarray, C: np.ndarray, scenarios: tuple[str, ...], *, n_students: int = 1,
               arch: Architecture | None = PAPER_ARCHITECTURE, iters: int | None = None,
               backend: str = "numpy") -> xr.Dataset:
    """All optima for one chunk of draws (the unit of work of :func:`plan_grid`, local or on Dask)."""
    out = {k: [] for k in ("L_S", "D_S", "N_T", "D_T", "L_T")}
    for sc in scenarios:
        res = _optimum(sub, N_S, C, sc, n_students=n_students, arch=arch, iters=iters, backend=backend)
        for k in out:
            out[k].append(res[k])
    dims = ("draw", "student_size", "budget", "scenario")
    ds = xr.Dataset({k: (dims, np.stack(v, axis=-1)) for k, v in out.items()})
    ds["L_sup"] = (("draw", "student_size", "budget"), supervised_student(sub, N_S, C, arch))
    opt = supervised_optimum(sub, C, arch, iters=iters)
    for k, v in opt.items():
        ds[f"{k}_opt"] = (("draw", "budget"), v)
    return ds


def plan_grid(law: Laws, student_sizes, budgets, scenarios: tuple[str, ...] = SCENARIO_NAMES, *,
              n_students: int = 1, arch: Architecture | None = PAPER_ARCHITECTURE, chunk: int | None = None,
              iters: int | None = None, backend: str = "numpy", scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Distillation and supervised optima for every draw, student size, budget and scenario.

    Returns a Dataset with dims ``(draw, student_size, budget, scenario)``: the distillation
    optimum (``L_S``, ``D_S``, ``N_T``, ``D_T``, ``L_T``), the supervised student on the same
    budget (``L_sup``), ``diff = L_S - L_sup`` (negative: distillation wins), and the supervised
    compute-optimal ``N_opt``, ``D_opt``, ``L_opt`` per budget.

    Draws are processed ``chunk`` at a time (default :func:`auto_chunk`: one search grid within
    :data:`MAX_GRID_ELEMENTS`), so memory stays bounded whatever the grid; ``progress(done,
    total)`` is called after each chunk. ``backend="jax"`` runs the searches jit-compiled on JAX
    (CPU or GPU; same results). ``scheduler`` sends the chunks to Dask: ``"local"`` starts a
    LocalCluster, anything else is a scheduler address (``tcp://host:8786``).
    """
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    C = np.atleast_1d(np.asarray(budgets, float))
    scenarios = tuple(scenarios)
    _check_inputs(N_S, C, scenarios, n_students)
    if law.c0 is None:
        raise ValueError("distillation planning needs a distillation (joint) posterior, not a supervised one")
    chunk = chunk or auto_chunk(N_S.size, C.size)
    starts = list(range(0, law.n_draws, chunk))
    kw = {"n_students": n_students, "arch": arch, "iters": iters, "backend": backend}
    if scheduler is None:
        parts = []
        for start in starts:
            parts.append(plan_chunk(law.take(slice(start, start + chunk)), N_S, C, scenarios, **kw))
            if progress:
                progress(min(start + chunk, law.n_draws), law.n_draws)
    else:
        parts = _on_dask(scheduler, [law.take(slice(s, s + chunk)) for s in starts], N_S, C, scenarios, kw, progress,
                         law.n_draws)
    ds = xr.concat(parts, dim="draw")
    ds = ds.assign_coords(draw=np.arange(law.n_draws), student_size=N_S, budget=C, scenario=list(scenarios))
    ds["diff"] = ds["L_S"] - ds["L_sup"]
    ds.attrs.update(n_students=n_students, bounds="sizes and tokens in [1e6, 1e17]",
                    flops="3 F(N) per training token, F(N) of App. H" if arch else "F(N) = 2N")
    return ds


def _on_dask(scheduler: str, chunks: list[Laws], N_S, C, scenarios, kw, progress, total) -> list[xr.Dataset]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:
        raise RuntimeError("the Dask path needs the dask extra: pip install -e '.[dask]'") from err
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True) if scheduler == "local" else None
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = [client.submit(plan_chunk, sub, N_S, C, scenarios, **kw, pure=False) for sub in chunks]
        done = 0
        for fut in as_completed(futures):
            done += fut.result()["draw"].size
            if progress:
                progress(done, total)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def summarise(ds: xr.Dataset, prob: float = 0.9) -> xr.Dataset:
    """Probabilities, medians and equal-tailed bands over draws, and the crossover compute."""
    q = [(1 - prob) / 2, 0.5, (1 + prob) / 2]
    out = xr.Dataset()
    out["p_distill_wins"] = (ds["diff"] < 0).where(ds["diff"].notnull()).mean("draw")
    for v in ("diff", "L_S", "L_sup", "D_S", "N_T", "D_T", "L_T"):
        qs = ds[v].quantile(q, dim="draw")
        out[f"{v}_lower"], out[f"{v}_median"], out[f"{v}_upper"] = (qs.isel(quantile=i, drop=True) for i in range(3))
    cross = crossover(ds)
    with warnings.catch_warnings():  # all-NaN where no draw crosses inside the grid
        warnings.simplefilter("ignore", RuntimeWarning)
        cq = cross.quantile(q, dim="draw")
    out["crossover_lower"], out["crossover_median"], out["crossover_upper"] = (
        cq.isel(quantile=i, drop=True) for i in range(3))
    out["crossover_at_p50"] = crossover_of_probability(out["p_distill_wins"])
    out.attrs.update(ds.attrs, interval_kind="eti", interval_prob=prob)
    return out


def crossover(ds: xr.Dataset) -> xr.DataArray:
    """Per draw: the budget above which supervised training is at least as good (log-interpolated).

    NaN where distillation still wins at the largest budget; the smallest budget where
    supervised already wins everywhere gives that budget.
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
    """The budget where P(distillation wins) falls through 0.5 (log-interpolated; NaN if it never does)."""
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
