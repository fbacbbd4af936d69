"""Compute-optimal recipes per posterior draw: the supervised optimum and the four distillation scenarios.

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

import math

import numpy as np

from bayeslaw.core import compute, laws, params
from bayeslaw.core.bounds import LOG_BOX_MAX as LOG_MAX
from bayeslaw.core.bounds import LOG_BOX_MIN as LOG_MIN
from bayeslaw.core.compute import LOG3, PAPER_ARCHITECTURE, Architecture, CostModel
from bayeslaw.core.params import Laws
from bayeslaw.planning.search import COARSE, GOLDEN_ITERS, _linspace, _repeat, _search_1d

SCENARIO_NAMES = tuple(compute.SCENARIOS)
#: Newton steps for the inference-aware teacher's tokens (monotone from below, quadratic).
NEWTON_STEPS = 4


def _shape(x: np.ndarray, ndim: int, xp=np) -> np.ndarray:
    """Coefficients (draw,) broadcast against arrays with ``ndim`` trailing axes."""
    return xp.reshape(xp.asarray(x), (-1,) + (1,) * ndim)


def log_student(law: Laws, log_N_S, log_D_S, log_L_T, log_L_tilde, nd: int, xp=np) -> np.ndarray:
    """log L_S of the distillation law for draws (axis 0) and ``nd`` trailing axes."""
    c = {k: _shape(getattr(law, k), nd, xp) for k in params.DISTILLATION_PAPER}
    gain = 0.0 if law.weak_teacher_gain is None else _shape(law.weak_teacher_gain, nd, xp)
    return laws.distillation_log_loss(
        log_N_S, log_D_S, log_L_T, log_L_tilde, log_A_p=xp.log(c["A_p"]), log_B_p=xp.log(c["B_p"]),
        alpha_p=c["alpha_p"], beta_p=c["beta_p"], gamma_p=c["gamma_p"], c0=c["c0"],
        **params.break_from_paper(c["c1"], c["f1"], c["d1"], xp), weak_teacher_gain=gain, xp=xp)


def _log_sup_nd(xp, law: Laws, log_N: np.ndarray, log_D: np.ndarray) -> np.ndarray:
    """log L with draws on axis 0 of broadcast(log_N, log_D)."""
    nd = len(np.broadcast_shapes(xp.shape(log_N), xp.shape(log_D))) - 1
    c = {k: _shape(getattr(law, k), nd, xp) for k in params.SUPERVISED_PAPER}
    return laws.supervised_log_loss(log_N, log_D, **params.supervised_to_log(c, xp), xp=xp)


#: Newton steps for the drift-aware teacher's tokens: log of the law's gain per nat of log D is close to linear in
#: log D (slope about -beta), so a few steps from the boundary reach machine precision.
DRIFT_STEPS = 6
_LN10 = math.log(10.0)


def drift_penalty(law: Laws, log_N, log_D, xp=np) -> np.ndarray:
    """The planner's expected drift past the fitted tokens per parameter: ``slope * decades past drift_ratio``
    (log loss), draws on axis 0 of ``broadcast(log_N, log_D)``."""
    nd = len(np.broadcast_shapes(xp.shape(log_N), xp.shape(log_D))) - 1
    past = (log_D - log_N - xp.log(_shape(law.drift_ratio, nd, xp))) / _LN10
    return _shape(law.drift_slope, nd, xp) * xp.maximum(past, 0.0)


def drift_tokens(law: Laws, log_N, nd: int, xp=np) -> np.ndarray:
    """log D that minimises a model's law loss plus its drift (:func:`drift_penalty`), per draw and size.

    Below the fitted runs' most tokens per parameter more tokens only help; past it each decade costs ``slope``
    while the law's gain, ``g = -d log L / d log D``, falls: the optimum is where ``g`` meets the drift per nat, or
    the boundary itself where ``g`` is already smaller there. With ``u = B D^-beta`` and ``S = A N^-alpha + u``,
    ``log g = log(gamma beta) + (gamma - 1) log S + log u - log(E + S^gamma)``, solved by Newton steps from the
    boundary (clipped to the planning box).
    """
    c = {k: _shape(getattr(law, k), nd, xp) for k in ("E", "A", "B", "alpha", "beta", "gamma")}
    slope = _shape(law.drift_slope, nd, xp)
    log_k = xp.log(xp.maximum(slope, 1e-12) / _LN10)  # the drift per nat of log D
    lo = log_N + xp.log(_shape(law.drift_ratio, nd, xp))
    hi = xp.maximum(lo, LOG_MAX)
    a = c["A"] * xp.exp(-c["alpha"] * log_N)
    g, b = c["gamma"], c["beta"]

    log_B, log_gb = xp.log(c["B"]), xp.log(g * b)

    def log_gain(x):
        """``log g`` and its derivative in ``x = log D`` (four transcendental calls: this runs in every search)."""
        log_u = log_B - b * x
        u = xp.exp(log_u)
        S = a + u
        log_S = xp.log(S)
        Sg = xp.exp(g * log_S)
        ESg = c["E"] + Sg
        value = log_gb + (g - 1.0) * log_S + log_u - xp.log(ESg)
        slope = -b * (1.0 + u / S * ((g - 1.0) - g * Sg / ESg))
        return value, slope

    def step(state):
        (x,) = state
        v, d = log_gain(x)
        return (xp.clip(x - (v - log_k) / d, lo, hi),)

    start, _ = log_gain(lo + 0 * hi)
    (x,) = _repeat(DRIFT_STEPS, step, (lo + 0 * hi,), xp)
    # a draw whose drift does not penalise (slope <= 0: rare, a new study's tail) trains as long as allowed
    return xp.where(slope <= 0, hi, xp.where(start > log_k, x, lo))


def supervised_optimum(law: Laws, C: np.ndarray, arch: Architecture | None = PAPER_ARCHITECTURE,
                       iters: int | None = None, xp=np, serving_tokens: float = 0.0) -> dict[str, np.ndarray]:
    """argmin L(N, D) subject to 3 F(N) D + F(N) T = C, per draw and budget: N*, D*, L* of shape (draw, budget).

    ``serving_tokens`` T is the lifetime demand the model serves (Sardana et al.): 0 is the paper's optimum.
    Where serving alone takes the whole budget for every size, the draw's recipe is NaN.
    """
    log_C = xp.log(xp.asarray(C, dtype=float))[None, :] + xp.zeros((law.n_draws, 1))
    cost = CostModel(arch=arch, serving_tokens=serving_tokens)

    def log_tokens(log_C, log_N):
        log_F = cost.log_F(log_N, xp)
        log_D = cost.log_tokens(cost.log_training_budget(log_C, log_F, xp), log_F)
        # no training budget left (serving takes it all): below every bound, so infeasible
        return xp.where(xp.isnan(log_D), -xp.inf, log_D)

    def objective(log_N):
        log_D = log_tokens(log_C[..., None], log_N)
        val = _log_sup_nd(xp, law, log_N, log_D)
        return xp.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), val, xp.inf)

    log_N, v = _search_1d(objective, _linspace(xp.full((1, 1), LOG_MIN), LOG_MAX, COARSE["supervised"], xp),
                          LOG_MIN, LOG_MAX, iters=iters or GOLDEN_ITERS, xp=xp)
    log_D = log_tokens(log_C, log_N)
    ok = xp.isfinite(v)
    return {"N": xp.where(ok, xp.exp(log_N), xp.nan), "D": xp.where(ok, xp.exp(log_D), xp.nan),
            "L": xp.where(ok, xp.exp(v), xp.nan)}


def supervised_student(law: Laws, N_S: np.ndarray, C: np.ndarray,
                       arch: Architecture | None = PAPER_ARCHITECTURE, xp=np) -> np.ndarray:
    """Loss of a student of size N_S trained supervised on the whole budget: (draw, size, budget)."""
    cost = CostModel(arch=arch)
    log_N = xp.log(xp.asarray(N_S, dtype=float))[None, :, None]
    log_D = cost.log_tokens(xp.log(xp.asarray(C, dtype=float))[None, None, :], cost.log_F(log_N, xp))
    log_N, log_D = xp.broadcast_arrays(log_N + xp.zeros((law.n_draws, 1, 1)), log_D)
    # beyond the paper's bounds (D > 1e17 or < 1e6) the comparison is undefined: NaN
    return xp.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), xp.exp(_log_sup_nd(xp, law, log_N, log_D)), xp.nan)


def _log_axes(N_S, C, xp=np):
    """log N_S and log C on their own axes of the problem shape: (1, size, 1) and (1, 1, budget)."""
    return xp.log(xp.asarray(N_S, dtype=float))[None, :, None], xp.log(xp.asarray(C, dtype=float))[None, None, :]


def _problem_axes(n_draws: int, N_S, C, xp=np):
    """log N_S and log C broadcast to the problem shape (draw, student size, budget)."""
    zeros = xp.zeros((n_draws, 1, 1))
    return xp.broadcast_arrays(*(x + zeros for x in _log_axes(N_S, C, xp)))


def frontier_log_tokens(law: Laws, log_N, arch: Architecture | None, nd: int, xp=np):
    """log D of the supervised compute-optimal model of size N (draws on axis 0, ``nd`` more axes).

    At fixed compute ``L(N, D)`` is minimal where ``alpha A N**-alpha / (beta B D**-beta)``
    equals ``d log F / d log N`` (neither E nor gamma enters): solved for D in closed form.
    """
    c = {k: _shape(getattr(law, k), nd, xp) for k in ("A", "B", "alpha", "beta")}
    log_g = xp.log(compute.flops_elasticity(xp.exp(log_N), arch, xp))
    return (xp.log(c["beta"] * c["B"]) + log_g - xp.log(c["alpha"] * c["A"]) + c["alpha"] * log_N) / c["beta"]


def distillation_optimum(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, n_students: int = 1,
                         arch: Architecture | None = PAPER_ARCHITECTURE, iters: int | None = None,
                         teacher_cap: float | None = None, xp=np) -> dict[str, np.ndarray]:
    """The distillation optimum per draw, student size and budget in one scenario (Eq. 10).

    Returns arrays of shape (draw, size, budget): L_S, D_S, N_T, D_T, L_T (N_T, D_T are NaN in the
    best case, where the teacher is free and only its loss is chosen). Where no allocation within
    the bounds spends the budget, everything is NaN. ``iters`` is the number of golden-section
    steps after each coarse grid (default :data:`GOLDEN_ITERS`). ``teacher_cap`` bounds the
    teacher's pretraining compute, 3 F(N_T) D_T, to that multiple of the budget where the scenario
    does not charge it (teacher inference: the teacher then trains as long as the cap allows, at
    most 1e17 tokens); None leaves it unbounded.
    """
    res = _distillation_optimum(law, N_S, C, scenario, n_students=n_students, arch=arch,
                                iters=iters or GOLDEN_ITERS, teacher_cap=teacher_cap, xp=xp)
    bad = ~xp.isfinite(res["L_S"])
    return {k: xp.where(bad, xp.nan, v) for k, v in res.items()}


def _distillation_optimum(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, n_students: int,
                          arch: Architecture | None, iters: int, teacher_cap: float | None = None,
                          xp=np) -> dict[str, np.ndarray]:
    """The four scenarios' searches (see the module docstring for the reductions)."""
    cost = CostModel(scenario, n_students, arch)
    sc = cost.scenario
    n = law.n_draws
    log_NS, log_C = _problem_axes(n, N_S, C, xp)
    lead = log_NS.shape
    # the same axes unbroadcast, so that what depends on fewer of them is computed once
    log_NS_u, log_C_u = _log_axes(N_S, C, xp)
    log_FS_u = cost.log_F(log_NS_u, xp)
    log_FS = xp.broadcast_to(log_FS_u, lead)

    twin = law.twin()  # Eq. 8's L~_S (a cut posterior's fixed twin)

    def student(log_DS, log_LT, nd):
        tilde = _log_sup_nd(xp, twin, log_NS[(...,) + (None,) * nd] + 0 * log_DS, log_DS)
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
        log_DS = cost.log_tokens(log_C, log_FS)
        floor = _log_sup_nd(xp, law, xp.full((n, 1), LOG_MAX), xp.full((n, 1), LOG_MAX))[:, 0]
        lo = floor[:, None, None]

        def obj(log_LT):
            v = student(log_DS[..., None], log_LT, 1)
            return xp.where(ok(log_DS)[..., None], v, xp.inf)

        log_LT, v = search("best_case", obj, lo, lo + math.log(10.0))
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "L_T": xp.exp(log_LT),
                "N_T": xp.full(lead, xp.nan), "D_T": xp.full(lead, xp.nan)}

    if sc.name == "teacher_inference":
        def teacher_tokens(log_NT, nd):
            """As many as the cap allows (the teacher costs nothing here), at most the 1e17 bound; with a drift,
            no longer than where another token's gain falls below the drift's cost."""
            if teacher_cap is None:
                most = xp.full_like(log_NT, LOG_MAX) + 0 * log_C[(...,) + (None,) * nd]
            else:
                log_cap = log_C[(...,) + (None,) * nd] + math.log(teacher_cap)
                most = xp.minimum(LOG_MAX, cost.log_tokens(log_cap, cost.log_F(log_NT, xp)))
            if law.drift_slope is None:
                return most
            return xp.minimum(most, drift_tokens(law, log_NT, len(lead) - 1 + nd, xp))

        def teacher_loss(log_NT, log_DT):
            log_LT = _log_sup_nd(xp, law, log_NT, log_DT)
            return log_LT if law.drift_slope is None else log_LT + drift_penalty(law, log_NT, log_DT, xp)

        def tokens(log_NT):
            return log_C[..., None] - cost.log_student_token(log_FS[..., None], cost.log_F(log_NT, xp), xp)

        def obj(log_NT):
            log_DS = tokens(log_NT)
            log_DT = teacher_tokens(log_NT, 1)
            log_LT = teacher_loss(log_NT, log_DT)
            return xp.where(ok(log_DS, log_NT, log_DT), student(log_DS, log_LT, 1), xp.inf)

        log_NT, v = search("teacher_inference", obj, xp.full((1, 1, 1), LOG_MIN),
                           xp.full((1, 1, 1), LOG_MAX))
        log_DS = tokens(log_NT[..., None])[..., 0]
        log_DT = teacher_tokens(log_NT, 0)
        log_LT = _log_sup_nd(xp, law, log_NT, log_DT)
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT),
                "D_T": xp.exp(log_DT), "L_T": xp.exp(log_LT)}

    # Teacher pretraining (+ inference). At the optimum the teacher is the cheapest of its loss:
    # otherwise a cheaper one of the same loss would leave compute for more student tokens, and
    # L_S falls with D_S at fixed L_T. Minimising F_T (3 D_T / k + delta D_S) over the teacher's
    # iso-loss curve gives, for each N_T, one D_T: (D_T / D_frontier)^beta = 1 + delta k D_S / (3 D_T)
    # (D_T = D_frontier, the compute-optimal teacher, without inference). N_T is the one free variable.
    beta = _shape(law.beta, 3, xp)
    lgt = cost.charges_inference

    def allocation(log_NT):
        """(log D_S, log D_T) for teacher sizes with one trailing axis."""
        log_FT = cost.log_F(log_NT, xp)
        log_Du = frontier_log_tokens(law, log_NT, arch, 3, xp)
        log_pt = cost.log_student_token(log_FS_u[..., None], log_FT, xp)  # cost per student token
        if lgt:
            # h(x) = beta (x - log D_u) - log(a + b e^-x) = 0 with a = 3 F_S / pt, b = k C / (3 pt):
            # h is increasing and concave, so Newton from the lower bracket end climbs to the root
            log_a = LOG3 + log_FS_u[..., None] - log_pt
            log_b = cost.log_k + log_C_u[..., None] - LOG3 - log_pt
            x = xp.maximum(log_Du + log_a / beta, (beta * log_Du + log_b) / (beta + 1.0))

            def newton(state):
                (x,) = state
                h = beta * (x - log_Du) - xp.logaddexp(log_a, log_b - x)
                return (x - h / (beta + 1.0 / (1.0 + xp.exp(log_a - log_b + x))),)

            (log_Du,) = _repeat(NEWTON_STEPS, newton, (x,), xp)
        log_DT = xp.clip(log_Du, LOG_MIN, LOG_MAX)
        share = xp.exp(cost.log_teacher_pretraining(log_FT, log_DT) - log_C_u[..., None])  # its share of C
        # a teacher that takes the whole budget leaves no tokens: a finite value below the bound
        fits = share < 1.0
        log_DS = xp.where(fits, log_C_u[..., None] + xp.log1p(-xp.where(fits, share, 0.0)) - log_pt, LOG_MIN - 10.0)
        return log_DS, log_DT

    def obj(log_NT):
        log_DS, log_DT = allocation(log_NT)
        log_LT = _log_sup_nd(xp, law, log_NT + 0 * log_DT, log_DT)
        if law.drift_slope is not None:  # past the fitted ratio a teacher meets the drift the evaluation charges
            log_LT = log_LT + drift_penalty(law, log_NT + 0 * log_DT, log_DT, xp)
        return xp.where(ok(log_DS, log_NT), student(log_DS, log_LT, 1), xp.inf)

    # the largest teacher the budget pays for, trained at least to the frontier (per draw and budget)
    lo_b = xp.full((n, 1, log_C_u.shape[-1]), LOG_MIN)
    hi_b = xp.full(lo_b.shape, LOG_MAX)

    def bisect(state):
        lo_b, hi_b = state
        mid = 0.5 * (lo_b + hi_b)
        spent = cost.log_teacher_pretraining(
            cost.log_F(mid, xp), xp.clip(frontier_log_tokens(law, mid, arch, 2, xp), LOG_MIN, LOG_MAX))
        over = spent > log_C_u
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
    v = xp.where(log_C > cost.log_training(log_FS, LOG_MAX), xp.nan, v)
    log_DS, log_DT = (x[..., 0] for x in allocation(log_NT[..., None]))
    log_LT = _log_sup_nd(xp, law, log_NT, log_DT)
    return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT), "D_T": xp.exp(log_DT),
            "L_T": xp.exp(log_LT)}
