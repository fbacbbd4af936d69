"""The cheapest lifetime recipe per route that reaches a target loss with a given probability.

``bayeslaw plan --target L`` without ``--student``: Sardana et al.'s question ("the least lifetime compute that
reaches L") asked of every route -- supervised, distilled in each scenario, distilled from each teacher you give --
with the student size a choice. A recipe to commit to is one student size on one lifetime budget (its tokens, and a
distilled student's teacher, the planner's per draw on the law for that size and budget, as ``plan`` chooses them);
it reaches L with the probability that the draws' outcomes -- the law's error beyond the fitted runs included -- lie
at or below L. Per route and serving demand this finds the cheapest budget at which some size reaches L with
probability ``prob``: a half-decade sweep of budgets on a subsample of the draws brackets it, then a
sixteenth-decade sweep inside the bracket, over the sizes near the bracket's best and every draw, resolves it (the
next bracket too where the subsample was one step early). The answer is that budget, the size, and the bands of
what it reaches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, compute
from bayeslaw.core.intervals import CI_BOUND, band
from bayeslaw.core.serving import Demand, Prices
from bayeslaw.decision.caveats import Caveat, check_above_floor
from bayeslaw.decision.free_size import (
    SIZES,
    SUPERVISED,
    check_ratio_bounds,
    check_teachers,
    recipe_caveats,
    teacher_route,
)
from bayeslaw.decision.pipeline import DecisionDraws, Extrapolation, calibration_for, decision_draws
from bayeslaw.decision.question import Teacher, distil_label
from bayeslaw.planning.grid import plan_grid
from bayeslaw.posterior.card import Fit

#: The lifetime budgets searched (FLOPs): from what trains a 1e7-parameter student on ~1e9 tokens to far beyond any
#: run so far.
SEARCH = (1e17, 1e27)
#: Budgets per decade of the bracketing sweep, and of the sweep that resolves the answer inside the bracket.
COARSE, FINE = 2, 16
#: Draws of the bracketing sweep (the answer itself is read from every draw).
SCOUT = 200
#: The verdict where no route reaches the target with the probability asked within :data:`SEARCH`.
UNREACHED = "not reached: no route gets there with that probability by 1e27 FLOPs"


def _reach_grid(draws: DecisionDraws, N: np.ndarray, C: np.ndarray, scenarios: Sequence[str], t: float,
                n_students: int, teacher_cap: float | None, teachers: Sequence[Teacher],
                ratio: tuple[float | None, float | None]) -> tuple[xr.DataArray, xr.DataArray]:
    """What each route's recipe of each size reaches on each budget (dims ``(draw, route, student_size, budget)``),
    NaN where it has none (serving leaves too little, the teacher cannot be used, outside the ratio bounds), and
    its student tokens."""
    with np.errstate(invalid="ignore", divide="ignore"):
        grid = plan_grid(draws.planning_law, N, C, tuple(scenarios), n_students=n_students, teacher_cap=teacher_cap,
                         serving_tokens=t, infeasible="nan" if t > 0 else "raise")
        reached = draws.reached(grid)
        train = grid["training_budget"] if "training_budget" in grid else grid["budget"]
        sizes = xr.DataArray(N, dims="student_size", coords={"student_size": N})
        loss = {SUPERVISED: reached["L_sup"]}
        tokens = {SUPERVISED: xr.broadcast(compute.supervised_tokens(sizes, train), reached["L_sup"])[0]}
        for sc in scenarios:
            loss[distil_label(sc)] = reached["L_S"].sel(scenario=sc, drop=True)
            tokens[distil_label(sc)] = grid["D_S"].sel(scenario=sc, drop=True)
        for tch in teachers:
            _, got, D_S = teacher_route(draws, N, C, scenarios[0], tch, t, n_students)
            loss[f"distil from {tch.label}"], tokens[f"distil from {tch.label}"] = got, D_S
    routes = xr.Variable("route", list(loss))
    L = xr.concat([v.transpose("draw", "student_size", "budget") for v in loss.values()], dim=routes)
    D = xr.concat([v.transpose("draw", "student_size", "budget") for v in tokens.values()], dim=routes)
    lo, hi = ratio
    per_param = D / D["student_size"]
    keep = (per_param >= (lo if lo is not None else 0.0)) & (per_param <= (hi if hi is not None else np.inf))
    return L.where(keep).assign_coords(route=list(loss)), D.assign_coords(route=list(loss))


def _near(p: xr.DataArray, N: np.ndarray, reach: int = 2) -> np.ndarray:
    """The sizes within ``reach`` grid steps of the one most likely to reach the target (``p`` over sizes)."""
    k = int(p.fillna(-1).argmax("student_size"))
    return N[max(k - reach, 0):k + reach + 1]


def _first(p: xr.DataArray, prob: float) -> xr.DataArray:
    """Per route: the index of the first budget at which some size reaches ``prob`` (-1: none does)."""
    ok = (p.max("student_size") >= prob).values  # (route, budget)
    return xr.DataArray(np.where(ok.any(axis=1), ok.argmax(axis=1), -1), dims="route", coords={"route": p["route"]})


def cheapest_routes(fit: Fit, target: float, scenarios: Sequence[str] = ("teacher_inference",), *,
                    inference_tokens: Sequence[float] = (0.0,), prob: float = 0.9, sizes: Any = None,
                    n_students: int = 1, max_draws: int | None = 1000, seed: int = 0,
                    teacher_cap: float | None = bounds.TEACHER_CAP_RATIO, teachers: Sequence[Teacher] = (),
                    min_tokens_per_param: float | None = None, max_tokens_per_param: float | None = None,
                    extrapolation: Extrapolation | Fit = True, draws: DecisionDraws | None = None) -> xr.Dataset:
    """Per route and serving demand: the cheapest lifetime budget and student size whose recipe reaches ``target``
    with probability ``prob`` (see the module docstring).

    Parameters
    ----------
    fit
        A joint (distillation) posterior, or a point law.
    target
        The loss to reach (nats/token), above the law's irreducible term.
    scenarios
        The distillation routes' compute scenarios (a given teacher is charged as the first one charges it).
    inference_tokens
        Serving demands to compare (tokens the student serves over its lifetime, paid from the budget first).
    prob
        The probability of reaching the target the recipe must have.
    sizes
        Candidate student sizes (default :data:`~bayeslaw.decision.free_size.SIZES`).
    n_students, max_draws, seed, teacher_cap
        As in :func:`bayeslaw.decision.plan.plan`.
    teachers
        Given teachers, each a route of its own.
    min_tokens_per_param, max_tokens_per_param
        Only recipes whose student trains within these tokens per parameter count (a draw outside does not reach).
    extrapolation
        As in :func:`bayeslaw.decision.plan.plan`, or a loaded calibration.
    draws
        The decision's draws when a caller already holds them (the report), instead of drawing them again.

    Returns
    -------
    xarray.Dataset
        Dims ``(tokens, route)``: ``budget`` (the cheapest lifetime budget, FLOPs, resolved to a sixteenth of a
        decade; NaN where the route does not get there by :data:`SEARCH`'s end), ``size`` (the student size to
        commit to), ``p_reach`` (its probability of reaching the target there), the median and band of its
        ``loss`` and ``tokens_per_param`` (``loss_median``, ``loss_lower``, ...); with dim ``tokens`` ``best``
        (the cheapest route), ``verdict`` (``distil`` where a distilled route is cheaper than supervised training,
        ``train supervised`` where it is not, or :data:`UNREACHED`) and ``saving`` (the budget the cheapest
        distilled route saves against supervised training, a share of the latter's; negative where it costs more).
    """
    fit.require("distillation", verb="plan --target")
    check_above_floor(fit, target, "target loss")
    bounds.check_interval(prob)
    bounds.check_teacher_cap(teacher_cap)
    T = np.atleast_1d(np.asarray(inference_tokens, float))
    for t in T:
        Demand.total(t)
    check_teachers(fit, teachers)
    ratio = check_ratio_bounds(min_tokens_per_param, max_tokens_per_param)
    N = SIZES if sizes is None else np.atleast_1d(np.asarray(sizes, float))
    bounds.check_plan(N, np.array([SEARCH[1]]), scenarios, n_students)
    cal = calibration_for(fit, extrapolation)
    if draws is None:
        draws = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=cal)
    # the bracketing sweep on a subsample (its own seeded draws): it only says where to look
    scout = decision_draws(fit, max_draws=min(SCOUT, draws.n), seed=seed, calibration=cal)
    kw = dict(n_students=n_students, teacher_cap=teacher_cap, teachers=teachers, ratio=ratio)
    lo = max(SEARCH[0], bounds.min_budget(N.min()) * 1.01)
    coarse = np.geomspace(lo, SEARCH[1], int(round(np.log10(SEARCH[1] / lo) * COARSE)) + 1)
    cells = []
    for t in T:
        rough = (_reach_grid(scout, N, coarse, scenarios, float(t), **kw)[0] <= target).mean("draw")
        first = _first(rough, prob)
        routes = list(rough["route"].values)
        found: dict[str, tuple[float, float, float, xr.DataArray, xr.DataArray]] = {}
        tries = {r: int(first.sel(route=r)) for r in routes}
        for _ in range(3):  # a subsample's bracket can be one step early: look in the next one too
            todo = [r for r in routes if r not in found and 0 <= tries[r] < coarse.size]
            if not todo:
                break
            fine = np.unique(np.concatenate([np.geomspace(coarse[max(tries[r] - 1, 0)], coarse[tries[r]],
                                                          FINE // COARSE + 1) for r in todo]))
            near = np.unique(np.concatenate([_near(rough.sel(route=r).isel(budget=tries[r]), N) for r in todo]))
            L, D = _reach_grid(draws, near, fine, scenarios, float(t), **kw)
            p = (L <= target).mean("draw")
            at = _first(p, prob)
            for r in todo:
                j = int(at.sel(route=r))
                if j < 0:
                    tries[r] += 1
                    continue
                pj = p.sel(route=r).isel(budget=j)
                k = int(pj.fillna(-1).argmax("student_size"))
                cell = dict(route=r, budget=fine[j], student_size=near[k])
                found[r] = (float(fine[j]), float(near[k]), float(pj.isel(student_size=k)),
                            L.sel(cell, drop=True), D.sel(cell, drop=True) / near[k])
        nothing = xr.DataArray(np.full(draws.n, np.nan), dims="draw")
        rows = [{"budget": found[r][0], "size": found[r][1], "p_reach": found[r][2], "loss": found[r][3],
                 "tpp": found[r][4]} if r in found else
                {"budget": np.nan, "size": np.nan, "p_reach": float(rough.sel(route=r).max()), "loss": nothing,
                 "tpp": nothing} for r in routes]
        cells.append(_cell(rows, routes, prob))
    ds = xr.concat(cells, dim=xr.Variable("tokens", T)).assign_coords(tokens=T)
    ds.attrs.update(target=float(target), prob=prob, n_draws=int(draws.n), extrapolation=draws.extrapolation,
                    sizes=f"{N.size} sizes from {N.min():.3g} to {N.max():.3g}",
                    resolution=f"budgets resolved to 1/{FINE} of a decade between {lo:.3g} and {SEARCH[1]:.0e} FLOPs")
    for name, r in zip(("min_tokens_per_param", "max_tokens_per_param"), ratio, strict=True):
        if r is not None:
            ds.attrs[name] = float(r)
    return ds


def in_money(ds: xr.Dataset, prices: Prices) -> xr.Dataset:
    """:func:`cheapest_routes`'s answer to a priced question: each budget (training-FLOP equivalents) as money.

    Parameters
    ----------
    ds
        The answer, solved with the demands as training-priced forward passes.
    prices
        The question's prices.

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``cost`` (money, dims ``(tokens, route)``) and ``attrs["unit"]`` ``"$"``.
    """
    out = ds.assign(cost=ds["budget"] * prices.per_flop()[0])
    out.attrs["unit"] = "$"
    return out


def _cell(rows: list[dict[str, Any]], routes: list[str], prob: float) -> xr.Dataset:
    """One demand's answer: each route's cheapest recipe, the cheapest route, distil or not."""
    coord = {"route": routes}
    ds = xr.Dataset({k: ("route", [r[k] for r in rows]) for k in ("budget", "size", "p_reach")}, coords=coord)
    for name, key in (("loss", "loss"), ("tokens_per_param", "tpp")):
        b = band(xr.concat([r[key] for r in rows], dim=xr.Variable("route", routes)), prob)
        for bound in CI_BOUND:
            ds[f"{name}_{bound}"] = b.sel(ci_bound=bound, drop=True)
    budget = ds["budget"].fillna(np.inf)
    sup = float(budget.sel(route=SUPERVISED))
    distilled = budget.sel(route=[r for r in routes if r != SUPERVISED])
    best_distilled = float(distilled.min()) if distilled.size else np.inf
    if not np.isfinite(min(sup, best_distilled)):
        verdict, best = UNREACHED, ""
    else:
        best = str(budget["route"].values[int(np.argmin(budget.values))])
        verdict = "distil" if best_distilled < sup else "train supervised"
    saving = (sup - best_distilled) / sup if np.isfinite(sup) and np.isfinite(best_distilled) else np.nan
    return ds.assign(best=best, verdict=verdict, saving=saving)


def target_route_caveats(fit: Fit, ds: xr.Dataset) -> list[Caveat]:
    """Failed gates, the data, and one reach caveat for the recipes committed to (each route's median student).

    Parameters
    ----------
    fit
        The posterior planned from.
    ds
        :func:`cheapest_routes`'s result.

    Returns
    -------
    list of Caveat
        In the order to show them.
    """
    rows = []
    for t in ds["tokens"].values:
        for r in ds["route"].values:
            x = ds.sel(tokens=t, route=r)
            N = float(x["size"])
            if np.isfinite(N):
                rows.append((f"{r}, serving {t:.0e} tokens: student at {float(x['budget']):.3g} FLOPs", str(r), N,
                             N * float(x["tokens_per_param_median"]), float(x["loss_median"])))
    return recipe_caveats(fit, rows)
