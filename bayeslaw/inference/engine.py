"""The fitting engine: a checked run table -> model -> NUTS (along an escalation ladder) -> diagnostics -> a carded
posterior. The user-facing verb, which checks its inputs before PyMC loads, is :func:`bayeslaw.inference.fit.fit`.

One :func:`fit` serves both laws: the supervised law on one run table, and the joint
supervised + distillation model on a distillation table with its supervised runs.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm

from bayeslaw.core.errors import InputError
from bayeslaw.core.seeds import Streams
from bayeslaw.data.tables import (
    repeated_points,
    split_teachers,
    students_below_teacher,
    table_hash,
    validate_distillation,
    validate_supervised,
)
from bayeslaw.inference import exact_loo
from bayeslaw.inference.config import LAW_DEFAULTS, SamplerConfig, default_config
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_joint, build_supervised
from bayeslaw.model.priors import Prior
from bayeslaw.model.spec import SUPERVISED_FROM_PRIOR, JointSpec, SupervisedSpec, joint_preset
from bayeslaw.posterior.card import Fit, make_card
from bayeslaw.posterior.diagnostics import Gates, diagnose

Table = str | Path | pd.DataFrame


def data_record(df: pd.DataFrame, source: Any, columns: Mapping[str, str] | None,
                filters: str | None = None, checks: Mapping[str, bool] | None = None) -> dict[str, Any]:
    """What the card records about the data: hash, size, mapping, origin, overridden checks, repeats."""
    keys = ["N_S", "D_S", "teacher_id"] if "N_S" in df else ["N", "D"]
    return {
        "checks_overridden": sorted(k for k, v in (checks or {}).items() if v),
        "repeated_points": repeated_points(df, keys),
        "sha256": table_hash(df),
        "n_runs": len(df),
        "columns": dict(columns or {}),
        "source": str(source) if not isinstance(source, pd.DataFrame) else "<DataFrame>",
        "filters": filters or "",
        "range": {c: [float(df[c].min()), float(df[c].max())]
                  for c in df.columns if df[c].dtype.kind == "f"},
    }


def sample_fit(model: pm.Model, spec_dict: dict, law: str, df_record: dict, sampler: SamplerConfig, seed: int,
               gates: Gates | None, progress: bool, data: dict | None = None,
               compiled: CompiledSampler | None = None, escalate: Sequence[SamplerConfig] = ()) -> Fit:
    """Sample a built model, attach the card and the diagnostics.

    ``compiled`` reuses a model compiled once and ``data`` replaces its ``pm.Data`` values
    (a refit on other runs, e.g. a backtest split). When the fit fails its gates, each of
    ``escalate`` is tried in turn (same compiled model, same seed) until one passes; every
    attempt and why it was rejected goes into the card's ``attempts``, and the last one is kept.
    """
    compiled = compiled or CompiledSampler(model, sampler)
    streams = Streams(seed)
    # Gated and reported: what NUTS samples, and coefficients derived from it that carry a
    # prior of their own (the joint model's log_k, log_s).
    parameters = [rv.name for rv in model.free_RVs] + [
        d.name for d in model.deterministics if d.name in spec_dict.get("priors", {})]
    attempts: list[dict[str, Any]] = []
    for config in (sampler, *escalate):
        idata = compiled.fit(streams.sampling, data=data, progress=progress, config=config)
        compile_seconds = idata.attrs.pop("compile_seconds")
        # a refit on new data reuses a model compiled before this fit: it spent no compile time
        timing = {"compile_seconds": 0.0 if data is not None else compile_seconds,
                  "sampling_wall_seconds": idata.attrs.pop("sampling_wall_seconds"),
                  "reused_compiled_model": data is not None}
        card = make_card(law=law, spec=spec_dict, data=df_record, sampler=config.to_dict(), seed=seed,
                         timing=timing)
        card["parameters"] = parameters
        fit = Fit(idata, card)
        fit.card["diagnostics"] = diagnose(fit, gates, seed=streams.diagnostics).to_dict()
        # the compile happened once, before the first attempt: the card's timing holds it
        attempts.append({"sampler": config.to_dict(), "passed": fit.diagnostics_passed,
                         "failures": fit.card["diagnostics"]["failures"],
                         "sampling_wall_seconds": timing["sampling_wall_seconds"]})
        if fit.diagnostics_passed:
            break
    if law == "supervised" and not fit.diagnostics_passed and exact_loo.only_pareto_failures(fit):
        fit = _settle_pareto_k(fit, compiled, data, streams, gates or Gates(), config)
    fit.card["attempts"] = attempts
    # the card's timing is the kept attempt's; what the whole escalated fit cost is the sum
    fit.card["timing"]["sampling_wall_seconds_all_attempts"] = float(sum(a["sampling_wall_seconds"]
                                                                         for a in attempts))
    return fit


def _settle_pareto_k(fit: Fit, compiled: CompiledSampler, data: dict | None, streams: Streams, gates: Gates,
                     config: SamplerConfig) -> Fit:
    """A supervised fit that failed only on Pareto k, after the escalation: exact leave-one-out for its few flagged
    runs (:mod:`bayeslaw.inference.exact_loo`), recorded in the card and judged by the same gate."""
    runs = exact_loo.flagged_runs(fit, gates)
    if not 0 < runs.size <= exact_loo.MAX_RUNS:
        return fit
    if data is None:
        data = {k: np.asarray(compiled.model[k].get_value()) for k in exact_loo.DATA}
    t0 = time.perf_counter()
    fit.card["diagnostics"]["metrics"]["exact_loo"] = exact_loo.exact_loo(
        fit, compiled, data, runs, seed=streams.child("exact_loo", 0), config=config, gates=gates)
    fit.card["diagnostics"] = diagnose(fit, gates, seed=streams.diagnostics).to_dict()
    fit.card["timing"]["exact_loo_seconds"] = time.perf_counter() - t0
    return fit


def fit(
    table: Table,
    *,
    law: str = "supervised",
    supervised: Table | None = None,
    columns: Mapping[str, str] | None = None,
    supervised_columns: Mapping[str, str] | None = None,
    gamma_free: bool = False,
    likelihood: str = "student_t",
    priors: Mapping[str, Prior | Mapping[str, Any]] | None = None,
    preset: str | None = None,
    preset_scale: float = 1.0,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
    filters: str | None = None,
    source: str | None = None,
    allow_duplicates: bool = False,
    losses_in_nats: bool = False,
    escalate: Sequence[SamplerConfig] = (),
    teacher_noise: float | None = None,
    provenance: str | None = None,
    break_tilt: bool = False,
    supervised_scale: float | None = None,
    supervised_cut: bool | None = None,
    learn_teacher_noise: bool = False,
    teacher_effect: bool = False,
    size_effect: bool = False,
    weak_teacher: bool = False,
    noise_by_size: bool = False,
    token_tilt: bool = False,
) -> Fit:
    """Fit a law with NUTS and run the diagnostic gates.

    Parameters
    ----------
    table
        Path to a CSV/parquet run table, or a DataFrame (schema: :mod:`bayeslaw.data.tables`):
        supervised runs for ``law="supervised"``, students for ``law="distillation"``.
    law
        ``"supervised"``: ``L = E + (A/N^alpha + B/D^beta)^gamma``. ``"distillation"``: the joint
        supervised + distillation model (:func:`bayeslaw.model.build.build_joint`).
    supervised
        Distillation only: the supervised runs (the teachers' law). Without them the supervised
        law comes from the ``busbridge2025`` preset (Table 6); see ``supervised_cut``.
    columns, supervised_columns
        Mappings from canonical names (``N``, ``D``, ``loss``, ...) to the tables' names.
    gamma_free
        Supervised only: fit the outer exponent (the distillation paper's form) instead of 1.
    likelihood
        ``"student_t"`` (default) or ``"normal"`` on log loss.
    priors
        Overrides of the default priors by parameter name.
    preset, preset_scale
        Distillation only: the prior preset (``"weak"`` or ``"busbridge2025"``; default ``"weak"``
        with supervised runs, ``"busbridge2025"`` without) and a factor on its widths.
    sampler
        NUTS settings; default the law's (:data:`bayeslaw.inference.config.LAW_DEFAULTS`).
    seed
        The one seed; the same seed gives the same posterior.
    gates
        Diagnostic thresholds (default :class:`~bayeslaw.posterior.diagnostics.Gates`).
    filters, source
        What the card records as the table's origin and the filters applied to it.
    allow_duplicates, losses_in_nats
        Override the data checks for exact duplicate runs and for losses that look like
        perplexities (recorded in the card).
    escalate
        Settings to try in turn if the fit fails its gates (see :func:`sample_fit`).
    teacher_noise
        Distillation only: sd of a teacher's measured log loss around its true value (default
        :class:`~bayeslaw.model.spec.JointSpec`'s).
    provenance
        How outputs name the data (shipped tables carry their own).
    break_tilt, supervised_scale, supervised_cut, learn_teacher_noise, teacher_effect, size_effect, weak_teacher,
    noise_by_size, token_tilt
        Distillation only: see :class:`~bayeslaw.model.spec.JointSpec`; ``supervised_cut`` None: cut
        without supervised runs, joint with them.

    Returns
    -------
    Fit
        The posterior (``xarray.DataTree``) with its model card and diagnostics.
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be 'supervised' or 'distillation', got {law!r}")
    sampler = sampler or default_config(law)
    checks = {"allow_duplicates": allow_duplicates, "losses_in_nats": losses_in_nats}
    if law == "supervised":
        df = validate_supervised(table, columns, **checks)
        spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=dict(priors or {}))
        model = build_supervised(spec, df)
        record = data_record(df, source or table, columns, filters, checks)
        compiled, data = _compiled_supervised(model, spec, sampler)
        return sample_fit(model, spec.to_dict(), law, record, sampler, seed, gates, progress, data=data,
                          compiled=compiled, escalate=escalate)
    else:
        preset = joint_preset(preset, supervised)
        dis = validate_distillation(table, columns, **checks)
        sup = None if supervised is None else validate_supervised(supervised, supervised_columns, **checks)
        teachers, rest, index = split_teachers(dis, sup)
        spec = JointSpec(likelihood=likelihood, preset=preset, preset_scale=preset_scale,
                         priors=dict(priors or {}), break_tilt=break_tilt, learn_teacher_noise=learn_teacher_noise,
                         teacher_effect=teacher_effect, size_effect=size_effect, weak_teacher=weak_teacher,
                         noise_by_size=noise_by_size, token_tilt=token_tilt,
                         supervised_cut=sup is None if supervised_cut is None else supervised_cut,
                         **({} if teacher_noise is None else {"teacher_noise": teacher_noise}),
                         **({} if supervised_scale is None else {"supervised_scale": supervised_scale}))
        model = build_joint(spec, dis, rest, teachers, index)
        record = data_record(dis, source or table, columns, filters, checks=checks)
        record["supervised"] = (data_record(rest, supervised, supervised_columns, checks=checks) if sup is not None
                                else {"n_runs": 0, "source": SUPERVISED_FROM_PRIOR})
        record["teachers"] = {"n": len(teachers), "ids": teachers["teacher_id"].astype(str).tolist(),
                              "index": index.tolist()}
        record["students_below_teacher"] = students_below_teacher(dis)
        if provenance:
            record["provenance"] = provenance
    return sample_fit(model, spec.to_dict(), law, record, sampler, seed, gates, progress, escalate=escalate)


#: Supervised models compiled in this process, by what determines their graph (see :func:`_compiled_supervised`);
#: the most recently used :data:`_COMPILED_KEEP` are kept.
_COMPILED: OrderedDict[str, CompiledSampler] = OrderedDict()
_COMPILED_KEEP = 8


def _compiled_supervised(model: pm.Model, spec: SupervisedSpec,
                         sampler: SamplerConfig) -> tuple[CompiledSampler | None, dict[str, np.ndarray] | None]:
    """A nutpie model compiled earlier in this process for the same graph, and this fit's data for it.

    A supervised model's graph is fixed by its specification and the number of runs (the runs enter as
    ``pm.Data``), so a second fit of that shape (another seed, table or split) refits the compiled model
    on its data: the same compiled code, so the same draws as a fresh compile, without its second.
    """
    if sampler.sampler != "nutpie":
        return None, None
    data = {v.name: np.asarray(v.get_value()) for v in model.data_vars}
    key = json.dumps({"spec": spec.to_dict(), "shapes": {k: v.shape for k, v in sorted(data.items())}},
                     sort_keys=True, default=str)
    if key in _COMPILED:
        _COMPILED.move_to_end(key)
        return _COMPILED[key], data
    _COMPILED[key] = CompiledSampler(model, sampler)
    while len(_COMPILED) > _COMPILED_KEEP:
        _COMPILED.popitem(last=False)
    return _COMPILED[key], None
