"""Benchmark: what the law's extrapolation error costs a prediction and a plan (issue 16: "negligible").

Run: ``.venv/bin/python benchmarks/extrapolation.py [--repeats 7]``.

Each row times the same call with the shipped calibration (``extrapolation=True``, the default) and without
it (``extrapolation=False``, the baseline measured in the same run), median of ``--repeats`` calls after one
warm-up, and prints the ratio and the extra seconds:

1. ``api.predict`` on the shipped Chinchilla posterior at 1, 100 and 10,000 new points beyond its runs;
2. ``api.plan`` on the digitized distillation posterior: a 1e9-parameter student at 3 budgets under teacher
   inference (300 draws), and 3 student sizes x 5 budgets x 4 scenarios;
3. the one-time cost per process: reading and verifying ``models/extrapolation_calibration.nc`` (its seal is
   checked once per file version, then kept), in this process and as a user meets it: a fresh Python process
   that loads the Chinchilla posterior and predicts one point, with and without the term (``--processes`` runs
   each, interleaved).

Results go to ``benchmarks/results/extrapolation.json``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
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
from bayeslaw.posterior import extrapolation  # noqa: E402


def timed(call, repeats: int) -> float:
    call()  # warm-up: imports, caches
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


FRESH = """
import time
t0 = time.perf_counter()
from bayeslaw import api
fit = api.load({posterior!r})
api.predict(fit, 1e11, 3e12, extrapolation={term})
print(time.perf_counter() - t0)
"""


def fresh_process(term: bool) -> float:
    """Seconds from import to a one-point prediction in a new interpreter."""
    code = FRESH.format(posterior=str(ROOT / "models/supervised_chinchilla_epoch240.nc"), term=term)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--processes", type=int, default=5)
    args = ap.parse_args()

    fresh = {False: [], True: []}
    for _ in range(args.processes):
        for term in (False, True):
            fresh[term].append(fresh_process(term))
    fresh_base, fresh_with = statistics.median(fresh[False]), statistics.median(fresh[True])

    t0 = time.perf_counter()
    extrapolation._LOADED.clear()
    extrapolation.load_calibration()
    first_load = time.perf_counter() - t0

    chin = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    dig = api.load(ROOT / "models/distillation_busbridge2025_digitized.nc")
    rng = np.random.default_rng(0)
    cases = {}
    for n in (1, 100, 10_000):
        N, D = 10 ** rng.uniform(9, 11, n), 10 ** rng.uniform(11, 13, n)  # mostly beyond Chinchilla's runs
        cases[f"predict, {n} points"] = lambda ex, N=N, D=D: api.predict(chin, N, D, extrapolation=ex)
    cases["plan, 1 size x 3 budgets x 1 scenario"] = lambda ex: api.plan(
        dig, [1e9], [1e20, 1e21, 1e22], ["teacher_inference"], max_draws=300, extrapolation=ex)
    cases["plan, 3 sizes x 5 budgets x 4 scenarios"] = lambda ex: api.plan(
        dig, [3e8, 1e9, 3e9], np.geomspace(1e19, 1e23, 5), max_draws=300, extrapolation=ex)

    rows = []
    print(f"one-time per process: reading and verifying the calibration {first_load:.3f} s")
    print(f"a fresh process, import to one prediction: {fresh_base:.2f} s without, {fresh_with:.2f} s with the term "
          f"(ratio {fresh_with / fresh_base:.2f}, extra {fresh_with - fresh_base:.2f} s; medians of {args.processes})")
    print(f"{'call':<42} {'without (s)':>12} {'with (s)':>10} {'ratio':>7} {'extra (s)':>10}")
    for name, call in cases.items():
        base = timed(lambda call=call: call(False), args.repeats)
        with_term = timed(lambda call=call: call(True), args.repeats)
        rows.append({"call": name, "without_s": base, "with_s": with_term, "ratio": with_term / base,
                     "extra_s": with_term - base})
        print(f"{name:<42} {base:>12.4f} {with_term:>10.4f} {with_term / base:>7.2f} {with_term - base:>10.4f}")
    write_results("extrapolation", {"machine": platform.platform(), "repeats": args.repeats,
                                    "calibration_first_load_s": first_load,
                                    "fresh_process_s": {"without": fresh[False], "with": fresh[True]},
                                    "rows": rows})


if __name__ == "__main__":
    main()
