"""The public Python API: the same verbs as the command line, which calls nothing else.

``fit`` -> :class:`Fit` (saved with ``Fit.save``, reloaded with ``load``), ``diagnose``,
``summary``, ``predict`` / ``predict_distillation`` (mean-law and new-run bands), ``optimum``
(compute-optimal N*, D*, L*), ``prior_predictive``, ``plan`` (distil or train supervised),
``report`` (the risk report), ``backtest``, ``compare`` and ``generate``.

Each verb checks its inputs with the light layers (core, data, specs) before it loads the
heavy ones, so a mistake is reported in well under a second. PyMC is imported only by the
verbs that build a model (``fit``, ``prior_predictive``, ``backtest``, ``compare``): predictions,
plans and reports from a saved posterior run on numpy and xarray alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayeslaw.core import bounds, compute, params
from bayeslaw.core.errors import DataError, DataWarning, InputError, PosteriorError
from bayeslaw.core.seeds import Streams
from bayeslaw.data import tables
from bayeslaw.data.registry import SHIPPED
from bayeslaw.inference.config import LAW_DEFAULTS, SamplerConfig, default_config, escalation
from bayeslaw.model.priors import Prior, read_prior_file
from bayeslaw.model.spec import JointSpec, SupervisedSpec, joint_preset
from bayeslaw.reporting.question import Question, Teacher

if TYPE_CHECKING:
    import xarray as xr

    from bayeslaw.posterior.card import Fit
    from bayeslaw.posterior.diagnostics import Diagnosis, Gates
    from bayeslaw.reporting.analysis import Analysis
    from bayeslaw.reporting.render import Written
    from bayeslaw.validate.backtest import Backtest
    from bayeslaw.validate.calibration import LosoSummary
    from bayeslaw.validate.compare import Comparison

Table = str | Path | pd.DataFrame


def _priors(priors: str | Path | Mapping[str, Any] | None) -> dict[str, Prior] | None:
    if priors is None or isinstance(priors, Mapping):
        return dict(priors) if priors else None
    return read_prior_file(priors)


def fit(
    data: Table,
    *,
    law: str = "supervised",
    columns: Mapping[str, str] | None = None,
    supervised: Table | None = None,
    gamma_free: bool = False,
    likelihood: str = "student_t",
    priors: str | Path | Mapping[str, Any] | None = None,
    preset: str | None = None,
    preset_scale: float = 1.0,
    teacher_noise: float | None = None,
    supervised_scale: float | None = None,
    include_outliers: bool = False,
    sampler: str = "nutpie",
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    target_accept: float | None = None,
    adaptation: str | None = None,
    thin: int = 1,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
    allow_duplicates: bool = False,
    losses_in_nats: bool = False,
    escalate: bool = True,
) -> Fit:
    """Fit a law to runs with NUTS and run the diagnostic gates.

    Parameters
    ----------
    data
        A CSV/parquet path, a DataFrame, or a shipped table name (``"chinchilla"``,
        ``"misfitting"``; for ``law="distillation"`` the students, e.g. ``"busbridge2025_digitized"``).
    law
        ``"supervised"`` or ``"distillation"`` (the joint model).
    columns
        Mapping from canonical names (``N``, ``D``, ``loss``, ...) to the table's names.
    supervised
        Distillation only: the supervised runs. Without them the supervised law comes from the
        ``busbridge2025`` preset (Table 6) and is updated only through the students.
    gamma_free, likelihood, priors
        The law's form, the likelihood on log loss and prior overrides (a mapping or a
        JSON/TOML file).
    preset, preset_scale
        Distillation only: the prior preset (default ``"weak"`` with supervised runs,
        ``"busbridge2025"`` without) and a factor on its widths.
    teacher_noise
        Distillation only: sd of a teacher's measured log loss around its true value (default: the
        shipped table's stated estimate, else 0.2%).
    supervised_scale
        Distillation with the ``busbridge2025`` preset: a further factor on its supervised widths
        (default: the shipped table's, 1/3 for the paper's own runs; else 1).
    include_outliers
        Shipped tables: keep the runs excluded by default.
    sampler, draws, tune, chains, target_accept, adaptation, thin
        NUTS settings; ``draws`` and ``target_accept`` default per law
        (:data:`bayeslaw.inference.config.LAW_DEFAULTS`).
    escalate
        With ``draws``, ``tune``, ``target_accept`` and ``adaptation`` left to their defaults, a fit
        that fails its gates is retried along the law's ladder
        (:data:`bayeslaw.inference.config.ESCALATION`): every attempt is recorded in the card.
    seed
        The one seed: the same seed gives the same posterior.
    gates
        Diagnostic thresholds.
    allow_duplicates
        Keep exact duplicate runs (refused by default: they would narrow every interval).
    losses_in_nats
        Accept losses that look like perplexities for the model sizes given.

    Returns
    -------
    Fit
        The posterior with its model card; ``fit.diagnostics_passed`` says whether to trust it.
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be 'supervised' or 'distillation', got {law!r}")
    ladder = escalation(law, sampler=sampler, draws=draws, tune=tune, chains=chains,
                        target_accept=target_accept, adaptation=adaptation, thin=thin)
    prior_overrides = _priors(priors)
    checks = {"allow_duplicates": allow_duplicates, "losses_in_nats": losses_in_nats}
    # everything a user can get wrong is checked here, before PyMC is imported
    if law == "supervised":
        table, source, filters = tables.resolve(data, include_outliers)
        if source is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns (columns=) "
                             "maps the columns of your own files")
        tables.validate_supervised(table, columns, **checks)
        SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=prior_overrides or {})
    else:
        table, source, filters = tables.resolve(data, include_outliers, law="distillation")
        shipped = SHIPPED.get(data) if isinstance(data, str) else None
        if shipped is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns (columns=) "
                             "maps the columns of your own files")
        teacher_noise, supervised_scale, provenance = _shipped_joint(shipped, supervised, teacher_noise,
                                                                     supervised_scale)
        preset = joint_preset(preset, supervised)
        students = tables.validate_distillation(table, columns, **checks)
        sup = None if supervised is None else tables.validate_supervised(supervised, **checks)
        tables.split_teachers(students, sup)
        JointSpec(likelihood=likelihood, preset=preset, preset_scale=preset_scale, priors=prior_overrides or {},
                  **({} if teacher_noise is None else {"teacher_noise": teacher_noise}),
                  **({} if supervised_scale is None else {"supervised_scale": supervised_scale}))
    from bayeslaw.inference import fit as inference  # heavy: PyMC, PyTensor, nutpie

    if law == "distillation":
        _warn_distillation_data(students, supervised)
    return inference.fit(table, law=law, supervised=supervised, columns=columns, source=source,
                         filters=filters, gamma_free=gamma_free, likelihood=likelihood, priors=prior_overrides,
                         preset=preset, preset_scale=preset_scale, sampler=ladder[0], seed=seed, gates=gates,
                         progress=progress, escalate=ladder[1:] if escalate else (), teacher_noise=teacher_noise,
                         supervised_scale=supervised_scale,
                         provenance=provenance if law == "distillation" else None, **checks)


