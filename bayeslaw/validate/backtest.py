"""Leave-future-out backtests: fit on the small (or early, or high-loss) runs, score the rest.

Splits follow scaling-law practice: by compute (fit below a cutoff, predict above), by loss
threshold (the distillation paper's protocol: fit on high-loss runs, predict the low-loss ones),
by holding out the largest model(s), and rolling-origin over several compute cutoffs. On the
held-out runs a posterior is scored by the relative error of its median, the coverage of its
50% and 90% intervals for a new run, CRPS (ArviZ's estimator from predictive draws, in nats of
loss) and the log predictive density of the observed log loss; the point-fit baseline of
:mod:`bayeslaw.validate.pointfit` gets the same relative error and CRPS (of a point forecast: the
absolute error) on the same runs. The supervised model is compiled once and refitted per split
(nutpie's ``with_data``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from arviz_stats.base import array_stats
from scipy.special import logsumexp

from bayeslaw.core import extrapolation as law_error
from bayeslaw.core import laws
from bayeslaw.core.errors import DataError, InputError
from bayeslaw.core.extrapolation import within_bounds
from bayeslaw.core.intervals import ABOUT_STATED, coverage_if_right, tails
from bayeslaw.core.seeds import Streams
from bayeslaw.data import tables
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.data.registry import SHIPPED, shipped_form
from bayeslaw.data.splits import Split, parse, rolling
from bayeslaw.data.tables import validate_distillation, validate_supervised
from bayeslaw.inference.config import LAW_DEFAULTS, SamplerConfig, default_config
from bayeslaw.inference.fit import Table, check_extensions, shipped_joint
from bayeslaw.inference.refit import decades_beyond, fit_split, predictive
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.inference.student_error import HeldOutStudents, fit_student_error, held_out_students, learning_rows
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec, joint_preset
from bayeslaw.posterior.card import atomic_write
from bayeslaw.posterior.extrapolation import (
    LOG_CEILING,
    WITH_STUDENT_ERROR,
    new_study_prior,
    population_error,
    resolve_calibration,
)
from bayeslaw.posterior.likelihood import (
    log_density,
)
from bayeslaw.reporting.figures import backtest_plot, png
from bayeslaw.validate import pointfit

# -- scores ---------------------------------------------------------------------------------------

def crps(predictive: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """CRPS of each observed value under predictive draws (draw, run), lower is better (ArviZ's estimator)."""
    ary = np.asarray(predictive, float).T[:, None, :]  # (run, chain=1, draw)
    neg = array_stats.loo_score(ary, np.asarray(observed, float), np.zeros_like(ary), kind="crps")
    return -np.asarray(neg)


def score_runs(observed: np.ndarray, log_new: np.ndarray, loglik: np.ndarray) -> pd.DataFrame:
    """Per held-out run: relative error of the median, interval hits, CRPS and log predictive density.

    ``observed`` are losses (run,), ``log_new`` log losses of new-run predictive draws (draw, run),
    ``loglik`` the pointwise log-likelihood of the observed log loss per draw (draw, run).
    """
    new = np.exp(log_new)
    med = np.median(new, axis=0)
    out = {"observed": observed, "median": med, "rel_error": np.abs(med - observed) / observed}
    for p in (0.5, 0.9):
        lo, hi = np.quantile(new, [(1 - p) / 2, (1 + p) / 2], axis=0)
        out[f"in{round(p * 100)}"] = ((observed >= lo) & (observed <= hi)).astype(float)
    out["lower90"], out["upper90"] = lo, hi
    out["crps"] = crps(new, observed)
    out["lpd"] = logsumexp(loglik, axis=0) - np.log(loglik.shape[0])
    return pd.DataFrame(out)


def summarise(per_run: pd.DataFrame, reference: pd.DataFrame | None = None, *, seed: int = 0) -> pd.DataFrame:
    """Per split and method: mean relative error, coverage, mean CRPS, total log predictive density; with a
    ``reference`` (:func:`coverage_reference` rows keyed by split and method) the coverages a right predictive
    would see; and, beside a point fit, how often a bootstrap of the held-out runs keeps the median error at or
    below the point fit's (:func:`median_error_against_point`)."""
    g = per_run.groupby(["split", "method"], sort=False)
    out = g.agg(n_test=("observed", "size"), rel_error_median=("rel_error", "median"),
                rel_error_mean=("rel_error", "mean"), coverage50=("in50", "mean"), coverage90=("in90", "mean"),
                crps=("crps", "mean"), lpd=("lpd", lambda x: x.sum(min_count=1))).reset_index()
    if reference is not None and len(reference):
        out = out.merge(reference, on=["split", "method"], how="left")
    against = median_error_against_point(per_run, seed=seed)
    if against:
        out[ERROR_AGAINST_POINT] = [against.get((r.split, r.method), np.nan) for r in out.itertuples(index=False)]
    return out


def coverage_reference(log_new: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """One split's coverage against what it would be if its predictive were exactly right.

    Per level of :data:`bayeslaw.core.intervals.ABOUT_STATED`, from the new-run draws ``log_new`` (draw, run) and
    the observed losses: the 5% and 95% quantiles of :func:`bayeslaw.core.intervals.coverage_if_right`, a two-sided
    predictive p-value of the coverage seen, and the chance that a right predictive's coverage meets the target.

    Parameters
    ----------
    log_new
        Log-loss draws of a new run, (draw, run), one draw shared by all runs (what they share stays shared).
    observed
        The held-out runs' losses, (run,).

    Returns
    -------
    dict
        ``coverage{50,90}_if_right_5pct``, ``..._95pct``, ``coverage{50,90}_p_value``,
        ``coverage{50,90}_target_chance``.
    """
    new = np.exp(log_new)  # the loss scale, as score_runs reads the bands
    out = {}
    for prob, (low, high) in ABOUT_STATED.items():
        k = round(100 * prob)
        lo, hi = np.quantile(new, tails(prob), axis=0)
        seen = float(np.mean((observed >= lo) & (observed <= hi)))
        right = coverage_if_right(new, prob)
        tail = min(float(np.mean(right >= seen)), float(np.mean(right <= seen)))
        out |= {f"coverage{k}_if_right_5pct": float(np.quantile(right, 0.05)),
                f"coverage{k}_if_right_95pct": float(np.quantile(right, 0.95)),
                f"coverage{k}_p_value": min(1.0, 2 * tail),
                f"coverage{k}_target_chance": float(np.mean((right >= low) & (right <= high)))}
    return out


#: The point-fit baseline's method name in every backtest table.
POINT = "Huber + L-BFGS-B (point)"
#: The summary column of :func:`median_error_against_point`.
ERROR_AGAINST_POINT = "p_median_error_at_or_below_point"


def median_error_against_point(per_run: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0
                               ) -> dict[tuple[str, str], float]:
    """Per split and method, the share of bootstrap resamples of the held-out runs in which the method's median
    relative error is at or below the point fit's on the same runs.

    Runs are resampled by teacher where the table has one (``L_T``: a teacher's students share its luck), else one
    by one. How sure a split is of "at or below the point fit's": 0.5 is a coin flip.

    Parameters
    ----------
    per_run
        :func:`score_runs` rows of every method, with ``split`` and ``method``; a split's methods list its runs in
        the same order.
    n_boot
        Bootstrap resamples per split.
    seed
        Seeds the resampling.

    Returns
    -------
    dict
        ``{(split, method): share}`` for every method of a split that has a point fit.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for split, g in per_run.groupby("split", sort=False):
        point = g[g["method"] == POINT]
        if point.empty:
            continue
        by = point["L_T"].to_numpy() if "L_T" in g and point["L_T"].notna().all() else np.arange(len(point))
        _, cluster = np.unique(by, return_inverse=True)
        members = [np.flatnonzero(cluster == c) for c in range(cluster.max() + 1)]
        picks = [np.concatenate([members[c] for c in rng.integers(0, len(members), len(members))])
                 for _ in range(n_boot)]
        base = np.array([np.median(point["rel_error"].to_numpy()[i]) for i in picks])
        for method, m in g.groupby("method", sort=False):
            if method == POINT:
                continue
            if len(m) != len(point) or not np.array_equal(m["observed"].to_numpy(), point["observed"].to_numpy()):
                raise ValueError(f"split {split!r}: {method!r} and the point fit do not score the same runs")
            err = m["rel_error"].to_numpy()
            out[(split, method)] = float(np.mean(np.array([np.median(err[i]) for i in picks]) <= base))
    return out


# -- runners --------------------------------------------------------------------------------------

@dataclass
class Backtest:
    """Per-run scores and their summary, with the fits' diagnostics and refit times."""

    per_run: pd.DataFrame
    summary: pd.DataFrame
    fits: pd.DataFrame

    def to_xarray(self) -> xr.Dataset:
        return self.summary.set_index(["split", "method"]).to_xarray()


def _loglik(y: np.ndarray, pred: dict[str, np.ndarray], extra_sd: np.ndarray | float = 0.0) -> np.ndarray:
    """(draw, run) log density of observed log losses; ``extra_sd`` (draw, run) widens the noise.

    A Student-t run noise convolved with a normal extrapolation error is approximated by a
    Student-t whose scale adds the two in quadrature.
    """
    scale = np.sqrt(pred["sigma"][:, None] ** 2 + np.asarray(extra_sd) ** 2)
    nu = None if pred["nu"] is None else pred["nu"][:, None]
    return log_density(y, pred["log_mu"], scale, nu)


#: The law's error beyond the fitted runs, as a normal term with sd ``sqrt(a**2 + (tau d)**2)`` for a
#: run ``d > 0`` decades beyond them (0 inside): ``a`` is the step at the edge of the fitted range,
#: ``tau`` the growth per decade. Priors HalfNormal(0.01) and HalfNormal(0.02) (sd of log loss);
#: the grids on which their posterior is computed.
EDGE_PRIOR_SD, TAU_PRIOR_SD = 0.01, 0.02
EDGE_GRID = np.linspace(0.0, 0.03, 31)
TAU_GRID = np.linspace(0.0, 0.06, 31)
_CAL_DRAWS = 500  # predictive draws per inner split used for the grid likelihood


def extrapolation_sd(edge, tau, d) -> np.ndarray:
    """The extrapolation error's sd at ``d`` decades beyond the fitted runs (0 inside them):
    :func:`bayeslaw.core.extrapolation.error_sd` with growth ``tau``."""
    return law_error.error_sd(np.asarray(edge), np.asarray(tau), np.asarray(d, float))


def calibrate_extrapolation(train: pd.DataFrame, compiled, spec, sampler, *, seed: int = 0,
                            progress: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Posterior of the extrapolation error ``(edge, tau)`` from leave-future-out inside ``train``.

    The law's own error beyond the fitted runs is modelled as a normal term with sd
    :func:`extrapolation_sd`. One fit cannot inform it (every fitted run lies inside), so it is
    learned the way it is used: rolling-origin splits of the training runs alone (cutoffs at
    50/65/80% of their compute), each refitted, the held-out runs' predictive densities multiplied
    over a grid of ``(edge, tau)`` with the priors above. Nothing outside ``train`` is read.
    """
    say = progress or (lambda _m: None)
    streams = Streams(seed)
    E, T = np.meshgrid(EDGE_GRID, TAU_GRID, indexing="ij")
    logp = -0.5 * (E / EDGE_PRIOR_SD) ** 2 - 0.5 * (T / TAU_PRIOR_SD) ** 2
    try:
        inner = rolling(train)
    except DataError as err:
        raise DataError(f"too few training runs to calibrate the extrapolation error: {err}") from err
    n_used = 0
    for j, sp in enumerate(inner):
        tr, te = train[sp.train], train[sp.test]
        say(f"  calibrating extrapolation error: inner split {j + 1}/{len(inner)} ({len(tr)} fit, {len(te)} held out)")
        fit = fit_split(compiled, spec, sampler, tr, sp.label, streams.inner_split(j))
        pred = predictive(fit, te, streams.inner_split(j))
        keep = np.linspace(0, pred["log_mu"].shape[0] - 1, min(_CAL_DRAWS, pred["log_mu"].shape[0])).astype(int)
        pred = {k: None if v is None else v[keep] for k, v in pred.items()}
        d = decades_beyond(tr, te["N"].to_numpy(), te["D"].to_numpy())
        y = np.log(te["loss"].to_numpy())
        for idx in np.ndindex(E.shape):
            ll = _loglik(y, pred, extrapolation_sd(E[idx], T[idx], d)[None, :])
            logp[idx] += float(np.sum(np.logaddexp.reduce(ll, axis=0) - np.log(ll.shape[0])))
        n_used += len(te)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    return {"edge": E.ravel(), "tau": T.ravel(), "weights": w.ravel(), "edge_mean": float(np.sum(w * E)),
            "tau_mean": float(np.sum(w * T)), "n_heldout": n_used}


def backtest_supervised(table: pd.DataFrame, splits: list[Split], *, gamma_free: bool = False,
                        likelihood: str = "student_t", sampler=None, seed: int = 0,
                        baseline: bool = True, baseline_starts: int | None = 300,
                        extrapolation_error: bool = False, calibration=None,
                        progress: Callable[[str], None] | None = None) -> Backtest:
    """Fit the supervised law on each split's training runs (compiled once) and score the held-out ones.

    The baseline starts from every k-th point of Epoch's grid so that ``baseline_starts`` remain
    (default 300; None: all 4500): on Chinchilla the optimum agrees with the full grid's to 1e-6.
    With ``extrapolation_error`` each split also scores the law plus an extrapolation error whose
    size per decade is calibrated on that split's training runs alone
    (:func:`calibrate_extrapolation`), as the method ``bayeslaw + extrapolation error``. With a
    ``calibration`` (:func:`bayeslaw.posterior.extrapolation.load_calibration`) each split also scores the law
    plus the population's extrapolation error, as ``bayeslaw + population discrepancy``.
    """
    say = progress or (lambda _m: None)
    streams = Streams(seed)
    df = validate_supervised(table)
    sampler = sampler or SamplerConfig()
    spec = SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood)
    compiled = CompiledSampler(build_supervised(spec, df), sampler)
    starts = pointfit.epoch_grid()
    if baseline_starts:
        starts = starts[:: max(1, len(starts) // baseline_starts)]
    rows, fits, refs = [], [], []
    for i, sp in enumerate(splits):
        say(f"split {i + 1}/{len(splits)}: {sp.label} ({int(sp.train.sum())} fit, {int(sp.test.sum())} held out)")
        tr, te = df[sp.train], df[sp.test]
        t0 = time.perf_counter()
        fit = fit_split(compiled, spec, sampler, tr, sp.label, streams.split(i))
        wall = time.perf_counter() - t0
        diag = fit.card["diagnostics"]
        pred = predictive(fit, te, streams.split(i))
        obs = te["loss"].to_numpy()
        extra = {"N": te["N"].to_numpy(), "D": te["D"].to_numpy()}
        r = score_runs(obs, pred["log_mu"] + pred["eps"], _loglik(np.log(obs), pred))
        rows.append(r.assign(**extra, split=sp.label, method="bayeslaw"))
        refs.append(_reference(pred["log_mu"] + pred["eps"], obs, sp.label, "bayeslaw"))
        record = {"split": sp.label, "n_train": len(tr), "n_test": len(te), "refit_seconds": wall,
                  "diagnostics_passed": diag["passed"], "failures": "; ".join(diag["failures"]),
                  "attempts": len(fit.card.get("attempts", [])), "draws": fit.card["sampler"]["draws"]}
        if calibration is not None:
            rng = np.random.default_rng(streams.child("population_error", i))
            d = decades_beyond(tr, extra["N"], extra["D"])
            mean, sd = population_error(calibration, d, pred["log_mu"].shape[0], rng)
            log_new = pred["log_mu"] + pred["eps"] + mean + sd * rng.standard_normal(sd.shape)
            r = score_runs(obs, log_new, _loglik(np.log(obs), pred | {"log_mu": pred["log_mu"] + mean}, sd))
            rows.append(r.assign(**extra, split=sp.label, method="bayeslaw + population discrepancy"))
            refs.append(_reference(log_new, obs, sp.label, "bayeslaw + population discrepancy"))
        if extrapolation_error:
            cal = calibrate_extrapolation(tr, compiled, spec, sampler, seed=streams.split(i), progress=say)
            rng = np.random.default_rng(streams.extrapolation(i))
            pick = rng.choice(cal["weights"].size, size=pred["log_mu"].shape[0], p=cal["weights"])
            d = decades_beyond(tr, extra["N"], extra["D"])
            sd = extrapolation_sd(cal["edge"][pick][:, None], cal["tau"][pick][:, None], d[None, :])
            log_new = pred["log_mu"] + pred["eps"] + sd * rng.standard_normal(sd.shape)
            r = score_runs(obs, log_new, _loglik(np.log(obs), pred, sd))
            rows.append(r.assign(**extra, split=sp.label, method="bayeslaw + extrapolation error"))
            refs.append(_reference(log_new, obs, sp.label, "bayeslaw + extrapolation error"))
            record["extrapolation_edge"], record["extrapolation_per_decade"] = cal["edge_mean"], cal["tau_mean"]
        fits.append(record)
        if baseline:
            pt = pointfit.fit_supervised(tr["N"], tr["D"], tr["loss"], starts=starts, tight=False)
            pred_pt = np.exp(pt.log_loss(te["N"], te["D"]))
            rows.append(_point_rows(obs, pred_pt, sp.label, extra))
    per_run = pd.concat(rows, ignore_index=True)
    return Backtest(per_run=per_run, summary=summarise(per_run, pd.DataFrame(refs), seed=streams.child("bootstrap")),
                    fits=pd.DataFrame(fits))


def _reference(log_new: np.ndarray, observed: np.ndarray, split: str, method: str) -> dict[str, Any]:
    return {"split": split, "method": method} | coverage_reference(log_new, observed)


def _point_rows(obs: np.ndarray, pred: np.ndarray, label: str, extra: dict) -> pd.DataFrame:
    return pd.DataFrame({"observed": obs, "median": pred, "rel_error": np.abs(pred - obs) / obs, "in50": np.nan,
                         "in90": np.nan, "lower90": np.nan, "upper90": np.nan, "crps": np.abs(pred - obs),
                         "lpd": np.nan, **extra, "split": label,
                         "method": POINT})


def _student_error_sd(h: HeldOutStudents, rows: np.ndarray, learn: np.ndarray, calibration, seed: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, str, bool]:
    """Draws ``(run, KEEP)`` of the distillation law's error sd at the held-out students ``rows``: learned from the
    students ``learn`` (earlier splits' held-out students that this split does not predict), or, with none of them
    beyond their fitted students, a new study of the supervised population; where it came from, and whether it
    was learned."""
    te = h.runs[rows]
    n = h.log_new.shape[1]
    try:
        err = fit_student_error(h, learn, calibration, seed=seed, source="backtest")
        post = err.draws(["edge", "growth"])
        pick = rng.integers(0, post["edge"].size, n)
        edge, growth = post["edge"][pick], post["growth"][pick]
        how, learned = f"{int(learn.sum())} earlier held-out students", True
    except DataError:
        prior = new_study_prior(calibration)
        edge = np.exp(prior["log_edge"][0] + prior["log_edge"][1] * rng.standard_normal(n))
        growth = np.exp(prior["log_growth"][0] + prior["log_growth"][1] * rng.standard_normal(n))
        how, learned = "the supervised population (no earlier split that passed its gates)", False
    d, out = te["decades"].to_numpy(), te["outside"].to_numpy()
    return law_error.error_sd(edge[None, :], growth[None, :], d[:, None], outside=out[:, None]), how, learned


def table6_supervised() -> pointfit.SupervisedPoint:
    """The paper's supervised law (Table 6) as a point value: the baseline's L~_S without supervised runs."""
    sup, _ = paper_coefficients()
    return pointfit.SupervisedPoint(**{k: float(sup[k]) for k in ("E", "A", "B", "alpha", "beta", "gamma")})


def backtest_distillation(table: pd.DataFrame, supervised: pd.DataFrame | None = None, *,
                          thresholds: Sequence[float] = (2.45, 2.40), supervised_threshold: float = 2.2,
                          preset: str | None = None, teacher_noise: float | None = None,
                          supervised_scale: float | None = None, supervised_cut: bool | None = None,
                          learn_teacher_noise: bool = False, teacher_effect: bool = False, size_effect: bool = False,
                          weak_teacher: bool = False, noise_by_size: bool = False, token_tilt: bool = False,
                          likelihood: str = "student_t", sampler=None, seed: int = 0,
                          baseline: bool = True, baseline_starts: int = 256,
                          progress: Callable[[str], None] | None = None) -> Backtest:
    """The paper's protocol, once per threshold: fit the joint model on the students with
    L_S >= threshold (and the supervised runs with L >= ``supervised_threshold``, if any), predict
    the other students.

    A held-out student's teacher is the fitted latent teacher when the teacher also taught a
    training student, else its measured loss with the model's measurement noise. Without
    supervised runs the supervised law comes from the busbridge2025 preset, and the baseline's
    from Table 6's values (the nine distillation coefficients free, as public reimplementations
    fit it), started from ``baseline_starts`` points of the paper's grid with its Huber delta.
    A fit that fails its gates is retried once along the joint law's escalation ladder.
    """
    say = progress or (lambda _m: None)
    streams = Streams(seed)
    dis = validate_distillation(table)
    sup = None if supervised is None else validate_supervised(supervised)
    if "L_T" not in dis or dis["L_T"].isna().any():
        raise DataError("the distillation backtest predicts students from their teachers' measured loss: "
                        "every row needs L_T")
    if not len(thresholds):
        raise DataError("give at least one student threshold (fit the students with L_S at or above it)")
    sup_train = None
    if sup is not None:
        sup_train = sup[sup["loss"].to_numpy() >= supervised_threshold].reset_index(drop=True)
        if len(sup_train) < 8:
            raise DataError(f"only {len(sup_train)} supervised runs have loss >= {supervised_threshold}; need >= 8")
    suffix = "" if sup_train is None else f", L >= {supervised_threshold:g}"
    thresholds = sorted((float(t) for t in thresholds), reverse=True)
    config = sampler or default_config("distillation")
    h = held_out_students(dis, thresholds, supervised=sup_train, seed=seed, sampler=config, progress=say,
                          preset=preset, teacher_noise=teacher_noise, supervised_scale=supervised_scale,
                          supervised_cut=supervised_cut, learn_teacher_noise=learn_teacher_noise,
                          teacher_effect=teacher_effect, size_effect=size_effect, weak_teacher=weak_teacher,
                          noise_by_size=noise_by_size, token_tilt=token_tilt, likelihood=likelihood)
    calibration = resolve_calibration(True)
    rows, fits, refs = [], [], []
    for i, th in enumerate(thresholds):
        label = f"L_S >= {th:g}" + suffix
        m = (h.runs["threshold"] == th).to_numpy()
        te = h.runs[m]
        obs = te["observed"].to_numpy()
        extra = {"N": te["N_S"].to_numpy(), "D": te["D_S"].to_numpy(), "L_T": te["L_T"].to_numpy()}
        noise = {"sigma": h.noise["sigma"][m].T, "nu": None if h.noise["nu"] is None else h.noise["nu"][m].T}
        ll = log_density(np.log(obs), h.log_mu[m].T, noise["sigma"], noise["nu"])
        rows.append(score_runs(obs, h.log_new[m].T, ll).assign(**extra, split=label, method="bayeslaw"))
        refs.append(_reference(h.log_new[m].T, obs, label, "bayeslaw"))
        fits.append(h.fits[i] | {"split": label})
        if calibration is not None:
            # the distillation law's error learned from the splits before this one, on students it does not predict
            # (a student at or above th was first held out by a split with a higher threshold)
            learn = learning_rows(h, above=th)
            rng = np.random.default_rng(streams.child("population_error", i))
            sd, how, learned = _student_error_sd(h, m, learn, calibration, streams.child("leave_one_out", i), rng)
            shift = sd * rng.standard_normal(sd.shape)
            log_new = within_bounds(h.log_new[m], shift, h.log_E[m], LOG_CEILING).T
            ll = log_density(np.log(obs), h.log_mu[m].T, np.sqrt(noise["sigma"] ** 2 + sd.T ** 2), noise["nu"])
            method = WITH_STUDENT_ERROR if learned else "bayeslaw + population error (no earlier split)"
            rows.append(score_runs(obs, log_new, ll).assign(**extra, split=label, method=method))
            refs.append(_reference(log_new, obs, label, method))
            fits[-1]["distillation_error_from"] = how
        if baseline:
            fitted = dis[dis["L_S"].to_numpy() >= th].reset_index(drop=True)
            held = dis.loc[te["student"].to_numpy()].reset_index(drop=True)
            say("baseline: Huber + L-BFGS-B from the paper's grid"
                + (" (supervised law: Table 6)" if sup_train is None else " (supervised, then distillation)"))
            pt = (table6_supervised() if sup_train is None else
                  pointfit.fit_supervised(sup_train["N"], sup_train["D"], sup_train["loss"],
                                          starts=pointfit.epoch_grid()[::15], tight=False))
            dc = pointfit.fit_distillation(fitted["N_S"], fitted["D_S"], fitted["L_T"], fitted["L_S"], pt,
                                           starts=pointfit.paper_distillation_grid(baseline_starts),
                                           delta=pointfit.PAPER_HUBER_DELTA)
            tilde = np.exp(pt.log_loss(held["N_S"], held["D_S"]))
            pred = laws.distillation_loss(held["N_S"].to_numpy(), held["D_S"].to_numpy(), held["L_T"].to_numpy(),
                                          tilde, **dc)
            rows.append(_point_rows(obs, pred, label, extra))
    per_run = pd.concat(rows, ignore_index=True)
    return Backtest(per_run=per_run, summary=summarise(per_run, pd.DataFrame(refs), seed=streams.child("bootstrap")),
                    fits=pd.DataFrame(fits))


def write(bt: Backtest, out_dir, stem: str) -> dict[str, str]:
    """The per-run scores, the summary (CSV) and the plot (PNG), each written atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"per_run": out_dir / f"{stem}_runs.csv", "summary": out_dir / f"{stem}_summary.csv",
             "fits": out_dir / f"{stem}_fits.csv", "plot": out_dir / f"{stem}.png"}
    payload = {"per_run": bt.per_run.to_csv(index=False).encode(), "summary": bt.summary.to_csv(index=False).encode(),
               "fits": bt.fits.to_csv(index=False).encode(), "plot": png(backtest_plot(bt.per_run, bt.summary))}
    for k, path in paths.items():
        atomic_write(path, lambda tmp, data=payload[k]: Path(tmp).write_bytes(data))
    return {k: str(v) for k, v in paths.items()}


def backtest(data: Table, *, law: str = "supervised", supervised: Table | None = None,
             splits: Sequence[str] = ("rolling",), student_threshold: float | Sequence[float] = (2.45, 2.40),
             supervised_threshold: float = 2.2, preset: str | None = None, teacher_noise: float | None = None,
             size_effect: bool = False, weak_teacher: bool | None = None, noise_by_size: bool = False,
             token_tilt: bool = False, gamma_free: bool = False, likelihood: str | None = None,
             include_outliers: bool = False, sampler: SamplerConfig | None = None, seed: int = 0,
             baseline: bool = True, extrapolation_error: bool = False, out_dir: str | Path | None = None,
             stem: str | None = None, progress: Any = None, allow_duplicates: bool = False,
             losses_in_nats: bool = False, columns: Mapping[str, str] | None = None
             ) -> tuple[Backtest, dict[str, str]]:
    """Leave-future-out backtests (the splits, scores and baselines of this module), written to ``out_dir``.

    Parameters
    ----------
    data
        A run table or a shipped table's name.
    law
        ``"supervised"`` or ``"distillation"`` (the paper's protocol).
    supervised
        Distillation only: the supervised runs (optional, as in :func:`fit`).
    splits
        Supervised: ``compute:C``, ``loss:L``, ``ratio:R``, ``largest:K`` or ``rolling[:C1,...]``.
    student_threshold, supervised_threshold
        Distillation: one split per student threshold (fit students with ``L_S`` at or above it,
        predict the rest); supervised runs are fitted when their loss is at or above the other.
    preset, teacher_noise, size_effect, weak_teacher, noise_by_size, token_tilt
        Distillation: as in :func:`fit`.
    gamma_free, likelihood, include_outliers, sampler, seed
        As in :func:`fit`.
    baseline
        Also score the Huber + L-BFGS-B point fit.
    extrapolation_error
        Also score the law plus an in-sample-calibrated extrapolation error.
    out_dir, stem
        Where the tables and the plot go (nothing is written when ``out_dir`` is None).
    progress
        ``progress(message)`` per split.
    allow_duplicates, losses_in_nats
        Override the data checks, as in :func:`fit`.
    columns
        Supervised: mapping from canonical names to the table's (as in :func:`fit`).

    Returns
    -------
    tuple
        ``(backtest, paths)``: per-run scores, their summary per split and method, the fits'
        diagnostics, and the written paths by kind.
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be 'supervised' or 'distillation', got {law!r}")
    if teacher_noise is not None and (law != "distillation" or not teacher_noise > 0):
        raise InputError("--teacher-noise is the sd of a teacher's measured log loss: distillation backtests only, "
                         f"and positive (got {teacher_noise!r} with --law {law})")
    check_extensions(law, size_effect, bool(weak_teacher), noise_by_size, token_tilt)
    sampler = sampler or default_config(law)
    checks = {"allow_duplicates": allow_duplicates, "losses_in_nats": losses_in_nats}
    if law == "distillation":
        table, _, _ = tables.resolve(data, include_outliers, law="distillation")
        shipped = SHIPPED.get(data) if isinstance(data, str) else None
        teacher_noise, supervised_scale, _ = shipped_joint(shipped, supervised, teacher_noise, None)
        weak_teacher, likelihood = shipped_form(shipped, weak_teacher, likelihood)
        preset = joint_preset(preset, supervised)
        dis = tables.validate_distillation(table, **checks)
        sup = None if supervised is None else tables.validate_supervised(supervised, **checks)
        thresholds = tuple(float(t) for t in np.atleast_1d(student_threshold))
        for th in thresholds:
            n_fit = int((dis["L_S"] >= th).sum())
            if n_fit < 15 or n_fit == len(dis):
                raise InputError(f"--student-threshold {th:g} keeps {n_fit} of {len(dis)} students to fit on; "
                                 "choose one that leaves at least 15 to fit and one to predict "
                                 f"(L_S spans {dis['L_S'].min():.4g}-{dis['L_S'].max():.4g})")
    else:
        likelihood = likelihood or "student_t"
        table, source, _ = tables.resolve(data, include_outliers)
        if source is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns maps the columns "
                             "of your own files")
        df = tables.validate_supervised(table, columns, **checks)
    if law == "distillation":
        result = backtest_distillation(dis, sup, thresholds=thresholds, supervised_threshold=supervised_threshold,
                                          preset=preset, teacher_noise=teacher_noise,
                                          supervised_scale=supervised_scale, size_effect=size_effect,
                                          weak_teacher=weak_teacher, noise_by_size=noise_by_size,
                                          token_tilt=token_tilt,
                                          likelihood=likelihood, sampler=sampler, seed=seed,
                                          baseline=baseline, progress=progress)
    else:
        parsed = [s for spec in splits for s in parse(spec, df)]
        result = backtest_supervised(df, parsed, gamma_free=gamma_free, likelihood=likelihood, sampler=sampler,
                                        seed=seed, baseline=baseline, extrapolation_error=extrapolation_error,
                                        calibration=resolve_calibration(True), progress=progress)
    paths = {}
    if out_dir is not None:
        name = stem or f"backtest_{law}_{Path(str(data)).stem}"
        paths = write(result, out_dir, name)
    return result, paths
