"""The one pipeline from a posterior to a decision: draws -> planner grid -> the law's error -> summary -> verdict.

``bayeslaw plan`` and the risk report (and later the value of a pilot run) answer their questions with the same
steps, so they answer the same question the same way:

1. :func:`decision_draws`: a seeded subsample of the posterior draws and, with an extrapolation calibration,
   one new study's error per draw (:class:`~bayeslaw.posterior.extrapolation.LawError`), shared by every
   option of the decision;
2. :meth:`DecisionDraws.grid`: the planner's per-draw optima, re-evaluated with that error;
3. :func:`summarise_decision`: bands, P(distillation wins), the share of the band that is the law's error
   and the verdict of the paired difference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core.bounds import min_budget
from bayeslaw.core.compute import CostModel
from bayeslaw.core.params import Laws
from bayeslaw.core.seeds import Streams
from bayeslaw.data.registry import SHIPPED, shipped_form
from bayeslaw.decision.question import Teacher
from bayeslaw.planning.grid import plan_grid
from bayeslaw.planning.summary import summarise
from bayeslaw.planning.teacher import distill_with_teacher
from bayeslaw.posterior import extrapolation as ex
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import laws

#: What ``extrapolation=`` accepts: the shipped calibration (True), a calibration file, or none (False).
Extrapolation = bool | str | Path


#: The shipped error models every decision loads (``bayeslaw calibrate`` refuses to write over them by accident).
SHIPPED_ERROR_MODELS = {"calibration": ex.CALIBRATION, "ratio_drift": ex.RATIO_DRIFT,
                        "distillation_error": ex.STUDENT_ERROR, "distillation_error_paper_form": ex.STUDENT_ERROR_PAPER,
                        "distillation_error_size_effect": ex.STUDENT_ERROR_SIZE}


def distillation_error_path(data: str, size_effect: bool = False, weak_teacher: bool | None = None) -> Path:
    """The shipped distillation-law error that ``bayeslaw calibrate --distillation DATA`` learns for the form asked
    (unset: the table's default form, :func:`~bayeslaw.data.registry.shipped_form`)."""
    weak, _ = shipped_form(SHIPPED.get(data), weak_teacher, None)
    return ex.student_error_path(ex.law_form({"size_effect": size_effect, "weak_teacher": weak}))


#: The calibration an ``extrapolation=`` option names (:func:`bayeslaw.posterior.extrapolation.resolve_calibration`).
calibration = ex.resolve_calibration


def calibration_for(fit: Fit, extrapolation: Extrapolation | Fit) -> Fit | None:
    """The extrapolation calibration a decision on ``fit`` uses: the one ``extrapolation`` names (or is), and none
    for a point law, which has no fitted runs to measure the distance from (:mod:`bayeslaw.posterior.point`).

    Parameters
    ----------
    fit
        The posterior (or point law) decided on.
    extrapolation
        True (the shipped calibration), a calibration file or posterior, or False.

    Returns
    -------
    Fit or None
        The calibration posterior, or None (the law's expectation).
    """
    if fit.is_point:
        return None
    return extrapolation if isinstance(extrapolation, Fit) else calibration(extrapolation)


def subsample(fit: Fit, max_draws: int | None, seed: int) -> tuple[Laws, np.ndarray]:
    """The posterior's coefficient draws, a seeded subsample of ``max_draws`` of them where there are more,
    and which draws (flattened chain x draw) they are."""
    law = laws(fit)
    idx = np.arange(law.n_draws)
    if max_draws is not None and law.n_draws > max_draws:
        idx = np.sort(np.random.default_rng(Streams(seed).subsample).choice(law.n_draws, max_draws, replace=False))
        law = law.take(idx)
    return law, idx


@dataclass(frozen=True)
class DecisionDraws:
    """The posterior draws one decision is computed from, with the law's error each of them meets.

    Attributes
    ----------
    law
        Paper-scale coefficients of the draws used.
    index
        Which posterior draws they are (flattened chain x draw).
    coefs, error
        Their sampled coefficients and one :class:`~bayeslaw.posterior.extrapolation.LawError` per draw, shared
        by every option of the decision; None without a calibration (the law's expectation).
    """

    law: Laws
    index: np.ndarray
    coefs: dict[str, np.ndarray] | None = None
    error: ex.LawError | None = None

    @property
    def n(self) -> int:
        return self.law.n_draws

    @property
    def planning_law(self) -> Laws:
        """The draws the planner optimises: the law, and where the law's error carries a drift past the fitted tokens
        per parameter, each draw's drift too, so that a recipe is not chosen to train a teacher where the
        evaluation then charges it (:func:`bayeslaw.planning.optima.drift_tokens`)."""
        if self.error is None or self.error.slope is None:
            return self.law
        ratio = np.full(self.n, self.error.scale.ratio)
        return replace(self.law, drift_slope=np.asarray(self.error.slope, float), drift_ratio=ratio)

    @property
    def extrapolation(self) -> str:
        """What the decision's losses include (:func:`~bayeslaw.posterior.extrapolation.reached_text`)."""
        return ex.reached_text(self.error)

    def reached(self, grid: xr.Dataset) -> xr.Dataset:
        """A planner grid's losses as what each draw's recipe reaches, the law's error included.

        Parameters
        ----------
        grid
            A planner grid over these draws.

        Returns
        -------
        xarray.Dataset
            The grid's dims; unchanged but labelled as the law's expectation without a calibration.
        """
        if self.error is None:
            grid.attrs["extrapolation"] = ex.MEAN_LAW
            return grid
        return ex.plan_with_law_error(grid, self.coefs, self.error)

    def grid(self, student_sizes: Any, budgets: Any, scenarios: Sequence[str], **planner: Any) -> xr.Dataset:
        """:func:`~bayeslaw.planning.grid.plan_grid` over these draws, then :meth:`reached`.

        Parameters
        ----------
        student_sizes, budgets, scenarios
            The grid's axes.
        **planner
            The planner's options (``n_students``, ``chunk``, ``backend``, ``teacher_cap``, ...).

        Returns
        -------
        xarray.Dataset
            Dims ``(draw, student_size, budget, scenario)``.
        """
        return self.reached(plan_grid(self.planning_law, student_sizes, budgets, scenarios, **planner))


def teacher_option(draws: DecisionDraws, N_S: float, budgets: np.ndarray, scenario: str, teacher: Teacher, *,
                   n_students: int = 1, serving_tokens: float = 0.0) -> dict[str, np.ndarray]:
    """Distilling the student from a given teacher on each budget, over the decision's draws.

    Returns
    -------
    dict of numpy.ndarray
        :func:`~bayeslaw.planning.teacher.distill_with_teacher`'s ``L_S``, ``D_S``, ``L_T`` of shape
        ``(draw, 1, budget)``, with ``L_S`` what the recipe reaches when the draws carry the law's error (a
        teacher the law predicts meets its own; a measured one none).
    """
    t = teacher
    budgets = np.asarray(budgets, float)
    train = budgets - float(CostModel(serving_tokens=serving_tokens).serving_flops(N_S))  # serving is paid first
    short = train < min_budget(N_S)
    r = distill_with_teacher(draws.law, np.array([N_S]), np.where(short, budgets, train), scenario, N_T=t.N_T,
                             D_T=t.D_T, L_T=t.L_T, n_students=n_students, teacher_sunk=t.is_sunk)
    r = {k: np.where(short[None, None, :], np.nan, v) for k, v in r.items()}
    if draws.error is not None:
        predicted = t.L_T is None
        shape = r["D_S"].shape
        with np.errstate(invalid="ignore"):  # budgets the teacher cannot be used on are NaN, and stay so
            log_S = ex.student_outcome(draws.coefs, draws.error, np.full(shape, N_S), r["D_S"], np.log(r["L_T"]),
                                       N_T=np.full(shape, t.N_T) if predicted else None,
                                       D_T=np.full(shape, t.D_T) if predicted else None)
        r["L_S"] = np.where(np.isfinite(r["L_S"]), np.exp(log_S), np.nan)
    return r


def decision_draws(fit: Fit, *, max_draws: int | None, seed: int, calibration: Fit | None) -> DecisionDraws:
    """Step 1 of the pipeline: the subsample (seed stream ``subsample``) and the law's error (``predictive``)."""
    law, idx = subsample(fit, max_draws, seed)
    if calibration is None:
        return DecisionDraws(law, idx)
    coefs, err = ex.plan_law_error(fit, calibration, idx, np.random.default_rng(Streams(seed).predictive))
    return DecisionDraws(law, idx, coefs, err)


def summarise_decision(grid: xr.Dataset, *, prob: float, margin: float | None = None) -> xr.Dataset:
    """Step 3: the grid's bands and probabilities, the share of the band that is the law's error, the verdicts.

    Parameters
    ----------
    grid
        A planner grid (:meth:`DecisionDraws.grid`), dims ``(draw, student_size, budget, scenario)``.
    prob
        The bands' probability and the verdicts' certainty.
    margin
        The practical-equivalence margin (nats; default :data:`bayeslaw.decide.MARGIN`).

    Returns
    -------
    xarray.Dataset
        :func:`~bayeslaw.planning.summary.summarise`'s summary with dims ``(student_size, budget, scenario)``,
        with ``extrapolation_share`` (where the grid carries the law's error), ``distillation_error_share`` (the
        part of the difference band's width the distillation law's own error makes) and the verdict of
        :func:`bayeslaw.decide.verdict` per cell.
    """
    summary = summarise(grid, prob)
    if "diff_law" in grid:
        summary["extrapolation_share"] = ex.extrapolation_share(grid["diff"], grid["diff_law"], prob)
    if "diff_without_distillation_error" in grid:
        summary["distillation_error_share"] = ex.extrapolation_share(grid["diff"],
                                                                     grid["diff_without_distillation_error"], prob)
    v = decide.verdict(grid["diff"], margin=decide.MARGIN if margin is None else margin, prob=prob)
    for name in v.data_vars:
        summary[name] = v[name]
    summary.attrs.update(v.attrs)
    return summary
