"""``calibrate`` and how well the calibrated extrapolation error works, study by study.

The calibration itself (held-out errors of every study's leave-future-out splits, the hierarchical population
fitted to them) is :mod:`bayeslaw.inference.calibration`; ``calibrate`` fits and saves it and, with ``loso``,
evaluates it here.

Leave-one-study-out evaluation (:func:`loso`) learns the population from the other studies and scores each
study's held-out runs against bayeslaw without the term, with its in-sample calibration, and the Huber point fit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from bayeslaw.core import bounds
from bayeslaw.core.errors import DataError, InputError
from bayeslaw.core.seeds import Streams
from bayeslaw.data.registry import SHIPPED
from bayeslaw.data.splits import Split
from bayeslaw.inference.calibration import KEEP, STUDIES, HeldOut, fit_discrepancy, held_out
from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.posterior.card import Fit, atomic_write
from bayeslaw.posterior.extrapolation import CALIBRATION, population_error
from bayeslaw.reporting.figures import png, reliability_diagram
from bayeslaw.validate import backtest as bt
from bayeslaw.validate import pointfit


def evaluation_extras(name: str, split: Split, tr: pd.DataFrame, te: pd.DataFrame, compiled: CompiledSampler,
                      spec: SupervisedSpec, sampler: SamplerConfig, seed: int, new: np.ndarray,
                      d: np.ndarray) -> dict[str, Any]:
    """What the evaluation compares the population with, per split (an :class:`~bayeslaw.inference.calibration.Extras`):
    the Huber point fit's predictions (``point``) and bayeslaw's new-run draws with an extrapolation error
    calibrated on the split's own training runs (``log_new_insample``;
    :func:`bayeslaw.validate.backtest.calibrate_extrapolation`), the method the population replaces."""
    try:
        cal = bt.calibrate_extrapolation(tr, compiled, spec, sampler, seed=seed)
    except DataError:  # too few training runs for inner splits: the method adds nothing
        cal = {"edge": np.zeros(1), "tau": np.zeros(1), "weights": np.ones(1)}
    rng = np.random.default_rng(Streams(seed).extrapolation(0))
    chosen = rng.choice(cal["weights"].size, size=KEEP, p=cal["weights"])
    sd = bt.extrapolation_sd(cal["edge"][chosen][:, None], cal["tau"][chosen][:, None], d[None, :])
    insample = (new + sd * rng.standard_normal(sd.shape)).T
    pt_fit = pointfit.fit_supervised(tr["N"], tr["D"], tr["loss"], starts=pointfit.epoch_grid()[::15], tight=False)
    return {"point": np.exp(pt_fit.log_loss(te["N"], te["D"])), "log_new_insample": insample}


#: Multiples of the population's extrapolation error scored by the leave-one-study-out evaluation (1: as learned),
#: to show what wider bands would buy and cost.
WIDTHS = (1.0, 1.25, 1.5, 1.6, 1.7, 2.0, 2.5, 3.0)
#: The targets of issue 16: pooled 90% and 50% coverage ranges, every study's 90% coverage at least this.
TARGETS = {"pooled_90": (0.85, 0.95), "pooled_50": (0.40, 0.60), "study_90": 0.75}


def _score(h: HeldOut, m: np.ndarray, log_new: np.ndarray, extra_sd: np.ndarray | float,
           shift: np.ndarray | float = 0.0) -> pd.DataFrame:
    """Scores of the runs ``m``; their densities from the law's draws moved by ``shift`` (draw, run) and widened
    by ``extra_sd``."""
    obs = h.runs["observed"].to_numpy()[m]
    pred = {"log_mu": h.pred["log_mu"][m].T + shift, "sigma": h.pred["sigma"][m][:, 0], "nu": h.pred["nu"][m][:, 0]}
    # per run its own draws: densities draw by draw, run by run
    ll = np.stack([bt._loglik(np.log(obs[i:i + 1]),
                              {"log_mu": pred["log_mu"][:, i:i + 1], "sigma": h.pred["sigma"][m][i],
                               "nu": h.pred["nu"][m][i]},
                              np.asarray(extra_sd)[:, i:i + 1] if np.ndim(extra_sd) else extra_sd)[:, 0]
                   for i in range(obs.size)], axis=1)
    return bt.score_runs(obs, log_new[m].T, ll)


LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class Loso:
    """The leave-one-study-out evaluation: per-run scores, pooled reliability, and the widths scored."""

    per_run: pd.DataFrame  # study, split, N, D, decades, observed, median, ..., method, gates
    reliability: pd.DataFrame  # nominal, then each method's empirical coverage pooled over studies
    widths: pd.DataFrame  # study, width, in50, in90, crps: per run, the population's error times ``width``
    expected: pd.DataFrame  # per study: its 90% coverage against that of studies drawn from the population


def leave_one_study_out(h: HeldOut, *, seed: int = 0, widths: Sequence[float] = WIDTHS,
                        progress: Callable[[str], None] | None = None, signed: bool = True) -> Loso:
    """Leave-one-study-out: per run of each study, the scores of four methods (see the module docstring),
    the reliability of each method pooled over studies (empirical coverage of central intervals at nominal
    10-90%), the population method's coverage and CRPS with its error multiplied by each of ``widths``
    (the same draws, scaled: width 1 is the method itself), and per study the 90% coverage that studies drawn
    from the population would get at its runs (:func:`coverage_if_from_population`). ``signed``: the population
    learns a study's lean (:func:`bayeslaw.model.build.build_discrepancy`)."""
    say = progress or (lambda _m: None)
    names = list(dict.fromkeys(h.runs["study"]))
    out, scaled, expected = [], [], []
    pooled = {"bayeslaw": h.log_new, "bayeslaw + in-sample calibration": h.log_new_insample,
              "bayeslaw + population discrepancy": np.full_like(h.log_new, np.nan)}
    for k, name in enumerate(names):
        others = [s for s in names if s != name]
        say(f"leave-one-study-out: {name} (population from {len(others)} studies)")
        cal = fit_discrepancy(h, others, seed=Streams(seed).child("leave_one_out", k), signed=signed)
        m = (h.runs["study"] == name).to_numpy()
        rng = np.random.default_rng(Streams(seed).extrapolation(k))
        mean, sd = population_error(cal, h.runs["decades"].to_numpy()[m], KEEP, rng)  # (draw, run)
        full_sd, full_mean = np.zeros((KEEP, m.size)), np.zeros((KEEP, m.size))
        full_sd[:, m], full_mean[:, m] = sd, mean
        noise = rng.standard_normal(full_sd.shape)
        calibrated = h.log_new + (full_mean + full_sd * noise).T
        pooled["bayeslaw + population discrepancy"][m] = calibrated[m]
        scaled.append(_widened(h.log_new[m], (mean + sd * noise[:, m]).T, h.runs["observed"].to_numpy()[m], widths)
                      .assign(study=name))
        hyp = coverage_if_from_population(cal, h.log_new[m], calibrated[m], h.runs["decades"].to_numpy()[m],
                                          np.random.default_rng(Streams(seed).child("population_check", k)))
        seen = float(np.mean(inside(calibrated[m], h.runs["observed"].to_numpy()[m], 0.9)))
        expected.append({"study": name, "coverage_90": seen, "expected_median": float(np.median(hyp)),
                         "expected_5pct": float(np.quantile(hyp, 0.05)),
                         "target": TARGETS["study_90"], "p_below_target": float(np.mean(hyp < TARGETS["study_90"])),
                         "p_value": float(np.mean(hyp <= seen))})
        meta = h.runs[m][["study", "split", "N", "D", "decades"]].reset_index(drop=True)
        for method, log_new, extra, shift in (("bayeslaw", h.log_new, 0.0, 0.0),
                                              ("bayeslaw + population discrepancy", calibrated, full_sd, full_mean),
                                              ("bayeslaw + in-sample calibration", h.log_new_insample, None, 0.0)):
            if extra is None:  # densities of the in-sample method: from its draws' spread beyond the law's
                extra = np.sqrt(np.maximum(np.var(h.log_new_insample, 1) - np.var(h.log_new, 1), 0.0))
                extra = np.repeat(extra[None, :], KEEP, 0)
            s = _score(h, m, log_new, extra[:, m] if np.ndim(extra) else extra,
                       shift[:, m] if np.ndim(shift) else shift).assign(
                method=method, gates=bool(cal.diagnostics_passed))
            out.append(pd.concat([meta, s], axis=1))
        obs, pt_pred = h.runs["observed"].to_numpy()[m], h.runs["point"].to_numpy()[m]
        out.append(pd.concat([meta, pd.DataFrame({"observed": obs, "median": pt_pred,
                                                  "rel_error": np.abs(pt_pred - obs) / obs, "in50": np.nan,
                                                  "in90": np.nan, "crps": np.abs(pt_pred - obs), "lpd": np.nan,
                                                  "method": "Huber + L-BFGS-B (point)"})], axis=1))
    obs = h.runs["observed"].to_numpy()
    rel = pd.DataFrame({"nominal": LEVELS} | {k: coverage_at(v, obs, LEVELS) for k, v in pooled.items()})
    return Loso(pd.concat(out, ignore_index=True), rel, pd.concat(scaled, ignore_index=True),
                pd.DataFrame(expected))


