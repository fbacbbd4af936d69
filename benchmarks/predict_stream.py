"""Memory and time of ``bl.predict`` on many points: the prediction streams in chunks, so memory must not grow with
the number of points (issue 26: 1e6 points in <= 2 GB with a progress line).

Run: ``.venv/bin/python benchmarks/predict_stream.py [--points 1e6]``. Each measurement runs in a fresh process
(the posterior's load included) and reports its peak resident memory (``ru_maxrss``) and wall time. The baseline
of the same run is one chunk (1,024 points of the shipped Chinchilla posterior's 4,000 draws, with the law's
extrapolation error, the default): the ratios say how memory and time scale with the points. Targets: peak memory
<= 2 GB; time per point within 1.5x of one chunk's. Results: ``benchmarks/results/predict_stream.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from _results import write_results  # noqa: E402

TARGET_GB = 2.0
CHILD = """
import json, resource, sys, time
import numpy as np
from bayeslaw import api
fit = api.load("models/supervised_chinchilla_epoch240.nc")
n = int(float(sys.argv[1]))
N = np.geomspace(1e8, 1e11, n)
seen = []
t = time.perf_counter()
ds = api.predict(fit, N, 20 * N, progress=lambda done, total: seen.append(done))
wall = time.perf_counter() - t
ok = bool(np.isfinite(ds["loss_new_band"].values).all())
print(json.dumps({"points": n, "seconds": wall, "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                  "progress_calls": len(seen), "draws_kept": ds.attrs["draws_kept"], "finite": ok}))
"""


def measure(n: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=float, default=1e6)
    args = ap.parse_args(argv)
    base = measure(1024)
    big = measure(int(args.points))
    per_point = (big["seconds"] / big["points"]) / (base["seconds"] / base["points"])
    res = {"baseline": base, "streamed": big, "memory_ratio": big["peak_gb"] / base["peak_gb"],
           "time_per_point_ratio": per_point, "target_gb": TARGET_GB,
           "met": big["peak_gb"] <= TARGET_GB and per_point <= 1.5 and big["finite"]}
    print(f"one chunk ({base['points']} points): {base['seconds']:.1f} s, peak {base['peak_gb']:.2f} GB")
    print(f"{big['points']:.0e} points: {big['seconds']:.0f} s, peak {big['peak_gb']:.2f} GB, "
          f"{big['progress_calls']} progress calls, draws kept: {bool(big['draws_kept'])}")
    print(f"memory ratio {res['memory_ratio']:.2f}; time per point ratio {per_point:.2f}; "
          f"<= {TARGET_GB:.0f} GB: {'MET' if res['met'] else 'MISSED'}")
    write_results("predict_stream", res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
