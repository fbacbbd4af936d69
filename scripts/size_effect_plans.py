"""What the per-size offset changes in a plan (docs/validation.md, "A per-size offset").

Plans issue 25's grid (students 3e8, 1e9, 3e9; budgets 1e19-1e23; the plan command's default scenario and 1000
draws, seed 0) on the shipped posterior of the paper's form and on the one with per-student-size offsets, and prints
how far apart they are: P(distillation better) per cell, the distilled student's median loss, the width of the
difference's 90% band. Seconds on 2 cores.

Run: .venv/bin/python scripts/size_effect_plans.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayeslaw import api

ROOT = Path(__file__).resolve().parents[1]
POSTERIORS = {"paper's form": ROOT / "models/distillation_busbridge2025_digitized_paper_form.nc",
              "per-size offset": ROOT / "models/distillation_busbridge2025_digitized_size_effect.nc"}
STUDENTS = [3e8, 1e9, 3e9]
BUDGETS = [1e19, 1e20, 1e21, 1e22, 1e23]


def main() -> None:
    grids = {name: api.plan(api.load(path), STUDENTS, BUDGETS, "teacher_inference", seed=0)[0]
             for name, path in POSTERIORS.items()}
    p = {k: (g["diff"] < 0).mean("draw") for k, g in grids.items()}
    med = {k: g["L_S"].median("draw") for k, g in grids.items()}
    width = {k: float((g["diff"].quantile(0.95, "draw") - g["diff"].quantile(0.05, "draw")).median())
             for k, g in grids.items()}
    a, b = POSTERIORS
    rel = np.abs(med[b] / med[a] - 1)
    print(f"cells: {p[a].size} (students x budgets, teacher inference), draws: {grids[a].sizes['draw']}")
    print(f"P(distillation better), largest difference in a cell: {float(np.abs(p[a] - p[b]).max()):.3f}")
    print(f"distilled student's median loss: largest relative difference {float(rel.max()):.2%}, "
          f"median {float(rel.median()):.2%}")
    print("difference's 90% band, median width over cells: " + ", ".join(f"{k} {v:.3f}" for k, v in width.items()))


if __name__ == "__main__":
    main()
