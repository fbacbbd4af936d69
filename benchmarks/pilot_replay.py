"""Replay: which pilot runs to buy, by each policy, on real sweeps; the decision and the predictions they lead to.

Run: ``.venv/bin/python benchmarks/pilot_replay.py`` (``--quick``: one seed, one spend, two studies).

For each public study (Chinchilla, Marin's comma and dclm ladders, (Mis)Fitting):

- the **largest runs** (the top tenth by compute, at least 3) are held out: the scale a decision is about;
- the **start** is the cheapest tenth of the rest (at least 8 runs): what a team has before buying pilots;
- the **pool** is everything else; each policy buys runs from it until it has spent 1%, 5% or 10% of the pool's
  cost (FLOPs 3 F(N) D), starting from the posterior fitted to the start, then the law is refitted on the start
  and the runs bought (NUTS at the law's default settings with its escalation ladder, compiled once per study;
  whether each kept fit passed its gates is in the results, ``passed``);
- the **decision**: which of 13 model sizes to train on the largest held-out run's budget (sizes spanning the N*
  bands of the posterior fitted to the start and of the one fitted to every run); its reference is that
  all-runs posterior's choice. Scored: the
  regret of the choice under the all-runs posterior (nats; 0 = its choice) and whether it is "right" (a regret
  under 0.01 nats, the practical margin); and the prediction of the held-out largest runs (90% band
  coverage, median absolute error) from the refit, with the law's extrapolation error.

Policies (each picks greedily from the posterior fitted to the start, within the spend):

- ``evsi``: bayeslaw's (:func:`bayeslaw.decision.value.buy_greedily`); the run that adds the most expected value of
  sample information to the decision per FLOP (the law's extrapolation error included), stopping when no run adds
  value beyond its Monte Carlo error or when the importance weights can no longer value a larger set (more than
  10% of its outcomes on fewer than 50 draws: a collapsed update looks like perfect information);
- ``mspe``: Li et al. 2026 ("Spend Less, Fit Better") as that paper describes it, written here from that
  description: the expected mean squared prediction error over the target region (the held-out runs' (N, D))
  once a candidate's outcome is added, from the current fit's parameter uncertainty (the same preposterior
  simulation, the law alone), its reduction per unit of cost; the same guard on the weights (a collapsed update
  has no variance left);
- ``v_optimal``: least average predictive variance over the target region, the classic linear-Gaussian design
  (the draws' covariance of the law's predictions, conditioned on each run in turn), not per cost;
- ``cheapest``: cheapest first; ``random``: a random order (seeded);
- named only (``--policies evsi_refit mspe_refit``): EVSI or MSPE bought on with refits on the runs' real losses
  whenever the draws cannot value more (:func:`sequential`);
- named only (``--policies evsi_shared evsi_shared_refit``): EVSI valued as if the runs of one decade of compute
  shared a misfit of the law (sd: each draw's error at the edge of the fitted runs) that the decision does not
  meet (:class:`bayeslaw.decision.value.SharedMisfitSets`): a test of whether many cheap runs mislead the EVSI
  policy because it counts them as independent evidence about the law.

The paper's digitized students (``--distillation-seeds``, default 2): which teacher loss for the largest held-out
student, with joint refits (16 per seed; one seed took more than 20 minutes on 2 cores shared with another job).

Targets (issue 28): at 5% of the pool's cost the EVSI policy's decision is right at least as often as every
baseline's, and its regret is lower than MSPE's on most studies. Results: ``benchmarks/results/pilot_replay.*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from bayeslaw.core import compute
from bayeslaw.core.errors import DiagnosticsWarning
from bayeslaw.core.seeds import Streams
from bayeslaw.data.tables import load_shipped, validate_distillation, validate_supervised
from bayeslaw.decision import value as voi
from bayeslaw.decision.pilot import (
    Candidate,
    _coefs,
    _noise,
    predicted_runs,
    shared_misfit,
    study_allocation,
    supervised_options,
)
from bayeslaw.decision.pipeline import decision_draws
from bayeslaw.inference.config import SamplerConfig, default_config
from bayeslaw.inference.refit import fit_split
from bayeslaw.inference.sampler import CompiledSampler
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec
from bayeslaw.planning.optima import supervised_optimum
from bayeslaw.posterior import extrapolation as ex
from bayeslaw.posterior.predict import predict_supervised

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STUDIES = ("chinchilla", "marin_comma", "marin_dclm", "misfitting")
POLICIES = ("evsi", "mspe", "v_optimal", "cheapest", "random")
#: Run only when named (``--policies evsi_refit mspe_refit``): with refits on the real outcomes (:func:`sequential`).
SEQUENTIAL = ("evsi_refit", "mspe_refit", "evsi_shared_refit")
#: Run only when named: EVSI with the runs of one decade of compute sharing a misfit (``evsi_shared``, batch).
VARIANTS = ("evsi_shared",)
#: The most refits one sequential replay makes.
ROUNDS = 30
SPENDS = (0.01, 0.05, 0.10)
RIGHT = 0.01  # nats: the practical margin (bayeslaw.core.bounds.PRACTICAL_MARGIN)
DRAWS = 400  # posterior draws the policies weigh
OUTCOMES = 200  # simulated outcomes per candidate (of the DRAWS)


@dataclass
class Study:
    name: str
    start: pd.DataFrame
    pool: pd.DataFrame
    test: pd.DataFrame
    everything: pd.DataFrame

    @property
    def budget(self) -> float:
        return float(compute.supervised_flops(self.test["N"], self.test["D"]).max())


def split(name: str) -> Study:
    df = validate_supervised(load_shipped(name)).reset_index(drop=True)
    df = df.assign(cost=compute.supervised_flops(df["N"].to_numpy(), df["D"].to_numpy())).sort_values("cost")
    n_test = max(3, len(df) // 10)
    test, rest = df.iloc[-n_test:], df.iloc[:-n_test]
    n_start = max(8, len(rest) // 10)
    return Study(name, rest.iloc[:n_start], rest.iloc[n_start:], test, df)


class Refitter:
    """The supervised law compiled once for a study, refitted on any of its runs."""

    def __init__(self, study: Study, sampler: SamplerConfig):
        self.spec = SupervisedSpec()
        self.sampler = sampler
        self.compiled = CompiledSampler(build_supervised(self.spec, study.everything), sampler)

    def __call__(self, runs: pd.DataFrame, label: str, seed: int):
        """A fit as a user gets it: the law's default NUTS settings, retried along its escalation ladder when a
        gate fails; whether the kept fit passed is recorded with every result."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiagnosticsWarning)
            return fit_split(self.compiled, self.spec, self.sampler, runs[["N", "D", "loss"]], label, seed)


