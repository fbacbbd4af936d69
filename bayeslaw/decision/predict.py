"""Predictions and optima from a posterior, with what must be said beside them.

``predict`` (supervised losses at new runs), ``predict_distillation`` (a distilled student against its
supervised twin, with the verdict of their paired difference), ``optimum`` (the compute-optimal supervised
model per budget) and :func:`prediction_caveats` (failed gates, the data, the reach of every point).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import bounds
from bayeslaw.core.compute import PAPER_ARCHITECTURE, CostModel
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import pick
from bayeslaw.core.seeds import Streams
from bayeslaw.decision.caveats import REACH, Caveat, check_above_floor, point_caveats
from bayeslaw.decision.pipeline import Extrapolation, calibration_for
from bayeslaw.planning.optima import supervised_optimum
from bayeslaw.posterior import predict as posterior_predict
from bayeslaw.posterior import reach, students
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import laws
from bayeslaw.posterior.extrapolation import ALLOCATED, allocated_optimum, load_allocation
from bayeslaw.posterior.point import POINT_NOTE
from bayeslaw.posterior.predict import points

#: Draws x points per chunk of a prediction: each chunk's (draw, point) arrays stay at 32 MiB (1,024 points of 4,000
#: draws), so a million points need no more memory than a thousand, only time.
CHUNK_VALUES = 2**22
#: With ``keep_draws=None`` a prediction keeps its per-draw arrays up to this many draws x points (about 134 MB per
#: variable); beyond, only their bands, medians and per-point summaries.
KEEP_DRAWS_MAX = 2**24


def predict(fit: Fit, N: Any, D: Any, *, prob: float = 0.9, kind: str = "eti", seed: int = 0,
            extrapolation: Extrapolation = True, keep_draws: bool | None = None,
            progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """Supervised loss at new ``(N, D)``: mean-law and new-run bands.

    Parameters
    ----------
    fit
        A supervised posterior.
    N, D
        Model sizes and training tokens (raw counts, 1-D), broadcast against each other.
    prob, kind
        The interval's probability and kind (``"eti"`` or ``"hdi"``).
    seed
        Seeds the new-run noise.
    extrapolation
        Add the law's extrapolation error beyond the fitted runs to the new-run band, from the shipped
        calibration (True, default), a calibration file, or not at all (False).
    keep_draws
        Keep the ``(draw, point)`` arrays (True), only their summaries (False), or keep them while they are
        small (None: up to :data:`KEEP_DRAWS_MAX` values). Points are computed in chunks of :data:`CHUNK_VALUES`
        draws x points either way.
    progress
        Called as ``progress(points_done, points)`` after each chunk (where there is more than one).

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` and ``loss_new`` with dims ``(draw, point)`` (unless the draws are not kept) and their median
        and bounds with dims ``(point,)`` (see :func:`bayeslaw.posterior.predict.predict_supervised`).
    """
    fit.require("supervised", "distillation", verb="predict")
    N, D = points(N, D)
    bounds.check_points(N, D)
    bounds.check_interval(prob, kind)
    if fit.law != "supervised":
        raise InputError("this posterior is a distillation (joint) one: predict students with predict_distillation "
                         "(--N-S/--D-S and a teacher on the command line)")
    cal = calibration_for(fit, extrapolation)

    def chunk(at: slice, chunk_seed: int) -> xr.Dataset:
        return posterior_predict.predict_supervised(fit, N[at], D[at], prob=prob, kind=kind, seed=chunk_seed,
                                                    calibration=cal)

    return flagged(fit, in_chunks(chunk, N.size, fit.n_draws, seed=seed, keep_draws=keep_draws, progress=progress))


def in_chunks(run: Callable[[slice, int], xr.Dataset], n_points: int, n_draws: int, *, seed: int,
              keep_draws: bool | None = None, progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
    """A prediction computed a chunk of points at a time (:data:`CHUNK_VALUES` draws x points), each chunk's draws
    reduced before the next.

    Chunk 0 is seeded by ``seed`` itself (a prediction that fits in one chunk is the one-pass result) and
    chunk ``i`` by the seed stream ``Streams(seed).child("predict_chunk", i)``, so the result does not depend on
    the memory available. Points in different chunks meet independent draws of the law's error; every point's
    band is the same distribution either way.

    Parameters
    ----------
    run
        ``run(points, seed)``: the prediction of the points in the slice, with dims ``(draw, point)``.
    n_points, n_draws
        The number of points and of posterior draws.
    seed
        The prediction's seed.
    keep_draws
        As in :func:`predict`.
    progress
        ``progress(points_done, n_points)`` after each chunk, where there is more than one.

    Returns
    -------
    xarray.Dataset
        The chunks joined along the ``point`` dim; without the variables of dims ``(draw, point)`` unless they
        are kept (``attrs['draws_kept']`` says which, 1 or 0).
    """
    keep = n_points * n_draws <= KEEP_DRAWS_MAX if keep_draws is None else bool(keep_draws)
    size = max(1, CHUNK_VALUES // n_draws)
    parts = []
    for i, start in enumerate(range(0, n_points, size)):
        part = run(slice(start, start + size), seed if i == 0 else Streams(seed).child("predict_chunk", i))
        if not keep:
            part = part.drop_vars([v for v in part.data_vars if "draw" in part[v].dims])
            gc.collect()  # xarray objects hold reference cycles: free the chunk's draws now, not at the next gen-2 pass
        parts.append(part)
        if progress is not None and n_points > size:  # one chunk: nothing to report
            progress(min(start + size, n_points), n_points)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="point", data_vars="minimal", coords="minimal",
                                                     compat="override", combine_attrs="override", join="exact")
    out.attrs["draws_kept"] = int(keep)
    if not keep:
        out.attrs["draws_note"] = (f"{n_points} points x {n_draws} draws: only the bands and medians are kept "
                                   "(keep_draws=True keeps the draws)")
    return out


def flagged(fit: Fit, ds: xr.Dataset) -> xr.Dataset:
    """A result that says whether the fit behind it passed its diagnostic gates (``attrs['diagnostics_passed']``,
    and the failures when it did not).

    Parameters
    ----------
    fit
        The posterior the result came from.
    ds
        The result.

    Returns
    -------
    xarray.Dataset
        ``ds`` (its dims unchanged) with the attrs set.
    """
    ds.attrs["diagnostics_passed"] = int(bool(fit.diagnostics_passed))  # netCDF attrs take no bools
    if fit.is_point:
        ds.attrs["point_law"] = fit.card["data"]["source"]
        ds.attrs["extrapolation"] = f"not included: {POINT_NOTE}"
    if not fit.diagnostics_passed:
        ds.attrs["diagnostics_failures"] = "; ".join(fit.card["diagnostics"]["failures"])
    return ds


def predict_distillation(fit: Fit, *, N_S: Any, D_S: Any, L_T: Any = None, N_T: Any = None, D_T: Any = None,
                         prob: float = 0.9, kind: str = "eti", seed: int = 0, margin: float | None = None,
                         extrapolation: Extrapolation = True, keep_draws: bool | None = None,
                         progress: Callable[[int, int], None] | None = None) -> xr.Dataset:
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
    keep_draws, progress
        As in :func:`predict` (points are computed in chunks of :data:`CHUNK_VALUES` draws x points).

    Returns
    -------
    xarray.Dataset
        ``loss_mean``, ``loss_new``, ``loss_supervised`` and ``difference`` (distilled minus supervised,
        negative: distillation better) with dims ``(draw, point)`` and their summaries with dims ``(point,)``
        (see :func:`bayeslaw.posterior.students.predict`); the verdict of the difference (``verdict``,
        ``p_better``, ``p_better_margin``, ``p_worse_margin``, ``p_tied``) with dims ``(point,)``.
    """
    fit.require("supervised", "distillation", verb="predict")
    N_S, D_S = points(N_S, D_S)
    bounds.check_points(N_S, D_S)
    bounds.check_interval(prob, kind)
    if L_T is not None and fit.law == "distillation":
        for value in np.atleast_1d(np.asarray(L_T, float)):
            check_above_floor(fit, float(value), "teacher loss L_T")
    teacher = {k: _per_point(v, N_S.size, k) for k, v in (("L_T", L_T), ("N_T", N_T), ("D_T", D_T))}
    cal = calibration_for(fit, extrapolation)

    def chunk(at: slice, chunk_seed: int) -> xr.Dataset:
        ds = students.predict(fit, N_S=N_S[at], D_S=D_S[at], **{k: None if v is None else v[at]
                                                                for k, v in teacher.items()},
                              prob=prob, kind=kind, seed=chunk_seed, calibration=cal)
        v = decide.verdict(ds["difference"], margin=decide.MARGIN if margin is None else margin, prob=prob)
        for name in v.data_vars:
            ds[name] = v[name]
        ds.attrs.update(v.attrs)
        return ds

    ds = in_chunks(chunk, N_S.size, fit.n_draws, seed=seed, keep_draws=keep_draws, progress=progress)
    return flagged(fit, with_student_reach(fit, ds))


def _per_point(value: Any, n: int, name: str) -> np.ndarray | None:
    """A teacher input as one value per point (a single value repeated), or None."""
    if value is None:
        return None
    x = np.atleast_1d(np.asarray(value, float))
    if x.ndim != 1 or x.size not in (1, n):
        raise InputError(f"{name} takes one value or one per student ({n}), got shape {x.shape}")
    return np.broadcast_to(x, (n,))


#: How a distilled prediction's reach beyond the fitted students is named in its Dataset.
STUDENT_REACH = {"size_factor": "beyond_student_size", "token_factor": "beyond_student_tokens",
                 "tokens_per_param_factor": "beyond_student_tokens_per_param",
                 "loss_below": "below_student_loss", "teacher_loss_below": "below_teacher_loss",
                 "teacher_ratio": "teacher_over_student_supervised", "teacher_ratio_factor": "beyond_teacher_ratio"}


def with_student_reach(fit: Fit, ds: xr.Dataset) -> xr.Dataset:
    """A distilled prediction with how far each point lies beyond the fitted students.

    Parameters
    ----------
    fit
        The joint posterior predicted from.
    ds
        :func:`predict_distillation`'s Dataset (points on ``point``; the median student loss and ``L_T``).

    Returns
    -------
    xarray.Dataset
        ``ds`` with ``beyond_student_size``, ``beyond_student_tokens``, ``beyond_student_tokens_per_param``
        (factors over the fitted maxima), ``below_student_loss``, ``below_teacher_loss`` (relative distance
        below the lowest fitted student and teacher loss, 0 inside), ``teacher_over_student_supervised`` (L_T / L~_S)
        and ``beyond_teacher_ratio`` (it over the largest fitted; NaN without the weak-teacher gain), dims
        ``(point,)``.
    """
    span = reach.fitted_students(fit)
    if span is None:
        return ds
    r = reach.student_reach(span, ds["N_S"].values, ds["D_S"].values, pick(ds, "loss_mean").values,
                            ds["L_T"].values)
    for key, name in STUDENT_REACH.items():
        ds[name] = ("point", r[key])
    return ds


#: The FLOP conventions of :func:`optimum`.
FLOP_CONVENTIONS = {"3fnd": "3 F(N) D (the paper's; F(N) forward FLOPs per token, App. H)", "6nd": "6 N D"}


def optimum(fit: Fit, budgets: Any, *, prob: float = 0.9, kind: str = "eti", flops: str = "3fnd",
            inference_tokens: float = 0.0, seed: int = 0, extrapolation: Extrapolation = True) -> xr.Dataset:
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
    inference_tokens
        Tokens the model will serve over its lifetime: the budget then pays for training and serving, one
        forward pass ``F(N)`` (2N under ``"6nd"``) per token (Sardana et al.), and the optimum moves to a smaller
        model trained longer. 0 (default): training only.
    seed, extrapolation
        Beyond the fitted runs, N* and D* carry the compute-optimal size's own error learned from IsoFLOP
        replays (:mod:`bayeslaw.validate.allocation`), drawn from ``seed``'s ``allocation_draws`` stream, where the
        extrapolation calibration is on (True, default; False: the law's N* alone). A point law: none.

    Returns
    -------
    xarray.Dataset
        ``N_opt``, ``D_opt``, ``L_opt`` with dims ``(draw, budget)`` and their summaries with dims
        ``(budget,)``; coordinate ``C``; ``attrs['flops']`` names the convention. With the allocation error also
        ``N_opt_law``, ``D_opt_law`` (the law's recipe) and ``allocation_decades`` (budget), and
        ``attrs['allocation']``. ``L_opt`` stays the law's optimum loss (flat around N*).
    """
    fit.require("supervised", "distillation", verb="predict --budget")
    C = np.atleast_1d(np.asarray(budgets, float))
    bounds.check_interval(prob, kind)
    if flops not in FLOP_CONVENTIONS:
        raise InputError(f"flops (--flops) must be one of {sorted(FLOP_CONVENTIONS)}, got {flops!r}")
    bounds.check_optimum_budgets(C, flops)
    serving = CostModel(arch=None if flops == "6nd" else PAPER_ARCHITECTURE, serving_tokens=inference_tokens)
    if flops == "6nd" and inference_tokens == 0:
        ds = posterior_predict.optimum_6nd(fit, C, prob=prob, kind=kind)
    else:
        bounds.check_serving_budgets(C, inference_tokens, serving.arch)
        o = supervised_optimum(laws(fit), C, arch=serving.arch, serving_tokens=inference_tokens)
        draws = {"N_opt": o["N"], "D_opt": o["D"], "L_opt": o["L"]}
        if inference_tokens > 0:
            draws["serving_flops"] = serving.serving_flops(o["N"])
        ds = posterior_predict.summarise_draws(draws, {"C": C}, prob=prob, kind=kind).rename({"point": "budget"})
    alloc = load_allocation() if calibration_for(fit, extrapolation) is not None else None
    if alloc is not None:
        ds = _with_allocation(fit, ds, C, alloc, arch=serving.arch, serving_tokens=inference_tokens, seed=seed,
                              prob=prob, kind=kind)
    ds.attrs["flops"] = FLOP_CONVENTIONS[flops]
    ds.attrs["inference_tokens"] = float(inference_tokens)
    return flagged(fit, ds)


def _with_allocation(fit: Fit, ds: xr.Dataset, C: np.ndarray, err: dict[str, float], *, arch: Any,
                     serving_tokens: float, seed: int, prob: float, kind: str) -> xr.Dataset:
    """An optimum whose N* and D* carry the allocation error beyond the fitted runs (the law's kept beside)."""
    rng = np.random.default_rng(Streams(seed).child("allocation_draws", 0))
    N, D, d = allocated_optimum(fit, ds["N_opt"].values, C, err, rng, arch=arch, serving_tokens=serving_tokens)
    draws = {"N_opt": N, "D_opt": D, "L_opt": ds["L_opt"].values, "N_opt_law": ds["N_opt"].values,
             "D_opt_law": ds["D_opt"].values}
    if "serving_flops" in ds:
        draws["serving_flops"] = ds["serving_flops"].values
    out = posterior_predict.summarise_draws(draws, {"C": C}, prob=prob, kind=kind).rename({"point": "budget"})
    out["allocation_decades"] = ("budget", d)
    out.attrs.update(ds.attrs)
    out.attrs["allocation"] = ALLOCATED
    return out


def prediction_caveats(fit: Fit, prediction: xr.Dataset | None = None,
                       optimum: xr.Dataset | None = None, cheapest: xr.Dataset | None = None) -> list[Caveat]:
    """What a prediction must say beside its numbers: failed gates, the data, the reach of its points.

    Parameters
    ----------
    fit
        The posterior predicted from.
    prediction
        :func:`predict`'s or :func:`predict_distillation`'s result (its points are ``N``/``D`` or ``N_S``/``D_S``).
    optimum
        :func:`optimum`'s result (its median recipes are the points).
    cheapest
        :func:`bayeslaw.decision.lifetime.cheapest`'s result (its median and committed recipes are the points).

    Returns
    -------
    list of Caveat
        In the order to show them.
    """
    found: list[tuple[str, float, float]] = []
    students: list[str] = []
    if prediction is not None:
        size, tokens = ("N_S", "D_S") if "N_S" in prediction.coords else ("N", "D")
        for i, (N, D) in enumerate(zip(prediction[size].values.tolist(), prediction[tokens].values.tolist(),
                                       strict=True)):
            found.append((f"prediction at N={N:.3g}, D={D:.3g}", N, D))
            if STUDENT_REACH["loss_below"] in prediction:
                r = {key: float(prediction[name].values[i]) for key, name in STUDENT_REACH.items()}
                if note := reach.describe_student(f"student N_S={N:.3g}, D_S={D:.3g}", r):
                    students.append(note)
    if optimum is not None:
        for c, N, D in zip(optimum["C"].values.tolist(), pick(optimum, "N_opt").values.tolist(),
                           pick(optimum, "D_opt").values.tolist(), strict=True):
            found.append((f"optimum at {c:.3g} FLOPs (median)", N, D))
    if cheapest is not None:
        found.append(("cheapest recipe (median draw)", float(pick(cheapest, "N").values[0]),
                      float(pick(cheapest, "D").values[0])))
        found.append(("committed recipe", cheapest.attrs["commit_N"], cheapest.attrs["commit_D"]))
    out = point_caveats(fit, found)
    if w := reach.student_warning(students):
        out.append(Caveat(REACH, w))
    return out
