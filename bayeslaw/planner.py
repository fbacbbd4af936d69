"""Compute-optimal recipes as posterior distributions, vectorised over draws and grids.

For every posterior draw, student size and budget this module finds the supervised optimum
and the distillation optimum in each compute scenario (Eq. 10 of Busbridge et al.), with
sizes and tokens bounded to [1e6, 1e17] as in the paper. There are no closed forms, so each
problem is first reduced to one or two free variables through the budget constraint and then
searched on a coarse log-space grid refined a few times around the best point, all in numpy
arrays of shape (draw, student size, budget, grid...). Draws are processed in chunks to bound
memory.

Reductions (planner notes):
- supervised at fixed N_S: closed form, D_S = C / (3 F(N_S));
- supervised optimum: one free variable, log N (D from the budget);
- best case (teacher free): one free variable, the teacher loss L_T >= L(1e17, 1e17);
- teacher inference: D_T costs nothing, so it sits at the upper bound; one free variable, N_T;
- teacher pretraining (and + inference): two free variables, N_T and the student's share of
  the budget; D_T follows from the rest.
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

    def astype(self, dtype, xp=np) -> Laws:
        """The same draws in another float type (the planner's float32 search)."""
        return Laws(**{k: (None if v is None else xp.asarray(v, dtype=dtype)) for k, v in self.__dict__.items()})

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


def _grid(lo, hi, n: int, k: int, xp):
    t = np.linspace(0.0, 1.0, n)
    grids = []
    for i in range(k):
        shape = [1] * k
        shape[i] = n
        grids.append(lo[i][..., *([None] * k)]
                     + (hi[i] - lo[i])[..., *([None] * k)] * xp.asarray(t.reshape(shape), dtype=lo[i].dtype))
    return grids, t


def _refine(objective: Callable[..., np.ndarray], lows: list[np.ndarray], highs: list[np.ndarray],
            n_coarse: int, n_fine: int, rounds: int, xp=np, keep: int = 1) -> tuple[list[np.ndarray], np.ndarray]:
    """Minimise ``objective(*xs)`` over a box, vectorised over the leading (problem) axes.

    ``lows``/``highs`` have the problem shape; the objective gets one grid array per variable
    (problem shape plus one trailing axis per variable) and returns values of that shape, with
    infeasible points as +inf. A coarse grid, then for each of its ``keep`` best cells (near-tied
    basins) ``rounds`` finer grids over the cells around the best point so far.
    """
    k = len(lows)
    lows = [xp.asarray(x) for x in lows]
    highs = [xp.asarray(x) for x in highs]
    grids, t = _grid(lows, highs, n_coarse, k, xp)
    vals = objective(*grids)
    vals = xp.where(xp.isnan(vals), xp.inf, vals)
    flat = vals.reshape(vals.shape[: vals.ndim - k] + (-1,))
    order = xp.argsort(flat, axis=-1)[..., :keep] if keep > 1 else xp.argmin(flat, axis=-1)[..., None]
    step0 = [(highs[i] - lows[i]) / (n_coarse - 1) for i in range(k)]
    best_x, best_v = None, None
    for j in range(keep):
        idx = order[..., j]
        pos = xp.unravel_index(idx, (n_coarse,) * k)
        cx = [lows[i] + (highs[i] - lows[i]) * xp.asarray(t, dtype=lows[i].dtype)[pos[i]] for i in range(k)]
        cv = xp.take_along_axis(flat, idx[..., None], axis=-1)[..., 0]
        lo = [xp.maximum(cx[i] - step0[i], lows[i]) for i in range(k)]
        hi = [xp.minimum(cx[i] + step0[i], highs[i]) for i in range(k)]
        for _ in range(rounds):
            g, tf = _grid(lo, hi, n_fine, k, xp)
            vals = objective(*g)
            vals = xp.where(xp.isnan(vals), xp.inf, vals)
            fl = vals.reshape(vals.shape[: vals.ndim - k] + (-1,))
            ix = xp.argmin(fl, axis=-1)
            p = xp.unravel_index(ix, (n_fine,) * k)
            xs = [lo[i] + (hi[i] - lo[i]) * xp.asarray(tf, dtype=lo[i].dtype)[p[i]] for i in range(k)]
            v = xp.take_along_axis(fl, ix[..., None], axis=-1)[..., 0]
            better = v < cv
            cx = [xp.where(better, a, b) for a, b in zip(xs, cx, strict=True)]
            cv = xp.where(better, v, cv)
            step = [(hi[i] - lo[i]) / (n_fine - 1) for i in range(k)]
            lo = [xp.maximum(cx[i] - step[i], lows[i]) for i in range(k)]
            hi = [xp.minimum(cx[i] + step[i], highs[i]) for i in range(k)]
        if best_v is None:
            best_x, best_v = cx, cv
        else:
            better = cv < best_v
            best_x = [xp.where(better, a, b) for a, b in zip(cx, best_x, strict=True)]
            best_v = xp.where(better, cv, best_v)
    return best_x, best_v


def supervised_optimum(law: Laws, C: np.ndarray, arch: Architecture | None = PAPER_ARCHITECTURE,
                       rounds: int = 4, xp=np) -> dict[str, np.ndarray]:
    """argmin L(N, D) subject to 3 F(N) D = C, per draw and budget: N*, D*, L* of shape (draw, budget)."""
    log_C = xp.log(xp.asarray(C, dtype=float))[None, :] + xp.zeros((law.n_draws, 1))

    def objective(log_N):
        log_D = log_C[..., None] - xp.log(3.0) - log_F(log_N, arch, xp)
        val = _log_sup_nd(xp, law, log_N, log_D)
        return xp.where((log_D >= LOG_MIN) & (log_D <= LOG_MAX), val, xp.inf)

    (log_N,), v = _refine(objective, [xp.full(log_C.shape, LOG_MIN)], [xp.full(log_C.shape, LOG_MAX)],
                          64, 9, rounds, xp)
    log_D = log_C - xp.log(3.0) - log_F(log_N, arch, xp)
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
                         arch: Architecture | None = PAPER_ARCHITECTURE, rounds: int = 4,
                         xp=np, search_dtype: str | None = None) -> dict[str, np.ndarray]:
    """The distillation optimum per draw, student size and budget in one scenario (Eq. 10).

    Returns arrays of shape (draw, size, budget): L_S, D_S, N_T, D_T, L_T (N_T, D_T are NaN in the
    best case, where the teacher is free and only its loss is chosen). Where no allocation within
    the bounds spends the budget, everything is NaN. With ``search_dtype="float32"`` the search runs
    in single precision and a short float64 search around its answer gives the result.
    """
    kw = {"n_students": n_students, "arch": arch, "rounds": rounds, "xp": xp}
    if search_dtype is None or np.dtype(search_dtype) == np.float64:
        res = _distillation_optimum(law, N_S, C, scenario, **kw)
    else:
        rough = _distillation_optimum(law.astype(search_dtype, xp), N_S, C, scenario, dtype=search_dtype, **kw)
        res = _distillation_optimum(law, N_S, C, scenario, around={k: xp.asarray(v, dtype=float)
                                                                    for k, v in rough["_vars"].items()}, **kw)
    res.pop("_vars")
    bad = ~xp.isfinite(res["L_S"])
    return {k: xp.where(bad, xp.nan, v) for k, v in res.items()}


