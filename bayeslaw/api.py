"""The public Python API: the same verbs as the command line.

``fit`` -> ``Fit`` (saved with ``Fit.save``, reloaded with ``load``), ``diagnose``,
``predict`` (mean-law and new-run bands), ``optimum`` (compute-optimal N*, D*, L*),
``prior_predictive``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from bayeslaw.data import SHIPPED, load_shipped
from bayeslaw.diagnostics import Diagnosis, Gates
from bayeslaw.diagnostics import diagnose as _diagnose
from bayeslaw.fitting import fit_supervised
from bayeslaw.inference import LAW_DEFAULTS, SamplerConfig, default_config, fan_out
from bayeslaw.posterior import Fit
from bayeslaw.posterior import load as _load
from bayeslaw.predict import predict_supervised, summarise_draws, supervised_log_mean
from bayeslaw.predict import supervised_optimum as optimum
from bayeslaw.priors import Prior, read_prior_file

predict = predict_supervised


def _priors(priors: str | Path | Mapping[str, Any] | None) -> dict[str, Prior] | None:
    if priors is None or isinstance(priors, Mapping):
        return dict(priors) if priors else None
    return read_prior_file(priors)


def resolve_table(data: str | Path | pd.DataFrame, include_outliers: bool = False):
    """A shipped table by name, else a path or DataFrame; returns (table, source, filters)."""
    if isinstance(data, str) and data in SHIPPED:
        filt = "" if include_outliers else {"chinchilla": "excluded Epoch's 5 highest-loss runs",
                                            "misfitting": "excluded 3 runs of 0.105B tokens"}[data]
        return (load_shipped(data, exclude_outliers=not include_outliers),
                f"data/{SHIPPED[data].path}", filt or None)
    return data, None, None


def fit(
    data: str | Path | pd.DataFrame,
    *,
    law: str = "supervised",
    columns: Mapping[str, str] | None = None,
    supervised: str | Path | pd.DataFrame | None = None,
    gamma_free: bool = False,
    likelihood: str = "student_t",
    priors: str | Path | Mapping[str, Any] | None = None,
    preset: str = "weak",
    preset_scale: float = 1.0,
    include_outliers: bool = False,
    sampler: str = "nutpie",
    draws: int | None = None,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float | None = None,
    adaptation: str = "low_rank",
    thin: int = 1,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
) -> Fit:
    """Fit a law to runs with NUTS and run the diagnostic gates.

    ``data`` is a CSV/parquet path, a DataFrame, or a shipped table name
    (``"chinchilla"``, ``"misfitting"``). For ``law="distillation"`` it is the
    distillation table and ``supervised`` the supervised runs (see :mod:`bayeslaw.distill`).
    ``draws`` and ``target_accept`` default per law (:data:`bayeslaw.inference.LAW_DEFAULTS`).
    """
    if law not in LAW_DEFAULTS:
        raise ValueError(f"law must be 'supervised' or 'distillation', got {law!r}")
    cfg = default_config(law, sampler=sampler, draws=draws, tune=tune, chains=chains,
                         target_accept=target_accept, adaptation=adaptation, thin=thin)
    if law == "supervised":
        table, source, filters = resolve_table(data, include_outliers)
        return fit_supervised(table, columns=columns if source is None else None, source=source,
                              gamma_free=gamma_free, likelihood=likelihood,
                              priors=_priors(priors), sampler=cfg, seed=seed, gates=gates,
                              progress=progress, filters=filters)
    from bayeslaw.distill import fit_distillation

    if supervised is None:
        raise ValueError("a distillation fit needs the supervised runs (--supervised TABLE)")
    return fit_distillation(data, supervised, columns=columns, likelihood=likelihood,
                            priors=_priors(priors), preset=preset, preset_scale=preset_scale,
                            sampler=cfg, seed=seed, gates=gates, progress=progress)


def load(path: str | Path, *, expect_law: str | None = None, data_hash: str | None = None) -> Fit:
    """Load a saved posterior, verifying its model card."""
    return _load(path, expect_law=expect_law, data_hash=data_hash)


def diagnose(fit: Fit, gates: Gates | None = None) -> Diagnosis:
    """Run every diagnostic gate on a fit (see :class:`bayeslaw.diagnostics.Gates`)."""
    return _diagnose(fit, gates, seed=fan_out(fit.card["seed"])[1])


def predict_distillation(fit: Fit, **kwargs: Any) -> xr.Dataset:
    """Student-loss bands for a distillation posterior (see :func:`bayeslaw.distill.predict`)."""
    from bayeslaw.distill import predict as _predict

    return _predict(fit, **kwargs)


def prior_predictive(
    N: Any, D: Any, *, gamma_free: bool = False, likelihood: str = "student_t",
    priors: str | Path | Mapping[str, Any] | None = None, draws: int = 4000,
    prob: float = 0.9, seed: int = 0,
) -> xr.Dataset:
    """What the supervised priors imply for the loss at ``(N, D)`` (mean law and new run)."""
    import pymc as pm

    from bayeslaw.model import SupervisedSpec, build_supervised

    N, D = np.broadcast_arrays(np.atleast_1d(np.asarray(N, float)), np.atleast_1d(np.asarray(D, float)))
    spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=_priors(priors) or {})
    table = pd.DataFrame({"N": N, "D": D, "loss": np.ones_like(N)})
    with build_supervised(spec, table):
        pri = pm.sample_prior_predictive(draws=draws, random_seed=fan_out(seed)[2])
    prior = pri["prior"].to_dataset()
    coefs = {k: prior[k].values.reshape(-1) for k in
             ("log_E", "log_size_term", "log_data_term", "alpha", "beta")}
    coefs["gamma"] = prior["gamma"].values.reshape(-1) if gamma_free else np.ones(draws)
    new = np.exp(pri["prior_predictive"]["obs"].values.reshape(draws, -1))
    mean = np.exp(supervised_log_mean(coefs, N, D))
    return summarise_draws({"loss_mean": mean, "loss_new": new}, {"N": N, "D": D},
                           prob=prob, kind="eti")




def plan(fit: Fit, student_sizes: Any, budgets: Any, scenarios: tuple[str, ...] | None = None, *,
         n_students: int = 1, max_draws: int | None = 1000, seed: int = 0, prob: float = 0.9,
         chunk: int | None = None, backend: str = "numpy", scheduler: str | None = None,
         progress: Any = None) -> tuple[xr.Dataset, xr.Dataset]:
    """Distil or train supervised? Per draw optima and their summary (see :mod:`bayeslaw.planner`).

    Returns ``(grid, summary)``: the per-draw Dataset ``(draw, student_size, budget, scenario)`` and
    its summary (P(distillation wins), bands, crossover compute). ``max_draws`` subsamples the
    posterior (seeded) to bound the work.
    """
    from bayeslaw import planner

    law = planner.laws_from_fit(fit)
    if max_draws is not None and law.n_draws > max_draws:
        idx = np.sort(np.random.default_rng(fan_out(seed)[3]).choice(law.n_draws, max_draws, replace=False))
        law = law.take(idx)
    grid = planner.plan_grid(law, student_sizes, budgets, scenarios or planner.SCENARIO_NAMES,
                             n_students=n_students, chunk=chunk, backend=backend, scheduler=scheduler,
                             progress=progress)
    return grid, planner.summarise(grid, prob)


def report(fit: Fit | str | Path, question: Any, *, out_dir: str | Path = "reports", stem: str | None = None,
           max_draws: int = 500, seed: int = 0, gates: Gates | None = None,
           progress: Any = None) -> tuple[Any, Any]:
    """Answer a budget question and write the HTML and Markdown risk report.

    ``question`` is a :class:`bayeslaw.report.Question`. Returns ``(analysis, written)``: the
    :class:`~bayeslaw.report.Analysis` (Datasets of every number shown) and the written paths.
    """
    from bayeslaw import render
    from bayeslaw.report import analyse

    path = None
    if not isinstance(fit, Fit):
        path = str(fit)
        fit = load(fit)
    analysis = analyse(fit, question, max_draws=max_draws, seed=seed, posterior_path=path, gates=gates,
                       progress=progress)
    if progress:
        progress("figures and pages")
    return analysis, render.write(analysis, out_dir, stem)


__all__ = ["fit", "report", "load", "diagnose", "predict", "predict_distillation", "optimum", "plan",
           "prior_predictive", "Fit", "Gates", "SamplerConfig"]
