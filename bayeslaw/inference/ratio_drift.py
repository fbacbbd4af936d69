"""How a scaling law errs past the tokens per parameter it was fitted on, learned across public studies.

Each study gets one leave-future-out split by tokens per parameter (:data:`RATIO_CUTS`: fit its runs at or
below the cut, predict the more heavily trained ones; :func:`bayeslaw.data.splits.by_ratio`). The held-out runs'
residuals, their predictive sds and how many decades each lies past the fitted runs' most tokens per parameter
go into :func:`bayeslaw.model.build.build_ratio_drift`, a hierarchical model of a signed drift per decade,
partially pooled over the studies, plus an extra error growing with the distance.

On every one of these studies the held-out heavily trained runs lie *above* the law fitted at typical ratios
(docs/serving.md): the law's form overestimates what extra tokens buy there, as Sardana et al. (2024) found
on their own runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from bayeslaw.core.errors import DataError
from bayeslaw.data.splits import Split, by_ratio
from bayeslaw.inference.calibration import HeldOut, held_out, residual_data
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.engine import sample_fit
from bayeslaw.model.build import RATIO_DRIFT_PRIORS, build_ratio_drift
from bayeslaw.posterior.card import Fit

#: The cut per study (tokens per parameter): each leaves at least three heavily trained runs to predict and the
#: rest, spanning the study's sizes, to fit.
RATIO_CUTS = {"chinchilla": 150.0, "misfitting": 100.0, "gadre2024_c4": 160.0, "gadre2024_rw": 160.0,
              "marin_comma": 300.0, "marin_dclm": 300.0, "muennighoff_single_epoch": 100.0, "sardana2024": 100.0}
#: What the saved posterior's card names as its model (checked on load).
RATIO_DRIFT_MODEL = "bayeslaw.model.build.build_ratio_drift"


def ratio_splits(name: str, df: pd.DataFrame) -> list[Split]:
    """The one split of study ``name`` by tokens per parameter (:data:`RATIO_CUTS`).

    Parameters
    ----------
    name
        A study of :data:`RATIO_CUTS`.
    df
        Its runs.
    """
    if name not in RATIO_CUTS:
        raise DataError(f"no tokens-per-parameter cut for study {name!r}; known: {sorted(RATIO_CUTS)}")
    return [by_ratio(df, RATIO_CUTS[name])]


def held_out_ratio(studies: Sequence[str] = tuple(RATIO_CUTS), *, seed: int = 0,
                   progress: Callable[[str], None] | None = None) -> HeldOut:
    """Fit each study's runs up to its cut and collect the predictions of its more heavily trained runs.

    Parameters
    ----------
    studies
        Shipped tables of :data:`RATIO_CUTS`.
    seed
        The one seed.
    progress
        ``progress(message)`` per study.
    """
    return held_out(studies, seed=seed, progress=progress, splitter=ratio_splits)


def drift_data(h: HeldOut, studies: Sequence[str]) -> dict[str, np.ndarray]:
    """What the drift model sees of the held-out runs of ``studies``: residual, predictive sd, decades, study.

    Parameters
    ----------
    h
        :func:`held_out_ratio`'s result.
    studies
        Which of its studies to use.
    """
    data = residual_data(h, studies, distance="ratio_decades")
    data["ratio_decades"] = data.pop("decades")
    return data


def fit_ratio_drift(h: HeldOut, studies: Sequence[str], *, seed: int = 0,
                    sampler: SamplerConfig | None = None) -> Fit:
    """The drift posterior from the held-out runs of ``studies``, with its card and gates.

    Parameters
    ----------
    h
        :func:`held_out_ratio`'s result.
    studies
        The studies to learn from (a leave-one-study-out evaluation leaves one out).
    seed
        The sampler's seed.
    sampler
        NUTS settings (default 1000 draws, target_accept 0.95).
    """
    data = drift_data(h, studies)
    model = build_ratio_drift(data["residual"], data["sd"], data["ratio_decades"], data["study"], data["studies"])
    sampler = sampler or SamplerConfig(draws=1000, target_accept=0.95)
    digest = hashlib.sha256()
    for k in ("residual", "sd", "ratio_decades", "study"):
        digest.update(np.ascontiguousarray(np.asarray(data[k], float)).tobytes())
    record = {"studies": data["studies"], "n_runs": int(data["residual"].size), "sha256": digest.hexdigest(),
              "source": "held-out runs of each study's split by tokens per parameter (bayeslaw.inference.ratio_drift)",
              "cuts": {s: RATIO_CUTS[s] for s in data["studies"]},
              "split_fits_failed": [f"{f['study']}: {f['split']} ({f['failures']})" for f in h.fits
                                    if f["study"] in studies and not f["passed"]]}
    spec = {"law": "calibration", "model": RATIO_DRIFT_MODEL,
            "priors": {k: list(v) if isinstance(v, tuple) else v for k, v in RATIO_DRIFT_PRIORS.items()},
            "likelihood": "student_t"}
    return sample_fit(model, spec, "calibration", record, sampler, seed, None, False,
                      escalate=[replace(sampler, target_accept=0.99, draws=2000)])