def coverage_if_from_population(cal: Fit, law_draws: np.ndarray, predictive: np.ndarray, decades: np.ndarray,
                                rng: np.random.Generator, n: int = 2000, level: float = 0.9) -> np.ndarray:
    """The ``level`` coverage that ``n`` studies drawn from the population would get at one study's runs.

    A check of the population under its own assumptions: each hypothetical study takes its own edge, growth and
    lean from ``cal`` (as a new study does), its runs fall normally around the law's predictive median moved by
    its lean (``law_draws``, (run, draw)) with the law's predictive sd and that study's extrapolation error, and the
    interval is the one the population method gives (``predictive``, (run, draw)). The share of the returned
    coverages at or below a study's measured one is a predictive p-value for that study.
    """
    lo, hi = np.quantile(predictive, [(1 - level) / 2, (1 + level) / 2], axis=1)
    centre, law_sd = np.median(law_draws, axis=1), np.std(law_draws, axis=1)
    lean, tau = population_error(cal, decades, n, rng)  # (study, run)
    scale = np.sqrt(law_sd ** 2 + tau ** 2)
    return np.mean(ndtr((hi - centre - lean) / scale) - ndtr((lo - centre - lean) / scale), axis=1)


def _widened(log_new: np.ndarray, error: np.ndarray, observed: np.ndarray, widths: Sequence[float]) -> pd.DataFrame:
    """Per run and width: interval hits and CRPS of the new-run draws (run, draw) plus ``width`` times ``error``."""
    rows = []
    for w in widths:
        x = log_new + w * error
        rows.append(pd.DataFrame({"width": float(w), "in50": inside(x, observed, 0.5), "in90": inside(x, observed, 0.9),
                                  "crps": bt.crps(np.exp(x.T), observed)}))
    return pd.concat(rows, ignore_index=True)


