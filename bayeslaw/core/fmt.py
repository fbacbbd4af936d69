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


def share(p: float | None, n: int) -> str:
    """A probability estimated from ``n`` posterior draws, as a percentage a reader cannot misread.

    ``<0.2%`` and ``>99.8%`` (for 500 draws) only when none or all of the draws agree; any other
    share is printed with as many decimals as it takes not to read as 0% or 100%, so 1 of 500
    draws is "0.2%", never "0%", and 499 of 500 is "99.8%", never "100%". ``n/a`` for None or NaN. One draw (a
    point law) is the law's own answer: "0%" or "100%".
    """
    if p is None or not math.isfinite(p):
        return "n/a"
    if n < 1:
        raise ValueError(f"a share needs at least one draw, got n={n}")
    k = round(p * n)
    if n == 1:  # one draw (a point law): the law's own answer, not an estimate
        return "100%" if k >= 1 else "0%"
    if k <= 0:
        return f"<{_trim(100 / n)}%"
    if k >= n:
        return f">{_trim(100 - 100 / n)}%"
    x = 100.0 * k / n
    for digits in range(0, 6):
        s = f"{x:.{digits}f}"
        if 0.0 < float(s) < 100.0:
            return f"{s}%"
    return f"{x:g}%"


def _trim(x: float) -> str:
    """A bound like 0.2, 0.33 or 99.67: at most two decimals, trailing zeros dropped."""
    return f"{x:.2f}".rstrip("0").rstrip(".")
