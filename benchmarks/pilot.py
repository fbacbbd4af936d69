"""How long ``bayeslaw pilot`` takes to answer the main job's question, against ``plan`` of the same question.

Run: ``.venv/bin/python benchmarks/pilot.py [--repeats 3]``. Each command runs in a fresh process (what a user
pays, imports and the posterior's load included), ``repeats`` times (median). The baseline of the same run is
``bayeslaw plan`` on the same posterior, student, budgets and draws: the decision itself without its value of
information. Target (issue 28): ``pilot`` <= 30 s on 2 cores, no GPU. Results: ``benchmarks/results/pilot.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import time_cli, write_results  # noqa: E402

TARGET = 30.0
QUESTION = ["models/distillation_busbridge2025_digitized.nc", "--student", "1e9", "--budget", "1e20", "1e21",
            "1e22", "--scenario", "teacher_inference", "--draws", "1000", "--quiet"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    pilot = time_cli(["pilot", *QUESTION], args.repeats)
    plan = time_cli(["plan", *QUESTION], args.repeats)
    res = {"pilot_seconds": pilot, "plan_seconds": plan, "ratio_pilot_to_plan": pilot / plan, "target_s": TARGET,
           "met": pilot <= TARGET, "repeats": args.repeats}
    print(f"bayeslaw pilot (main job's question, 1000 draws, 18 default candidates, 3 budgets): {pilot:.1f} s")
    print(f"bayeslaw plan  (the same question):                                           {plan:.1f} s")
    print(f"ratio pilot / plan = {pilot / plan:.2f}; pilot <= {TARGET:.0f} s: {'MET' if pilot <= TARGET else 'MISSED'}")
    write_results("pilot", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