def options(fit, draws, budget: float, sizes: np.ndarray, err, alloc=None) -> np.ndarray:
    sigma, nu = _noise(fit, draws, "supervised")
    named = supervised_options(draws.law, _coefs(fit, draws), err, budget, None, sizes, sigma, nu,
                               np.random.default_rng(0), alloc=alloc)
    return np.column_stack(list(named.values()))


def mean_law_at(fit, draws, frame: pd.DataFrame) -> np.ndarray:
    """``(draw, point)`` the law's log loss (no extrapolation error) at runs of ``frame``."""
    from bayeslaw.posterior.likelihood import supervised_log_mean

    return supervised_log_mean(_coefs(fit, draws), frame["N"].to_numpy(), frame["D"].to_numpy())


def choose(policy: str, fit, study: Study, sizes: np.ndarray, spend: float, cal, seed: int) -> list[int]:
    """Pool rows (positions) a policy buys for ``spend`` FLOPs, picked from the posterior ``fit``."""
    pool = study.pool
    cost = pool["cost"].to_numpy()
    if policy in ("cheapest", "random"):
        return _blind(policy, cost, spend, seed)
    streams = Streams(seed)
    if policy in ("evsi", "evsi_shared"):
        loss, ll = _evsi_inputs(fit, study, sizes, cal, seed, streams, range(len(pool)), shared=policy == "evsi_shared")
        return voi.buy_greedily(loss, ll, cost, spend).chosen
    if policy == "mspe":
        return _mspe(fit, study, range(len(pool)), cost, spend, seed, streams)
    draws = decision_draws(fit, max_draws=DRAWS, seed=seed, calibration=None)
    sigma = _noise(fit, draws, "supervised")[0]
    return _v_optimal(mean_law_at(fit, draws, pool), mean_law_at(fit, draws, study.test), cost, spend,
                      float(np.median(sigma)) ** 2)


