"""How much the main job's answer depends on where the digitized posterior's supervised law is said to end.

The digitized posterior has no supervised runs: its supervised law is the Table 6 prior (the paper's fit to its 73
supervised runs, which are not public). bayeslaw measures how far a supervised student or a predicted teacher lies
beyond "the fitted runs" from the fitted students (N <= 1.82B, 6ND <= 4.2e20, 202 tokens per parameter), so the
supervised law's learned extrapolation error, its lean and the tokens-per-parameter drift start there. The paper's
supervised runs reached further (its Appendix: N from 143M to 12.6B at 20 tokens per parameter, 143M-4.82B on 512B
tokens; data/distillation_busbridge2025/busbridge2025_table6_reference_fit.json). This script plans the main job's
question (1e9 student, teacher inference, 1e20-1e22 FLOPs, 1000 draws, seed 0) with each range for the law's
error only (the recipes are the planner's either way) and prints P(distillation better) and the share of each band
that is the supervised law's extrapolation error.

Run: .venv/bin/python scripts/supervised_reach.py   (about 15 s)
"""

from __future__ import annotations

import dataclasses

import bayeslaw.api as bl
from bayeslaw.posterior import extrapolation
from bayeslaw.posterior.reach import fitted_scale

#: The paper's supervised runs as its appendix describes them: the largest model, the largest 6ND (12.6B at 20 tokens
#: per parameter) and the most tokens per parameter (143M on 512B tokens).
TABLE6_RUNS = {"size": 12.6e9, "compute": 6 * 12.6e9 * 252e9, "ratio": 512e9 / 143e6}


def main() -> None:
    fit = bl.load("models/distillation_busbridge2025_digitized.nc")
    students = fitted_scale(fit)
    shipped = extrapolation.fitted_scale
    try:
        for label, scale in (("the fitted students (shipped)", students),
                             ("the paper's supervised runs", dataclasses.replace(students, **TABLE6_RUNS))):
            extrapolation.fitted_scale = lambda _fit, s=scale: s  # the law's error only: plan_law_error reads it here
            _, s = bl.plan(fit, [1e9], [1e20, 1e21, 1e22], ("teacher_inference",), seed=0)
            p = s["p_distill_wins"].values.ravel()
            share = s["extrapolation_share"].values.ravel()
            print(f"{label:32s} P(distillation better) " + " / ".join(f"{x:.0%}" for x in p)
                  + "   extrapolation share of the band " + " / ".join(f"{x:.0%}" for x in share))
    finally:
        extrapolation.fitted_scale = shipped
    print("budgets 1e20 / 1e21 / 1e22 FLOPs; 1e9 student, teacher inference, 1000 draws, seed 0")


if __name__ == "__main__":
    main()
