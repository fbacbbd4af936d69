"""The crossover table of docs/planning.md: the budget windows where P(distillation beats supervised) >= 0.5, per
student size and scenario, for the shipped distillation posteriors side by side (planner, seeded subsample).

Run: .venv/bin/python scripts/crossover_table.py [--draws 300]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import bayeslaw.api as bl
from bayeslaw.core.compute import SCENARIOS
from bayeslaw.core.fmt import sci, share
from bayeslaw.planning.summary import windows

ROOT = Path(__file__).resolve().parents[1]
POSTERIORS = {"SYNTHETIC (Table 6 law)": "models/distillation_SYNTHETIC_paper_design.nc",
              "digitized paper runs": "models/distillation_busbridge2025_digitized.nc"}
SIZES = (3e8, 1e9, 3e9)
BUDGETS = np.geomspace(1e19, 1e25, 13)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=300)
    args = ap.parse_args()
    cells = {}
    for label, path in POSTERIORS.items():
        fit = bl.load(ROOT / path, expect_law="distillation")
        _, s = bl.plan(fit, SIZES, BUDGETS, tuple(SCENARIOS), max_draws=args.draws, seed=0)
        found = {(w["student_size"], w["scenario"]): w["windows"] for w in windows(s["p_distill_wins"])}
        for n in SIZES:
            for sc in SCENARIOS:
                x = s.sel(student_size=n, scenario=sc)
                spans = [f"{'<=' if w['from_open'] else ''}{sci(w['from'])} to {sci(w['to'])}"
                         f"{'+' if w['to_open'] else ''}" for w in found[(float(n), sc)]]
                p21 = share(float(x["p_distill_wins"].sel(budget=1e21, method="nearest")), s.attrs["n_draws"])
                cells[(n, sc, label)] = f"{'; '.join(spans) or 'nowhere'} (P at 1e21: {p21})"
    print("| student | scenario | " + " | ".join(POSTERIORS) + " |")
    print("|---|---|" + "---|" * len(POSTERIORS))
    for n in SIZES:
        for sc in SCENARIOS:
            print(f"| {sci(n)} | {sc} | " + " | ".join(cells[(n, sc, k)] for k in POSTERIORS) + " |")
    print(f"\nThe budget windows (FLOPs, 3 F(N) D) where P(distillation beats supervised) >= 0.5, between "
          f"{sci(BUDGETS[0])} and {sci(BUDGETS[-1])} (13 budgets; '<=' and '+': the window reaches the end of that "
          f"range); in brackets P at 1e21 FLOPs; {args.draws} draws, seed 0; teacher inference with the default "
          "teacher cap (100x the budget)")


if __name__ == "__main__":
    main()
