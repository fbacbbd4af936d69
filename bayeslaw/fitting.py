"""Fit a law to a run table: data -> model -> NUTS -> diagnostics -> a carded posterior."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bayeslaw.data import table_hash, validate_supervised
from bayeslaw.diagnostics import Gates, diagnose
from bayeslaw.inference import CompiledSampler, SamplerConfig, fan_out
from bayeslaw.model import SupervisedSpec, build_supervised
from bayeslaw.posterior import Fit, make_card
from bayeslaw.priors import Prior


def data_record(df: pd.DataFrame, source: Any, columns: Mapping[str, str] | None,
                filters: str | None = None) -> dict[str, Any]:
    """What the card records about the data: hash, size, mapping, origin."""
    return {
        "sha256": table_hash(df),
        "n_runs": len(df),
        "columns": dict(columns or {}),
        "source": str(source) if not isinstance(source, pd.DataFrame) else "<DataFrame>",
        "filters": filters or "",
        "range": {c: [float(df[c].min()), float(df[c].max())]
                  for c in df.columns if df[c].dtype.kind == "f"},
    }


def finish(model, spec_dict: dict, law: str, df_record: dict, sampler: SamplerConfig, seed: int,
           gates: Gates | None, progress: bool, data: dict | None = None,
           compiled: CompiledSampler | None = None) -> Fit:
    """Sample, attach the card and the diagnostics."""
    compiled = compiled or CompiledSampler(model, sampler)
    idata = compiled.fit(fan_out(seed)[0], data=data, progress=progress)
    card = make_card(law=law, spec=spec_dict, data=df_record, sampler=sampler.to_dict(), seed=seed,
                     timing={"compile_seconds": idata.attrs.pop("compile_seconds"),
                             "sampling_wall_seconds": idata.attrs.pop("sampling_wall_seconds")})
    # Gated and reported: what NUTS samples, and coefficients derived from it that carry a
    # prior of their own (the joint model's log_k, log_s).
    card["parameters"] = [rv.name for rv in model.free_RVs] + [
        d.name for d in model.deterministics if d.name in spec_dict.get("priors", {})]
    fit = Fit(idata, card)
    fit.card["diagnostics"] = diagnose(fit, gates, seed=fan_out(seed)[1]).to_dict()
    return fit


def fit_supervised(
    table: str | Path | pd.DataFrame,
    *,
    columns: Mapping[str, str] | None = None,
    gamma_free: bool = False,
    likelihood: str = "student_t",
    priors: Mapping[str, Prior | Mapping[str, Any]] | None = None,
    sampler: SamplerConfig | None = None,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
    filters: str | None = None,
    source: str | None = None,
) -> Fit:
    """Fit the supervised law ``L = E + (A/N^alpha + B/D^beta)^gamma`` with NUTS.

    Parameters
    ----------
    table
        Path to a CSV/parquet run table, or a DataFrame (see :mod:`bayeslaw.data`).
    columns
        Mapping from canonical names (``N``, ``D``, ``loss``, ...) to the table's names.
    gamma_free
        Fit the outer exponent (distillation paper's form) instead of fixing it at 1.
    likelihood
        ``"student_t"`` (default) or ``"normal"`` on log loss.
    priors
        Overrides of the default priors by parameter name.
    sampler
        NUTS settings; default nutpie with a low-rank mass matrix, 4 x 1000 draws.
    seed
        The one seed; the same seed gives the same posterior.
    """
    sampler = sampler or SamplerConfig()
    df = validate_supervised(table, columns)
    spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=dict(priors or {}))
    model = build_supervised(spec, df)
    return finish(model, spec.to_dict(), "supervised", data_record(df, source or table, columns, filters),
                  sampler, seed, gates, progress)
