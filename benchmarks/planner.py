"""Benchmark: the vectorised planner against per-draw multi-start SLSQP (the paper's method).

Run: ``.venv/bin/python benchmarks/planner.py [--draws 1000] [--baseline-problems 24] [--jax]``.

On the shipped joint posterior (``models/distillation_SYNTHETIC_paper_design.nc``):

1. the baseline: SciPy SLSQP on (log N_T, log D_T, log D_S) with the budget as an equality
   constraint, 10 random starts per problem (the paper's formulation), timed on a random
   subsample of (draw, size, budget, scenario) problems and extrapolated to the full slice;
2. the planner on the full slice (default 1000 draws x 20 student sizes x 20 budgets x 4
   scenarios), numpy and, with ``--jax``, JAX (64-bit, same process);
3. the planner's error against SLSQP on the subsample (negative: the planner found a lower loss);
4. peak memory: the planner's working memory on a 4000 x 50 x 50 x 4 grid, measured on its first
   chunks in a fresh process (it is the same for every chunk by construction), and the size of
   the full result.

Targets (issue #4): >= 100x faster than the baseline at <= 1e-3 nats error; the full slice in
<= 30 s on 2 cores. Results go to ``benchmarks/results/planner.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402

from bayeslaw import api  # noqa: E402
from bayeslaw.core.compute import SCENARIOS  # noqa: E402
from bayeslaw.planning.grid import auto_chunk, plan_grid  # noqa: E402
from bayeslaw.posterior.draws import laws  # noqa: E402
from bayeslaw.validate import slsqp  # noqa: E402

POSTERIOR = ROOT / "models/distillation_SYNTHETIC_paper_design.nc"


def peak_memory_probe(draws: int, sizes: int, budgets: int, chunks: int) -> dict:
    """Plan the first ``chunks`` chunks of a draws x sizes x budgets x 4 grid in a fresh process."""
    code = f"""
