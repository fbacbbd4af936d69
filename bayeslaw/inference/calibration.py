"""The law's extrapolation error across public studies: the calibration every prediction beyond a fit's runs uses.

For each study (a shipped supervised run table), leave-future-out splits (fit below a compute cutoff, or
without the largest size) give the law's held-out errors and how many decades beyond the fitted runs each
held-out run lies (:func:`bayeslaw.inference.refit.decades_beyond`). A hierarchical model over studies
(:func:`bayeslaw.model.build.build_discrepancy`) turns them into a population distribution of the law's
extrapolation error: a step at the edge of the fitted runs plus growth per decade
(:mod:`bayeslaw.core.extrapolation`). Its posterior ships as ``models/extrapolation_calibration.nc``; a new study
draws its discrepancy from the population, and every new-run prediction beyond a fit's runs adds it
(:mod:`bayeslaw.posterior.extrapolation`). How well that works, study by study, is
:mod:`bayeslaw.validate.calibration`'s leave-one-study-out evaluation.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from bayeslaw.core.errors import DataError
from bayeslaw.core.seeds import Streams
from bayeslaw.data.splits import MIN_TRAIN, Split, by_compute, largest
from bayeslaw.data.tables import load_shipped
from bayeslaw.inference.config import SamplerConfig, default_config
from bayeslaw.inference.engine import sample_fit
from bayeslaw.inference.refit import decades_beyond, fit_split, predictive
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_discrepancy, build_supervised
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.posterior.card import Fit


class Extras(Protocol):
    """What an evaluation adds per split: ``(study, split, train, test, compiled, spec, sampler, seed, new, d)``
    -> columns for the held-out runs and, under ``log_new_insample``, (run, KEEP) new-run draws."""

    def __call__(self, name: str, split: Split, tr: pd.DataFrame, te: pd.DataFrame, compiled: CompiledSampler,
                 spec: SupervisedSpec, sampler: SamplerConfig, seed: int, new: np.ndarray,
                 d: np.ndarray) -> dict[str, Any]: ...


#: The studies: each its own law, noise and loss definition (data/*/SOURCE.txt).
STUDIES = ("chinchilla", "misfitting", "gadre2024_c4", "gadre2024_rw", "marin_comma", "marin_dclm",
           "muennighoff_single_epoch")
#: Compute cutoffs of the leave-future-out splits, as quantiles of each study's 6ND (plus the largest size held out).
CUTOFF_QUANTILES = (0.55, 0.7, 0.85)
#: Predictive draws kept per held-out run.
KEEP = 400
MIN_LEVELS = 3
@dataclass
class HeldOut:
    """Every held-out run of every study's splits, with what each method predicted for it."""

    runs: pd.DataFrame  # study, split, N, D, observed, decades, and what an evaluation's extras add (point)
    log_new: np.ndarray  # (run, KEEP) bayeslaw new-run draws of log loss, without any extrapolation term
    log_new_insample: np.ndarray  # (run, KEEP) the same with the in-sample calibrated extrapolation error
    pred: dict[str, np.ndarray]  # log_mu (run, KEEP), sigma (run, KEEP), nu (run, KEEP) for densities
    skipped: dict[str, str] = field(default_factory=dict)
    fits: list[dict[str, Any]] = field(default_factory=list)


def study_splits(name: str, df: pd.DataFrame) -> list[Split]:
    """The leave-future-out splits of one study; a study too small to give them is refused, saying why."""
    C = 6.0 * df["N"].to_numpy() * df["D"].to_numpy()
    if np.unique(np.round(np.log10(C), 3)).size < MIN_LEVELS or df["N"].nunique() < MIN_LEVELS:
        raise DataError(f"study {name!r} has {np.unique(np.round(np.log10(C), 3)).size} compute levels and "
                        f"{df['N'].nunique()} sizes; leave-future-out errors need at least {MIN_LEVELS} of each")
    out = []
    for q in CUTOFF_QUANTILES:
        try:
            out.append(by_compute(df, float(np.quantile(C, q))))
        except DataError:
            continue
    try:
        out.append(largest(df, 1))
    except DataError:
        pass
    if not out:
        raise DataError(f"study {name!r}: no split leaves {MIN_TRAIN} runs to fit and one to predict")
    return out


