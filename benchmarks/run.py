"""Benchmark: the Chinchilla fit, cold and warm, per sampler, against two baselines in the same run.

Run: ``make benchmarks`` (or ``.venv/bin/python benchmarks/run.py [--quick]``).

Measured in one process, on the same data (Epoch's 240 Chinchilla runs) and thread settings:

- bayeslaw with nutpie, PyMC and numpyro: wall time of a cold fit (first compile in this
  process), a warm fit (the second fit in the process: ``fit`` reuses the compiled model of the same
  graph), for nutpie also a warm fit compiled anew (the in-process memo cleared, PyTensor's and the
  callbacks' disk caches hot: what a new process pays beyond its imports), a compiled-once refit,
  and ESS_bulk per second;
- baseline 1, Epoch's recipe in its strongest honest form: Huber (delta 1e-3) on log loss,
  L-BFGS-B from Epoch's grid of 4500 starts at L-BFGS-B's default tolerances, the best start
  polished at tight tolerances (ftol 1e-15, gtol 1e-12), then 4000 bootstrap refits at tight
  tolerances from the point fit for the intervals;
- the same recipe with every grid start at the tight tolerances (how it was first run here:
  a labelled row, slower for the same intervals);
- baseline 2, ``simple-scaling-laws`` 0.2.0 (a benchmark-only dependency), 4000 bootstrap draws.

Targets: a warm bayeslaw fit with min ESS_bulk >= 1000 in at most 1/10 of baseline 1's time
to intervals, and at most 0.5x baseline 2's; both ratios are printed for the warm fit and for the
stricter one compiled anew. Results go to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bayeslaw.validate import pointfit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402


def baseline_epoch(df, n_boot: int, seed: int, *, tight_grid: bool = False) -> dict:
    """Epoch's recipe; ``tight_grid`` runs every grid start at the bootstrap's tight tolerances."""
    N, D, L = (df[c].to_numpy() for c in ("N", "D", "loss"))
    t0 = time.perf_counter()
    grid = pointfit.epoch_grid()
    x = pointfit.fit_supervised(N, D, L, starts=grid, tight=tight_grid)
    if not tight_grid:  # polish the best start at the tight tolerances
        x = pointfit.fit_supervised(N, D, L, starts=[np.array([np.log(x.A), np.log(x.B), np.log(x.E), x.alpha,
                                                               x.beta])])
    t_point = time.perf_counter() - t0
    x0 = [np.array([np.log(x.A), np.log(x.B), np.log(x.E), x.alpha, x.beta])]
    rng = np.random.default_rng(seed)
    boots = []
    for _ in range(n_boot):
        w = rng.multinomial(len(N), np.full(len(N), 1 / len(N))).astype(float)
        boots.append(pointfit.fit_supervised(N, D, L, weights=w, starts=x0))
    t_total = time.perf_counter() - t0
    ci = {k: [float(np.quantile([getattr(b, k) for b in boots], q)) for q in (0.025, 0.975)]
          for k in ("A", "B", "E", "alpha", "beta")}
    return {"seconds_point": t_point, "seconds_to_intervals": t_total, "n_starts": len(grid),
            "n_boot": n_boot, "point": {k: getattr(x, k) for k in ("A", "B", "E", "alpha", "beta")},
            "ci95": ci}


def baseline_ssl(df, n_draws: int, seed: int) -> dict:
    import simple_scaling_laws as ssl

    frame = df.rename(columns={"N": "model_size__params", "D": "dataset_size__tokens",
                               "loss": "test_loss__cross_entropy"})
    frame["training_run_id"] = [f"r{i}" for i in range(len(frame))]
    t0 = time.perf_counter()
    model = ssl.fit(frame, n_draws=n_draws, seed=seed)
    return {"seconds": time.perf_counter() - t0, "n_draws": n_draws,
            "params": {k: float(v) for k, v in model.params("test_loss__cross_entropy").items()}}


def bench_sampler(df, sampler: str, draws: int) -> dict:
    from bayeslaw.core.seeds import Streams
    from bayeslaw.inference import engine as inference  # PyMC's import cost outside the timings
    from bayeslaw.inference.config import SamplerConfig
    from bayeslaw.inference.sampler import CompiledSampler
    from bayeslaw.model.build import build_supervised
    from bayeslaw.model.spec import SupervisedSpec

    cfg = SamplerConfig(sampler=sampler, draws=draws, tune=draws, chains=4)
    out = {}
    runs = [("cold", 1), ("warm", 2)] + ([("warm_compiled_anew", 2)] if sampler == "nutpie" else [])
    for label, seed in runs:
        if label == "warm_compiled_anew":
            inference._COMPILED.clear()
        t0 = time.perf_counter()
        fit = inference.fit(df, sampler=cfg, seed=seed)
        wall = time.perf_counter() - t0
        m = fit.card["diagnostics"]["metrics"]
        samp = fit.card["timing"]["sampling_wall_seconds"]
        out[label] = {"wall_seconds": wall, "sampling_seconds": samp,
                      "compile_seconds": fit.card["timing"]["compile_seconds"],
                      "min_ess_bulk": m["min_ess_bulk"], "max_rhat": m["max_rhat"],
                      "divergences": m["divergences"], "ess_per_second_sampling": m["min_ess_bulk"] / samp,
                      "ess_per_second_wall": m["min_ess_bulk"] / wall, "passed": fit.diagnostics_passed}
    if sampler == "nutpie":
        compiled = CompiledSampler(build_supervised(SupervisedSpec(), df), cfg)
        compiled.fit(Streams(3).sampling)
        t0 = time.perf_counter()
        compiled.fit(Streams(4).sampling)
        out["refit_compiled_once_seconds"] = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer bootstrap draws (400) for a smoke run")
    ap.add_argument("--samplers", default="nutpie,pymc,numpyro")
    ap.add_argument("--skip-slow", action="store_true", help="skip the tight-tolerance-grid form of Epoch's recipe")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from bayeslaw.data.tables import load_shipped

    df = load_shipped("chinchilla")
    n_boot = 400 if args.quick else 4000
    env = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
           "threads": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    res: dict = {"env": env, "n_runs": len(df)}
    for sampler in args.samplers.split(","):
        print(f"bayeslaw {sampler} ...", flush=True)
        res[f"bayeslaw_{sampler}"] = bench_sampler(df, sampler, 1000)
    print("baseline 1: Epoch's recipe (default-tolerance grid, polished) ...", flush=True)
    res["epoch_recipe"] = baseline_epoch(df, n_boot, seed=0)
    if not args.skip_slow:
        print("Epoch's recipe with a tight-tolerance grid (the slow form) ...", flush=True)
        res["epoch_recipe_tight_grid"] = baseline_epoch(df, n_boot, seed=0, tight_grid=True)
    print("baseline 2: simple-scaling-laws ...", flush=True)
    res["simple_scaling_laws"] = baseline_ssl(df, n_boot, seed=0)

    warm = res["bayeslaw_nutpie"]["warm"]
    anew = res["bayeslaw_nutpie"]["warm_compiled_anew"]
    r1 = warm["wall_seconds"] / res["epoch_recipe"]["seconds_to_intervals"]
    r2 = warm["wall_seconds"] / res["simple_scaling_laws"]["seconds"]
    r1a = anew["wall_seconds"] / res["epoch_recipe"]["seconds_to_intervals"]
    r2a = anew["wall_seconds"] / res["simple_scaling_laws"]["seconds"]
    refit = res["bayeslaw_nutpie"].get("refit_compiled_once_seconds", float("nan"))
    r3 = refit / res["simple_scaling_laws"]["seconds"]
    res["ratios"] = {"warm_nutpie_over_epoch": r1, "warm_nutpie_over_simple_scaling_laws": r2,
                     "warm_compiled_anew_over_epoch": r1a, "warm_compiled_anew_over_simple_scaling_laws": r2a,
                     "refit_compiled_once_over_simple_scaling_laws": r3}
    print()
    print(f"{'fit':<36} {'wall s':>8} {'sampling s':>10} {'min ESS':>8} {'ESS/s (sampling)':>17}")
    for s in args.samplers.split(","):
        for label in ("cold", "warm", "warm_compiled_anew"):
            if label not in res[f"bayeslaw_{s}"]:
                continue
            r = res[f"bayeslaw_{s}"][label]
            print(f"bayeslaw {s:<8} {label:<18} {r['wall_seconds']:8.1f} {r['sampling_seconds']:10.2f} "
                  f"{r['min_ess_bulk']:8.0f} {r['ess_per_second_sampling']:17.0f}")
    if "refit_compiled_once_seconds" in res["bayeslaw_nutpie"]:
        print(f"bayeslaw nutpie refit (compiled once): {res['bayeslaw_nutpie']['refit_compiled_once_seconds']:.2f} s")
    for key, label in (("epoch_recipe", "Epoch recipe (grid at default tolerances, best start polished)"),
                       ("epoch_recipe_tight_grid", "Epoch recipe, every grid start at tight tolerances (slow form)")):
        if key in res:
            e = res[key]
            print(f"{label}: point {e['seconds_point']:.1f} s, with {n_boot} bootstraps "
                  f"{e['seconds_to_intervals']:.1f} s")
            print("  its 95% intervals: " + ", ".join(f"{k} {v[0]:.4g}-{v[1]:.4g}" for k, v in e["ci95"].items()))
    print(f"simple-scaling-laws 0.2.0 ({n_boot} draws): {res['simple_scaling_laws']['seconds']:.1f} s")
    print()
    def met(r: float, target: float) -> str:
        return f"{r:.3f}  (target <= {target:g}: {'MET' if r <= target else 'MISSED'})"

    print(f"ratio warm bayeslaw / Epoch recipe        = {met(r1, 0.1)}")
    print(f"ratio warm bayeslaw / simple-scaling-laws = {met(r2, 0.5)}")
    print(f"ratio warm, compiled anew / Epoch recipe        = {met(r1a, 0.1)}")
    print(f"ratio warm, compiled anew / simple-scaling-laws = {met(r2a, 0.5)}")
    print(f"ratio compiled-once refit / simple-scaling-laws = {r3:.3f}  (a refit on new data reuses the compile)")
    print(f"warm bayeslaw min ESS_bulk = {warm['min_ess_bulk']:.0f} (target >= 1000: "
          f"{'MET' if warm['min_ess_bulk'] >= 1000 else 'MISSED'})")
    write_results("supervised_quick" if args.quick else "supervised", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