import resource, time, numpy as np
from bayeslaw import api
from bayeslaw.planning.grid import auto_chunk, plan_grid
from bayeslaw.posterior.draws import laws
law = laws(api.load({str(POSTERIOR)!r}))
law = law.take(np.resize(np.arange(law.n_draws), {draws}))
chunk = auto_chunk({sizes}, {budgets})
sub = law.take(slice(0, chunk * {chunks}))
t0 = time.perf_counter()
grid = plan_grid(sub, np.geomspace(1e8, 1e10, {sizes}), np.geomspace(1e19, 1e24, {budgets}), chunk=chunk)
wall = time.perf_counter() - t0
print(chunk, sub.n_draws, wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, grid.nbytes)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    chunk, n, wall, rss_kb, nbytes = int(out[0]), int(out[1]), float(out[2]), int(out[3]), int(out[4])
    per_draw = nbytes / n
    return {"grid": f"{draws} x {sizes} x {budgets} x 4", "chunk_draws": chunk, "draws_planned": n,
            "seconds_for_those": wall, "peak_rss_MiB": rss_kb / 1024, "result_MiB_per_draw": per_draw / 2**20,
            "full_result_MiB": per_draw * draws / 2**20,
            "projected_full_seconds": wall / n * draws}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--sizes", type=int, default=20)
    ap.add_argument("--budgets", type=int, default=20)
    ap.add_argument("--baseline-problems", type=int, default=24)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--jax", action="store_true", help="also time the JAX backend (needs JAX_ENABLE_X64=1)")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--scheduler", help="also time the Dask path: 'local' (a 2-worker LocalCluster) or an address")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    fit = api.load(POSTERIOR)
    law = laws(fit)
    law = law.take(np.sort(np.random.default_rng(args.seed).choice(law.n_draws, args.draws, replace=False)))
    sizes = np.geomspace(1e8, 1e10, args.sizes)
    budgets = np.geomspace(1e19, 1e24, args.budgets)
    scenarios = tuple(SCENARIOS)
    n_problems = args.draws * sizes.size * budgets.size * len(scenarios)
    print(f"slice: {args.draws} draws x {sizes.size} sizes x {budgets.size} budgets x {len(scenarios)} scenarios "
          f"= {n_problems:,} problems; {os.cpu_count()} cores")

    t0 = time.perf_counter()
    grid = plan_grid(law, sizes, budgets, scenarios)
    t_numpy = time.perf_counter() - t0
    print(f"planner (numpy): {t_numpy:.1f} s  "
          f"({1e6 * t_numpy / n_problems:.1f} us/problem)")
    t_jax = t_compile = None
    if args.jax:
        import jax

        jax.config.update("jax_enable_x64", True)
        chunk = auto_chunk(sizes.size, budgets.size)
        t0 = time.perf_counter()
        plan_grid(law.take(slice(0, chunk)), sizes, budgets, scenarios, backend="jax", chunk=chunk)  # compile
        t_compile = time.perf_counter() - t0
        print(f"jax compile (first chunk, all scenarios): {t_compile:.1f} s")
        t0 = time.perf_counter()
        gj = plan_grid(law, sizes, budgets, scenarios, backend="jax", chunk=chunk)
        t_jax = time.perf_counter() - t0
        diff = float(np.nanmax(np.abs(gj["L_S"].values - grid["L_S"].values)))
        print(f"planner (jax, {jax.default_backend()}): {t_jax:.1f} s; max |numpy - jax| = {diff:.1e}")

    t_dask = None
    if args.scheduler:
        t0 = time.perf_counter()
        gd = plan_grid(law, sizes, budgets, scenarios, scheduler=args.scheduler)
        t_dask = time.perf_counter() - t0
        same = bool(np.array_equal(gd["L_S"].values, grid["L_S"].values, equal_nan=True))
        print(f"planner (numpy on Dask, {args.scheduler}): {t_dask:.1f} s (cluster start included); "
              f"identical to in-memory: {same}")

    rng = np.random.default_rng(args.seed + 1)
    picks, errors, t_base = [], [], 0.0
    for i in range(args.baseline_problems):
        d, s, b = rng.integers(args.draws), rng.integers(sizes.size), rng.integers(budgets.size)
        sc = scenarios[i % len(scenarios)]
        got = float(grid["L_S"].isel(draw=d, student_size=s, budget=b).sel(scenario=sc))
        if not np.isfinite(got):
            continue
        coefs = {k: float(v[d]) for k, v in law.__dict__.items() if v is not None}
        t0 = time.perf_counter()
        ref, _ = slsqp.optimum(coefs, float(sizes[s]), float(budgets[b]), sc, starts=args.starts, seed=args.seed + i)
        t_base += time.perf_counter() - t0
        picks.append((int(d), float(sizes[s]), float(budgets[b]), sc))
        errors.append(got - ref)
    per_problem = t_base / len(picks)
    t_base_full = per_problem * n_problems
    err = np.array(errors)
    best_t = min(t for t in (t_numpy, t_jax, t_dask) if t is not None)
    print(f"SLSQP baseline ({args.starts} starts): {per_problem * 1e3:.0f} ms/problem on {len(picks)} problems "
          f"-> {t_base_full / 3600:.1f} h for the slice")
    print(f"planner - SLSQP: max {np.nanmax(err):+.2e}, min {np.nanmin(err):+.2e} nats "
          f"(max |error| {np.nanmax(np.abs(err)):.1e}; target <= 1e-3)")
    print(f"speed-up: {t_base_full / best_t:,.0f}x (target >= 100x); full slice {best_t:.1f} s (target <= 30 s)")

    mem = None
    if not args.no_memory:
        mem = peak_memory_probe(4000, 50, 50, chunks=3)
        print(f"memory, 4000 x 50 x 50 x 4: chunks of {mem['chunk_draws']} draws; peak RSS {mem['peak_rss_MiB']:.0f} "
              f"MiB while planning {mem['draws_planned']} draws; the full result would hold "
              f"{mem['full_result_MiB']:.0f} MiB; projected time {mem['projected_full_seconds'] / 60:.0f} min")

    write_results("planner", {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "slice": {"draws": args.draws, "sizes": int(sizes.size), "budgets": int(budgets.size),
                  "scenarios": list(scenarios), "problems": n_problems},
        "planner_numpy_seconds": t_numpy, "planner_jax_seconds": t_jax,
        "jax_compile_seconds": t_compile,
        "planner_dask_seconds": t_dask,
        "baseline": {"starts": args.starts, "problems_timed": len(picks), "seconds_per_problem": per_problem,
                     "extrapolated_seconds": t_base_full},
        "error_vs_slsqp": {"max": float(np.nanmax(err)), "min": float(np.nanmin(err)),
                           "max_abs": float(np.nanmax(np.abs(err))), "problems": picks},
        "speedup": t_base_full / best_t, "memory": mem,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
