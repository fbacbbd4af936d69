"""Exact leave-one-out for the runs PSIS-LOO cannot judge: a refit without each.

The Pareto-k gate fails a fit when more than 5% of its runs have k > 0.7. Under 20 runs that is a single run, and a
high-leverage run (the largest of a sweep, or the pilot run bayeslaw itself recommends buying) is exactly what
gives a high k: the posterior moves when it is left out, so the importance weights cannot stand in for the refit.
Re-sampling cannot change that; asking the question PSIS-LOO approximates can. For each flagged run (at most
:data:`MAX_RUNS`), the compiled model is refitted without it and the run is compared with the others' new-run
predictive: inside their 99% band it is influential but explained (the gate counts it no longer, and its exact elpd
replaces the PSIS estimate); outside, it is a run the others cannot explain and the fit fails naming it (a wrong
run, or the law's form failing there). Vehtari, Gelman & Gabry (2017) recommend exactly this for k > 0.7.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special, stats

from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.diagnostics import Gates, loo_check, sampling_diagnostics
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.likelihood import (
    log_density,
    log_likelihood,
    noise_parameters,
    observed_terms,
    supervised_log_mean,
)

#: At most this many flagged runs are refitted: more than that is not a few influential runs but a model that does
#: not fit the table, and the share gate stands.
MAX_RUNS = 5
#: A left-out run is explained when the other runs' new-run predictive puts it inside this central band.
BAND = 0.99
#: Names of the supervised model's data (``pm.Data``) and what they hold.
DATA = ("log_N", "log_D", "log_loss")


def flagged_runs(fit: Fit, gates: Gates) -> np.ndarray:
    """Indices of the runs whose PSIS-LOO Pareto k exceeds the gate (supervised fits)."""
    terms = list(observed_terms(fit))
    lls = [log_likelihood(fit, log_mu, observed, sigma) for _name, log_mu, observed, sigma in terms]
    loo, _ = loo_check(fit.idata["posterior"].to_dataset(), lls[0], gates)
    return np.flatnonzero(np.asarray(loo.pareto_k) > gates.max_pareto_k)


def only_pareto_failures(fit: Fit) -> bool:
    """The fit failed on the Pareto-k gate and nothing else."""
    failures = fit.card["diagnostics"]["failures"]
    return bool(failures) and all("Pareto k" in f for f in failures)


def exact_loo(fit: Fit, compiled: Any, data: dict[str, np.ndarray], runs: np.ndarray, *, seed: int,
              config: Any, gates: Gates) -> list[dict[str, Any]]:
    """Refit without each of ``runs`` and judge it against the others' new-run predictive.

    Parameters
    ----------
    fit
        The full fit (its card's spec and sampler are the refits').
    compiled
        The model compiled once (:class:`bayeslaw.inference.sampler.CompiledSampler`).
    data
        The full fit's ``pm.Data`` values (:data:`DATA`), one entry per run.
    runs
        The runs to leave out, one at a time.
    seed, config
        The refits' sampling seed and sampler settings (the kept attempt's).
    gates
        A refit must pass the sampling gates for its answer to count.

    Returns
    -------
    list of dict
        Per run: ``run``, ``elpd_exact`` (log predictive density of the run under the refit), ``loo_pit``
        (the refit's new-run predictive probability below the run),
        ``refit_passed`` and ``consistent`` (inside the central :data:`BAND` and the refit passed).
    """
    out = []
    n = data[DATA[0]].size
    for i in (int(r) for r in runs):
        keep = np.arange(n) != i
        idata = compiled.fit(seed, data={k: v[keep] for k, v in data.items()}, progress=False, config=config)
        refit = Fit(idata, {**fit.card, "diagnostics": {}})
        sampling = sampling_diagnostics(idata, fit.card["parameters"], int(config.max_treedepth), gates)
        log_N, log_D, y = (data[k][i] for k in DATA)
        log_mu = supervised_log_mean(as_arrays(coefficients(refit)), np.exp([log_N]), np.exp([log_D]))[:, 0]
        sigma, nu = noise_parameters(refit)
        dens = log_density(np.array([y]), log_mu[:, None], sigma[:, None], None if nu is None else nu[:, None])[:, 0]
        z = (y - log_mu) / sigma
        pit = float(np.mean(stats.norm.cdf(z) if nu is None else stats.t.cdf(z, nu)))
        lo = (1 - BAND) / 2
        out.append({"run": i, "elpd_exact": float(special.logsumexp(dens) - np.log(dens.size)), "loo_pit": pit,
                    "refit_passed": sampling.passed,
                    "consistent": bool(sampling.passed and lo <= pit <= 1 - lo)})
    return out
