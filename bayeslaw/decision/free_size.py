"""The student size as a choice: per route, the size that reaches the lowest loss at a lifetime budget.

``bayeslaw plan`` without ``--student``. A team that will serve many tokens wants a smaller model trained longer
(Sardana et al. 2024), and whether to distil it changes with that size. For every posterior draw, budget and
serving demand ``T`` this searches a log grid of student sizes per route -- supervised, distilled in each
scenario, and distilled from each teacher you give -- for the size with the lowest loss under the law (each size's
serving, ``F(N_S) T``, paid from the budget first), then reads off what that recipe reaches with the law's error
(the same draws and error as ``plan``). The paired difference of the best supervised and the best distilled
student gives the verdict, as in ``plan``.

The size is chosen per draw on the law's expectation (and, past the fitted tokens per parameter, the draw's expected
drift, as the planner charges a teacher), not on the error's realisation: a choice made knowing a draw's error
would be an oracle's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import bounds, compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import CI_BOUND, band
from bayeslaw.core.seeds import Streams
from bayeslaw.core.serving import Demand
from bayeslaw.decision.caveats import REACH, Caveat, check_teacher_losses, point_caveats
from bayeslaw.decision.pipeline import DecisionDraws, Extrapolation, calibration_for, decision_draws, teacher_option
from bayeslaw.decision.question import Teacher, distil_label
from bayeslaw.planning.grid import plan_grid
from bayeslaw.planning.optima import drift_penalty
from bayeslaw.posterior import reach
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.extrapolation import (
    ALLOCATED,
    allocation_decades,
    allocation_shift,
    load_allocation,
    tokens_bought,
)

#: Candidate student sizes: four per decade from 1e7 to 1e12 parameters.
SIZES = np.geomspace(1e7, 1e12, 21)
SUPERVISED = "supervised"
#: The verdict where serving leaves no candidate size anything to train with.
NO_RECIPE = "no recipe: serving takes the budget"
#: The same with a tokens-per-parameter bound, which can leave no candidate too.
NO_RECIPE_BOUNDED = "no recipe: serving takes the budget or every size trains outside the tokens-per-parameter bounds"


def _best(law_loss: xr.DataArray, reached: xr.DataArray, tokens: xr.DataArray) -> xr.Dataset:
    """Per draw (and every other dim but ``student_size``): the size of least law loss, what it reaches, its tokens."""
    filled = law_loss.fillna(np.inf)
    none = np.isinf(filled.min("student_size"))
    i = filled.argmin("student_size")
    size = xr.broadcast(law_loss["student_size"], law_loss)[0]
    out = xr.Dataset({"size": size, "loss": reached, "student_tokens": xr.broadcast(tokens, law_loss)[0]})
    return out.isel(student_size=i).where(~none).drop_vars("student_size", errors="ignore")


def check_ratio_bounds(lo: float | None, hi: float | None) -> tuple[float | None, float | None]:
    """``--min/--max-tokens-per-param`` checked: each None or a positive number, the first below the second.

    Parameters
    ----------
    lo, hi
        The bounds (None: none that side).

    Returns
    -------
    tuple
        ``(lo, hi)``.
    """
    for name, r in (("--min-tokens-per-param", lo), ("--max-tokens-per-param", hi)):
        if r is not None and not (np.isfinite(r) and r > 0):
            raise InputError(f"{name} must be a positive number of tokens per parameter (e.g. 20 or 250), got {r!r}")
    if lo is not None and hi is not None and lo >= hi:
        raise InputError(f"--min-tokens-per-param ({lo:g}) must be below --max-tokens-per-param ({hi:g})")
    return lo, hi


def check_teachers(fit: Fit, teachers: Sequence[Teacher]) -> None:
    """Each given teacher well-formed, and a measured one above the law's floor."""
    for tch in teachers:
        tch.check()
    check_teacher_losses(fit, teachers)


def _within(loss: xr.DataArray, tokens: xr.DataArray, sizes: xr.DataArray,
            ratio: tuple[float | None, float | None]) -> xr.DataArray:
    """``loss`` where the recipe trains between ``ratio`` tokens per parameter (None: no bound that side), NaN (not
    a candidate) elsewhere."""
    lo, hi = ratio
    if lo is not None:
        loss = loss.where(tokens / sizes >= lo)
    return loss if hi is None else loss.where(tokens / sizes <= hi)