def _problem_axes(n_draws: int, N_S, C, xp=np, dtype=float):
    """log N_S and log C broadcast to the problem shape (draw, student size, budget)."""
    log_NS = xp.log(xp.asarray(N_S, dtype=dtype))[None, :, None] + xp.zeros((n_draws, 1, 1), dtype=dtype)
    log_C = xp.log(xp.asarray(C, dtype=dtype))[None, None, :] + xp.zeros((n_draws, 1, 1), dtype=dtype)
    return xp.broadcast_arrays(log_NS, log_C)


#: The float64 search around a float32 answer: half-widths of its box and its grid.
POLISH = {"log_LT": 0.01, "log_NT": 0.05, "logit_u": 0.05}
POLISH_SEARCH = {"n_coarse": 5, "n_fine": 5, "rounds": 3}


def _distillation_optimum(law: Laws, N_S: np.ndarray, C: np.ndarray, scenario: str, *, n_students: int,
                          arch: Architecture | None, rounds: int, xp=np, dtype=None,
                          around: dict | None = None) -> dict[str, np.ndarray]:
    """The search; ``around`` (a previous answer's variables) narrows it to a small box there."""
    sc = compute.get_scenario(scenario)
    n = law.n_draws
    dtype = dtype or float
    log_NS, log_C = _problem_axes(n, N_S, C, xp, dtype)
    lead = log_NS.shape
    log_FS = log_F(log_NS, arch, xp)
    k = float(n_students)

    def student(log_DS, log_LT, nd):
        tilde = _log_sup_nd(xp, law, log_NS[(...,) + (None,) * nd] + 0 * log_DS, log_DS)
        return log_student(law, log_NS[(...,) + (None,) * nd], log_DS, log_LT, tilde, len(lead) - 1 + nd, xp)

    def ok(*logs):
        m = True
        for x in logs:
            m = m & (x >= LOG_MIN - 1e-9) & (x <= LOG_MAX + 1e-9)
        return m

    def box(names, lows, highs, **search):
        """Search the full box, or a small float64 box around a previous answer."""
        if around is None:
            return _refine(search.pop("objective"), lows, highs, xp=xp, **search)
        lo = [xp.maximum(around[v] - POLISH[v], a) for v, a in zip(names, lows, strict=True)]
        hi = [xp.minimum(around[v] + POLISH[v], b) for v, b in zip(names, highs, strict=True)]
        return _refine(search["objective"], lo, hi, xp=xp, **POLISH_SEARCH)

    if sc.name == "best_case":
        log_DS = log_C - LOG3 - log_FS
        floor = _log_sup_nd(xp, law, xp.full((n, 1), LOG_MAX, dtype=dtype), xp.full((n, 1), LOG_MAX, dtype=dtype))[:, 0]
        lo = xp.broadcast_to(floor[:, None, None], lead) + 0.0
        hi = lo + math.log(10.0)

        def obj(log_LT):
            v = student(log_DS[..., None], log_LT, 1)
            return xp.where(ok(log_DS)[..., None], v, xp.inf)

        (log_LT,), v = box(["log_LT"], [lo], [hi], objective=obj, n_coarse=96, n_fine=9, rounds=rounds)
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "L_T": xp.exp(log_LT),
                "N_T": xp.full(lead, xp.nan, dtype=dtype), "D_T": xp.full(lead, xp.nan, dtype=dtype),
                "_vars": {"log_LT": log_LT}}

    if sc.name == "teacher_inference":
        log_DT = LOG_MAX

        def obj(log_NT):
            log_DS = log_C[..., None] - xp.logaddexp(LOG3 + log_FS[..., None], log_F(log_NT, arch, xp))
            log_LT = _log_sup_nd(xp, law, log_NT, xp.full_like(log_NT, log_DT))
            return xp.where(ok(log_DS, log_NT), student(log_DS, log_LT, 1), xp.inf)

        (log_NT,), v = box(["log_NT"], [xp.full(lead, LOG_MIN, dtype=dtype)], [xp.full(lead, LOG_MAX, dtype=dtype)],
                           objective=obj, n_coarse=64, n_fine=9, rounds=rounds)
        log_DS = log_C - xp.logaddexp(LOG3 + log_FS, log_F(log_NT, arch, xp))
        log_LT = _log_sup_nd(xp, law, log_NT, xp.full_like(log_NT, log_DT))
        return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT),
                "D_T": xp.full(lead, math.exp(log_DT), dtype=dtype), "L_T": xp.exp(log_LT),
                "_vars": {"log_NT": log_NT}}

    # teacher pretraining (+ inference): free log N_T and the student's share u of the budget
    lgt = sc.delta_logits

    def split(log_NT, logit_u):
        log_u = -xp.logaddexp(0.0, -logit_u)
        log_1mu = -xp.logaddexp(0.0, logit_u)
        log_FT = log_F(log_NT, arch, xp)
        per_token = LOG3 + log_FS[..., None, None]
        if lgt:
            per_token = xp.logaddexp(per_token, log_FT)
        log_DS = log_C[..., None, None] + log_u - per_token
        log_DT = log_C[..., None, None] + log_1mu + math.log(k) - LOG3 - log_FT
        return log_DS, log_DT

    def obj(log_NT, logit_u):
        log_DS, log_DT = split(log_NT, logit_u)
        log_LT = _log_sup_nd(xp, law, log_NT + 0 * log_DT, log_DT)
        return xp.where(ok(log_DS, log_DT, log_NT + 0 * log_DT), student(log_DS, log_LT, 2), xp.inf)

    lo = [xp.full(lead, LOG_MIN, dtype=dtype), xp.full(lead, -12.0, dtype=dtype)]
    hi = [xp.full(lead, math.log(1e14), dtype=dtype), xp.full(lead, 12.0, dtype=dtype)]
    (log_NT, logit_u), v = box(["log_NT", "logit_u"], lo, hi, objective=obj, **SEARCH_2D)
    log_DS, log_DT = (x[..., 0, 0] for x in split(log_NT[..., None, None], logit_u[..., None, None]))
    log_LT = _log_sup_nd(xp, law, log_NT, log_DT)
    return {"L_S": xp.exp(v), "D_S": xp.exp(log_DS), "N_T": xp.exp(log_NT), "D_T": xp.exp(log_DT),
            "L_T": xp.exp(log_LT), "_vars": {"log_NT": log_NT, "logit_u": logit_u}}


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
                 rounds: int = 4) -> xr.Dataset:
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
        res = distillation_optimum(law, [n], C, "best_case", arch=arch, rounds=rounds)
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


