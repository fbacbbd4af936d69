"""Numbers as people read them, shared by the text, the reports and the warnings."""

from __future__ import annotations

import math


def sci(x: float | None, digits: int = 3) -> str:
    """Counts and FLOPs as people write them: 1e21, 2.05e10, 546 (``n/a`` for None or NaN)."""
    if x is None or not math.isfinite(x):
        return "n/a"
    s = f"{x:.{digits}g}"
    mant, _, exp = s.partition("e")
    return f"{mant}e{int(exp)}" if exp else s


def num(x: float) -> str:
    """Four significant digits for a moderate value, scientific notation from 1e5 on."""
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.3e}"