def _shipped_joint(shipped: Any, supervised: Table | None, teacher_noise: float | None,
                   supervised_scale: float | None) -> tuple[float | None, float | None, str | None]:
    """What a shipped distillation table states for the joint model, where the caller left it unset:
    teacher noise, supervised prior scale (only without supervised runs), provenance."""
    if shipped is None:
        return teacher_noise, supervised_scale, None
    if teacher_noise is None:
        teacher_noise = shipped.teacher_noise
    if supervised_scale is None and supervised is None:
        supervised_scale = shipped.supervised_scale
    return teacher_noise, supervised_scale, shipped.provenance


def _warn_distillation_data(students: pd.DataFrame, supervised: Table | None) -> None:
    """Python users get as warnings what the CLI prints from the card (:func:`~bayeslaw.reporting.text.fit_notes`)."""
    import warnings  # only for these two notices

    if supervised is None:
        warnings.warn("no supervised runs: the supervised law comes from the busbridge2025 preset (Table 6 prior), "
                      "updated only through the students", DataWarning, stacklevel=3)
    below = tables.students_below_teacher(students)
    if below:
        warnings.warn(f"{len(below)} students lie below their teacher's loss (rows {below[:12]}"
                      f"{', ...' if len(below) > 12 else ''}): kept, but Eq. 8 cannot produce L_S < L_T",
                      DataWarning, stacklevel=3)


def load(path: str | Path, *, expect_law: str | None = None, data_hash: str | None = None) -> Fit:
    """Load a saved posterior, verifying its model card (see :func:`bayeslaw.posterior.card.load`).

    Parameters
    ----------
    path
        A netCDF file written by ``Fit.save`` or ``bayeslaw fit --out``.
    expect_law
        Refuse a posterior of another law (``"supervised"`` or ``"distillation"``).
    data_hash
        Refuse a posterior fitted to other data (:func:`bayeslaw.data.tables.table_hash`).

    Returns
    -------
    Fit
        The posterior and its card; an edited, corrupt or mismatched file raises ``PosteriorError``.
    """
    if not Path(path).exists():
        raise PosteriorError(f"posterior file {path} does not exist; fit one with `bayeslaw fit`")
    from bayeslaw.posterior import card  # heavy: xarray, h5netcdf

    return card.load(path, expect_law=expect_law, data_hash=data_hash)


