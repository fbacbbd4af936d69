"""A budget question for a supervised posterior alone: what loss a budget buys, and with what certainty.

Most users have supervised runs only (e.g. the shipped Chinchilla posterior). For them a risk report
answers: the compute-optimal model N*, D* and its loss L* at each budget with bands, the probability
of reaching a target loss, the compute needed to be 90% sure of it, how far each answer extrapolates,
the fit's diagnostics and provenance. FLOPs are 3 F(N) D, as everywhere in bayeslaw.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw import decide
from bayeslaw.core import bounds
from bayeslaw.core.fmt import sci, share
from bayeslaw.core.intervals import as_dict, levels
from bayeslaw.core.seeds import Streams
from bayeslaw.decision.caveats import (
    Caveat,
    check_above_floor,
    data_caveat,
    failed_gates,
    reach_caveat,
    reach_row,
)
from bayeslaw.decision.pilot import MIN_DRAWS as PILOT_MIN_DRAWS
from bayeslaw.decision.pilot import pilot
from bayeslaw.decision.pipeline import subsample
from bayeslaw.decision.provenance import provenance
from bayeslaw.decision.question import Question
from bayeslaw.planning.optima import supervised_optimum, supervised_student
from bayeslaw.posterior import reach
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.diagnostics import Diagnosis, Gates, diagnose
from bayeslaw.posterior.extrapolation import (
    ALLOCATED,
    add_to_log_new,
    allocated_optimum,
    decades_beyond,
    load_allocation,
    new_run,
    ratio_decades,
    resolve_drift,
)
from bayeslaw.posterior.likelihood import noise_draws, observed_terms, term_noise
from bayeslaw.posterior.point import POINT_NOTE


@dataclass
class SupervisedAnalysis:
    question: Question
    card: dict[str, Any]
    diagnosis: Diagnosis
    optimum: xr.Dataset  # (draw, budget): N, D, L of the compute-optimal model
    sweep: xr.DataArray  # (draw, budget): L* over a wide budget sweep, for the compute to reach the target
    metrics: xr.Dataset  # (budget,): decide.summary_table of L*
    compute_for_target: float | None
    fixed: xr.DataArray | None  # (draw, budget): the question's model size trained on each budget, if given
    reach: list[dict[str, Any]]
    ppc: dict[str, tuple[np.ndarray, np.ndarray]]
    warnings: list[Caveat] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    extrapolation: str = ""
    #: what would settle each budget's decision: :meth:`bayeslaw.decision.pilot.Pilot.records`
    settle: dict[str, Any] | None = None
    #: why no budget makes the target 90% sure (P(target) levels off), where that is so
    target_note: str | None = None


def analyse_supervised(fit: Fit, question: Question, *, max_draws: int = 1000, seed: int = 0,
                       posterior_path: str | None = None, gates: Gates | None = None,
                       progress=None, calibration: Fit | None = None) -> SupervisedAnalysis:
    """Answer ``question`` (budgets, target, band; a model size optional) from a supervised posterior.

    P(target) and the compute to be 90% sure of it are about the run one would train: the law, the run
    noise and, with a ``calibration``, the law's extrapolation error beyond the fitted runs."""
    say = progress or (lambda _m: None)
    q = question
    fit.require("supervised", verb="a supervised report")
    q.check()
    if q.target is not None:
        check_above_floor(fit, q.target, "target loss")
    law, idx = subsample(fit, max_draws, seed)
    say("diagnostics: r_hat, ESS, divergences, tree depth, E-BFMI, PSIS-LOO, predictive coverage")
    diagnosis = diagnose(fit, gates)
    C = np.asarray(q.budgets, float)
    say(f"compute-optimal models at {C.size} budget(s) over {law.n_draws} draws")
    T = q.inference_tokens  # lifetime budgets pay this serving first (docs/serving.md)
    o = supervised_optimum(law, C, serving_tokens=T)
    alloc = load_allocation() if calibration is not None else None
    if alloc is not None:  # N* and D* beyond the fitted runs carry the compute-optimal size's own error
        o["N"], o["D"], _ = allocated_optimum(fit, o["N"], C, alloc,
                                              np.random.default_rng(Streams(seed).child("allocation_draws", 0)),
                                              serving_tokens=T)
    point = fit.is_point  # a published law: no fitted runs, nothing sampled (bayeslaw.posterior.point)
    scale = None if point else reach.fitted_scale(fit)
    rng = np.random.default_rng(Streams(seed).predictive)

    def run_you_get(L: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
        """The run you would get: the law, the run noise and, beyond the fitted runs, the law's own error."""
        noise = noise_draws(fit, L.shape, rng, draws=idx)
        if calibration is None:  # no run worse than a uniform guess, however heavy the noise's tails
            return np.exp(new_run(np.log(L), noise))
        N, D = np.median(N, axis=0), np.median(D, axis=0)
        return np.exp(add_to_log_new(np.log(L) + noise, 0.0, decades_beyond(scale, N, D), calibration, rng,
                                     ratio=ratio_decades(scale, N, D), drift=resolve_drift(calibration)))

    optimum = xr.Dataset({k: (("draw", "budget"), o[k]) for k in ("N", "D", "L")}, coords={"budget": C})
    optimum["L_new"] = (("draw", "budget"), run_you_get(o["L"], o["N"], o["D"]))
    sweep_C = np.geomspace(max(C.min() / bounds.SWEEP_HEADROOM, bounds.optimum_budget_range()[0]),
                           C.max() * bounds.SWEEP_HEADROOM, 49)
    with np.errstate(invalid="ignore"):  # a sweep budget that serving takes whole has no model: NaN
        so = supervised_optimum(law, sweep_C, serving_tokens=T)
    sweep = xr.DataArray(run_you_get(so["L"], so["N"], so["D"]), dims=("draw", "budget"), coords={"budget": sweep_C})
    sweep = sweep.dropna("budget", how="all")  # budgets that serving takes whole buy no model
    # P(target) and the compute to be 90% sure of it are about the run you would train
    metrics = decide.summary_table(optimum["L_new"], target=q.target, prob=q.prob)
    cft, target_note = None, None
    if q.target is not None:
        cft = float(decide.compute_for_target(sweep, q.target, prob=0.9))
        if not np.isfinite(cft) and not point:
            target_note = _why_not_sure(sweep, so, q.target, scale, calibration)
    fixed = None
    if q.student_size is not None:
        train = np.maximum(C - q.serving_flops(q.student_size), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fixed = xr.DataArray(supervised_student(law, np.array([q.student_size]), train)[:, 0, :],
                                 dims=("draw", "budget"), coords={"budget": C})
    rows, notes = [], []
    for j, c in enumerate([] if point else C):
        N, D = float(np.median(o["N"][:, j])), float(np.median(o["D"][:, j]))
        r = reach.reach(scale, N, D)
        rows.append(reach_row(f"compute-optimal model at {sci(c)} FLOPs (median)", N, D, r))
        if d := reach.describe_reach(rows[-1]["prediction"], r):
            notes.append(d)
    found = [None if diagnosis.passed else failed_gates(diagnosis.failures), reach_caveat(reach.warning(notes)),
             data_caveat(fit)]
    warns = [c for c in found if c is not None]
    rng = np.random.default_rng(Streams(seed).diagnostics)
    ppc, prov = {}, provenance(fit, seed=seed, max_draws=law.n_draws, path=posterior_path)
    if not point:
        (_, mu, obs, sigma), = observed_terms(fit)
        ppc = {"supervised runs": (obs, mu + term_noise(fit, sigma, rng))}
        prov.update(fitted_size=scale.size, fitted_compute=scale.compute, fitted_ratio=scale.ratio)
    extrap = ("new runs beyond the fitted runs carry the law's extrapolation error learned from public studies "
              "(models/extrapolation_calibration.nc)" if calibration is not None else
              f"not included: {POINT_NOTE}" if point else
              "not included: no extrapolation calibration (`bayeslaw calibrate` builds it)")
    if alloc is not None:
        extrap += "; " + ALLOCATED
    settle = None  # a point law has no uncertainty for a pilot to reduce
    if not point:
        say("what would settle it: the value of pilot runs for each budget's decision")
        settle = pilot(fit, replace(q, student_size=None), max_draws=max(law.n_draws, PILOT_MIN_DRAWS), seed=seed,
                       extrapolation=calibration if calibration is not None else False).records()
    return SupervisedAnalysis(question=q, card=fit.card, diagnosis=diagnosis, optimum=optimum, sweep=sweep,
                              metrics=metrics, compute_for_target=cft, fixed=fixed, reach=rows, ppc=ppc,
                              warnings=warns, provenance=prov, extrapolation=extrap, settle=settle,
                              target_note=target_note)


def _why_not_sure(sweep: xr.DataArray, optimum: dict[str, np.ndarray], target: float, scale,
                  calibration: Fit | None) -> str:
    """Why P(a run reaches the target) stays below 90% up to 100x the largest budget: the law's extrapolation
    error grows with every decade beyond the fitted runs, about as fast as the law's loss falls there, and past the
    decades the public studies measured it is itself extrapolated."""
    p = decide.prob_below(sweep, target).values  # P(target) as the report's table reads it
    top = float(p[-1])
    d = float(np.ravel(decades_beyond(scale, np.median(optimum["N"][:, -1]), np.median(optimum["D"][:, -1])))[0])
    text = (f"P(a run reaches {target:g}) rises to {share(top, sweep.sizes['draw'])} at "
            f"{sci(float(sweep['budget'][-1]))} FLOPs, where the compute-optimal run lies {d:.1f} decades beyond the "
            f"fitted runs")
    if calibration is None:
        return text + ": the law's spread alone."
    measured = float(np.max(calibration.idata["observed_data"]["decades"].values))
    return (text + f"; there the law's extrapolation error, growing with every decade beyond the runs, widens the "
            f"run's band about as fast as the law's loss falls, so the probability rises slowly and levels off short "
            f"of 90%. "
            f"The public studies measured that error up to {measured:.1f} decades beyond their fits"
            + (": past that it is itself extrapolated." if d > measured else "."))


def records(a: SupervisedAnalysis) -> dict[str, Any]:
    """The supervised report's numbers as plain data (its --json result)."""
    qs = levels(a.question.prob)
    rows = []
    for c in a.question.budgets:
        x = a.optimum.sel(budget=c)
        rec: dict[str, Any] = {"budget": float(c)}
        for k, name in (("N", "N_opt"), ("D", "D_opt"), ("L", "L_opt"), ("L_new", "L_run")):
            rec[name] = as_dict(np.quantile(x[k].values, qs))
        if "p_target" in a.metrics:
            rec["p_target"] = float(a.metrics["p_target"].sel(budget=c))
        if a.fixed is not None:
            rec["fixed_size_loss"] = as_dict(np.nanquantile(a.fixed.sel(budget=c).values, qs))
        rows.append(rec)
    return {"diagnostics_passed": a.diagnosis.passed, "budgets": rows, "extrapolation": a.extrapolation,
            "compute_for_target": a.compute_for_target, "target": a.question.target, "settle": a.settle,
            "target_note": a.target_note}
