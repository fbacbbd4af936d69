"""``plan``: distil or train supervised, per student size, budget and scenario, over posterior draws."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import bounds, compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import band
from bayeslaw.core.serving import Demand
from bayeslaw.decision.caveats import check_teacher_losses, plan_caveats
from bayeslaw.decision.pipeline import (
    DecisionDraws,
    Extrapolation,
    calibration_for,
    decision_draws,
    summarise_decision,
    teacher_option,
)
from bayeslaw.decision.question import Teacher
from bayeslaw.posterior.card import Fit, write_dataset


def plan(fit: Fit, student_sizes: Any, budgets: Any, scenarios: Sequence[str] | None = None, *,
         n_students: int = 1, max_draws: int | None = 1000, seed: int = 0, prob: float = 0.9,
         chunk: int | None = None, backend: str = "numpy", scheduler: str | None = None,
         progress: Any = None, out: str | Path | None = None, margin: float | None = None,
         teacher_cap: float | None = bounds.TEACHER_CAP_RATIO,
         extrapolation: Extrapolation = True, inference_tokens: float = 0.0,
         teachers: Sequence[Teacher] = ()) -> tuple[xr.Dataset, xr.Dataset]:
    """Distil or train supervised? Per-draw optima and their summary (see :mod:`bayeslaw.planning`).

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    student_sizes, budgets
        Student sizes (parameters) and compute budgets (FLOPs).
    scenarios
        Compute scenarios (default: all four).
    n_students
        Students sharing one teacher's pretraining.
    max_draws
        Subsamples the posterior (seeded by ``seed``) to bound the work.
    seed, prob
        The one seed; the bands' probability.
    chunk, backend, scheduler, progress
        The planner's chunking, array backend (``"numpy"`` or ``"jax"``), Dask scheduler and
        ``progress(done, total)`` (:func:`bayeslaw.planning.grid.plan_grid`).
    out
        Also write the per-draw grid there (netCDF, atomically).
    margin
        The practical-equivalence margin (nats) of the verdicts (default :data:`bayeslaw.decide.MARGIN`).
    teacher_cap
        Teacher inference: the teacher's pretraining compute at most this multiple of the budget (default
        :data:`bayeslaw.core.bounds.TEACHER_CAP_RATIO`); None for the uncapped bound.
    extrapolation
        Losses and differences include the supervised law's extrapolation error beyond the fitted runs
        (:func:`bayeslaw.posterior.extrapolation.plan_with_law_error`), from the shipped calibration (True,
        default), a calibration file, or not at all (False: the law's expectation).
    inference_tokens
        Tokens the student will serve over its lifetime: each budget is then a lifetime budget and the student's
        serving (one forward pass per token) is paid from it before training (Sardana et al.). 0: training only.
    teachers
        Teachers you could use (:class:`~bayeslaw.decision.question.Teacher`: one you have, by its size and
        tokens or its measured loss, or one to train): each is an option of its own against supervised training,
        with its own verdict, on the same draws and the same law's error as the grid (as in the risk report).

    Returns
    -------
    tuple of xarray.Dataset
        ``(grid, summary)``: the per-draw optima with dims ``(draw, student_size, budget, scenario)``
        and their summary with dims ``(student_size, budget, scenario)`` (P(distillation wins),
        bands, crossover compute, the verdict of :func:`bayeslaw.decide.verdict`, and with the
        extrapolation error ``extrapolation_share``, the part of the difference band's width it makes);
        ``summary.attrs`` hold ``warnings`` (:class:`~bayeslaw.decision.caveats.Caveat` records: failed gates,
        data, reach beyond the fitted runs, recipes on the bounds) and ``extrapolation`` (what the losses
        include). With ``teachers``, ``grid`` gains ``L_S_teacher`` and ``summary`` the ``teacher_*`` variables
        (dims ``(teacher, student_size, budget, scenario)``: the verdict, P(better), the difference's band and
        the student's tokens; ``teacher_unaffordable`` where the teacher cannot be used on that budget).
    """
    fit.require("distillation", verb="plan")
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    C = np.atleast_1d(np.asarray(budgets, float))
    if scenarios is None:
        scenarios = tuple(compute.SCENARIOS)
    scenarios = (scenarios,) if isinstance(scenarios, str) else tuple(scenarios)  # one name is one scenario
    bounds.check_plan(N_S, C, scenarios, n_students)
    bounds.check_interval(prob)
    if max_draws is not None and max_draws < 1:
        raise InputError(f"the number of posterior draws to plan with (--draws) must be >= 1, got {max_draws}")
    if margin is not None:
        bounds.check_margin(margin)
    bounds.check_teacher_cap(teacher_cap)
    teachers = tuple(teachers)
    check_teachers(fit, teachers)
    draws = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=calibration_for(fit, extrapolation))
    grid = draws.grid(N_S, C, scenarios, n_students=n_students, chunk=chunk, backend=backend, scheduler=scheduler,
                      progress=progress, teacher_cap=teacher_cap, serving_tokens=_tokens(inference_tokens))
    if teachers:
        grid.update(given_teachers(draws, grid, teachers, n_students=n_students,
                                   serving_tokens=_tokens(inference_tokens)))
    if out is not None:
        write_dataset(grid, out)
    summary = summarise_decision(grid, prob=prob, margin=margin)
    if teachers:
        summary.update(teacher_summary(grid, prob=prob, margin=margin))
        summary.attrs["given_teachers"] = {t.label: None if t.L_T is not None else (t.N_T, t.D_T) for t in teachers}
    if "training_budget" in grid:
        summary["training_budget"] = grid["training_budget"]
        summary.attrs["serving_tokens"] = grid.attrs["serving_tokens"]
    summary.attrs["warnings"] = plan_caveats(fit, summary)
    return grid, summary


def check_teachers(fit: Fit, teachers: Sequence[Teacher]) -> None:
    """Each teacher valid, named once, and a measured loss above the law's floor (exit 2 with what to fix)."""
    labels = [t.label for t in teachers]
    if len(set(labels)) < len(labels):
        raise InputError(f"a teacher is given twice: {sorted({x for x in labels if labels.count(x) > 1})}")
    for t in teachers:
        t.check()
    check_teacher_losses(fit, teachers)


def given_teachers(draws: DecisionDraws, grid: xr.Dataset, teachers: Sequence[Teacher], *, n_students: int = 1,
                   serving_tokens: float = 0.0) -> xr.Dataset:
    """The student's loss distilled from each given teacher, per draw, on the grid's sizes, budgets and scenarios.

    Parameters
    ----------
    draws
        The decision's draws (those the grid was planned on, with the same law's error).
    grid
        The planner grid the teachers join, dims ``(draw, student_size, budget, scenario)``.
    teachers
        The teachers.
    n_students, serving_tokens
        Students sharing a teacher's pretraining; tokens each student serves (paid from its budget first).

    Returns
    -------
    xarray.Dataset
        ``L_S_teacher`` (the student's loss, nats/token) and ``D_S_teacher`` (its tokens), dims ``(draw, teacher,
        student_size, budget, scenario)``; NaN where the teacher cannot be used (its charged pretraining exceeds
        the budget, or the student would leave the planner's bounds).
    """
    budgets = grid["budget"].to_numpy()
    shape = (draws.n, len(teachers), grid.sizes["student_size"], budgets.size, grid.sizes["scenario"])
    out = {"L_S": np.full(shape, np.nan), "D_S": np.full(shape, np.nan)}
    for i, t in enumerate(teachers):
        for j, N_S in enumerate(grid["student_size"].to_numpy()):
            for k, sc in enumerate(grid["scenario"].to_numpy()):
                r = teacher_option(draws, float(N_S), budgets, str(sc), t, n_students=n_students,
                                   serving_tokens=serving_tokens)
                for name, v in out.items():
                    v[:, i, j, :, k] = np.where(np.isfinite(r["L_S"][:, 0, :]), r[name][:, 0, :], np.nan)
    dims = ("draw", "teacher", "student_size", "budget", "scenario")
    coords = {"teacher": [t.label for t in teachers], **{d: grid[d] for d in dims if d not in ("draw", "teacher")}}
    return xr.Dataset({f"{name}_teacher": (dims, v) for name, v in out.items()}, coords=coords)


def teacher_summary(grid: xr.Dataset, *, prob: float, margin: float | None = None) -> xr.Dataset:
    """Each given teacher against supervised training: verdict, probabilities and the difference's band.

    Parameters
    ----------
    grid
        A planner grid with ``L_S_teacher`` (:func:`given_teachers`).
    prob, margin
        The bands' probability and the verdicts' certainty; the practical-equivalence margin (nats).

    Returns
    -------
    xarray.Dataset
        ``teacher_verdict``, ``teacher_p_better``, ``teacher_p_better_margin``, ``teacher_p_worse_margin``,
        ``teacher_diff_band`` and ``teacher_D_S_band`` (dims ``(teacher, student_size, budget, scenario)``,
        the bands with ``ci_bound``) and ``teacher_unaffordable`` (no draw can use the teacher there).
    """
    diff = grid["L_S_teacher"] - grid["L_sup"]
    v = decide.verdict(diff, margin=decide.MARGIN if margin is None else margin, prob=prob)
    out = xr.Dataset({f"teacher_{k}": v[k] for k in ("verdict", "p_better", "p_better_margin", "p_worse_margin")})
    out["teacher_unaffordable"] = grid["L_S_teacher"].isnull().all("draw")
    out["teacher_diff_band"] = band(diff, prob)
    out["teacher_D_S_band"] = band(grid["D_S_teacher"], prob)
    return out


def _tokens(inference_tokens: float) -> float:
    """A serving demand checked as one (exit 2 with what to fix)."""
    return Demand.total(inference_tokens).tokens