def diagnose(fit: Fit, gates: Gates | None = None) -> Diagnosis:
    """Run every diagnostic gate on a fit (see :class:`bayeslaw.posterior.diagnostics.Gates`).

    Parameters
    ----------
    fit
        A fitted posterior.
    gates
        Thresholds (default :class:`~bayeslaw.posterior.diagnostics.Gates`).

    Returns
    -------
    Diagnosis
        The metrics, the failures by name (``passed`` is True when there are none) and warnings.
    """
    from bayeslaw.posterior import diagnostics  # heavy: ArviZ

    return diagnostics.diagnose(fit, gates, seed=Streams(fit.card["seed"]).diagnostics)


def summary(fit: Fit, prob: float = 0.9) -> pd.DataFrame:
    """ArviZ summary of the paper-scale coefficients with a pinned equal-tailed interval.

    Parameters
    ----------
    fit
        A fitted posterior.
    prob
        The interval's probability.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient: mean, sd, ``eti<prob>`` bounds, ESS, r_hat, MCSE.
    """
    bounds.check_interval(prob)
    from bayeslaw.posterior import draws  # heavy: ArviZ

    return draws.summary(fit, prob)


def _points(*values: Any) -> list[np.ndarray]:
    arrays = [np.atleast_1d(np.asarray(v, float)) for v in values]
    try:
        return list(np.broadcast_arrays(*arrays))
    except ValueError as err:
        raise InputError(f"sizes and tokens must have the same length (or length 1): got lengths "
                         f"{[a.size for a in arrays]}") from err


def predict(fit: Fit, N: Any, D: Any, *, prob: float = 0.9, kind: str = "eti", seed: int = 0,
            extrapolation: bool | str | Path = True) -> xr.Dataset:
    """Supervised loss at new ``(N, D)``: mean-law and new-run bands.

    Parameters
    ----------
    fit
        A supervised posterior.
    N, D
        Model sizes and training tokens (raw counts), broadcast against each other.
    prob, kind
        The interval's probability and kind (``"eti"`` or ``"hdi"``).
    seed
        Seeds the new-run noise.
    extrapolation
        Add the law's extrapolation error beyond the fitted runs to the new-run band, from the shipped
        calibration (True, default), a calibration file, or not at all (False).

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` and their median and bounds with
        dims ``(point,)`` (see :func:`bayeslaw.posterior.predict.predict_supervised`).
    """
    N, D = _points(N, D)
    bounds.check_points(N, D)
    bounds.check_interval(prob, kind)
    if fit.law != "supervised":
        raise InputError("this posterior is a distillation (joint) one: predict students with predict_distillation "
                         "(--N-S/--D-S and a teacher on the command line)")
    from bayeslaw.posterior import predict as posterior_predict  # heavy: ArviZ

    cal = _calibration(extrapolation)
    return posterior_predict.predict_supervised(fit, N, D, prob=prob, kind=kind, seed=seed, calibration=cal)


def _calibration(extrapolation: bool | str | Path) -> Fit | None:
    """The extrapolation calibration to use: the shipped one (True), a file, or none (False)."""
    if extrapolation is False:
        return None
    from bayeslaw.posterior.extrapolation import CALIBRATION, load_calibration  # heavy: xarray

    if extrapolation is True and not CALIBRATION.exists():
        return None  # said in the output: the bands then hold the law and the noise only
    return load_calibration(None if extrapolation is True else extrapolation)