def _sub(x: np.ndarray, n: int) -> np.ndarray:
    return x[np.linspace(0, x.shape[0] - 1, n).astype(int)]


def held_out(studies: Sequence[str] = STUDIES, *, seed: int = 0, extras: Extras | None = None,
             sampler: SamplerConfig | None = None, progress: Callable[[str], None] | None = None,
             study_offset: int = 0,
             splitter: Callable[[str, pd.DataFrame], list[Split]] = study_splits) -> HeldOut:
    """Fit every study's splits (each study's model compiled once) and collect the held-out predictions.

    Split ``i`` of the ``k``-th study is seeded by ``Streams(seed).child("study_split", k + study_offset, i)``, so
    studies fitted one call at a time (``study_offset`` their position) give the same draws as one call.
    ``extras`` (an evaluation's hook, e.g. :func:`bayeslaw.validate.calibration.evaluation_extras`) adds per
    split what other methods predict for the held-out runs: columns of ``runs`` and, optionally, new-run draws
    with an in-sample calibrated error; without it those are absent (``point``) or NaN. ``splitter`` gives each
    study's splits (default :func:`study_splits`, by compute; the tokens-per-parameter drift uses its own).
    Each held-out run records its ``decades`` beyond the fitted runs in size or compute and its
    ``ratio_decades`` beyond the most tokens per parameter of any of them.
    """
    say = progress or (lambda _m: None)
    sampler = sampler or default_config("supervised")
    spec = SupervisedSpec()
    rows, log_new, log_in, preds, skipped, fits = [], [], [], [], {}, []
    for k, name in enumerate(studies):
        df = load_shipped(name)
        try:
            splits = splitter(name, df)
        except DataError as err:
            skipped[name] = str(err)
            say(f"skipped: {err}")
            continue
        compiled = CompiledSampler(build_supervised(spec, df), sampler)
        for i, sp in enumerate(splits):
            seed_i = Streams(seed).child("study_split", k + study_offset, i)
            tr, te = df[sp.train], df[sp.test]
            t0 = time.perf_counter()
            fit = fit_split(compiled, spec, sampler, tr, sp.label, seed_i)
            p = predictive(fit, te, seed_i)
            keep = {key: None if v is None else _sub(v, KEEP) for key, v in p.items()}
            new = keep["log_mu"] + keep["eps"]
            d = decades_beyond(tr, te["N"].to_numpy(), te["D"].to_numpy())
            more = {} if extras is None else extras(name, sp, tr, te, compiled, spec, sampler, seed_i, new, d)
            if "log_new_insample" in more:
                log_in.append(more.pop("log_new_insample"))
            ratio = (te["D"] / te["N"]).to_numpy() / float((tr["D"] / tr["N"]).max())
            rows.append(pd.DataFrame({"study": name, "split": sp.label, "N": te["N"].to_numpy(),
                                      "D": te["D"].to_numpy(), "observed": te["loss"].to_numpy(), "decades": d,
                                      "ratio_decades": np.maximum(0.0, np.log10(ratio)), **more}))
            log_new.append(new.T)
            n_te = len(te)
            preds.append({"log_mu": keep["log_mu"].T, "sigma": np.repeat(keep["sigma"][None, :], n_te, 0),
                          "nu": np.repeat(keep["nu"][None, :], n_te, 0)})
            diag = fit.card["diagnostics"]
            fits.append({"study": name, "split": sp.label, "n_train": len(tr), "n_test": n_te,
                         "passed": diag["passed"], "failures": "; ".join(diag["failures"]),
                         "seconds": time.perf_counter() - t0})
            say(f"{name}: {sp.label}: {len(tr)} fitted, {n_te} held out, gates "
                f"{'passed' if diag['passed'] else 'FAILED'}")
    runs = pd.concat(rows, ignore_index=True)
    pred = {k: np.concatenate([p[k] for p in preds]) for k in ("log_mu", "sigma", "nu")}
    empty = np.full((len(runs), KEEP), np.nan)
    return HeldOut(runs=runs, log_new=np.concatenate(log_new), pred=pred, skipped=skipped, fits=fits,
                   log_new_insample=np.concatenate(log_in) if log_in else empty)