#: The two-variable search (teacher pretraining scenarios): coarse grid, refinement grids, rounds,
#: and how many of the coarse grid's best cells are refined (near-tied basins).
SEARCH_2D = {"n_coarse": 16, "n_fine": 5, "rounds": 7, "keep": 3}

#: Largest number of grid evaluations held in one temporary array (float64: 64 MB).
MAX_GRID_ELEMENTS = 2**23
_GRID_POINTS = 16 * 16  # the widest search grid per problem (two-variable coarse grid)


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
def _jax_kernel(scenario: str, n_students: int, arch: Architecture | None, rounds: int, search_dtype: str | None):
    import jax
    import jax.numpy as jnp

    def kernel(coefs, N_S, C):
        return distillation_optimum(Laws(**coefs), N_S, C, scenario, n_students=n_students, arch=arch,
                                    rounds=rounds, xp=jnp, search_dtype=search_dtype)

    return jax.jit(kernel)


def _optimum(sub: Laws, N_S, C, scenario: str, *, n_students: int, arch, rounds: int, backend: str,
             search_dtype: str | None = None):
    if backend == "numpy":
        return distillation_optimum(sub, N_S, C, scenario, n_students=n_students, arch=arch, rounds=rounds,
                                    search_dtype=search_dtype)
    if backend == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            raise RuntimeError("the JAX planner needs 64-bit floats: set JAX_ENABLE_X64=1 (or "
                               "jax.config.update('jax_enable_x64', True)) before JAX is first used")
        coefs = {k: v for k, v in sub.__dict__.items() if v is not None}
        out = _jax_kernel(scenario, n_students, arch, rounds, search_dtype)(coefs, N_S, C)
        return {k: np.asarray(v) for k, v in out.items()}
    raise ValueError(f"backend must be 'numpy' or 'jax', got {backend!r}")