def _evsi_inputs(fit, study: Study, sizes: np.ndarray, cal, seed: int, streams: Streams,
                 rows, shared: bool = False) -> tuple[np.ndarray, np.ndarray | voi.SharedMisfitSets]:
    """The decision's loss ``(draw, size)`` and the pool ``rows``' log likelihoods ``(row, outcome, draw)``, as
    ``bayeslaw pilot`` builds them (the law's error and the size's allocation error beyond the fitted runs).

    ``shared``: the runs of one decade of compute share a misfit of the law, sd each draw's error at the edge of
    the fitted runs (:class:`bayeslaw.decision.value.SharedMisfitSets`; Normal noise), which the decision does
    not meet: a band's many cheap runs then count as one measurement up to that misfit."""
    draws = decision_draws(fit, max_draws=DRAWS, seed=seed, calibration=cal)
    alloc = study_allocation(fit, draws, streams.child("pilot", 5))  # where N* lies beyond the runs, as pilot
    loss = options(fit, draws, study.budget, sizes, draws.error, alloc)
    nu = _noise(fit, draws, "supervised")[1]
    pool = study.pool
    cands = [Candidate("supervised", float(pool["N"].iloc[i]), float(pool["D"].iloc[i])) for i in rows]
    runs = [predicted_runs(fit, draws, c, alloc) for c in cands]
    if shared:  # as bayeslaw pilot values a supervised question's runs
        return loss, shared_misfit(fit, draws, cands, runs, streams.child("pilot", 12), n_outcomes=OUTCOMES)
    ll = np.stack([voi.log_likelihoods(*run, nu, np.random.default_rng(streams.child("pilot", 9, i)))[0, :OUTCOMES]
                   for i, run in zip(rows, runs, strict=True)])
    return loss, ll


def sequential(policy: str, refit: Refitter, fit, study: Study, sizes: np.ndarray, spend: float, cal, seed: int):
    """``evsi_refit`` and ``mspe_refit``: the policy as a team would run it when the draws cannot value a larger set:
    buy what they can value (at least the best run), read the runs' real losses, refit, and value again, until the
    spend or until no run adds value (at most :data:`ROUNDS` refits). Returns the rows bought and the last refit."""
    cost = study.pool["cost"].to_numpy()
    bought: list[int] = []
    for rnd in range(ROUNDS):
        free = [i for i in range(len(cost)) if i not in bought]
        streams = Streams(Streams(seed).child("pilot", 11, rnd))
        left = spend - cost[bought].sum()
        if policy in ("evsi_refit", "evsi_shared_refit"):
            loss, ll = _evsi_inputs(fit, study, sizes, cal, seed, streams, free, shared=policy == "evsi_shared_refit")
            got = voi.buy_greedily(loss, ll, cost[free], left, first_any_ess=True).chosen
        else:
            got = _mspe(fit, study, free, cost[free], left, seed, streams, first_any_ess=True)
        if not got:
            break
        bought += [free[k] for k in got]
        fit = refit(pd.concat([study.start, study.pool.iloc[bought]]), f"{policy} round {rnd}", seed)
    return bought, fit


def _mspe(fit, study: Study, rows, cost: np.ndarray, spend: float, seed: int, streams: Streams, *,
          first_any_ess: bool = False) -> list[int]:
    """MSPE's greedy over the pool ``rows`` (positions into ``rows``)."""
    draws = decision_draws(fit, max_draws=DRAWS, seed=seed, calibration=None)
    target = mean_law_at(fit, draws, study.test)  # (draw, target)
    cand = mean_law_at(fit, draws, study.pool.iloc[list(rows)])  # (draw, candidate)
    sigma, nu = _noise(fit, draws, "supervised")
    ll = np.stack([voi.log_likelihoods(cand[:, [k]], sigma[:, None], nu,
                                       np.random.default_rng(streams.child("pilot", 9, i)))[0, :OUTCOMES]
                   for k, i in enumerate(rows)])
    return _greedy(lambda total: _expected_variance(total, target), ll, cost, spend, higher_is_better=False,
                   first_any_ess=first_any_ess)


