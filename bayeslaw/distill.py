"""The distillation law end to end: fit the joint model, its likelihood terms, predictions.

Predictions are numpy over posterior draws. Each draw is a consistent pair of laws
(supervised and distillation), so comparisons of a distilled student with its supervised
twin are paired draw by draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayeslaw.data import split_teachers, validate_distillation, validate_supervised
from bayeslaw.diagnostics import Gates
from bayeslaw.fitting import data_record, finish
from bayeslaw.inference import SamplerConfig, default_config
from bayeslaw.model import JointSpec, build_joint, distillation_mean
from bayeslaw.posterior import Fit
from bayeslaw.predict import _check_points, noise_draws, summarise_draws, supervised_coefficients
from bayeslaw.priors import DISTILLATION_PARAMETERS, Prior


def fit_distillation(
    table: str | Path | pd.DataFrame,
    supervised: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    supervised_columns: Mapping[str, str] | None = None,
    likelihood: str = "student_t",
    priors: Mapping[str, Prior | Mapping[str, Any]] | None = None,
    preset: str = "weak",
    preset_scale: float = 1.0,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
) -> Fit:
    """Fit the distillation law jointly with the supervised law (see :func:`bayeslaw.model.build_joint`)."""
    sampler = sampler or default_config("distillation")
    dis = validate_distillation(table, columns)
    sup = validate_supervised(supervised, supervised_columns)
    teachers, rest, index = split_teachers(dis, sup)
    spec = JointSpec(likelihood=likelihood, preset=preset, preset_scale=preset_scale, priors=dict(priors or {}))
    model = build_joint(spec, dis, rest, teachers, index)
    record = data_record(dis, table, columns)
    record["supervised"] = data_record(rest, supervised, supervised_columns)
    record["teachers"] = {"n": len(teachers), "ids": teachers["teacher_id"].astype(str).tolist(),
                          "index": index.tolist()}
    fit = finish(model, spec.to_dict(), "distillation", record, sampler, seed, gates, progress)
    return fit


def coefficients(fit: Fit) -> dict[str, np.ndarray]:
    """Per-draw supervised and distillation parameters in the sampled parameterisation."""
    c = supervised_coefficients(fit)
    c.update(fit.draws(list(DISTILLATION_PARAMETERS)))
    return c


def _split(c: dict[str, np.ndarray]) -> tuple[dict, dict]:
    sup = {k: c[k] for k in ("log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma")}
    dis = {k: c[k] for k in DISTILLATION_PARAMETERS}
    return sup, dis


def student_log_mean(c: dict[str, np.ndarray], N_S, D_S, log_L_T) -> tuple[np.ndarray, np.ndarray]:
    """``(log L_S, log L~_S)`` per draw (rows) and point (columns); ``log_L_T`` is (draw, point)."""
    from bayeslaw.predict import supervised_log_mean

    sup, dis = _split(c)
    log_tilde = supervised_log_mean(sup, N_S, D_S)
    col = {k: v[:, None] for k, v in dis.items()}
    log_S = distillation_mean(col, np.log(np.asarray(N_S, float))[None, :],
                              np.log(np.asarray(D_S, float))[None, :], log_L_T, log_tilde, xp=np)
    return log_S, log_tilde


def observed_terms(fit: Fit) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
    """Likelihood terms of a joint fit (supervised runs and students), for LOO and PPC."""
    from bayeslaw.predict import supervised_log_mean

    obs = fit.idata["observed_data"].to_dataset()
    c = coefficients(fit)
    sup, _ = _split(c)
    out = [("obs", supervised_log_mean(sup, np.exp(obs["log_N"].values), np.exp(obs["log_D"].values)),
            obs["log_loss"].values, "sigma_sup")]
    log_L_T = fit.draws(["log_L_T"])["log_L_T"][:, np.asarray(fit.card["data"]["teachers"]["index"])]
    log_S, _ = student_log_mean(c, np.exp(obs["log_N_S"].values), np.exp(obs["log_D_S"].values), log_L_T)
    out.append(("obs_student", log_S, obs["log_L_S"].values, "sigma_dis"))
    return out


def teacher_log_loss(fit: Fit, c: dict[str, np.ndarray], *, L_T=None, N_T=None, D_T=None,
                     n_points: int) -> tuple[np.ndarray, bool]:
    """Teacher log loss per draw and point: a measured ``L_T``, or the supervised law at ``(N_T, D_T)``.

    Returns ``(log_L_T, from_law)``; ``from_law`` says the teacher was given by size and tokens,
    so that a *new* such teacher is itself a new run, scattering around the law with the
    supervised runs' sd.
    """
    from bayeslaw.predict import supervised_log_mean

    if L_T is not None:
        L_T = np.broadcast_to(np.asarray(L_T, float), (n_points,))
        if np.any(~np.isfinite(L_T)) or np.any(L_T <= 0) or np.any(L_T > 20):
            raise ValueError("teacher loss L_T must be a cross-entropy in nats/token (0 < L_T < 20)")
        return np.broadcast_to(np.log(L_T)[None, :], (fit.n_draws, n_points)).copy(), False
    if N_T is None or D_T is None:
        raise ValueError("give the teacher as L_T (its loss) or as N_T and D_T (its size and tokens)")
    N_T, D_T = (np.broadcast_to(np.asarray(x, float), (n_points,)) for x in (N_T, D_T))
    _check_points(N_T, D_T)
    sup, _ = _split(c)
    return supervised_log_mean(sup, N_T, D_T), True


def predict(fit: Fit, *, N_S, D_S, L_T=None, N_T=None, D_T=None, prob: float = 0.9, kind: str = "eti",
            seed: int = 0) -> xr.Dataset:
    """Student loss for ``(N_S, D_S)`` and a teacher: mean-law and new-run bands.

    Also returns ``loss_supervised``: the same student trained supervised on ``D_S``
    tokens (L~_S), paired draw by draw, and ``gain`` = L~_S - L_S (positive: distillation wins).
    """
    if fit.law != "distillation":
        raise ValueError("this posterior is supervised; student predictions need a distillation fit")
    N_S, D_S = np.broadcast_arrays(np.atleast_1d(np.asarray(N_S, float)), np.atleast_1d(np.asarray(D_S, float)))
    _check_points(N_S, D_S)
    rng = np.random.default_rng(seed)
    c = coefficients(fit)
    mean_T, from_law = teacher_log_loss(fit, c, L_T=L_T, N_T=N_T, D_T=D_T, n_points=N_S.size)
    log_S, log_tilde = student_log_mean(c, N_S, D_S, mean_T)
    new_T = mean_T
    if from_law:
        new_T = mean_T + fit.draws(["sigma_sup"])["sigma_sup"][:, None] * rng.standard_normal(mean_T.shape)
    log_S_new, _ = student_log_mean(c, N_S, D_S, new_T)
    log_S_new = log_S_new + noise_draws(fit, log_S_new.shape, rng, "sigma_dis")
    coords = {"N_S": N_S, "D_S": D_S}
    coords["L_T"] = np.median(np.exp(mean_T), axis=0)
    return summarise_draws({"loss_mean": np.exp(log_S), "loss_new": np.exp(log_S_new),
                            "loss_supervised": np.exp(log_tilde), "gain": np.exp(log_tilde) - np.exp(log_S)},
                           coords, prob=prob, kind=kind)


def capacity_gap(fit: Fit, *, N_S: float, D_S: float, L_T=None, prob: float = 0.9,
                 kind: str = "eti") -> xr.Dataset:
    """Student loss against teacher loss at fixed ``(N_S, D_S)``: the capacity-gap U with bands.

    ``ratio`` = L_T / L~_S per point (median over draws). With the paper's coefficients the
    U's minimum lies at a ratio of ~0.7 (a stronger teacher hurts through ``L_T**-c0``);
    past ``d1`` (returned per draw) the distillation term vanishes and ``L_S -> L_T``.
    """
    L_T = np.asarray(L_T if L_T is not None else np.linspace(1.6, 4.0, 61), float)
    c = coefficients(fit)
    N = np.full(L_T.size, float(N_S))
    D = np.full(L_T.size, float(D_S))
    log_T = np.broadcast_to(np.log(L_T)[None, :], (fit.n_draws, L_T.size))
    log_S, log_tilde = student_log_mean(c, N, D, log_T)
    ds = summarise_draws({"loss_mean": np.exp(log_S)}, {"L_T": L_T}, prob=prob, kind=kind)
    ds["ratio"] = ("point", np.median(L_T[None, :] / np.exp(log_tilde), axis=0))
    ds["L_tilde_median"] = float(np.median(np.exp(log_tilde[:, 0])))
    ds["d1"] = ("draw", np.exp(c["log_d1"]))
    return ds