def _route_bests(draws: DecisionDraws, N: np.ndarray, C: np.ndarray, scenarios: Sequence[str], t: float,
                 n_students: int, teacher_cap: float | None,
                 ratio: tuple[float | None, float | None] = (None, None),
                 teachers: Sequence[Teacher] = ()) -> xr.Dataset:
    """One serving demand: each route's best size per draw and budget (dims ``(draw, budget, route)``), among the
    sizes whose recipe trains within ``ratio`` tokens per parameter (None: no bound)."""
    grid = plan_grid(draws.planning_law, N, C, tuple(scenarios), n_students=n_students, teacher_cap=teacher_cap,
                     serving_tokens=t, infeasible="nan" if t > 0 else "raise")
    reached = draws.reached(grid)
    train = grid["training_budget"] if "training_budget" in grid else grid["budget"]
    sizes = xr.DataArray(N, dims="student_size", coords={"student_size": N})
    sup_tokens = compute.supervised_tokens(sizes, train).transpose("student_size", "budget")
    choice = grid["L_sup"]
    law = draws.planning_law
    if law.drift_slope is not None:  # choose as the evaluation charges: past the fitted ratio, the drift too
        log_N = np.log(N)[None, :, None]
        log_D = np.log(sup_tokens.transpose("student_size", "budget").values)[None]
        choice = choice * np.exp(drift_penalty(law, log_N, log_D))
    routes = {SUPERVISED: _best(_within(choice, sup_tokens, sizes, ratio), reached["L_sup"], sup_tokens)}
    for sc in scenarios:
        D_S = grid["D_S"].sel(scenario=sc, drop=True)
        routes[distil_label(sc)] = _best(_within(grid["L_S"].sel(scenario=sc, drop=True), D_S, sizes, ratio),
                                         reached["L_S"].sel(scenario=sc, drop=True), D_S)
    for tch in teachers:
        law_loss, got, D_S = teacher_route(draws, N, C, scenarios[0], tch, t, n_students)
        routes[f"distil from {tch.label}"] = _best(_within(law_loss, D_S, sizes, ratio), got, D_S)
    return xr.concat(list(routes.values()), dim=xr.Variable("route", list(routes)))


def teacher_route(draws: DecisionDraws, N: np.ndarray, C: np.ndarray, scenario: str, teacher: Teacher, t: float,
                  n_students: int) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Distilling each candidate size from a given teacher on each lifetime budget.

    Parameters
    ----------
    draws
        The decision's draws (with the law's error, or without).
    N, C
        Candidate student sizes and lifetime budgets.
    scenario
        What the teacher costs (its pretraining charged unless it exists).
    teacher
        The teacher.
    t
        The student's serving demand, paid from each budget first.
    n_students
        Students sharing the teacher.

    Returns
    -------
    tuple of xarray.DataArray
        Dims ``(draw, student_size, budget)``: the law's expected loss (what a size is chosen on), what the recipe
        reaches with the law's error, and the student's tokens; NaN where the teacher cannot be used or serving
        leaves too little.
    """
    law_only = DecisionDraws(draws.law, draws.index)  # the choice is made on the law's expectation

    def stack(key: str, d: DecisionDraws) -> xr.DataArray:
        rows = [teacher_option(d, float(n), C, scenario, teacher, n_students=n_students, serving_tokens=t)[key][:, 0]
                for n in N]
        return xr.DataArray(np.stack(rows, axis=1), dims=("draw", "student_size", "budget"),
                            coords={"student_size": N, "budget": C})

    with np.errstate(invalid="ignore", divide="ignore"):
        law_loss, D_S = stack("L_S", law_only), stack("D_S", law_only)
        got = law_loss if draws.error is None else stack("L_S", draws)
    return law_loss, got, D_S


def _with_allocation(fit: Fit, ds: xr.Dataset, err: dict[str, float], rng: np.random.Generator,
                     ratio: tuple[float | None, float | None] = (None, None)) -> xr.Dataset:
    """The supervised route's chosen size moved by the compute-optimal size's own error beyond the fitted runs
    (:func:`bayeslaw.posterior.extrapolation.allocated_optimum`; one draw per draw and budget, shared by every
    demand), its tokens what each lifetime budget then buys; the law's choice kept as ``size_law``. The distilled
    routes' sizes stay the law's: their argmin's error has not been measured. Where the move leaves the
    tokens-per-parameter bounds of ``ratio``, the draw keeps the law's choice."""
    ds["size_law"] = ds["size"].copy()
    sup = ds["size"].sel(route=SUPERVISED)  # (draw, tokens, budget)
    C = ds["budget"].values
    shift = allocation_shift(err, allocation_decades(fit, C), sup.sizes["draw"], rng)
    moved = sup.values * 10.0 ** shift[:, None, :]  # one shift per draw and budget, for every demand
    tokens = np.stack([tokens_bought(moved[:, i, :], C, serving_tokens=float(t))
                       for i, t in enumerate(ds["tokens"].values)], axis=1)
    route = list(ds["route"].values).index(SUPERVISED)
    size, student_tokens = ds["size"].values.copy(), ds["student_tokens"].values.copy()
    lo, hi = ratio
    with np.errstate(invalid="ignore"):
        # a bounded question's recipe stays in its bounds: where the move leaves them, the law's (bounded) choice
        ratio_moved = tokens / moved
        out = (ratio_moved < (lo if lo is not None else -np.inf)) | (ratio_moved > (hi if hi is not None else np.inf))
    moved, tokens = np.where(out, size[..., route], moved), np.where(out, student_tokens[..., route], tokens)
    size[..., route], student_tokens[..., route] = moved, tokens
    ds["size"] = ds["size"].copy(data=size)
    ds["student_tokens"] = ds["student_tokens"].copy(data=student_tokens)
    ds.attrs["allocation"] = ALLOCATED + " (the supervised route's size; the distilled routes' are the law's)"
    return ds


