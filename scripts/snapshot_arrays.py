"""Each variable of the plan grids a snapshot wrote, as a SHA-256 of its bytes (see scripts/snapshot.sh)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import xarray as xr


def main(out: Path) -> None:
    lines = []
    for nc in sorted(out.glob("*.nc")):
        with xr.open_dataset(nc) as ds:
            for name in sorted(map(str, ds.variables)):
                v = ds[name].values
                lines.append(f"{nc.name} {name} {v.dtype} {v.shape} {hashlib.sha256(v.tobytes()).hexdigest()}")
    (out / "arrays.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
