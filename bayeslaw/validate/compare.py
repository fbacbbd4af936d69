"""PSIS-LOO comparison of law variants on one run table, through ArviZ.

Variants differ in the law (gamma free or fixed), the likelihood (Student-t or Normal) and
which runs they are fitted on (with or without the excluded outlier runs). Expected log
predictive densities are only comparable on the same observations, so every variant is scored
on the runs all of them were fitted to: a variant fitted with the outliers in is scored on the
others' runs (its fit still feels the outliers). Pareto k above 0.7 for any run is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayeslaw.core.errors import DataError
from bayeslaw.core.seeds import Streams
from bayeslaw.data import tables
from bayeslaw.data.registry import SHIPPED
from bayeslaw.data.tables import validate_supervised
from bayeslaw.inference.config import SamplerConfig, default_config
from bayeslaw.inference.engine import fit
from bayeslaw.inference.fit import Table
from bayeslaw.posterior.diagnostics import Gates, loo_check
from bayeslaw.posterior.likelihood import log_likelihood, observed_terms

DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    "gamma fixed, Student-t": {"gamma_free": False, "likelihood": "student_t"},
    "gamma free, Student-t": {"gamma_free": True, "likelihood": "student_t"},
    "gamma fixed, Normal": {"gamma_free": False, "likelihood": "normal"},
}
WITH_OUTLIERS = "gamma fixed, Student-t, outliers kept"


@dataclass
class Comparison:
    """ArviZ's comparison table, per-variant Pareto-k warnings and the fits' diagnostics."""

    table: pd.DataFrame
    pareto_warnings: dict[str, str]
    diagnostics: dict[str, dict[str, Any]]
    n_common: int


def compare_supervised(table: pd.DataFrame, *, outliers: np.ndarray | None = None,
                       variants: Mapping[str, Mapping[str, Any]] | None = None, sampler=None, seed: int = 0,
                       progress: Callable[[str], None] | None = None) -> Comparison:
    """Fit each variant and compare them by PSIS-LOO on their common runs.

    ``outliers`` marks runs that the default variants exclude; when given, one more variant
    keeps them (Student-t, gamma fixed).
    """
    say = progress or (lambda _m: None)
    df = validate_supervised(table)
    variants = dict(variants or DEFAULT_VARIANTS)
    mask = np.zeros(len(df), bool) if outliers is None else np.asarray(outliers, bool)
    if mask.shape != (len(df),):
        raise DataError(f"outliers must mark each of the {len(df)} runs, got shape {mask.shape}")
    clean = df[~mask].reset_index(drop=True)
    # each variant's data, and which of its runs are the common (clean) ones, in fit order
    data_of = dict.fromkeys(variants, clean)
    common = dict.fromkeys(variants, np.arange(len(clean)))
    if mask.any():
        variants[WITH_OUTLIERS] = {"gamma_free": False, "likelihood": "student_t"}
        data_of[WITH_OUTLIERS] = df
        common[WITH_OUTLIERS] = np.flatnonzero(~mask)
    elpd, warns, diags = {}, {}, {}
    for i, (name, kw) in enumerate(variants.items()):
        say(f"fitting {name} ({len(data_of[name])} runs)")
        posterior = fit(data_of[name], sampler=sampler, seed=Streams(seed).split(i), **kw)
        diags[name] = posterior.card["diagnostics"]
        (_, log_mu, observed, sigma), = observed_terms(posterior)
        ll = log_likelihood(posterior, log_mu, observed, sigma)
        loo, d = loo_check(posterior.idata["posterior"].to_dataset(), ll.isel(run=common[name]), Gates())
        elpd[name] = loo
        if d.failures or d.warnings:
            warns[name] = "; ".join(d.failures + d.warnings)
    table_ = az.compare(elpd, round_to="none")
    return Comparison(table=_as_frame(table_), pareto_warnings=warns, diagnostics=diags, n_common=len(clean))


def _as_frame(t: Any) -> pd.DataFrame:
    if isinstance(t, xr.Dataset):
        return t.to_dataframe()
    return pd.DataFrame(t)


def compare(data: Table, *, exclude: str | None = None, sampler: SamplerConfig | None = None, seed: int = 0,
            progress: Any = None, allow_duplicates: bool = False, losses_in_nats: bool = False) -> Comparison:
    """PSIS-LOO comparison of supervised law variants (:func:`compare_supervised` on a table or a shipped one).

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
    return compare_supervised(full, outliers=outliers, sampler=sampler or default_config("supervised"),
                                  seed=seed, progress=progress)