def widths_summary(widths: pd.DataFrame, per_run: pd.DataFrame) -> pd.DataFrame:
    """Per width: pooled coverage and CRPS, the worst study's 90% coverage, and which targets
    (:data:`TARGETS`; CRPS at or below bayeslaw's without the term) hold."""
    base = per_run.loc[per_run["method"] == "bayeslaw", "crps"].mean()
    rows = []
    for w, g in widths.groupby("width", sort=True):
        study90 = g.groupby("study", sort=False)["in90"].mean()
        p90, p50, crps = g["in90"].mean(), g["in50"].mean(), g["crps"].mean()
        ok = {"pooled_90_ok": TARGETS["pooled_90"][0] <= p90 <= TARGETS["pooled_90"][1],
              "pooled_50_ok": TARGETS["pooled_50"][0] <= p50 <= TARGETS["pooled_50"][1],
              "every_study_90_ok": bool(study90.min() >= TARGETS["study_90"]), "crps_ok": crps <= base}
        rows.append({"width": w, "coverage_90": p90, "coverage_50": p50, "crps": crps, "crps_bayeslaw": base,
                     "worst_study": study90.idxmin(), "worst_study_coverage_90": study90.min()}
                    | {f"{k}_coverage_90": v for k, v in study90.items()} | ok | {"all_targets": all(ok.values())})
    return pd.DataFrame(rows)


def loso_summary(per_run: pd.DataFrame) -> pd.DataFrame:
    """Per study and pooled, per method: held-out runs, coverage, median relative error, CRPS, lpd."""
    def agg(g: pd.DataFrame) -> pd.Series:
        return pd.Series({"n_heldout": len(g), "coverage_50": g["in50"].mean(), "coverage_90": g["in90"].mean(),
                          "median_rel_error": g["rel_error"].median(), "crps": g["crps"].mean(),
                          "lpd": g["lpd"].sum(min_count=1)})
    per_study = per_run.groupby(["study", "method"], sort=False).apply(agg, include_groups=False).reset_index()
    pooled = per_run.groupby("method", sort=False).apply(agg, include_groups=False).reset_index()
    pooled.insert(0, "study", "pooled")
    return pd.concat([per_study, pooled], ignore_index=True)


def inside(log_new: np.ndarray, observed: np.ndarray, p: float) -> np.ndarray:
    """Per run, 1.0 if its observed loss lies in the central ``p`` interval of its log-loss draws (run, draw)."""
    lo, hi = np.quantile(log_new, [(1 - p) / 2, (1 + p) / 2], axis=1)
    y = np.log(observed)
    return ((y >= lo) & (y <= hi)).astype(float)


