"""``plan``: distil or train supervised, per student size, budget and scenario, over posterior draws."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.serving import Demand
from bayeslaw.decision.caveats import plan_caveats
from bayeslaw.decision.pipeline import Extrapolation, calibration, decision_draws, summarise_decision
from bayeslaw.posterior.card import Fit, write_dataset


def plan(fit: Fit, student_sizes: Any, budgets: Any, scenarios: Sequence[str] | None = None, *,
         n_students: int = 1, max_draws: int | None = 1000, seed: int = 0, prob: float = 0.9,
         chunk: int | None = None, backend: str = "numpy", scheduler: str | None = None,
         progress: Any = None, out: str | Path | None = None, margin: float | None = None,
         teacher_cap: float | None = bounds.TEACHER_CAP_RATIO,
         extrapolation: Extrapolation = True, inference_tokens: float = 0.0) -> tuple[xr.Dataset, xr.Dataset]:
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

    Returns
    -------
    tuple of xarray.Dataset
        ``(grid, summary)``: the per-draw optima with dims ``(draw, student_size, budget, scenario)``
        and their summary with dims ``(student_size, budget, scenario)`` (P(distillation wins),
        bands, crossover compute, the verdict of :func:`bayeslaw.decide.verdict`, and with the
        extrapolation error ``extrapolation_share``, the part of the difference band's width it makes);
        ``summary.attrs`` hold ``warnings`` (:class:`~bayeslaw.decision.caveats.Caveat` records: failed gates,
        data, reach beyond the fitted runs, recipes on the bounds) and ``extrapolation`` (what the losses
        include).
    """
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
    draws = decision_draws(fit, max_draws=max_draws, seed=seed, calibration=calibration(extrapolation))
    grid = draws.grid(N_S, C, scenarios, n_students=n_students, chunk=chunk, backend=backend, scheduler=scheduler,
                      progress=progress, teacher_cap=teacher_cap, serving_tokens=_tokens(inference_tokens))
    if out is not None:
        write_dataset(grid, out)
    summary = summarise_decision(grid, prob=prob, margin=margin)
    if "training_budget" in grid:
        summary["training_budget"] = grid["training_budget"]
        summary.attrs["serving_tokens"] = grid.attrs["serving_tokens"]
    summary.attrs["warnings"] = plan_caveats(fit, summary)
    return grid, summary


def _tokens(inference_tokens: float) -> float:
    """A serving demand checked as one (exit 2 with what to fix)."""
    return Demand.total(inference_tokens).tokens
