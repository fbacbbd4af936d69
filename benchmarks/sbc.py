"""Simulation-based calibration of the joint distillation model on a small paper-like design.

Run: ``.venv/bin/python benchmarks/sbc.py [--sims 40] [--seed 0]``.

For each simulation: draw every parameter from the prior (``busbridge2025`` preset, so the
simulated studies look like real ones), simulate the small design's losses from the model
itself (``pm.sample_prior_predictive``), refit with the model compiled once (nutpie
``with_data``), and record the rank of the true value among thinned posterior draws and
whether the 50% and 90% intervals cover it. If the model and sampler are calibrated the ranks
are uniform and the coverages match their nominal levels within Monte Carlo error.
Results go to ``benchmarks/results/sbc.json``; the summary is printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

from bayeslaw.core.intervals import tails

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--draws", type=int, default=400)
    ap.add_argument("--bins", type=int, default=10)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    import pymc as pm

    from bayeslaw.core.params import DISTILLATION_SAMPLED
    from bayeslaw.core.seeds import fan_out
    from bayeslaw.data.synthetic import SMALL_DESIGN, GeneratorSettings, simulate
    from bayeslaw.data.tables import split_teachers, validate_distillation, validate_supervised
    from bayeslaw.inference.config import SamplerConfig
    from bayeslaw.inference.sampler import CompiledSampler
    from bayeslaw.model.build import build_joint
    from bayeslaw.model.spec import JointSpec

    dis, sup = simulate(GeneratorSettings(seed=args.seed, design=SMALL_DESIGN))
    d, s = validate_distillation(dis), validate_supervised(sup)
    teachers, rest, index = split_teachers(d, s)
    spec = JointSpec(likelihood="normal", preset="busbridge2025")
    model = build_joint(spec, d, rest, teachers, index)
    params = ["log_E", "log_size_term", "log_data_term", "alpha", "beta", "gamma",
              *DISTILLATION_SAMPLED, "log_data_ratio", "sigma_sup", "sigma_dis"]
    seeds = fan_out(args.seed, 2)
    with model:
        prior = pm.sample_prior_predictive(draws=args.sims, random_seed=seeds[0])
    cfg = SamplerConfig(draws=args.draws, tune=args.draws, chains=4, target_accept=0.95)
    sampler = CompiledSampler(model, cfg)
    rng = np.random.default_rng(seeds[1])
    ranks = {p: [] for p in params}
    cover = {p: {0.5: [], 0.9: []} for p in params}
    divergences, skipped, t0 = [], 0, time.perf_counter()
    pp = prior["prior_predictive"]
    pr = prior["prior"]
    for i in range(args.sims):
        data = {"log_loss": pp["obs"].values[0, i], "log_L_S": pp["obs_student"].values[0, i],
                "log_L_T_obs": pp["obs_teacher"].values[0, i]}
        if not all(np.all(np.isfinite(v)) and np.all(np.abs(v) < 5) for v in data.values()):
            skipped += 1  # a prior draw with absurd losses (> e^5 nats): not a study anyone runs
            continue
        idata = sampler.fit(int(rng.integers(2**31)), data=data)
        post = idata["posterior"].to_dataset()
        divergences.append(int(idata["sample_stats"]["diverging"].values.sum()))
        for p in params:
            truth = float(pr[p].values[0, i])
            draws = post[p].values.ravel()
            thin = draws[:: max(1, draws.size // 100)][:100]
            ranks[p].append(int(np.sum(thin < truth)))
            for prob in (0.5, 0.9):
                lo, hi = np.quantile(draws, tails(prob))
                cover[p][prob].append(bool(lo <= truth <= hi))
        print(f"sim {i + 1}/{args.sims}: {divergences[-1]} divergences", flush=True)
    n = len(divergences)
    summary = {}
    print(f"\n{n} simulations fitted ({skipped} prior draws skipped), {time.perf_counter() - t0:.0f} s")
    print(f"{'parameter':<16} {'rank chi2 p':>11} {'cover50':>8} {'cover90':>8}")
    for p in params:
        hist, _ = np.histogram(ranks[p], bins=args.bins, range=(0, 101))
        pval = float(stats.chisquare(hist).pvalue) if n else float("nan")
        c50, c90 = (float(np.mean(cover[p][q])) for q in (0.5, 0.9))
        summary[p] = {"rank_chi2_p": pval, "coverage50": c50, "coverage90": c90, "ranks": ranks[p]}
        print(f"{p:<16} {pval:11.3f} {c50:8.2f} {c90:8.2f}")
    se50, se90 = np.sqrt(0.25 / max(n, 1)), np.sqrt(0.09 / max(n, 1))
    all50 = np.mean([summary[p]["coverage50"] for p in params])
    all90 = np.mean([summary[p]["coverage90"] for p in params])
    print(f"mean coverage: 50% -> {all50:.3f} (MC se per parameter {se50:.3f}); 90% -> {all90:.3f} (se {se90:.3f})")
    print(f"divergences per fit: median {np.median(divergences) if n else 0}, max {max(divergences, default=0)}")
    write_results("sbc", {"sims": n, "skipped": skipped, "divergences": divergences,
                          "params": summary, "settings": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
