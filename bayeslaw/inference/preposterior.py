"""Preposterior analysis by refitting: the update that importance weights over the draws approximate, done exactly.

For each simulated outcome of the pilot runs, the supervised model (compiled once for the table plus the runs)
is refitted with NUTS on the fitted runs and the pilot runs at that outcome. Seconds per outcome, so used where
the weights degenerate (too few effective draws) and to check them (tests/decision/test_preposterior.py).

Only the law's coefficients and run noise are refitted: the study-level extrapolation error of
:mod:`bayeslaw.posterior.extrapolation` is not a parameter of the fitted model, so a refit cannot learn it; for
runs beyond the fitted runs with that error switched on, the importance weights are the only coherent update.
A joint (distillation) refit costs about 45 s per outcome on the paper's 328 students, too slow for a ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bayeslaw.core.errors import InputError
from bayeslaw.core.seeds import Streams
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.refit import fit_split
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.posterior.card import Fit


def fitted_table(fit: Fit) -> pd.DataFrame:
    """The runs a supervised posterior was fitted to, from its observed data."""
    obs = fit.idata["observed_data"]
    return pd.DataFrame({"N": np.exp(obs["log_N"].values), "D": np.exp(obs["log_D"].values),
                         "loss": np.exp(obs["log_loss"].values)})


def refit_with_outcomes(fit: Fit, runs: Sequence[tuple[float, float]], outcomes: np.ndarray, *,
                        seed: int = 0, sampler: SamplerConfig | None = None) -> list[Fit]:
    """The posterior after each simulated outcome of the pilot runs, by refitting.

    Parameters
    ----------
    fit
        A supervised posterior.
    runs
        The pilot runs ``(N, D)``.
    outcomes
        ``(outcome, run)`` simulated log losses of those runs.
    seed
        Seeds each refit (seed family ``pilot``, index ``(2, outcome)``).
    sampler
        The refits' NUTS settings (default: the fit's own).

    Returns
    -------
    list of Fit
        One posterior per outcome, each with its diagnostics in its card.
    """
    if fit.law != "supervised":
        raise InputError("refits for the value of a run are for supervised posteriors: a joint refit takes about "
                         "45 s per simulated outcome")
    outcomes = np.atleast_2d(np.asarray(outcomes, float))
    if outcomes.shape[1] != len(runs) or not np.isfinite(outcomes).all():
        raise InputError("give one finite simulated log loss per pilot run and outcome")
    spec = SupervisedSpec.from_dict(fit.card["spec"])
    sampler = sampler or SamplerConfig(**fit.card["sampler"])
    base = fitted_table(fit)
    pilot = pd.DataFrame({"N": [r[0] for r in runs], "D": [r[1] for r in runs]})
    compiled = CompiledSampler(build_supervised(spec, pd.concat([base, pilot.assign(loss=2.0)], ignore_index=True)),
                               sampler)
    out = []
    for j, y in enumerate(outcomes):
        table = pd.concat([base, pilot.assign(loss=np.exp(y))], ignore_index=True)
        out.append(fit_split(compiled, spec, sampler, table, f"pilot outcome {j}",
                             Streams(seed).child("pilot", 2, j)))
    return out