def predict_distillation(fit: Fit, *, N_S: Any, D_S: Any, L_T: Any = None, N_T: Any = None, D_T: Any = None,
                         prob: float = 0.9, kind: str = "eti", seed: int = 0, margin: float | None = None,
                         extrapolation: bool | str | Path = True) -> xr.Dataset:
    """Student-loss bands for a distillation posterior.

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    N_S, D_S
        Student sizes and distillation tokens (raw counts).
    L_T, N_T, D_T
        The teacher: its measured loss, or its size and tokens.
    prob, kind, seed
        The interval and the seed of the new-run noise.
    margin
        The practical-equivalence margin (nats) of the verdict (:func:`bayeslaw.decide.verdict`;
        default :data:`bayeslaw.decide.MARGIN`).
    extrapolation
        As in :func:`predict`: the law's extrapolation error beyond the fitted runs in the new-run band.

    Returns
    -------
    xarray.Dataset
        ``loss_mean``, ``loss_new``, ``loss_supervised`` and ``difference`` (distilled minus supervised,
        negative: distillation better) with dims ``(draw, point)`` and
        their summaries with dims ``(point,)`` (see :func:`bayeslaw.posterior.students.predict`); the
        verdict of the difference (``verdict``, ``p_better``, ``p_better_margin``, ``p_worse_margin``,
        ``p_tied``) with dims ``(point,)``.
    """
    N_S, D_S = _points(N_S, D_S)
    bounds.check_points(N_S, D_S)
    bounds.check_interval(prob, kind)
    from bayeslaw import decide  # heavy: xarray
    from bayeslaw.posterior import students  # heavy: ArviZ

    ds = students.predict(fit, N_S=N_S, D_S=D_S, L_T=L_T, N_T=N_T, D_T=D_T, prob=prob, kind=kind, seed=seed,
                          calibration=_calibration(extrapolation))
    v = decide.verdict(ds["difference"], margin=decide.MARGIN if margin is None else margin, prob=prob)
    for name in v.data_vars:
        ds[name] = v[name]
    ds.attrs.update(v.attrs)
    return ds


FLOP_CONVENTIONS = {"3fnd": "3 F(N) D (the paper's; F(N) forward FLOPs per token, App. H)", "6nd": "6 N D"}


def optimum(fit: Fit, budgets: Any, *, prob: float = 0.9, kind: str = "eti", flops: str = "3fnd") -> xr.Dataset:
    """Compute-optimal supervised ``N*, D*, L*`` at budgets as distributions.

    Parameters
    ----------
    fit
        A supervised (or joint) posterior.
    budgets
        Compute budgets in FLOPs (>= 1e12).
    prob, kind
        The interval's probability and kind.
    flops
        ``"3fnd"`` (default): FLOPs are 3 F(N) D, as in the paper and the planner, so a budget gives
        the same N* everywhere in bayeslaw; ``"6nd"``: Chinchilla's 6 N D (closed form).

    Returns
    -------
    xarray.Dataset
        ``N_opt``, ``D_opt``, ``L_opt`` with dims ``(draw, budget)`` and their summaries with dims
        ``(budget,)``; coordinate ``C``; ``attrs['flops']`` names the convention.
    """
    C = np.atleast_1d(np.asarray(budgets, float))
    bounds.check_optimum_budgets(C)
    bounds.check_interval(prob, kind)
    if flops not in FLOP_CONVENTIONS:
        raise InputError(f"flops (--flops) must be one of {sorted(FLOP_CONVENTIONS)}, got {flops!r}")
    from bayeslaw.posterior import predict as posterior_predict  # heavy: ArviZ

    if flops == "6nd":
        ds = posterior_predict.optimum_6nd(fit, C, prob=prob, kind=kind)
    else:
        from bayeslaw.planning.optima import supervised_optimum  # the planner's search, numpy only
        from bayeslaw.posterior.draws import laws

        o = supervised_optimum(laws(fit), C)
        ds = posterior_predict.summarise_draws({"N_opt": o["N"], "D_opt": o["D"], "L_opt": o["L"]}, {"C": C},
                                               prob=prob, kind=kind).rename({"point": "budget"})
    ds.attrs["flops"] = FLOP_CONVENTIONS[flops]
    return ds


def prediction_warnings(fit: Fit, result: Mapping[str, Any]) -> list[str]:
    """What ``bayeslaw predict`` must say beside its numbers: failed gates, the data, the reach of its points.

    Parameters
    ----------
    fit
        The posterior predicted from.
    result
        ``{"prediction": records, "optimum": records}`` as the CLI builds them
        (:func:`bayeslaw.reporting.text.prediction_records`).

    Returns
    -------
    list of str
        The warnings, in the order to show them.
    """
    from bayeslaw.reporting.caveats import point_warnings  # heavy: xarray

    points: list[tuple[str, float, float]] = []
    pred = result.get("prediction") or {}
    size, tokens = ("N_S", "D_S") if "N_S" in pred else ("N", "D")
    for N, D in zip(pred.get(size, []), pred.get(tokens, []), strict=False):
        points.append((f"prediction at N={N:.3g}, D={D:.3g}", N, D))
    opt = result.get("optimum") or {}
    for c, N, D in zip(opt.get("C", []), opt.get("N_opt_median", []), opt.get("D_opt_median", []), strict=False):
        points.append((f"optimum at {c:.3g} FLOPs (median)", N, D))
    return point_warnings(fit, points)


