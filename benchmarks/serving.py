"""How long ``bayeslaw plan`` takes to choose the student size (no ``--student``), against a plan of fixed sizes.

Run: ``.venv/bin/python benchmarks/serving.py [--repeats 3]``. Each command runs in a fresh process (imports and
the posterior's load included), ``repeats`` times (median). The question of issue 27's target: the shipped
digitized posterior, 4 budgets x 4 serving demands, one scenario (teacher inference), 1000 draws. The baseline of
the same run is ``plan`` of the same budgets at one fixed student size and no demand (today's question). Target:
<= 15 s on 2 cores (numpy). Results: ``benchmarks/results/serving.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import time_cli, write_results  # noqa: E402

TARGET = 15.0
COMMON = ["models/distillation_busbridge2025_digitized.nc", "--budget", "1e20", "1e21", "1e22", "1e23",
          "--scenario", "teacher_inference", "--draws", "1000", "--quiet"]
FREE = ["plan", *COMMON, "--inference-tokens", "0", "1e11", "1e12", "1e13"]
FIXED = ["plan", *COMMON, "--student", "1e9"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    free = time_cli(FREE, args.repeats)
    fixed = time_cli(FIXED, args.repeats)
    res = {"free_size_seconds": free, "fixed_size_seconds": fixed, "ratio_free_to_fixed": free / fixed,
           "target_s": TARGET, "met": free <= TARGET, "repeats": args.repeats}
    print(f"bayeslaw plan, student size chosen (4 budgets x 4 demands, 21 sizes, 1000 draws): {free:.1f} s")
    print(f"bayeslaw plan, one fixed student size (4 budgets, no demand):                     {fixed:.1f} s")
    verdict = "MET" if free <= TARGET else "MISSED"
    print(f"ratio chosen / fixed = {free / fixed:.2f}; chosen <= {TARGET:.0f} s: {verdict}")
    write_results("serving", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