def plan_chunk(sub: Laws, N_S: np.ndarray, C: np.ndarray, scenarios: tuple[str, ...], *, n_students: int = 1,
               arch: Architecture | None = PAPER_ARCHITECTURE, rounds: int = 4,
               backend: str = "numpy", search_dtype: str | None = None) -> xr.Dataset:
    """All optima for one chunk of draws (the unit of work of :func:`plan_grid`, local or on Dask)."""
    out = {k: [] for k in ("L_S", "D_S", "N_T", "D_T", "L_T")}
    for sc in scenarios:
        res = _optimum(sub, N_S, C, sc, n_students=n_students, arch=arch, rounds=rounds, backend=backend,
                       search_dtype=search_dtype)
        for k in out:
            out[k].append(res[k])
    dims = ("draw", "student_size", "budget", "scenario")
    ds = xr.Dataset({k: (dims, np.stack(v, axis=-1)) for k, v in out.items()})
    ds["L_sup"] = (("draw", "student_size", "budget"), supervised_student(sub, N_S, C, arch))
    opt = supervised_optimum(sub, C, arch, rounds=rounds)
    for k, v in opt.items():
        ds[f"{k}_opt"] = (("draw", "budget"), v)
    return ds


def plan_grid(law: Laws, student_sizes, budgets, scenarios: tuple[str, ...] = SCENARIO_NAMES, *,
              n_students: int = 1, arch: Architecture | None = PAPER_ARCHITECTURE, chunk: int | None = None,
              rounds: int = 4, backend: str = "numpy", scheduler: str | None = None,
              search_dtype: str | None = None, progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Distillation and supervised optima for every draw, student size, budget and scenario.

    Returns a Dataset with dims ``(draw, student_size, budget, scenario)``: the distillation
    optimum (``L_S``, ``D_S``, ``N_T``, ``D_T``, ``L_T``), the supervised student on the same
    budget (``L_sup``), ``diff = L_S - L_sup`` (negative: distillation wins), and the supervised
    compute-optimal ``N_opt``, ``D_opt``, ``L_opt`` per budget.

    Draws are processed ``chunk`` at a time (default :func:`auto_chunk`: one search grid within
    :data:`MAX_GRID_ELEMENTS`), so memory stays bounded whatever the grid; ``progress(done,
    total)`` is called after each chunk. ``backend="jax"`` runs the searches jit-compiled on JAX
    (CPU or GPU; same results). ``scheduler`` sends the chunks to Dask: ``"local"`` starts a
    LocalCluster, anything else is a scheduler address (``tcp://host:8786``). ``search_dtype=
    "float32"`` searches in single precision and finishes each problem with a short float64 search.
    """
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    C = np.atleast_1d(np.asarray(budgets, float))
    scenarios = tuple(scenarios)
    _check_inputs(N_S, C, scenarios, n_students)
    if law.c0 is None:
        raise ValueError("distillation planning needs a distillation (joint) posterior, not a supervised one")
    chunk = chunk or auto_chunk(N_S.size, C.size)
    starts = list(range(0, law.n_draws, chunk))
    kw = {"n_students": n_students, "arch": arch, "rounds": rounds, "backend": backend, "search_dtype": search_dtype}
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
