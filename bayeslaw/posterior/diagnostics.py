"""Gates that decide whether a fit can be trusted, under every sampler's stat names.

r_hat, ESS (bulk and tail), divergences, tree-depth hits, E-BFMI come from ArviZ and
the sampler statistics; PSIS-LOO with Pareto k from ArviZ on the pointwise
log-likelihood; a posterior predictive check from draws of new runs. ``az.diagnose``
skips the tree-depth check for nutpie and numpyro fits, so it is read here from
whichever statistic the sampler wrote.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

from bayeslaw.core.intervals import tails
from bayeslaw.core.seeds import Streams
from bayeslaw.model.priors import from_json, prior_sd
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.likelihood import log_likelihood, observed_terms, term_noise

# Tree-depth statistics: boolean "hit the limit" flags, or depths to compare to the limit.
_DEPTH_FLAGS = ("maxdepth_reached", "reached_max_treedepth")
_DEPTH_VALUES = ("tree_depth", "depth")


@dataclass(frozen=True)
class Gates:
    """Documented thresholds; a fit that misses any of them fails loudly.

    Defaults follow Vehtari et al. (2021) for r_hat/ESS, Betancourt for E-BFMI, and
    Vehtari et al. (2024) for Pareto k (> 0.7: PSIS-LOO unreliable for that run).
    """

    max_rhat: float = 1.01
    min_ess_bulk: float = 400.0
    min_ess_tail: float = 400.0
    max_divergences: int = 0
    # Tree-depth hits cost efficiency, not validity (Stan's view): fail above 1% of draws.
    max_treedepth_fraction: float = 0.01
    min_bfmi: float = 0.3
    max_pareto_k: float = 0.7
    max_bad_pareto_k_fraction: float = 0.05
    ppc_min_coverage90: float = 0.8

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class Diagnosis:
    """The outcome of :func:`diagnose`: numbers, failures by name, and the summary table."""

    metrics: dict[str, Any]
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary: Any = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failures": self.failures, "warnings": self.warnings,
                "metrics": self.metrics}


def treedepth_hits(sample_stats: xr.Dataset, max_treedepth: int) -> int:
    """Number of draws that hit the tree-depth limit, whatever the sampler called it."""
    for name in _DEPTH_FLAGS:
        if name in sample_stats:
            return int(sample_stats[name].values.astype(bool).sum())
    for name in _DEPTH_VALUES:
        if name in sample_stats:
            return int((sample_stats[name].values >= max_treedepth).sum())
    raise KeyError(
        f"no tree-depth statistic in sample_stats (looked for {_DEPTH_FLAGS + _DEPTH_VALUES})"
    )


def divergences(sample_stats: xr.Dataset) -> int:
    for name in ("diverging", "divergences"):
        if name in sample_stats:
            return int(sample_stats[name].values.astype(bool).sum())
    raise KeyError("no divergence statistic in sample_stats")


def sampling_diagnostics(idata: xr.DataTree, var_names: list[str], max_treedepth: int,
                         gates: Gates) -> Diagnosis:
    """r_hat, ESS, divergences, tree depth and E-BFMI against the gates."""
    post = idata["posterior"].to_dataset()[var_names]
    ss = idata["sample_stats"].to_dataset()
    rhat = az.rhat(post)
    ess_bulk = az.ess(post, method="bulk")
    ess_tail = az.ess(post, method="tail")
    n_draws = int(post.sizes["chain"] * post.sizes["draw"])

    def worst(ds: xr.Dataset, fn) -> tuple[float, str]:
        vals = {v: float(fn(ds[v].values)) for v in ds.data_vars}
        name = (max if fn is np.nanmax else min)(vals, key=vals.get)
        return vals[name], name

    max_rhat, rhat_var = worst(rhat, np.nanmax)
    min_bulk, bulk_var = worst(ess_bulk, np.nanmin)
    min_tail, tail_var = worst(ess_tail, np.nanmin)
    n_div = divergences(ss)
    n_depth = treedepth_hits(ss, max_treedepth)
    if "energy" in ss:
        bfmi = np.atleast_1d(az.bfmi(idata["sample_stats"].to_dataset()[["energy"]])["energy"].values)
        min_bfmi = float(np.min(bfmi))
    else:
        min_bfmi = float("nan")
    metrics = {
        "n_draws": n_draws,
        "max_rhat": max_rhat, "max_rhat_var": rhat_var,
        "min_ess_bulk": min_bulk, "min_ess_bulk_var": bulk_var,
        "min_ess_tail": min_tail, "min_ess_tail_var": tail_var,
        "divergences": n_div,
        "treedepth_hits": n_depth, "max_treedepth": max_treedepth,
        "min_bfmi": min_bfmi,
    }
    d = Diagnosis(metrics)
    if not max_rhat <= gates.max_rhat:
        d.failures.append(f"r_hat {max_rhat:.3f} > {gates.max_rhat} (worst: {rhat_var})")
    if not min_bulk >= gates.min_ess_bulk:
        d.failures.append(f"ESS_bulk {min_bulk:.0f} < {gates.min_ess_bulk:.0f} (worst: {bulk_var})")
    if not min_tail >= gates.min_ess_tail:
        d.failures.append(f"ESS_tail {min_tail:.0f} < {gates.min_ess_tail:.0f} (worst: {tail_var})")
    if n_div > gates.max_divergences:
        d.failures.append(f"{n_div} divergent transitions (allowed {gates.max_divergences})")
    if n_depth > gates.max_treedepth_fraction * n_draws:
        d.failures.append(f"{n_depth} draws hit the tree-depth limit {max_treedepth} "
                          f"(allowed {gates.max_treedepth_fraction:.0%})")
    elif n_depth:
        d.warnings.append(f"{n_depth} of {n_draws} draws hit the tree-depth limit {max_treedepth}")
    if np.isfinite(min_bfmi) and min_bfmi < gates.min_bfmi:
        d.failures.append(f"E-BFMI {min_bfmi:.2f} < {gates.min_bfmi} in some chain")
    if not np.isfinite(min_bfmi):
        d.warnings.append("no energy statistic: E-BFMI not checked")
    return d


@contextlib.contextmanager
def _unloaded_jax_hidden() -> Iterator[None]:
    """Hide the lazy ``jax`` placeholder that arviz-base registers, while PSIS runs.

    arviz-base puts an unloaded lazy module named ``jax`` in ``sys.modules``; SciPy's array
    checks inside PSIS (``logsumexp``) look it up there and so import all of JAX (0.7 s of a 5 s
    fit) to learn that a numpy array is not a JAX array. The placeholder is put back afterwards.
    """
    mod = sys.modules.get("jax")
    # type(), not isinstance(): any attribute access on the placeholder would load JAX
    lazy = mod is not None and type(mod) is importlib.util._LazyModule
    if lazy:
        del sys.modules["jax"]
    try:
        yield
    finally:
        if lazy and "jax" not in sys.modules:
            sys.modules["jax"] = mod


def loo_check(posterior: xr.Dataset, log_lik: xr.DataArray, gates: Gates,
              exact: list[dict[str, Any]] | None = None) -> tuple[Any, Diagnosis]:
    """PSIS-LOO from a pointwise log-likelihood ``(chain, draw, run)``; gates on Pareto k.

    Parameters
    ----------
    posterior, log_lik
        The posterior draws and the pointwise log-likelihood.
    gates
        The thresholds: more than ``max_bad_pareto_k_fraction`` of the runs with Pareto k above
        ``max_pareto_k`` fails.
    exact
        Exact leave-one-out results for runs of high k (:func:`bayeslaw.inference.exact_loo.exact_loo`, as
        the card records them): a run the other runs predict within their 99% band is influential, not
        unexplained, and does not count against the gate; its exact elpd replaces the PSIS estimate. One they
        do not predict fails the fit, named.

    Returns
    -------
    tuple
        ArviZ's LOO result and a :class:`Diagnosis`.
    """
    log_lik = log_lik.assign_coords(chain=posterior["chain"], draw=posterior["draw"])
    tree = xr.DataTree.from_dict({"posterior": posterior,
                                  "log_likelihood": xr.Dataset({"obs": log_lik})})
    with warnings.catch_warnings():  # high Pareto k is gated and reported below, by run
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        with _unloaded_jax_hidden():
            loo = az.loo(tree, pointwise=True)
    k = np.asarray(loo.pareto_k)
    flagged = np.flatnonzero(k > gates.max_pareto_k)
    by_run = {int(r["run"]): r for r in exact or [] if int(r["run"]) in set(flagged.tolist())}
    settled = [i for i, r in by_run.items() if r["consistent"]]
    outliers = [i for i, r in by_run.items() if not r["consistent"]]
    bad = int(flagged.size)
    unsettled = bad - len(settled)
    elpd = float(loo.elpd) + sum(r["elpd_exact"] - float(loo.elpd_i.values[i]) for i, r in by_run.items())
    metrics = {"elpd_loo": elpd, "elpd_loo_se": float(loo.se), "p_loo": float(loo.p),
               "max_pareto_k": float(np.max(k)), "n_pareto_k_bad": bad, "n_obs": int(k.size)}
    if by_run:
        metrics["exact_loo"] = list(by_run.values())
        metrics["n_pareto_k_settled"] = len(settled)
    d = Diagnosis(metrics)
    if outliers:
        d.failures.append(f"run(s) {outliers} are not predicted by the other runs (exact leave-one-out: outside "
                          "their 99% band): check them, or the law's form there")
    if unsettled - len(outliers) > gates.max_bad_pareto_k_fraction * k.size:
        d.failures.append(
            f"{unsettled} of {k.size} runs have Pareto k > {gates.max_pareto_k}: PSIS-LOO unreliable"
        )
    elif bad:
        note = f"{bad} run(s) have Pareto k > {gates.max_pareto_k} (influential runs)"
        if settled:
            note += (f"; exact leave-one-out (a refit without each) predicts {len(settled)} of them within the "
                     "other runs' 99% band: influential, not unexplained")
        d.warnings.append(note)
    return loo, d


def ppc_check(observed: np.ndarray, predictive: np.ndarray, gates: Gates) -> Diagnosis:
    """Coverage of observed values by posterior predictive intervals (draws x runs)."""
    cover = {}
    for prob in (0.5, 0.9):
        lo, hi = np.quantile(predictive, tails(prob), axis=0)
        cover[prob] = float(np.mean((observed >= lo) & (observed <= hi)))
    pit = np.mean(predictive <= observed, axis=0)
    d = Diagnosis({"ppc_coverage50": cover[0.5], "ppc_coverage90": cover[0.9],
                   "ppc_pit_mean": float(np.mean(pit))})
    if cover[0.9] < gates.ppc_min_coverage90:
        d.failures.append(
            f"posterior predictive 90% intervals cover only {cover[0.9]:.0%} of the runs"
        )
    return d


def merge(*parts: Diagnosis) -> Diagnosis:
    out = Diagnosis({})
    for p in parts:
        out.metrics.update(p.metrics)
        out.failures += p.failures
        out.warnings += p.warnings
    return out


def contraction(prior_sd: dict[str, float], post_sd: dict[str, float]) -> dict[str, float]:
    """Posterior sd over prior sd per parameter: near 0 the data measure it, near 1 the prior does."""
    return {k: float(post_sd[k] / prior_sd[k]) for k in post_sd if k in prior_sd and prior_sd[k] > 0}


def diagnose(fit: Fit, gates: Gates | None = None, seed: int | None = None) -> Diagnosis:
    """All gates for a fitted posterior: sampling, PSIS-LOO and posterior predictive coverage.

    Parameters
    ----------
    fit
        A fitted posterior.
    gates
        Thresholds (default :class:`Gates`).
    seed
        Seeds the posterior predictive draws; None: the fit's own ``Streams(fit seed).diagnostics``, so that a
        diagnosis of a saved posterior repeats the one its card records.

    Returns
    -------
    Diagnosis
        The metrics, the failures by name (``passed`` is True when there are none) and warnings.
    """
    if fit.card.get("kind") == "point":  # published coefficients: nothing was sampled or fitted
        return Diagnosis({}, warnings=list(fit.card["diagnostics"].get("warnings", [])))
    if seed is None:
        seed = Streams(fit.card["seed"]).diagnostics
    gates = gates or Gates()
    max_depth = int(fit.card["sampler"]["max_treedepth"])
    parts = [sampling_diagnostics(fit.idata, fit.card["parameters"], max_depth, gates)]
    if fit.law == "calibration":  # a model of errors, not of runs: the sampler's gates are its gates
        out = merge(*parts)
        out.metrics["gates"] = gates.to_dict()
        return out
    rng = np.random.default_rng(seed)
    lls, obs_all, pred_all = [], [], []
    for _name, log_mu, observed, sigma in observed_terms(fit):
        lls.append(log_likelihood(fit, log_mu, observed, sigma))
        obs_all.append(observed)
        pred_all.append(log_mu + term_noise(fit, sigma, rng))
    exact = fit.card.get("diagnostics", {}).get("metrics", {}).get("exact_loo")  # refits recorded at fit time
    _, loo_d = loo_check(fit.idata["posterior"].to_dataset(), xr.concat(lls, dim="run"), gates, exact)
    parts.append(loo_d)
    parts.append(ppc_check(np.concatenate(obs_all), np.concatenate(pred_all, axis=1), gates))
    out = merge(*parts)
    out.metrics["gates"] = gates.to_dict()
    out.metrics["contraction"] = identification(fit)
    return out


def identification(fit: Fit) -> dict[str, float]:
    """Posterior sd / prior sd of every scalar sampled parameter (see :func:`contraction`)."""
    priors = from_json(fit.card["spec"]["priors"])
    post = fit.idata["posterior"].to_dataset()
    names = [n for n in fit.card["parameters"] if n in priors and post[n].ndim == 2]
    return contraction({n: prior_sd(priors[n]) for n in names},
                       {n: float(post[n].std()) for n in names})