def free_size(fit: Fit, budgets: Any, scenarios: Sequence[str] = ("teacher_inference",), *,
              inference_tokens: Sequence[float] = (0.0,), sizes: Any = None, n_students: int = 1,
              max_draws: int | None = 1000, seed: int = 0, prob: float = 0.9, margin: float | None = None,
              teacher_cap: float | None = bounds.TEACHER_CAP_RATIO,
              extrapolation: Extrapolation | Fit = True, draws: DecisionDraws | None = None,
              min_tokens_per_param: float | None = None, max_tokens_per_param: float | None = None,
              teachers: Sequence[Teacher] = ()) -> xr.Dataset:
    """Per route, budget and serving demand: the student size of lowest loss, its loss, and distil or not.

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    budgets
        Lifetime budgets (FLOPs): training, the teacher's share the scenario charges, and the student's serving.
    scenarios
        The distillation routes' compute scenarios.
    inference_tokens
        Serving demands to compare (tokens over the student's lifetime; 0: training only).
    sizes
        Candidate student sizes (default :data:`SIZES`).
    n_students, max_draws, seed, prob, margin, teacher_cap
        As in :func:`bayeslaw.decision.plan.plan`.
    extrapolation
        As in :func:`bayeslaw.decision.plan.plan`, or a loaded calibration.
    draws
        The decision's draws when a caller already holds them (the report: the same subsample and law's error),
        instead of drawing them again from ``max_draws``, ``seed`` and ``extrapolation``.
    teachers
        Given teachers, each a route of its own (``distil from <teacher>``): the size of lowest loss distilled from
        it, its pretraining charged as the first scenario charges it unless it exists.
    min_tokens_per_param, max_tokens_per_param
        Only sizes whose recipe spends the budget within these student tokens per parameter are candidates (e.g.
        the fewest and most any fitted student measured); a cell where none is has no recipe. None: unbounded.

    Returns
    -------
    xarray.Dataset
        Per draw (dims ``(draw, tokens, budget, route)``) ``size`` (the chosen student size; beyond the fitted runs
        the supervised route's carries the allocation error, the law's choice then kept as ``size_law``), ``loss``
        (what it reaches), ``student_tokens`` and ``tokens_per_param``, and with dims ``(tokens, budget, route)``
        medians and bands of size, loss and tokens per parameter (``size_median``, ``size_lower``, ``size_upper``, ...)
        and ``p_best`` (P(the route's best student is the best of all routes));
        with dims ``(tokens, budget)`` ``p_distil`` (P(the best distilled route beats the best supervised student)),
        ``verdict`` and ``distil_route`` (the distilled route compared: the one of least expected loss).
    """
    fit.require("distillation", verb="plan")
    C = np.atleast_1d(np.asarray(budgets, float))
    T = np.atleast_1d(np.asarray(inference_tokens, float))
    for t in T:
        Demand.total(t)
    N = SIZES if sizes is None else np.atleast_1d(np.asarray(sizes, float))
    bounds.check_plan(N, np.array([C.max()]), scenarios, n_students)
    bounds.check_budgets(C)
    bounds.check_interval(prob)
    bounds.check_teacher_cap(teacher_cap)
    check_teachers(fit, teachers)
    ratio = check_ratio_bounds(min_tokens_per_param, max_tokens_per_param)
    if draws is None:
        cal = calibration_for(fit, extrapolation)
        draws = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=cal)
    with np.errstate(invalid="ignore", divide="ignore"):  # sizes whose serving leaves nothing are NaN cells
        parts = [_route_bests(draws, N, C, scenarios, float(t), n_students, teacher_cap, ratio, teachers) for t in T]
    ds = xr.concat(parts, dim=xr.Variable("tokens", T))
    ds = ds.assign_coords(tokens=T, budget=C).transpose("draw", "tokens", "budget", "route")
    alloc = load_allocation() if draws.error is not None else None
    if alloc is not None:
        ds = _with_allocation(fit, ds, alloc, np.random.default_rng(Streams(seed).child("allocation_draws", 1)), ratio)
    ds["tokens_per_param"] = ds["student_tokens"] / ds["size"]
    for v in ("size", "loss", "tokens_per_param"):
        # bands over the draws that have a recipe (a size whose serving leaves nothing has none)
        b = band(ds[v], prob)
        for name in CI_BOUND:
            ds[f"{v}_{name}"] = b.sel(ci_bound=name, drop=True)
    best = ds["loss"].fillna(np.inf).argmin("route")
    ds["p_best"] = xr.concat([(best == i).mean("draw") for i in range(ds.sizes["route"])], dim="route").assign_coords(
        route=ds["route"])
    distilled = [r for r in ds["route"].values if r != SUPERVISED]
    pick = ds["loss"].sel(route=distilled).mean("draw", skipna=True).fillna(np.inf).argmin("route")
    chosen = ds["loss"].sel(route=distilled).isel(route=pick)
    diff = chosen.drop_vars("route") - ds["loss"].sel(route=SUPERVISED, drop=True)
    ds["distil_route"] = ds["route"].sel(route=distilled).isel(route=pick).drop_vars("route")
    v = decide.verdict(diff, prob=prob, **({} if margin is None else {"margin": margin}))
    ds["p_distil"], ds["verdict"] = v["p_better"], v["verdict"]
    nothing = ds["loss"].isnull().all(["draw", "route"])
    ds["verdict"] = ds["verdict"].where(~nothing, NO_RECIPE if ratio == (None, None) else NO_RECIPE_BOUNDED)
    ds.attrs.update(interval_prob=prob, n_draws=int(draws.n), extrapolation=draws.extrapolation,
                    sizes=f"{N.size} sizes from {N.min():.3g} to {N.max():.3g}",
                    budgets="lifetime budgets: training, the teacher's share the scenario charges, and the "
                            "student's serving (one forward pass per token)")
    for name, r in zip(("min_tokens_per_param", "max_tokens_per_param"), ratio, strict=True):
        if r is not None:
            ds.attrs[name] = float(r)
    return ds


