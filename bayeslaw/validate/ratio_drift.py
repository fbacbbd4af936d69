"""Leave-one-study-out evaluation of the tokens-per-parameter drift: does it hold on a study it never saw?

For each study the drift is learned from the others (:func:`bayeslaw.inference.ratio_drift.fit_ratio_drift`) and
the study's heavily trained held-out runs are predicted by a new study's drift drawn from that population, on top
of what bayeslaw predicts today (the law, its run noise and the size/compute extrapolation error). Scores per
study and pooled: 90% and 50% coverage, median and signed median relative error of the median, CRPS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bayeslaw.core import bounds
from bayeslaw.core.errors import InputError
from bayeslaw.core.seeds import Streams
from bayeslaw.inference.calibration import HeldOut
from bayeslaw.inference.ratio_drift import RATIO_CUTS, fit_ratio_drift, held_out_ratio
from bayeslaw.posterior.card import Fit, atomic_write
from bayeslaw.posterior.extrapolation import RATIO_DRIFT, add_to_log_new, drift_shift, resolve_calibration
from bayeslaw.validate.backtest import crps

#: The methods scored, in the order tables show them.
TODAY, WITH_DRIFT = "bayeslaw (size/compute error only)", "bayeslaw + tokens-per-parameter drift"


def _scores(study: str, method: str, observed: np.ndarray, log_new: np.ndarray) -> dict:
    """``log_new``: (run, draw) new-run log-loss draws."""
    new = np.exp(log_new)
    lo90, hi90 = np.quantile(new, [0.05, 0.95], axis=1)
    lo50, hi50 = np.quantile(new, [0.25, 0.75], axis=1)
    med = np.median(new, axis=1)
    rel = observed / med - 1.0
    return {"study": study, "method": method, "n": observed.size,
            "cover90": float(np.mean((observed >= lo90) & (observed <= hi90))),
            "cover50": float(np.mean((observed >= lo50) & (observed <= hi50))),
            "median_abs_error": float(np.median(np.abs(rel))), "median_signed_error": float(np.median(rel)),
            "crps": float(np.mean(crps(new.T, observed)))}


def loso_scores(h: HeldOut, calibration: Fit | None, *, seed: int = 0,
         progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Per study (and pooled: ``study == "all"``), today's scores and those with the drift learned without it.

    Parameters
    ----------
    h
        :func:`bayeslaw.inference.ratio_drift.held_out_ratio`'s result.
    calibration
        The size/compute extrapolation calibration both methods carry (None: neither does).
    seed
        The one seed.
    progress
        ``progress(message)`` per study.
    """
    say = progress or (lambda _m: None)
    studies: Sequence[str] = list(dict.fromkeys(h.runs["study"]))
    rows, pooled = [], {TODAY: ([], []), WITH_DRIFT: ([], [])}
    for k, name in enumerate(studies):
        others = [s for s in studies if s != name]
        drift = fit_ratio_drift(h, others, seed=Streams(seed).child("ratio_loso", k))
        say(f"{name}: drift learned from the other {len(others)} studies, gates "
            f"{'passed' if drift.diagnostics_passed else 'FAILED'}")
        m = (h.runs["study"] == name).to_numpy()
        runs = h.runs[m]
        rng = np.random.default_rng(Streams(seed).child("ratio_loso_draws", k))
        base = h.log_new[m]  # (run, draw)
        if calibration is not None:
            base = add_to_log_new(base.T, 0.0, runs["decades"].to_numpy(), calibration, rng).T
        shift = drift_shift(drift, runs["ratio_decades"].to_numpy()[None, :], base.shape[1], rng)
        obs = runs["observed"].to_numpy()
        for method, draws in ((TODAY, base), (WITH_DRIFT, base + shift.T)):
            rows.append(_scores(name, method, obs, draws))
            pooled[method][0].append(obs)
            pooled[method][1].append(draws)
    for method, (obs, draws) in pooled.items():
        rows.append(_scores("all", method, np.concatenate(obs), np.concatenate(draws)))
    return pd.DataFrame(rows)


def calibrate_ratio(studies: Sequence[str] | None = None, *, out: str | Path | None = None, loso: bool = False,
                    out_dir: str | Path = "reports/calibration", seed: int = 0,
                    progress: Callable[[str], None] | None = None) -> tuple[Fit, pd.DataFrame | None, dict[str, str]]:
    """Learn from public studies how a law errs past the tokens per parameter it was fitted on, and save it.

    Parameters
    ----------
    studies
        Shipped supervised tables with a cut in :data:`bayeslaw.inference.ratio_drift.RATIO_CUTS` (default all).
    out
        Where to save the drift posterior (default ``models/ratio_drift.nc``).
    loso
        Also run the leave-one-study-out evaluation (:func:`loso`) and write it to ``out_dir/ratio_loso.csv``.
    out_dir
        Where the evaluation goes.
    seed
        The one seed.
    progress
        ``progress(message)`` per study.

    Returns
    -------
    tuple
            ``(drift, loso_table or None, paths)``.
    """
    names = tuple(studies or RATIO_CUTS)
    unknown = [s for s in names if s not in RATIO_CUTS]
    if unknown:
        raise InputError(f"no tokens-per-parameter cut for {unknown}; studies: {sorted(RATIO_CUTS)}")
    out = Path(out or RATIO_DRIFT)
    bounds.check_writable(out, "--out")
    if loso:
        bounds.check_writable(out_dir, "--out-dir", directory=True)
    h = held_out_ratio(names, seed=seed, progress=progress)
    drift = fit_ratio_drift(h, list(dict.fromkeys(h.runs["study"])), seed=Streams(seed).child("ratio_drift", 0))
    paths = {"ratio_drift": str(drift.save(out))}
    table = None
    if loso:
        table = loso_scores(h, resolve_calibration(True), seed=seed, progress=progress)
        path = Path(out_dir) / "ratio_loso.csv"
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        paths["loso"] = str(path)
    return drift, table, paths