def prior_predictive(
    N: Any, D: Any, *, gamma_free: bool = False, likelihood: str = "student_t",
    priors: str | Path | Mapping[str, Any] | None = None, draws: int = 4000,
    prob: float = 0.9, seed: int = 0,
) -> xr.Dataset:
    """What the supervised priors imply for the loss at ``(N, D)`` (mean law and new run).

    Parameters
    ----------
    N, D
        Model sizes and tokens (raw counts).
    gamma_free, likelihood, priors
        The law's form, likelihood and prior overrides, as in :func:`fit`.
    draws
        Prior draws.
    prob
        The interval's probability.
    seed
        Seeds the prior draws.

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` and summaries with dims ``(point,)``.
    """
    N, D = _points(N, D)
    bounds.check_points(N, D)
    bounds.check_interval(prob)
    spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=_priors(priors) or {})
    import pymc as pm  # heavy: PyMC

    from bayeslaw.model.build import build_supervised
    from bayeslaw.posterior.likelihood import supervised_log_mean
    from bayeslaw.posterior.predict import summarise_draws

    table = pd.DataFrame({"N": N, "D": D, "loss": np.ones_like(N)})
    with build_supervised(spec, table):
        pri = pm.sample_prior_predictive(draws=draws, random_seed=Streams(seed).predictive)
    prior = pri["prior"].to_dataset()
    coefs = {k: prior[k].values.reshape(-1) for k in params.SUPERVISED_SAMPLED if k != "gamma"}
    coefs["gamma"] = prior["gamma"].values.reshape(-1) if gamma_free else np.ones(draws)
    new = np.exp(pri["prior_predictive"]["obs"].values.reshape(draws, -1))
    mean = np.exp(supervised_log_mean(coefs, N, D))
    return summarise_draws({"loss_mean": mean, "loss_new": new}, {"N": N, "D": D},
                           prob=prob, kind="eti")


