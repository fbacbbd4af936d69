"""Predictions of distilled students from a joint posterior: bands, the supervised twin, the capacity gap.

Each draw is a consistent pair of laws (supervised and distillation), so a distilled student
and the same student trained supervised are compared draw by draw.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from bayeslaw.core import bounds, params
from bayeslaw.core.errors import InputError
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients, refuse_experimental
from bayeslaw.posterior.extrapolation import (
    SIZE_REACHED,
    add_to_log_new,
    decades_beyond,
    new_run,
    plan_law_error,
    student_outcome,
    student_outcomes,
    supervised_outcome,
)
from bayeslaw.posterior.likelihood import scaled_noise, student_log_mean, student_noise, supervised_log_mean
from bayeslaw.posterior.predict import band_share, bounds_of, interval, summarise_draws, with_extrapolation_share
from bayeslaw.posterior.reach import fitted_scale
from bayeslaw.posterior.size_offset import SizeOffset


def teacher_log_loss(fit: Fit, c: dict[str, np.ndarray], *, L_T=None, N_T=None, D_T=None,
                     n_points: int) -> tuple[np.ndarray, bool]:
    """Teacher log loss per draw and point: a measured ``L_T``, or the supervised law at ``(N_T, D_T)``.

    Returns ``(log_L_T, from_law)``; ``from_law`` says the teacher was given by size and tokens,
    so that a *new* such teacher is itself a new run, scattering around the law with the
    supervised runs' sd.
    """
    if L_T is not None:
        L_T = np.broadcast_to(np.asarray(L_T, float), (n_points,))
        bounds.check_loss(L_T, "teacher loss L_T")
        return np.broadcast_to(np.log(L_T)[None, :], (fit.n_draws, n_points)).copy(), False
    if N_T is None or D_T is None:
        raise InputError("give the teacher as L_T (its loss) or as N_T and D_T (its size and tokens)")
    N_T, D_T = (np.broadcast_to(np.asarray(x, float), (n_points,)) for x in (N_T, D_T))
    bounds.check_points(N_T, D_T)
    return supervised_log_mean(c, N_T, D_T), True


def predict(fit: Fit, *, N_S, D_S, L_T=None, N_T=None, D_T=None, prob: float = 0.9, kind: str = "eti",
            seed: int = 0, calibration: Fit | None = None) -> xr.Dataset:
    """Student loss for ``(N_S, D_S)`` and a teacher: mean-law and new-run bands.

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    N_S, D_S
        Student sizes and distillation tokens (raw counts), broadcast against each other.
    L_T, N_T, D_T
        The teacher: its measured loss ``L_T``, or its size and tokens (its loss then follows the
        supervised law, and a new teacher scatters like a new supervised run).
    prob, kind, seed
        The interval and the seed of the new-run noise.
    calibration
        The extrapolation calibration: a new student beyond the fitted runs also carries the law's
        extrapolation error (learned on supervised studies; see :mod:`bayeslaw.posterior.extrapolation`).

    Returns
    -------
    xarray.Dataset
        With dims ``(draw, point)`` and their ``(point,)`` summaries (see
        :func:`~bayeslaw.posterior.predict.summarise_draws`): ``loss_mean``, ``loss_new``,
        ``loss_supervised`` (the same student trained supervised on ``D_S`` tokens by the posterior's
        supervised law, paired draw by draw) and ``difference``, distilled minus supervised (negative:
        distillation better; the sign every output uses). With a ``calibration`` the difference
        carries the law's extrapolation error as in a plan (shared at the student, apart at a predicted
        teacher), ``difference_law`` is the law's expectation and ``difference_extrapolation_share``
        the part of the difference's band the error makes; with the distillation law's error
        (:func:`~bayeslaw.posterior.extrapolation.load_student_error`) ``beyond_fitted_students`` and
        ``distillation_error_share`` (the part of the new-run band it makes). Coordinates
        ``N_S``, ``D_S`` and the teacher's median ``L_T`` on ``point``.
    """
    if fit.law != "distillation":
        raise InputError("this posterior is supervised; student predictions need a distillation fit")
    refuse_experimental(fit, ("teacher_effect",))  # the tilt is in student_log_mean, a new size's offset below
    N_S, D_S = np.broadcast_arrays(np.atleast_1d(np.asarray(N_S, float)), np.atleast_1d(np.asarray(D_S, float)))
    bounds.check_points(N_S, D_S)
    rng = np.random.default_rng(seed)
    c = as_arrays(coefficients(fit))
    mean_T, from_law = teacher_log_loss(fit, c, L_T=L_T, N_T=N_T, D_T=D_T, n_points=N_S.size)
    log_S, log_tilde = student_log_mean(c, N_S, D_S, mean_T)
    new_T = mean_T
    if from_law:
        new_T = mean_T + fit.draws(["sigma_sup"])["sigma_sup"][:, None] * rng.standard_normal(mean_T.shape)
    base_new, _ = student_log_mean(c, N_S, D_S, new_T)
    run_noise = scaled_noise(*student_noise(fit, N_S), base_new.shape, rng)
    log_E = c["log_E"][:, None]
    log_S_new = new_run(base_new, run_noise, log_E)
    coords = {"N_S": N_S, "D_S": D_S}
    coords["L_T"] = np.median(np.exp(mean_T), axis=0)
    out = {"loss_mean": np.exp(log_S), "loss_new": np.exp(log_S_new), "loss_supervised": np.exp(log_tilde),
           "difference": np.exp(log_S) - np.exp(log_tilde)}
    if calibration is None:
        size = SizeOffset.draw(fit, np.arange(fit.n_draws), rng)
        if size is not None:  # a new run of a new architecture: its size's offset too (as plans draw it)
            out["loss_new"] = np.exp(new_run(base_new + size.at(N_S, base_new.ndim), run_noise, log_E))
        ds = summarise_draws(out, coords, prob=prob, kind=kind)
        ds.attrs["extrapolation"] = ("not included: new-run bands hold the law's uncertainty and the run noise only"
                                     + ("" if size is None else " (and a new student size's offset)"))
        return ds
    d = decades_beyond(fitted_scale(fit), N_S, D_S)
    without = out["loss_new"]
    # the paired difference as plan and report give it: the same law error at the student in both
    # options, another at a teacher the law predicts, and the distillation law's own error beyond the
    # fitted students (bayeslaw.posterior.extrapolation)
    coefs, err = plan_law_error(fit, calibration, np.arange(fit.n_draws), rng)
    shape = log_S.shape
    teacher = ({"N_T": np.broadcast_to(np.asarray(N_T, float), shape),
                "D_T": np.broadcast_to(np.asarray(D_T, float), shape)} if from_law else {})
    Nb, Db = np.broadcast_to(N_S, shape), np.broadcast_to(D_S, shape)
    if err.student is None:  # no distillation-law error: the supervised population's spread stands in for it
        offset = 0.0 if err.size is None else err.size.at(Nb, base_new.ndim)
        out["loss_new"] = np.exp(add_to_log_new(base_new + offset, run_noise, d, calibration, rng,
                                                log_floor=log_E, lean=False))
    else:
        log_reached, log_plain = student_outcomes(coefs, err, Nb, Db, new_T, **teacher)
        out["loss_new"] = np.exp(new_run(log_reached, run_noise, log_E))
        no_student = np.exp(new_run(log_plain, run_noise, log_E))
    out["difference_law"] = out["difference"]
    out["difference"] = (np.exp(student_outcome(coefs, err, Nb, Db, mean_T, **teacher))
                         - np.exp(supervised_outcome(coefs, err, Nb, Db)))
    ds = summarise_draws(out, coords, prob=prob, kind=kind)
    ds["difference_extrapolation_share"] = ("point", band_share(bounds_of(ds, "difference"),
                                                                bounds_of(ds, "difference_law")))
    ds = with_extrapolation_share(ds, without, d, prob, kind)
    ds.attrs["extrapolation"] += ("; the difference carries it as a plan does (one error at the student, another at "
                                  "a teacher the law predicts)")
    if err.student is not None:
        _, outside = err.student.distance(N_S, D_S, np.median(np.exp(log_S), axis=0), np.median(np.exp(mean_T), axis=0))
        ds["beyond_fitted_students"] = ("point", outside)
        ds["distillation_error_share"] = ("point", band_share(bounds_of(ds, "loss_new"),
                                                              interval(no_student, prob, kind)))
        learned = err.student.source
        ds.attrs["extrapolation"] += ("; beyond the fitted students the distillation law's own error, learned from "
                                      f"the paper's runs (models/{learned})")
    if err.size is not None:
        ds.attrs["extrapolation"] += SIZE_REACHED
    return ds


def capacity_gap(fit: Fit, *, N_S: float, D_S: float, L_T=None, prob: float = 0.9,
                 kind: str = "eti") -> xr.Dataset:
    """Student loss against teacher loss at fixed ``(N_S, D_S)``: the capacity-gap U with bands.

    With the paper's coefficients the U's minimum lies at a ratio L_T / L~_S of ~0.7 (a stronger
    teacher hurts through ``L_T**-c0``); past ``d1`` the distillation term vanishes and ``L_S -> L_T``.

    Parameters
    ----------
    fit
        A joint (distillation) posterior.
    N_S, D_S
        The student's size and tokens.
    L_T
        Teacher losses to evaluate (default 1.6 to 4.0 nats).
    prob, kind
        The interval's probability and kind.

    Returns
    -------
    xarray.Dataset
        ``loss_mean`` with dims ``(draw, point)`` and its summaries with dims ``(point,)`` over the
        teacher losses ``L_T`` (coordinate on ``point``); ``ratio`` = L_T / L~_S with dims ``(point,)``
        (median over draws), ``L_tilde_median`` (scalar) and ``d1`` with dims ``(draw,)``.
    """
    L_T = np.asarray(L_T if L_T is not None else np.linspace(1.6, 4.0, 61), float)
    c = as_arrays(coefficients(fit))
    N = np.full(L_T.size, float(N_S))
    D = np.full(L_T.size, float(D_S))
    log_T = np.broadcast_to(np.log(L_T)[None, :], (fit.n_draws, L_T.size))
    log_S, _ = student_log_mean(c, N, D, log_T)
    log_tilde = supervised_log_mean(params.twin_of(c), N, D)  # where the break sits: Eq. 8's L~_S
    ds = summarise_draws({"loss_mean": np.exp(log_S)}, {"L_T": L_T}, prob=prob, kind=kind)
    ds["ratio"] = ("point", np.median(L_T[None, :] / np.exp(log_tilde), axis=0))
    ds["L_tilde_median"] = float(np.median(np.exp(log_tilde[:, 0])))
    ds["d1"] = ("draw", np.exp(c["log_d1"]))
    return ds
