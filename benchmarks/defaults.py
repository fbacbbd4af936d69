"""Do default fits pass their gates without hand-tuning? Pass rate and time per table and subset.

Run: ``.venv/bin/python benchmarks/defaults.py [--seed 0]``. Every supervised table bayeslaw ships
is fitted with the API's defaults (``bl.fit(table)``: the law's sampler settings, retried along
:data:`bayeslaw.inference.config.ESCALATION` when a fit fails its gates), on all its runs and on
leave-future-out training subsets (runs below a compute quantile, or without the largest model
sizes) down to about 30 runs. For each fit it records whether the first settings already passed,
whether the default fit passed in the end, how many attempts that took, and the wall time.
Target: default fits pass on >= 95% of the tables and subsets. Results go to
``benchmarks/results/defaults.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402

import bayeslaw as bl  # noqa: E402
from bayeslaw.data.splits import largest  # noqa: E402
from bayeslaw.data.tables import load_shipped  # noqa: E402

TARGET = 0.95
#: compute quantiles whose training subsets keep >= ~30 runs, and how many largest sizes to hold out
SUBSETS = {"chinchilla": ((0.125, 0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 0.9), (1, 2, 3)),
           "misfitting": ((0.4, 0.5, 0.6, 0.7, 0.8, 0.9), (1, 2))}


def tables() -> list[tuple[str, object]]:
    out = []
    for name, (quantiles, held) in SUBSETS.items():
        df = load_shipped(name)
        out.append((f"{name} (all {len(df)} runs)", df))
        C = 6.0 * df["N"] * df["D"]
        for q in quantiles:
            sub = df[C < np.quantile(C, q)].reset_index(drop=True)
            out.append((f"{name} 6ND < q{q:g} ({len(sub)} runs)", sub))
        for k in held:
            sub = df[largest(df, k).train].reset_index(drop=True)
            out.append((f"{name} without {k} largest size(s) ({len(sub)} runs)", sub))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows = []
    print(f"{'table':52s} {'first settings':>14s} {'default':>8s} {'attempts':>8s} {'wall s':>7s}")
    for i, (label, df) in enumerate(tables()):
        t0 = time.perf_counter()
        fit = bl.fit(df, seed=args.seed + i)
        wall = time.perf_counter() - t0
        attempts = fit.card["attempts"]
        row = {"table": label, "n_runs": len(df), "first_passed": attempts[0]["passed"],
               "passed": fit.diagnostics_passed, "attempts": len(attempts), "wall_seconds": wall,
               "rejections": [a["failures"] for a in attempts if not a["passed"]]}
        rows.append(row)
        print(f"{label:52s} {'passed' if row['first_passed'] else 'FAILED':>14s} "
              f"{'passed' if row['passed'] else 'FAILED':>8s} {row['attempts']:8d} {wall:7.1f}")
    first = np.mean([r["first_passed"] for r in rows])
    final = np.mean([r["passed"] for r in rows])
    print(f"\npass rate, first settings only (low-rank, target_accept 0.9): {first:.0%} of {len(rows)}")
    print(f"pass rate, default fit (with the recorded escalation):      {final:.0%} of {len(rows)} "
          f"(target >= {TARGET:.0%}: {'MET' if final >= TARGET else 'MISSED'})")
    print(f"wall time per fit: median {np.median([r['wall_seconds'] for r in rows]):.1f} s, "
          f"max {max(r['wall_seconds'] for r in rows):.1f} s")
    write_results("defaults", {"rows": rows, "pass_rate_first": first, "pass_rate_default": final,
                               "target": TARGET})
    return 0


if __name__ == "__main__":
    sys.exit(main())