def collapse(name: str, seed: int = 0, spend: float = 0.05) -> int:
    """The unguarded EVSI greedy (every set valued by importance weights, however few draws carry them) on a
    study's start, step by step: why :func:`bayeslaw.decision.value.buy_greedily` guards the weights."""
    study = split(name)
    refit = Refitter(study, default_config("supervised"))
    cal = ex.resolve_calibration(True)
    start = refit(study.start, "start", seed)
    star = supervised_optimum(decision_draws(start, max_draws=DRAWS, seed=0, calibration=None).law,
                              np.array([study.budget]))["N"][:, 0]
    sizes = np.geomspace(*np.quantile(star, [0.02, 0.98]), 13)
    loss, ll = _evsi_inputs(start, study, sizes, cal, seed, Streams(seed), range(len(study.pool)))
    cost = study.pool["cost"].to_numpy()
    chosen = _greedy(lambda total: voi.evsi_many(loss, total), ll, cost, spend * cost.sum(), higher_is_better=True,
                     guard=False)
    print(f"{name}, seed {seed}: EVPI {voi.now(loss).evpi:.4f} nats; unguarded greedy at {spend:.0%} of the pool")
    total = np.zeros_like(ll[0])
    for k, i in enumerate(chosen, start=1):
        total = total + ll[i]
        v = voi.update(loss, total)
        print(f"  {k:3d} runs ({cost[chosen[:k]].sum() / cost.sum():.2%} of the pool): median effective draws "
              f"{np.median(v.ess):7.1f}, the set's EVSI {v.evsi:.4f}")
    return 0


def _blind(policy: str, cost: np.ndarray, spend: float, seed: int) -> list[int]:
    """The policies that look at no posterior: cheapest first, or a seeded random order, within ``spend``."""
    order = np.argsort(cost) if policy == "cheapest" else np.random.default_rng(seed).permutation(len(cost))
    out, total = [], 0.0
    for i in order:
        if total + cost[i] <= spend:
            out.append(int(i))
            total += cost[i]
    return out


