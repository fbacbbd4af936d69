"""Where benchmark results go: benchmarks/results/<name>.json."""

import json
import statistics
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, res: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(res, indent=2))
    print(f"written {out}")
    return out


def time_cli(argv: list[str], repeats: int) -> float:
    """Median wall seconds of ``bayeslaw ARGV`` in a fresh process (imports and loads included), ``repeats`` times."""
    root = Path(__file__).resolve().parent.parent
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([str(root / ".venv/bin/bayeslaw"), *argv], cwd=root, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