def coverage_at(log_new: np.ndarray, observed: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Share of runs inside each central interval of their draws (run, draw)."""
    return np.asarray([float(np.mean(inside(log_new, observed, p))) for p in levels])


@dataclass(frozen=True)
class LosoSummary:
    """What the leave-one-study-out evaluation found, in three tables."""

    scores: pd.DataFrame  # per study and pooled, per method (:func:`loso_summary`)
    widths: pd.DataFrame  # per width of the population's error (:func:`widths_summary`)
    expected: pd.DataFrame  # per study, its coverage against studies drawn from the population


def summarise(ev: Loso) -> LosoSummary:
    """The evaluation's three tables."""
    return LosoSummary(loso_summary(ev.per_run), widths_summary(ev.widths, ev.per_run), ev.expected)


def write_loso(ev: Loso, summary: LosoSummary, h: HeldOut, out_dir: str | Path) -> dict[str, str]:
    """The evaluation's tables (CSV) and reliability diagram (PNG), each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"loso_runs.csv": ev.per_run.to_csv(index=False).encode(),
               "loso_summary.csv": summary.scores.to_csv(index=False).encode(),
               "reliability.csv": ev.reliability.to_csv(index=False).encode(),
               "widths.csv": summary.widths.to_csv(index=False).encode(),
               "expected_coverage.csv": summary.expected.to_csv(index=False).encode(),
               "fits.csv": pd.DataFrame(h.fits).to_csv(index=False).encode(),
               "reliability.png": png(reliability_diagram(ev.reliability))}
    paths = {}
    for name, data in payload.items():
        path = out_dir / name
        atomic_write(path, lambda tmp, data=data: Path(tmp).write_bytes(data))
        paths[name.split(".")[0] + ("_plot" if name.endswith(".png") else "")] = str(path)
    return paths


def calibrate(studies: Sequence[str] | None = None, *, out: str | Path | None = None, loso: bool = False,
              out_dir: str | Path = "reports/calibration", seed: int = 0, progress: Any = None,
              signed: bool = True) -> tuple[Fit, LosoSummary | None, dict[str, str]]:
    """Learn from public studies how fast a scaling law's error grows beyond its fitted runs.

    Parameters
    ----------
    studies
        Shipped supervised tables, one study each (default
        :data:`bayeslaw.validate.calibration.STUDIES`); a study too small for leave-future-out splits is
        skipped with a message.
    out
        Where to save the calibration posterior (default ``models/extrapolation_calibration.nc``).
    loso
        Also run the leave-one-study-out evaluation (with each split's in-sample calibration for
        comparison; slower) and write its tables and reliability diagram to ``out_dir``, with the coverage
        of wider population bands (``widths.csv``) and the coverage each study would expect if the population
        were exactly right (``expected_coverage.csv``).
    out_dir
        Where the evaluation goes.
    seed
        The one seed.
    progress
        ``progress(message)`` per study and split.
    signed
        Learn a study's lean beyond its runs as well as its spread (the default, shipped since issue 25); False
        gives the zero-mean population shipped before, whose bands are centred on the law.

    Returns
    -------
    tuple
        ``(calibration, summary, paths)``: the hierarchical posterior (dims ``chain``, ``draw``, ``study``),
        the leave-one-study-out evaluation's tables (None without ``loso``; ``scores`` per study and method,
        ``widths``, ``expected``), the written paths.
    """
    names = tuple(studies or STUDIES)
    unknown = [s for s in names if s not in SHIPPED or SHIPPED[s].law != "supervised"]
    if unknown:
        raise InputError(f"unknown studies {unknown}; shipped supervised tables: "
                         f"{sorted(k for k, v in SHIPPED.items() if v.law == 'supervised')}")
    out = Path(out or CALIBRATION)
    bounds.check_writable(out, "--out")
    if loso:
        bounds.check_writable(out_dir, "--out-dir", directory=True)
    h = held_out(names, seed=seed, extras=evaluation_extras if loso else None, progress=progress)
    if progress:
        progress(f"hierarchical discrepancy model over {h.runs['study'].nunique()} studies, {len(h.runs)} "
                 "held-out runs")
    fit = fit_discrepancy(h, list(dict.fromkeys(h.runs["study"])), seed=seed, signed=signed)
    paths = {"calibration": str(fit.save(out))}
    summary = None
    if loso:
        ev = leave_one_study_out(h, seed=seed, progress=progress, signed=signed)
        summary = summarise(ev)
        paths.update(write_loso(ev, summary, h, out_dir))
    return fit, summary, paths
