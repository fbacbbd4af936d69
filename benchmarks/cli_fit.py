"""What a user waits for: ``bayeslaw fit chinchilla`` end to end, in a fresh process, cold and warm.

Run: ``.venv/bin/python benchmarks/cli_fit.py [--repeats 5]``. Each run is a new process doing
start-up, imports, compile, sampling, diagnostics and the save, as a user's command does:

- cold: PyTensor's compile cache (which also holds nutpie's callbacks, see
  ``bayeslaw.inference.callbacks``) in a new empty folder, one run per repeat;
- warm: the same folder after those runs, median of ``repeats`` runs;
- floor, in the same run: ``python -c "import pymc, nutpie"`` (imports no fit can avoid).

Targets (issue #18): warm <= 5 s and cold <= 15 s on 2 cores. Results go to
``benchmarks/results/cli_fit.json``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402

TARGETS = {"warm": 5.0, "cold": 15.0}


def _run(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=HERE.parent, env=env, capture_output=True, check=True)
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cold-repeats", type=int, default=4)
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("bayeslaw"))
    res: dict = {"cpus": os.cpu_count(), "targets": TARGETS}
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "fit.nc")
        argv = [exe, "fit", "chinchilla", "--out", out]
        floor = statistics.median(_run([sys.executable, "-c", "import pymc, nutpie"], dict(os.environ))
                                  for _ in range(args.repeats))
        cold, warm_env = [], {}
        for i in range(args.cold_repeats):
            cache = Path(tmp) / f"pytensor{i}"
            flags = ",".join(f for f in (os.environ.get("PYTENSOR_FLAGS", ""), f"base_compiledir={cache}") if f)
            warm_env = dict(os.environ, PYTENSOR_FLAGS=flags)
            cold.append(_run(argv, warm_env))
        warm = [_run(argv, warm_env) for _ in range(args.repeats)]
    res |= {"floor_import_seconds": floor, "cold_seconds": cold, "warm_seconds": warm,
            "cold_median": statistics.median(cold), "warm_median": statistics.median(warm)}
    print(f"floor: python -c 'import pymc, nutpie' {floor:.2f} s (median of {args.repeats})")
    for label in ("cold", "warm"):
        runs, med = res[f"{label}_seconds"], res[f"{label}_median"]
        met = "MET" if med <= TARGETS[label] else "MISSED"
        print(f"bayeslaw fit chinchilla, {label}: median {med:.2f} s of {len(runs)} runs "
              f"({', '.join(f'{t:.2f}' for t in runs)}); {med / floor:.1f}x the floor; "
              f"target <= {TARGETS[label]:.0f} s: {met}")
    write_results("cli_fit", res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