def _expected_variance(total: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per candidate set ``(set, outcome, draw)``: the posterior variance of the target region's predictions,
    averaged over outcomes and targets (the expected MSPE of the posterior-mean predictor)."""
    out = np.empty(total.shape[0])
    for a in range(0, total.shape[0], 32):
        t = total[a:a + 32]
        w = np.exp(t - special.logsumexp(t, axis=2, keepdims=True))  # (set, outcome, draw)
        m = w @ target
        out[a:a + 32] = (w @ target ** 2 - m ** 2).mean(axis=(1, 2))
    return out


def _v_optimal(cand: np.ndarray, target: np.ndarray, cost: np.ndarray, spend: float, noise: float) -> list[int]:
    """Greedy V-optimal design: the draws' joint covariance of the candidates' and targets' predictions,
    conditioned (linear-Gaussian) on each run bought; the run that most reduces the targets' total variance."""
    cov = np.cov(np.column_stack([cand, target]), rowvar=False)
    n_c = cand.shape[1]
    chosen: list[int] = []
    total = 0.0
    while True:
        best, best_i = 0.0, None
        for i in range(n_c):
            if i in chosen or total + cost[i] > spend:
                continue
            gain = float((cov[i, n_c:] ** 2).sum() / (cov[i, i] + noise))
            if gain > best:
                best, best_i = gain, i
        if best_i is None:
            return chosen
        k = cov[:, best_i] / (cov[best_i, best_i] + noise)
        cov = cov - np.outer(k, cov[best_i])
        chosen.append(best_i)
        total += cost[best_i]


def _greedy(score, ll: np.ndarray, cost: np.ndarray, spend: float, *, higher_is_better: bool,
            guard: bool = True, first_any_ess: bool = False) -> list[int]:
    """Buy, one at a time, the run whose outcome adds the most to ``score`` (of the chosen runs' summed log
    likelihoods ``(outcome, draw)``; vectorised over candidates) per FLOP, within ``spend``; stop when none
    adds anything or when no set's update rests on enough draws (the guard :func:`bayeslaw.decision.value.
    buy_greedily` keeps for EVSI: a collapsed update has no variance left and looks like a perfect design)."""
    chosen: list[int] = []
    total = np.zeros_like(ll[0])
    current = float(score(total[None])[0])
    sign = 1.0 if higher_is_better else -1.0
    spent = 0.0
    while True:
        free = np.array([i for i in range(len(cost)) if i not in chosen and spent + cost[i] <= spend], int)
        if free.size == 0:
            return chosen
        sets = total[None] + ll[free]
        v = score(sets)
        ok = voi.ess_low(sets) <= voi.ESS_LOW_SHARE if guard and (chosen or not first_any_ess) \
            else np.ones(free.size, bool)
        gain = np.where(ok, sign * (v - current) / cost[free], -np.inf)
        k = int(np.argmax(gain))
        if gain[k] <= 0:
            return chosen
        chosen.append(int(free[k]))
        total = total + ll[free[k]]
        spent += cost[free[k]]
        current = float(v[k])


def evaluate(fit, study: Study, sizes: np.ndarray, ref_loss: np.ndarray, cal, seed: int) -> dict:
    draws = decision_draws(fit, max_draws=DRAWS, seed=seed, calibration=cal)
    choice = int(np.argmin(options(fit, draws, study.budget, sizes, draws.error).mean(axis=0)))
    regret = float(ref_loss[choice] - ref_loss.min())
    pred = predict_supervised(fit, study.test["N"].to_numpy(), study.test["D"].to_numpy(), prob=0.9, seed=seed,
                              calibration=cal)
    obs = study.test["loss"].to_numpy()
    lo, hi = pred["loss_new_band"].sel(ci_bound="lower").values, pred["loss_new_band"].sel(ci_bound="upper").values
    med = pred["loss_new_band"].sel(ci_bound="median").values
    return {"regret": regret, "right": regret <= RIGHT, "coverage90": float(((obs >= lo) & (obs <= hi)).mean()),
            "median_abs_error_pct": float(np.median(np.abs(med / obs - 1)) * 100),
            "diagnostics_passed": bool(fit.diagnostics_passed)}


def replay(name: str, seeds, spends, policies, sampler: SamplerConfig, cal) -> list[dict]:
    study = split(name)
    refit = Refitter(study, sampler)
    ref = refit(study.everything, "all runs", 0)
    ref_draws = decision_draws(ref, max_draws=DRAWS, seed=0, calibration=None)
    pool_cost = float(study.pool["cost"].sum())
    rows = []
    ref_star = supervised_optimum(decision_draws(ref, max_draws=DRAWS, seed=0, calibration=None).law,
                                  np.array([study.budget]))["N"][:, 0]
    for seed in seeds:
        t0 = time.perf_counter()
        start_fit = refit(study.start, "start", seed)
        # the sizes to choose between span what the start believes and what all the runs say (N* 5-95%)
        start_star = supervised_optimum(decision_draws(start_fit, max_draws=DRAWS, seed=0, calibration=None).law,
                                        np.array([study.budget]))["N"][:, 0]
        both = np.concatenate([ref_star, start_star])
        sizes = np.geomspace(*np.quantile(both, [0.02, 0.98]), 13)
        ref_loss = options(ref, ref_draws, study.budget, sizes, None).mean(axis=0)
        base = evaluate(start_fit, study, sizes, ref_loss, cal, seed)
        rows.append({"study": name, "seed": seed, "policy": "start only", "spend": 0.0, "runs_bought": 0,
                     "flops_used": 0.0, **base})
        for spend in spends:
            for policy in policies:
                t1 = time.perf_counter()
                if policy in SEQUENTIAL:  # its last refit is the one scored
                    bought, f = sequential(policy, refit, start_fit, study, sizes, spend * pool_cost, cal, seed)
                    pick_s = time.perf_counter() - t1
                else:
                    bought = choose(policy, start_fit, study, sizes, spend * pool_cost, cal, seed)
                    pick_s = time.perf_counter() - t1
                    runs = pd.concat([study.start, study.pool.iloc[bought]])
                    f = refit(runs, f"{policy} {spend}", seed) if bought else start_fit
                r = evaluate(f, study, sizes, ref_loss, cal, seed)
                rows.append({"study": name, "seed": seed, "policy": policy, "spend": spend,
                             "runs_bought": len(bought),
                             "flops_used": float(study.pool["cost"].iloc[bought].sum()) / pool_cost,
                             "pick_seconds": pick_s, **r})
        print(f"  {name} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def distillation_replay(seeds, spends, policies) -> list[dict]:
    """The paper's digitized students: which teacher (by its loss) for the largest held-out student.

    Held out: the top tenth of students by compute; start: the cheapest tenth of the rest; pool: the others.
    The decision: which of 9 teacher losses spanning the table's teachers gives the largest held-out student
    (its size and tokens) the lowest loss (the capacity gap), scored against the shipped posterior fitted to
    every student; predictions: the held-out students' 90% bands. A student's cost is its own training,
    3 F(N_S) D_S: the digitized table has no teacher sizes to cost the teacher's logits.
    """
    from bayeslaw.data.registry import SHIPPED
    from bayeslaw.inference.config import default_config
    from bayeslaw.inference.engine import fit as engine_fit
    from bayeslaw.inference.fit import shipped_joint
    from bayeslaw.inference.student_error import predict_students
    from bayeslaw.posterior.card import load
    from bayeslaw.posterior.likelihood import student_log_mean

    name = "busbridge2025_digitized"
    ref = load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    dis = validate_distillation(load_shipped(name)).reset_index(drop=True)
    dis = dis.assign(cost=compute.supervised_flops(dis["N_S"].to_numpy(), dis["D_S"].to_numpy())).sort_values("cost")
    n_test = max(3, len(dis) // 10)
    test, rest = dis.iloc[-n_test:], dis.iloc[:-n_test]
    n_start = max(8, len(rest) // 10)
    start, pool = rest.iloc[:n_start], rest.iloc[n_start:]
    big = test.iloc[-1]
    grid = np.geomspace(dis["L_T"].min(), dis["L_T"].max(), 9)
    noise, scale, _ = shipped_joint(SHIPPED[name], None, None, None)
    config = default_config("distillation")

    def refit(frame: pd.DataFrame, seed: int):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return engine_fit(frame[["N_S", "D_S", "L_T", "L_S"]].reset_index(drop=True), law="distillation",
                              sampler=config, seed=seed, teacher_noise=noise, supervised_scale=scale)

    def means(fit, seed: int, frame: pd.DataFrame | None = None) -> tuple[np.ndarray, object]:
        draws = decision_draws(fit, max_draws=DRAWS, seed=seed, calibration=None)
        c = _coefs(fit, draws)
        if frame is None:  # the options: each teacher loss of the grid for the largest held-out student
            log_S, _ = student_log_mean(c, np.full(grid.size, big["N_S"]), np.full(grid.size, big["D_S"]),
                                        np.broadcast_to(np.log(grid)[None, :], (draws.n, grid.size)))
            return np.exp(log_S), draws
        log_S, _ = student_log_mean(c, frame["N_S"].to_numpy(), frame["D_S"].to_numpy(),
                                    np.broadcast_to(np.log(frame["L_T"].to_numpy())[None, :], (draws.n, len(frame))))
        return log_S, draws

    ref_loss = means(ref, 0)[0].mean(axis=0)
    cost = pool["cost"].to_numpy()
    pool_cost = float(cost.sum())
    rows = []
    for seed in seeds:
        t0 = time.perf_counter()
        start_fit = refit(start, Streams(seed).child("pilot", 10))
        for spend in (0.0, *spends):
            for policy in (("start only",) if spend == 0.0 else policies):
                t1 = time.perf_counter()
                bought = [] if spend == 0.0 else _choose_students(policy, start_fit, pool, test, cost,
                                                                   spend * pool_cost, means, seed)
                pick_s = time.perf_counter() - t1
                f = refit(pd.concat([start, pool.iloc[bought]]), Streams(seed).child("pilot", 10)) if bought \
                    else start_fit
                choice = int(np.argmin(means(f, seed)[0].mean(axis=0)))
                regret = float(ref_loss[choice] - ref_loss.min())
                p = predict_students(f, test.reset_index(drop=True), np.random.default_rng(seed))
                obs = np.log(test["L_S"].to_numpy())
                lo, hi = np.quantile(p["log_new"], [0.05, 0.95], axis=0)
                med = np.exp(np.median(p["log_mu"], axis=0))
                rows.append({"study": name, "seed": seed, "policy": policy, "spend": spend,
                             "runs_bought": len(bought), "flops_used": float(cost[bought].sum()) / pool_cost,
                             "pick_seconds": pick_s, "regret": regret, "right": regret <= RIGHT,
                             "coverage90": float(((obs >= lo) & (obs <= hi)).mean()),
                             "median_abs_error_pct": float(np.median(np.abs(med / np.exp(obs) - 1)) * 100),
                             "diagnostics_passed": bool(f.diagnostics_passed)})
        print(f"  {name} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    return rows


def _choose_students(policy: str, fit, pool: pd.DataFrame, test: pd.DataFrame, cost: np.ndarray, spend: float,
                     means, seed: int) -> list[int]:
    """Pool students a policy buys for ``spend`` (as :func:`choose`, on the joint posterior's Eq. 8)."""
    if policy in ("cheapest", "random"):
        return _blind(policy, cost, spend, seed)
    streams = Streams(seed)
    cand, draws = means(fit, seed, pool)  # (draw, candidate) log loss
    target = means(fit, seed, test)[0]
    sigma, nu = _noise(fit, draws, "distillation")
    ll = np.stack([voi.log_likelihoods(cand[:, [i]], sigma[:, None], nu,
                                       np.random.default_rng(streams.child("pilot", 9, i)))[0, :OUTCOMES]
                   for i in range(cand.shape[1])])
    if policy == "evsi":
        loss = means(fit, seed)[0]
        return voi.buy_greedily(loss, ll, cost, spend).chosen
    if policy == "mspe":
        return _greedy(lambda total: _expected_variance(total, target), ll, cost, spend, higher_is_better=False)
    return _v_optimal(cand, target, cost, spend, float(np.median(sigma)) ** 2)


def _keep(df: pd.DataFrame, old: pd.DataFrame, ran: list[str]) -> pd.DataFrame:
    """This run's rows with ``old``'s rows of the policies not run, once ``old``'s start-only rows match this run's
    (the same studies, seeds and start fits' scores: the pipeline under the kept rows is this one)."""
    key = ["study", "seed"]
    old = old[old["study"].isin(df["study"].unique())]
    cols = ["regret", "coverage90", "median_abs_error_pct"]
    new_start = df[df["policy"] == "start only"].set_index(key)[cols].sort_index()
    old_start = old[old["policy"] == "start only"].set_index(key)[cols].sort_index()
    if not new_start.index.equals(old_start.index) or not np.allclose(new_start, old_start, rtol=1e-9, atol=1e-12):
        raise SystemExit("--keep-from: its start-only rows differ from this run's; rerun every policy")
    out = pd.concat([df, old[~old["policy"].isin([*ran, "start only"])]], ignore_index=True)
    order = {p: i for i, p in enumerate(("start only", *POLICIES, *SEQUENTIAL))}
    studies = {s: i for i, s in enumerate(df["study"].unique())}
    return out.sort_values(["study", "seed", "spend", "policy"], key=lambda c: c.map(studies) if c.name == "study"
                           else c.map(order) if c.name == "policy" else c, kind="stable", ignore_index=True)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    return (df.groupby(["study", "spend", "policy"], sort=False)
            .agg(right=("right", "mean"), regret=("regret", "mean"), coverage90=("coverage90", "mean"),
                 median_abs_error_pct=("median_abs_error_pct", "mean"), runs=("runs_bought", "mean"),
                 flops_used=("flops_used", "mean"), passed=("diagnostics_passed", "mean"),
                 seeds=("seed", "nunique"))
            .reset_index())


def targets(summary: pd.DataFrame, spend: float = 0.05) -> list[str]:
    out = []
    at = summary[summary["spend"] == spend]
    for study, g in at.groupby("study", sort=False):
        g = g.set_index("policy")
        if "evsi" not in g.index or "mspe" not in g.index:
            continue
        e = g.loc["evsi"]
        others = g.drop(index="evsi")
        right_ok = bool((e["right"] >= others["right"] - 1e-9).all())
        regret_ok = bool(e["regret"] < g.loc["mspe", "regret"]) if "mspe" in g.index else None
        out.append(f"{study}: EVSI right {e['right']:.2f} vs best baseline {others['right'].max():.2f} "
                   f"({'MET' if right_ok else 'MISSED'}); regret {e['regret']:.2g} vs MSPE "
                   f"{g.loc['mspe', 'regret']:.2g} ({'lower' if regret_ok else 'NOT lower'})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one seed, 5%% only, two studies")
    ap.add_argument("--studies", nargs="+", default=list(STUDIES))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="seeds --first-seed .. --first-seed + --seeds - 1 (more seeds later, joined with --combine)")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--distillation-seeds", type=int, default=2,
                    help="seeds of the digitized students' replay (joint refits; 0 to skip)")
    ap.add_argument("--only-distillation", action="store_true", help="the digitized students' replay alone")
    ap.add_argument("--policies", nargs="+", default=list(POLICIES), choices=(*POLICIES, *VARIANTS, *SEQUENTIAL))
    ap.add_argument("--spends", nargs="+", type=float, default=list(SPENDS))
    ap.add_argument("--keep-from", help="a runs CSV of an earlier replay: the policies not run now are taken from "
                                        "it, after checking that its 'start only' rows are the ones this run "
                                        "reproduces (the same start fits, so the same pipeline)")
    ap.add_argument("--combine", nargs="+", metavar="RUNS_CSV",
                    help="no replay: the summary of these runs CSVs together (e.g. --studies subsets run as "
                         "separate processes), written as pilot_replay.* (pilot_replay_sequential.* with "
                         "refit rows) under --out")
    ap.add_argument("--collapse", metavar="STUDY",
                    help="no replay: what the EVSI greedy without the weights' guard buys from STUDY's start "
                         "(seed 0, 5%% of the pool): each step's median effective draws and the set's EVSI vs EVPI")
    args = ap.parse_args(argv)
    if args.collapse:
        return collapse(args.collapse)
    if args.combine:
        df = pd.concat([pd.read_csv(f) for f in args.combine], ignore_index=True)
        df = df.drop_duplicates(["study", "seed", "policy", "spend"])  # each file has its studies' start rows
        return _write(df, Path(args.out), "pilot_replay_sequential" if df["policy"].isin(SEQUENTIAL).any()
                      else "pilot_replay", f"combined from {', '.join(Path(f).name for f in args.combine)}")
    if args.first_seed < 0 or args.seeds < 1:
        ap.error(f"--first-seed must be >= 0 and --seeds >= 1 (got {args.first_seed}, {args.seeds})")
    if set(SEQUENTIAL) & set(args.policies) and (args.only_distillation or args.distillation_seeds):
        ap.error(f"{' and '.join(SEQUENTIAL)} replay the supervised studies only (give --distillation-seeds 0)")
    studies = STUDIES[:2] if args.quick else tuple(args.studies)
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    spends = (0.05,) if args.quick else tuple(args.spends)
    sampler = default_config("supervised")
    cal = ex.resolve_calibration(True)
    t0 = time.perf_counter()
    rows = []
    for name in ([] if args.only_distillation else studies):
        rows += replay(name, seeds, spends, args.policies, sampler, cal)
    if args.distillation_seeds and not args.quick:
        rows += distillation_replay(range(args.distillation_seeds), spends, args.policies)
    df = pd.DataFrame(rows)
    if args.keep_from:
        df = _keep(df, pd.read_csv(args.keep_from), args.policies)
    stem = ("pilot_replay_quick" if args.quick else "pilot_replay_sequential" if set(SEQUENTIAL) & set(args.policies)
            else "pilot_replay_distillation" if args.only_distillation else "pilot_replay")
    what = ([] if args.only_distillation else [f"{len(studies)} studies x {len(seeds)} seeds"]) + \
        ([f"the digitized students x {args.distillation_seeds} seeds"] if args.distillation_seeds and not args.quick
         else [])
    return _write(df, Path(args.out), stem, f"{' + '.join(what)} x spends {list(spends)} "
                                            f"({time.perf_counter() - t0:.0f} s)")


def _write(df: pd.DataFrame, out: Path, stem: str, what: str) -> int:
    """The runs, their summary and the targets' lines under ``out`` as ``stem``.*; printed too."""
    summary = summarise(df[df["policy"] != "start only"])
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / f"{stem}_runs.csv", index=False)
    summary.to_csv(out / f"{stem}.csv", index=False)
    lines = [f"pilot replay: {what}", summary.to_string(index=False), "", *targets(summary)]
    start = df[df["policy"] == "start only"].groupby("study")[["regret", "right", "coverage90",
                                                               "median_abs_error_pct"]].mean()
    lines += ["", "the start alone (no runs bought):", start.to_string()]
    text = "\n".join(lines)
    (out / f"{stem}.txt").write_text(text + "\n")
    (out / f"{stem}.json").write_text(json.dumps({"summary": summary.to_dict(orient="records"),
                                                   "targets": targets(summary)}, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
