"""IsoFLOP replays of the compute-optimal size: how far the law's N* lands from the best run of a later budget.

A prediction's band carries the law's extrapolation error (:mod:`bayeslaw.inference.calibration`); the optimum's
N* band did not: the error model moves every size's loss together, so it cannot move the argmin. This module
measures what the N* band misses on public IsoFLOP sweeps (Open Athena's harmonised collection: Chinchilla, Marin's
comma and dclm ladders, (Mis)Fitting) and learns an allocation error from it:

1. each sweep's budget levels; the observed optimum of a level is the vertex of a quadratic in log10 N through
   its losses (Chinchilla's Approach 2), where the level has enough runs and curves upward around the sizes run;
2. leave-future-out: fit the law (the same compiled model, as a backtest does) on the levels up to a budget and
   read the posterior's N* at each later level (FLOPs 6ND, the sweeps' convention);
3. the miss ``e = log10 N*_observed - median log10 N*`` against the posterior's own sd ``s`` and the decades
   ``d`` between the fitted and the predicted budget: ``e ~ Normal(0, s^2 + a^2 + (b d)^2)``, ``a`` and ``b`` by
   maximum likelihood over every study (each study weighted once), checked leaving each study out.

The misses are mostly a study's own offset (Chinchilla's N* comes out too large, Marin's too small, by about 0.1 in
log10 already one level out), so a study's rows fall inside or outside a band together: coverage is read pooled
over studies.

The observed optimum is itself an estimate (a vertex through 5-15 noisy runs), so part of ``a`` is its noise:
the learned error is, if anything, wide.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from bayeslaw.core.seeds import Streams
from bayeslaw.data.registry import DATA_DIR
from bayeslaw.inference.config import default_config
from bayeslaw.inference.refit import fit_split
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.posterior.predict import optimum_6nd

SWEEPS = DATA_DIR / "isoflops_openathena" / "isoflops_sweeps.csv"
#: Each study: (source, dataset) in the harmonised collection.
STUDIES = {"chinchilla": ("epochai_chinchilla", "massivetext"), "marin_comma": ("marin_202603", "comma"),
           "marin_dclm": ("marin_202603", "dclm"), "misfitting": ("misfitting", "fineweb_c4")}
#: A level's vertex needs at least this many runs.
MIN_POINTS = 5
#: A split fits at least this many runs of at least this many levels.
MIN_RUNS, MIN_LEVELS = 15, 3


def sweeps(path: str | Path = SWEEPS) -> dict[str, pd.DataFrame]:
    """The studies' non-outlier runs: ``N``, ``D``, ``loss`` and the nominal budget ``C`` (FLOPs).

    Parameters
    ----------
    path
        The harmonised table (default the shipped copy).

    Returns
    -------
    dict of pandas.DataFrame
        One table per study of :data:`STUDIES`.
    """
    d = pd.read_csv(path, comment="#")
    out = {}
    for name, (source, dataset) in STUDIES.items():
        s = d[(d["source"] == source) & (d["dataset"] == dataset) & ~d["outlier"].astype(bool)]
        out[name] = pd.DataFrame({"N": s["params"].to_numpy(float), "D": s["tokens"].to_numpy(float),
                                  "loss": s["loss"].to_numpy(float), "C": s["budget"].to_numpy(float)})
    return out


def observed_optimum(level: pd.DataFrame) -> float:
    """log10 of the size at the vertex of a quadratic in log10 N through one budget level's log losses.

    Parameters
    ----------
    level
        The runs of one budget (``N``, ``loss``).

    Returns
    -------
    float
        The vertex; NaN with fewer than :data:`MIN_POINTS` runs, no upward curvature, or a vertex outside the
        sizes run (an extrapolated vertex is not an observation).
    """
    if len(level) < MIN_POINTS:
        return math.nan
    x, y = np.log10(level["N"].to_numpy()), np.log(level["loss"].to_numpy())
    c2, c1, _ = np.polyfit(x, y, 2)
    if c2 <= 0:
        return math.nan
    v = -c1 / (2 * c2)
    return float(v) if x.min() <= v <= x.max() else math.nan


def replay(name: str, df: pd.DataFrame, *, seed: int, max_splits: int = 5) -> pd.DataFrame:
    """Leave-future-out N* of one study: fit up to a budget level, predict N* at every later observed one.

    Parameters
    ----------
    name
        The study (for labels and its seed stream).
    df
        Its runs (:func:`sweeps`).
    seed
        The replay's seed (each split fit gets ``Streams(seed).child("allocation", study, split)``).
    max_splits
        At most this many split points, spread over the levels that qualify.

    Returns
    -------
    pandas.DataFrame
        One row per (split, later level): ``study``, ``fitted_to`` and ``budget`` (FLOPs), ``decades`` between
        them, ``observed`` and the posterior's ``median``, ``sd``, ``lower``, ``upper`` (90%) of log10 N*,
        ``error`` (observed - median) and ``passed`` (the split fit's gates).
    """
    levels = np.sort(df["C"].unique())
    observed = {c: observed_optimum(df[df["C"] == c]) for c in levels}
    ok = [k for k in range(MIN_LEVELS - 1, len(levels) - 1)
          if (df["C"] <= levels[k]).sum() >= MIN_RUNS
          and any(np.isfinite(observed[c]) for c in levels[k + 1:])]
    if not ok:
        return pd.DataFrame()
    picks = sorted({ok[int(i)] for i in np.linspace(0, len(ok) - 1, min(max_splits, len(ok))).round()})
    spec = SupervisedSpec()
    sampler = default_config("supervised")
    compiled = CompiledSampler(build_supervised(spec, df), sampler)
    study = list(STUDIES).index(name)
    rows = []
    for i, k in enumerate(picks):
        tr = df[df["C"] <= levels[k]].reset_index(drop=True)
        fit = fit_split(compiled, spec, sampler, tr, f"{name} C <= {levels[k]:.3g}",
                        Streams(seed).child("allocation", study, i))
        later = [c for c in levels[k + 1:] if np.isfinite(observed[c])]
        N = optimum_6nd(fit, later)["N_opt"].values  # (draw, budget)
        logN = np.log10(N)
        lo, med, hi = np.quantile(logN, [0.05, 0.5, 0.95], axis=0)
        for j, c in enumerate(later):
            rows.append({"study": name, "fitted_to": float(levels[k]), "budget": float(c),
                         "decades": float(np.log10(c / levels[k])), "observed": observed[c],
                         "median": float(med[j]), "sd": float(logN[:, j].std()), "lower": float(lo[j]),
                         "upper": float(hi[j]), "error": float(observed[c] - med[j]),
                         "passed": bool(fit.diagnostics_passed)})
    return pd.DataFrame(rows)


def fit_error(rows: pd.DataFrame) -> dict[str, float]:
    """Maximum-likelihood ``a`` (log10 N* at the edge) and ``b`` (per decade) of the allocation error.

    Parameters
    ----------
    rows
        :func:`replay` rows (``error``, ``sd``, ``decades``).

    Returns
    -------
    dict
        ``a``, ``b`` (log10 units) and ``n`` (rows).
    """
    e, s, d = (rows[k].to_numpy(float) for k in ("error", "sd", "decades"))
    # each study counts once: a long sweep of small budgets would otherwise set the error of every study
    w = 1.0 / rows.groupby("study")["error"].transform("size").to_numpy(float)

    def nll(theta: np.ndarray) -> float:
        a, b = np.exp(theta)
        return -float((w * stats.norm.logpdf(e, 0.0, np.sqrt(s**2 + a**2 + (b * d) ** 2))).sum())

    best = optimize.minimize(nll, np.log([0.05, 0.05]), method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9})
    a, b = np.exp(best.x)
    return {"a": float(a), "b": float(b), "n": int(len(rows))}


def error_sd(err: dict[str, float], decades: Any) -> np.ndarray:
    """The allocation error's sd of log10 N* at ``decades`` beyond the fitted runs (0 inside).

    Parameters
    ----------
    err
        :func:`fit_error`'s ``a`` and ``b``.
    decades
        Decades of compute beyond the fitted runs' largest.

    Returns
    -------
    numpy.ndarray
        ``sqrt(a^2 + (b d)^2)`` where ``d > 0``, else 0.
    """
    d = np.asarray(decades, float)
    return np.where(d > 0, np.sqrt(err["a"] ** 2 + (err["b"] * d) ** 2), 0.0)


def coverage(rows: pd.DataFrame, err: dict[str, float] | None, prob: float = 0.9) -> float:
    """Share of observed optima inside the central ``prob`` band of the posterior's N* (normal on log10), with the
    allocation error ``err`` added or without it (None)."""
    z = stats.norm.ppf(0.5 + prob / 2)
    sd = rows["sd"].to_numpy(float)
    if err is not None:
        sd = np.sqrt(sd**2 + error_sd(err, rows["decades"]) ** 2)
    return float(np.mean(np.abs(rows["error"].to_numpy(float)) <= z * sd))


def leave_one_study_out(rows: pd.DataFrame) -> pd.DataFrame:
    """Each study's N* coverage (90%, 50%) without the allocation error and with one learned from the others.

    Parameters
    ----------
    rows
        Every study's :func:`replay` rows.

    Returns
    -------
    pandas.DataFrame
        Per study: ``n``, ``median_abs_error`` (log10), ``coverage90_without``, ``coverage90_with``,
        ``coverage50_without``, ``coverage50_with``, and the ``a``, ``b`` learned without it; a last row
        ``pooled`` over every held-out row.
    """
    out = []
    pooled = {"n": 0, "in90_without": 0, "in90_with": 0, "in50_without": 0, "in50_with": 0}
    for study, held in rows.groupby("study"):
        err = fit_error(rows[rows["study"] != study])
        out.append({"study": study, "n": len(held), "median_abs_error": float(held["error"].abs().median()),
                    "coverage90_without": coverage(held, None), "coverage90_with": coverage(held, err),
                    "coverage50_without": coverage(held, None, 0.5), "coverage50_with": coverage(held, err, 0.5),
                    "a": err["a"], "b": err["b"]})
        pooled["n"] += len(held)
        for p, tag in ((0.9, "90"), (0.5, "50")):
            pooled[f"in{tag}_without"] += coverage(held, None, p) * len(held)
            pooled[f"in{tag}_with"] += coverage(held, err, p) * len(held)
    n = pooled["n"]
    out.append({"study": "pooled", "n": n, "median_abs_error": float(rows["error"].abs().median()),
                "coverage90_without": pooled["in90_without"] / n, "coverage90_with": pooled["in90_with"] / n,
                "coverage50_without": pooled["in50_without"] / n, "coverage50_with": pooled["in50_with"] / n,
                "a": math.nan, "b": math.nan})
    return pd.DataFrame(out)


def run(out_dir: str | Path = "reports/calibration", *, seed: int = 0, model: str | Path | None = None,
        progress: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Every study's replay, the allocation error over all of them and its leave-one-study-out check.

    Parameters
    ----------
    out_dir
        Where ``allocation_replay.csv`` and ``allocation_loso.csv`` go.
    seed
        The replays' seed.
    model
        Where to write the learned error as JSON (``a``, ``b`` and how they were learned); None: not written.
    progress
        ``progress(message)`` per study.

    Returns
    -------
    tuple
        ``(rows, loso, err)``.
    """
    parts = []
    for name, df in sweeps().items():
        if progress:
            progress(f"replaying {name} ({len(df)} runs, {df['C'].nunique()} budget levels)")
        parts.append(replay(name, df, seed=seed))
    rows = pd.concat(parts, ignore_index=True)
    loso = leave_one_study_out(rows)
    err = fit_error(rows)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out / "allocation_replay.csv", index=False)
    loso.to_csv(out / "allocation_loso.csv", index=False)
    if model is not None:
        record = {**err, "units": "log10 N*", "form": "sd = sqrt(a^2 + (b d)^2), d decades of compute beyond "
                  "the fitted runs (0 inside)", "studies": list(STUDIES), "seed": seed,
                  "command": "python -m bayeslaw.validate.allocation", "data": str(SWEEPS.relative_to(DATA_DIR))}
        Path(model).write_text(json.dumps(record, indent=1) + "\n")
    return rows, loso, err


if __name__ == "__main__":
    rows, loso, err = run(model=Path(__file__).resolve().parents[2] / "models" / "allocation_error.json",
                          progress=print)
    print(loso.to_string(index=False))
    print(f"pooled: a {err['a']:.3f}, b {err['b']:.3f} (log10 N*), {err['n']} rows; 90% coverage "
          f"{coverage(rows, None):.2f} -> {coverage(rows, err):.2f}")