def free_size_caveats(fit: Fit, ds: xr.Dataset) -> list[Caveat]:
    """Failed gates, the data, and one reach caveat for the chosen students (each cell's median recipe).

    Parameters
    ----------
    fit
        The posterior planned from.
    ds
        :func:`free_size`'s result.

    Returns
    -------
    list of Caveat
        In the order to show them.
    """
    rows = []
    for t in ds["tokens"].values:
        for c in ds["budget"].values:
            for r in ds["route"].values:
                x = ds.sel(tokens=t, budget=c, route=r)
                N = float(x["size_median"])
                rows.append((f"{r} at {c:.0e} FLOPs, serving {t:.0e} tokens: student", str(r), N,
                             N * float(x["tokens_per_param_median"]), float(x["loss_median"])))
    return recipe_caveats(fit, rows)


def recipe_caveats(fit: Fit, rows: Sequence[tuple[str, str, float, float, float]]) -> list[Caveat]:
    """Failed gates, the data, one reach caveat for chosen recipes and one for their distilled students.

    Parameters
    ----------
    fit
        The posterior planned from.
    rows
        ``(label, route, N, D, loss)`` of each recipe's (median) student; NaN sizes are skipped.

    Returns
    -------
    list of Caveat
        In the order to show them.
    """
    points, students = [], []
    span = reach.fitted_students(fit)
    for label, route, N, D, loss in rows:
        points.append((label, N, D))
        if route != SUPERVISED and span is not None and np.isfinite(N):
            far = reach.student_reach(span, N, D, loss, np.nan)
            if note := reach.describe_student(label, {k: float(v) for k, v in far.items()}):
                students.append(note)
    out = point_caveats(fit, points)
    if w := reach.student_warning(students, most=6):
        out.append(Caveat(REACH, w))
    return out