def plan(fit: Fit, student_sizes: Any, budgets: Any, scenarios: Sequence[str] | None = None, *,
         n_students: int = 1, max_draws: int | None = 1000, seed: int = 0, prob: float = 0.9,
         chunk: int | None = None, backend: str = "numpy", scheduler: str | None = None,
         progress: Any = None, out: str | Path | None = None, margin: float | None = None,
         teacher_cap: float | None = bounds.TEACHER_CAP_RATIO,
         extrapolation: bool | str | Path = True) -> tuple[xr.Dataset, xr.Dataset]:
    """Distil or train supervised? Per-draw optima and their summary (see :mod:`bayeslaw.planning`).

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    student_sizes, budgets
        Student sizes (parameters) and compute budgets (FLOPs).
    scenarios
        Compute scenarios (default: all four).
    max_draws
        Subsamples the posterior (seeded by ``seed``) to bound the work.
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

    Returns
    -------
    tuple of xarray.Dataset
        ``(grid, summary)``: the per-draw optima with dims ``(draw, student_size, budget, scenario)``
        and their summary with dims ``(student_size, budget, scenario)`` (P(distillation wins),
        bands, crossover compute, the verdict of :func:`bayeslaw.decide.verdict`, and with the
        extrapolation error ``extrapolation_share``, the part of the difference band's width it makes);
        ``summary.attrs`` hold ``warnings`` (failed gates, data, reach beyond the fitted runs, recipes on
        the bounds) and ``extrapolation`` (what the losses include).
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
    from bayeslaw import decide  # heavy: xarray
    from bayeslaw.planning.grid import plan_grid  # heavy: xarray
    from bayeslaw.planning.summary import summarise
    from bayeslaw.posterior import extrapolation as ex
    from bayeslaw.posterior.card import write_dataset
    from bayeslaw.posterior.draws import laws
    from bayeslaw.reporting.caveats import plan_warnings

    cal = _calibration(extrapolation)
    law = laws(fit)
    idx = np.arange(law.n_draws)
    if max_draws is not None and law.n_draws > max_draws:
        idx = np.sort(np.random.default_rng(Streams(seed).subsample).choice(law.n_draws, max_draws, replace=False))
        law = law.take(idx)
    grid = plan_grid(law, N_S, C, scenarios, n_students=n_students, chunk=chunk, backend=backend,
                     scheduler=scheduler, progress=progress, teacher_cap=teacher_cap)
    if cal is not None:
        grid = ex.plan_with_law_error(grid, *ex.plan_law_error(fit, cal, idx, np.random.default_rng(
            Streams(seed).predictive)))
    else:
        grid.attrs["extrapolation"] = ex.MEAN_LAW
    if out is not None:
        write_dataset(grid, out)
    summary = summarise(grid, prob)
    if cal is not None:
        summary["extrapolation_share"] = ex.extrapolation_share(grid["diff"], grid["diff_law"], prob)
    v = decide.verdict(grid["diff"], margin=decide.MARGIN if margin is None else margin, prob=prob)
    for name in v.data_vars:
        summary[name] = v[name]
    summary.attrs.update(v.attrs)
    summary.attrs["warnings"] = plan_warnings(fit, summary)
    return grid, summary


def report(fit: Fit | str | Path, question: Question, *, out_dir: str | Path = "reports", stem: str | None = None,
           max_draws: int = 500, seed: int = 0, gates: Gates | None = None,
           progress: Any = None) -> tuple[Analysis, Written]:
    """Answer a budget question and write the HTML and Markdown risk report.

    Parameters
    ----------
    fit
        A joint (distillation) posterior, or the path of one; a supervised posterior gets the
        supervised-only report (the compute-optimal model per budget, P(target), compute for the target).
    question
        The student, budgets, scenario, target and teachers (:class:`Question`); the student's size may
        be None for a supervised posterior.
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
        ``(analysis, written)``: the :class:`~bayeslaw.reporting.analysis.Analysis` (Datasets of every
        number shown, dims ``draw``, ``budget``, ``option``) or, for a supervised posterior, the
        :class:`~bayeslaw.reporting.supervised.SupervisedAnalysis`, and the written paths.
    """
    question.check()
    if max_draws < 1:
        raise InputError(f"the number of posterior draws to plan with (--draws) must be >= 1, got {max_draws}")
    path = None
    if not _is_fit(fit):
        path = str(fit)
        fit = load(fit)
    from bayeslaw.reporting import render  # heavy: matplotlib, ArviZ
    from bayeslaw.reporting.analysis import analyse
    from bayeslaw.reporting.supervised import analyse_supervised

    if fit.law == "supervised":
        analysis = analyse_supervised(fit, question, max_draws=max_draws, seed=seed, posterior_path=path,
                                      gates=gates, progress=progress, calibration=_calibration(True))
    else:
        if question.student_size is None:
            raise InputError("a distillation report compares ways to train one student: give its size (--student)")
        analysis = analyse(fit, question, max_draws=max_draws, seed=seed, posterior_path=path, gates=gates,
                           progress=progress, calibration=_calibration(True))
    if progress:
        progress("figures and pages")
    return analysis, render.write(analysis, out_dir, stem)


def _is_fit(x: Any) -> bool:
    return hasattr(x, "idata") and hasattr(x, "card")


def backtest(data: Table, *, law: str = "supervised", supervised: Table | None = None,
             splits: Sequence[str] = ("rolling",), student_threshold: float | Sequence[float] = (2.45, 2.40),
             supervised_threshold: float = 2.2, preset: str | None = None, teacher_noise: float | None = None,
             gamma_free: bool = False, likelihood: str = "student_t",
             include_outliers: bool = False, sampler: SamplerConfig | None = None, seed: int = 0,
             baseline: bool = True, extrapolation_error: bool = False, out_dir: str | Path | None = None,
             stem: str | None = None, progress: Any = None, allow_duplicates: bool = False,
             losses_in_nats: bool = False, columns: Mapping[str, str] | None = None
             ) -> tuple[Backtest, dict[str, str]]:
    """Leave-future-out backtests (see :mod:`bayeslaw.validate.backtest`), written to ``out_dir``.

    Parameters
    ----------
    data
        A run table or a shipped table's name.
    law
        ``"supervised"`` or ``"distillation"`` (the paper's protocol).
    supervised
        Distillation only: the supervised runs (optional, as in :func:`fit`).
    splits
        Supervised: ``compute:C``, ``loss:L``, ``largest:K`` or ``rolling[:C1,...]``.
    student_threshold, supervised_threshold
        Distillation: one split per student threshold (fit students with ``L_S`` at or above it,
        predict the rest); supervised runs are fitted when their loss is at or above the other.
    preset, teacher_noise
        Distillation: as in :func:`fit`.
    gamma_free, likelihood, include_outliers, sampler, seed
        As in :func:`fit`.
    baseline
        Also score the Huber + L-BFGS-B point fit.
    extrapolation_error
        Also score the law plus an in-sample-calibrated extrapolation error.
    out_dir, stem
        Where the tables and the plot go (nothing is written when ``out_dir`` is None).
    progress
        ``progress(message)`` per split.
    allow_duplicates, losses_in_nats
        Override the data checks, as in :func:`fit`.
    columns
        Supervised: mapping from canonical names to the table's (as in :func:`fit`).

    Returns
    -------
    tuple
        ``(backtest, paths)``: per-run scores, their summary per split and method, the fits'
        diagnostics, and the written paths by kind.
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be 'supervised' or 'distillation', got {law!r}")
    sampler = sampler or default_config(law)
    checks = {"allow_duplicates": allow_duplicates, "losses_in_nats": losses_in_nats}
    if law == "distillation":
        table, _, _ = tables.resolve(data, include_outliers, law="distillation")
        shipped = SHIPPED.get(data) if isinstance(data, str) else None
        teacher_noise, supervised_scale, _ = _shipped_joint(shipped, supervised, teacher_noise, None)
        preset = joint_preset(preset, supervised)
        dis = tables.validate_distillation(table, **checks)
        sup = None if supervised is None else tables.validate_supervised(supervised, **checks)
        thresholds = tuple(float(t) for t in np.atleast_1d(student_threshold))
        for th in thresholds:
            n_fit = int((dis["L_S"] >= th).sum())
            if n_fit < 15 or n_fit == len(dis):
                raise InputError(f"--student-threshold {th:g} keeps {n_fit} of {len(dis)} students to fit on; "
                                 "choose one that leaves at least 15 to fit and one to predict "
                                 f"(L_S spans {dis['L_S'].min():.4g}-{dis['L_S'].max():.4g})")
    else:
        table, source, _ = tables.resolve(data, include_outliers)
        if source is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns maps the columns "
                             "of your own files")
        df = tables.validate_supervised(table, columns, **checks)
    from bayeslaw.validate import backtest as bt  # heavy: PyMC

    if law == "distillation":
        result = bt.backtest_distillation(dis, sup, thresholds=thresholds, supervised_threshold=supervised_threshold,
                                          preset=preset, teacher_noise=teacher_noise,
                                          supervised_scale=supervised_scale, sampler=sampler, seed=seed,
                                          baseline=baseline, progress=progress)
    else:
        parsed = [s for spec in splits for s in bt.parse(spec, df)]
        result = bt.backtest_supervised(df, parsed, gamma_free=gamma_free, likelihood=likelihood, sampler=sampler,
                                        seed=seed, baseline=baseline, extrapolation_error=extrapolation_error,
                                        calibration=_calibration(True), progress=progress)
    paths = {}
    if out_dir is not None:
        name = stem or f"backtest_{law}_{Path(str(data)).stem}"
        paths = bt.write(result, out_dir, name)
    return result, paths


