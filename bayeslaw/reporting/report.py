"""``report``: a budget question answered from a posterior and written as an HTML and Markdown risk report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bayeslaw.core.errors import InputError
from bayeslaw.decision.analysis import Analysis, analyse
from bayeslaw.decision.pipeline import calibration
from bayeslaw.decision.question import Question
from bayeslaw.decision.supervised import SupervisedAnalysis, analyse_supervised
from bayeslaw.posterior.card import Fit, load
from bayeslaw.posterior.diagnostics import Gates
from bayeslaw.reporting import render
from bayeslaw.reporting.render import Written


def report(fit: Fit | str | Path, question: Question, *, out_dir: str | Path = "reports", stem: str | None = None,
           max_draws: int = 1000, seed: int = 0, gates: Gates | None = None,
           progress: Any = None) -> tuple[Analysis | SupervisedAnalysis, Written]:
    """Answer a budget question and write the HTML and Markdown risk report.

    Parameters
    ----------
    fit
        A joint (distillation) posterior, or the path of one; a supervised posterior gets the
        supervised-only report (the compute-optimal model per budget, P(target), compute for the target).
    question
        The student, budgets, scenario, target and teachers (:class:`~bayeslaw.decision.question.Question`);
        the student's size may be None for a supervised posterior.
    out_dir, stem
        Where the report goes and its file name (default from the question).
    max_draws
        Posterior draws planned with (a seeded subsample).
    seed
        Seeds the subsample and the predictive draws.
    gates
        Diagnostic thresholds.
    progress
        ``progress(message)`` for each stage.

    Returns
    -------
    tuple
        ``(analysis, written)``: the :class:`~bayeslaw.decision.analysis.Analysis` (Datasets of every
        number shown, dims ``draw``, ``budget``, ``option``) or, for a supervised posterior, the
        :class:`~bayeslaw.decision.supervised.SupervisedAnalysis`, and the written paths.
    """
    question.check()
    if stem is not None and (not stem.strip() or Path(stem).name != stem or stem in (".", "..")):
        raise InputError(f"--stem names the report's files, not a path: got {stem!r} (e.g. 'budget_1e21'; "
                         "--out-dir says where they go)")
    if max_draws < 1:
        raise InputError(f"the number of posterior draws to plan with (--draws) must be >= 1, got {max_draws}")
    path = None
    if not isinstance(fit, Fit):
        path = str(fit)
        fit = load(fit)
    cal = None if fit.is_point else calibration(True)  # a point law carries no error model (its note says so)
    if fit.law == "supervised":
        analysis: Analysis | SupervisedAnalysis = analyse_supervised(
            fit, question, max_draws=max_draws, seed=seed, posterior_path=path, gates=gates, progress=progress,
            calibration=cal)
    else:
        if question.student_size is None:
            raise InputError("a distillation report compares ways to train one student: give its size (--student)")
        analysis = analyse(fit, question, max_draws=max_draws, seed=seed, posterior_path=path, gates=gates,
                           progress=progress, calibration=cal)
    if progress:
        progress("figures and pages")
    return analysis, render.write(analysis, out_dir, stem)