def residual_data(h: HeldOut, studies: Sequence[str], distance: str = "decades") -> dict[str, np.ndarray]:
    """What the discrepancy model sees of the held-out runs of ``studies``: residual, predictive sd, study, and as
    ``decades`` the runs' column ``distance`` (decades beyond the fitted runs; ``ratio_decades`` for the drift)."""
    m = h.runs["study"].isin(studies).to_numpy()
    names = [s for s in studies if s in set(h.runs["study"])]
    med = np.median(h.log_new[m], axis=1)
    return {"residual": np.log(h.runs["observed"].to_numpy()[m]) - med, "sd": np.std(h.log_new[m], axis=1),
            "decades": h.runs[distance].to_numpy()[m],
            "study": np.array([names.index(s) for s in h.runs["study"][m]]), "studies": names}


def fit_discrepancy(h: HeldOut, studies: Sequence[str], *, seed: int = 0,
                    sampler: SamplerConfig | None = None, signed: bool = True) -> Fit:
    """The hierarchical discrepancy posterior from the held-out runs of ``studies``, with its card and gates;
    ``signed`` learns a study's lean beyond its runs too (:func:`bayeslaw.model.build.build_discrepancy`)."""
    data = residual_data(h, studies)
    model = build_discrepancy(data["residual"], data["sd"], data["decades"], data["study"], data["studies"],
                              signed=signed)
    sampler = sampler or SamplerConfig(draws=1000, target_accept=0.95)
    record = {"studies": data["studies"], "n_runs": int(data["residual"].size), "sha256": _hash(data),
              "source": "held-out runs of the studies' leave-future-out splits (bayeslaw.validate.calibration)",
              "splits": {"cutoff_quantiles": list(CUTOFF_QUANTILES), "largest_held_out": 1},
              "skipped": dict(h.skipped),
              "split_fits_failed": [f"{f['study']}: {f['split']} ({f['failures']})" for f in h.fits
                                    if f["study"] in studies and not f["passed"]]}
    spec = {"law": "calibration", "model": "bayeslaw.model.build.build_discrepancy",
            "priors": {}, "likelihood": "student_t", "signed": signed}
    fit = sample_fit(model, spec, "calibration", record, sampler, seed, None, False,
                     escalate=[replace(sampler, **r) for r in ({"target_accept": 0.99, "draws": 2000},)])
    return fit


def _hash(data: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in ("residual", "sd", "decades", "study"):
        h.update(np.ascontiguousarray(np.asarray(data[k], float)).tobytes())
    h.update(",".join(data["studies"]).encode())
    return h.hexdigest()


def merge(parts: Sequence[HeldOut]) -> HeldOut:
    """The held-out runs of several :func:`held_out` calls (e.g. one per study) as one."""
    return HeldOut(runs=pd.concat([p.runs for p in parts], ignore_index=True),
                   log_new=np.concatenate([p.log_new for p in parts]),
                   log_new_insample=np.concatenate([p.log_new_insample for p in parts]),
                   pred={k: np.concatenate([p.pred[k] for p in parts]) for k in ("log_mu", "sigma", "nu")},
                   skipped={k: v for p in parts for k, v in p.skipped.items()},
                   fits=[f for p in parts for f in p.fits])