def compare(data: Table, *, exclude: str | None = None, sampler: SamplerConfig | None = None, seed: int = 0,
            progress: Any = None, allow_duplicates: bool = False, losses_in_nats: bool = False) -> Comparison:
    """PSIS-LOO comparison of supervised law variants (see :mod:`bayeslaw.validate.compare`).

    Parameters
    ----------
    data
        A run table or a shipped table's name (compared with and without its documented exclusions).
    exclude
        For another table: a pandas expression marking outlier runs (e.g. ``"loss > 3.5"``).
    sampler, seed
        As in :func:`fit`.
    progress
        ``progress(message)`` per variant.
    allow_duplicates, losses_in_nats
        Override the data checks, as in :func:`fit`.

    Returns
    -------
    Comparison
        ArviZ's comparison table, Pareto-k warnings and each variant's diagnostics.
    """
    if isinstance(data, str) and data in SHIPPED:
        full, outliers = tables.shipped_with_outliers(data)
    else:
        full = tables.validate_supervised(data, allow_duplicates=allow_duplicates, losses_in_nats=losses_in_nats)
        outliers = None
        if exclude:
            try:
                outliers = full.eval(exclude).to_numpy(bool)
            except Exception as err:  # pandas raises many types for a bad expression
                raise DataError(f"--exclude {exclude!r} is not an expression over the columns "
                                f"{list(full.columns)}: {err}") from err
    from bayeslaw.validate import compare as cmp  # heavy: PyMC

    return cmp.compare_supervised(full, outliers=outliers, sampler=sampler or default_config("supervised"),
                                  seed=seed, progress=progress)


