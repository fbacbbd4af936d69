"""How fast the command line answers when it has nothing heavy to do: --help and input errors.

Run: ``.venv/bin/python benchmarks/startup.py [--repeats 5]``. Each case runs ``bayeslaw ...`` in a
fresh process ``repeats`` times (median wall time), next to the baseline of the same run: a bare
``python -c pass`` and ``python -c "import numpy"``. Target: every case <= 1.5 s on 2 cores.
Results go to ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402

TARGET = 1.5
CHIN = "models/supervised_chinchilla_epoch240.nc"
JOINT = "models/distillation_SYNTHETIC_paper_design.nc"
CASES = {
    "bayeslaw --help": ["--help"],
    "fit: missing table": ["fit", "nope.csv"],
    "fit: bad --columns": ["fit", "chinchilla", "--columns", "Nparams"],
    "predict: missing posterior": ["predict", "nope.nc", "--N", "1e9", "--D", "1e10"],
    "predict: N in billions": ["predict", CHIN, "--N", "7", "--D", "1.4e12"],
    "report: budget too small": ["report", JOINT, "--student", "1e9", "--budget", "1e5"],
    "plan: unknown scenario": ["plan", JOINT, "--student", "1e9", "--budget", "1e21", "--scenario", "cheap"],
}


def _time(argv: list[str], repeats: int) -> tuple[float, int]:
    times, rc = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        rc = subprocess.run(argv, cwd=ROOT, capture_output=True).returncode
        times.append(time.perf_counter() - t0)
    return statistics.median(times), rc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("bayeslaw"))
    base, _ = _time([sys.executable, "-c", "pass"], args.repeats)
    numpy, _ = _time([sys.executable, "-c", "import numpy"], args.repeats)
    res = {"python_seconds": base, "numpy_seconds": numpy, "target_seconds": TARGET, "cases": {}}
    print(f"baseline: python -c pass {base:.3f} s, import numpy {numpy:.3f} s (median of {args.repeats})")
    print(f"{'case':32s} {'exit':>4s} {'wall s':>7s} {'x python':>9s}  target <= {TARGET} s")
    for label, argv in CASES.items():
        wall, rc = _time([exe, *argv], args.repeats)
        res["cases"][label] = {"argv": argv, "exit": rc, "seconds": wall, "ratio_to_python": wall / base}
        print(f"{label:32s} {rc:4d} {wall:7.3f} {wall / base:9.1f}  {'MET' if wall <= TARGET else 'MISSED'}")
    write_results("startup", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