def calibrate(studies: Sequence[str] | None = None, *, out: str | Path | None = None, loso: bool = False,
              out_dir: str | Path = "reports/calibration", seed: int = 0,
              progress: Any = None) -> tuple[Fit, LosoSummary | None, dict[str, str]]:
    """Learn from public studies how fast a scaling law's error grows beyond its fitted runs.

    Parameters
    ----------
    studies
        Shipped supervised tables, one study each (default
        :data:`bayeslaw.validate.calibration.STUDIES`); a study too small for leave-future-out splits is
        skipped with a message.
    out
        Where to save the calibration posterior (default ``models/extrapolation_calibration.nc``).
    loso
        Also run the leave-one-study-out evaluation (with each split's in-sample calibration for
        comparison; slower) and write its tables and reliability diagram to ``out_dir``, with the coverage
        of wider population bands (``widths.csv``) and the coverage each study would expect if the population
        were exactly right (``expected_coverage.csv``).
    out_dir
        Where the evaluation goes.
    seed
        The one seed.
    progress
        ``progress(message)`` per study and split.

    Returns
    -------
    tuple
        ``(calibration, summary, paths)``: the hierarchical posterior (dims ``chain``, ``draw``, ``study``),
        the leave-one-study-out evaluation's tables (None without ``loso``; ``scores`` per study and method,
        ``widths``, ``expected``), the written paths.
    """
    from bayeslaw.posterior.extrapolation import CALIBRATION  # heavy: xarray
    from bayeslaw.validate import calibration as cal  # heavy: PyMC

    names = tuple(studies or cal.STUDIES)
    unknown = [s for s in names if s not in SHIPPED or SHIPPED[s].law != "supervised"]
    if unknown:
        raise InputError(f"unknown studies {unknown}; shipped supervised tables: "
                         f"{sorted(k for k, v in SHIPPED.items() if v.law == 'supervised')}")
    out = Path(out or CALIBRATION)
    bounds.check_writable(out, "--out")
    if loso:
        bounds.check_writable(out_dir, "--out-dir", directory=True)
    h = cal.held_out(names, seed=seed, insample=loso, progress=progress)
    if progress:
        progress(f"hierarchical discrepancy model over {h.runs['study'].nunique()} studies, {len(h.runs)} "
                 "held-out runs")
    fit = cal.fit_discrepancy(h, list(dict.fromkeys(h.runs["study"])), seed=seed)
    paths = {"calibration": str(fit.save(out))}
    summary = None
    if loso:
        ev = cal.loso(h, seed=seed, progress=progress)
        summary = cal.summarise(ev)
        paths.update(cal.write_loso(ev, summary, h, out_dir))
    return fit, summary, paths


def generate(out_dir: str | Path = "data/synthetic", *, stem: str = "paper_design", seed: int = 0,
             noise: float = 0.005, eval_noise: float = 0.001, outlier_df: float | None = None,
             small: bool = False) -> tuple[Path, Path]:
    """Write a SYNTHETIC paper-design study (see :mod:`bayeslaw.data.synthetic`).

    Parameters
    ----------
    out_dir, stem
        Where the two CSV files go and their name's stem.
    seed, noise, eval_noise, outlier_df
        The generator's seed, run noise (sd of log loss), teachers' measurement noise and
        Student-t degrees of freedom (None: normal noise).
    small
        A small design (for tests and calibration).

    Returns
    -------
    tuple of pathlib.Path
        The distillation and supervised tables.
    """
    from bayeslaw.data import synthetic  # the paper's design tables, read only when generating

    settings = synthetic.GeneratorSettings(seed=seed, noise=noise, eval_noise=eval_noise, outlier_df=outlier_df,
                                           design=synthetic.SMALL_DESIGN if small else synthetic.Design())
    return synthetic.write(settings, out_dir, stem=stem)


def __getattr__(name: str) -> Any:
    # Fit and Gates are re-exported for users (bl.Fit, bl.Gates) without loading xarray/ArviZ at import
    if name == "Fit":
        from bayeslaw.posterior.card import Fit  # heavy: xarray

        return Fit
    if name == "Gates":
        from bayeslaw.posterior.diagnostics import Gates  # heavy: ArviZ

        return Gates
    raise AttributeError(f"module 'bayeslaw.api' has no attribute {name!r}")


__all__ = ["fit", "report", "load", "diagnose", "summary", "predict", "predict_distillation", "optimum", "plan",
           "prior_predictive", "backtest", "compare", "generate", "Fit", "Gates", "SamplerConfig", "Question",
           "Teacher"]
