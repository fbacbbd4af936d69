"""Leave-future-out splits of a run table: which runs a fit sees and which it must predict.

Pure pandas over the table's columns; used by the backtests (:mod:`bayeslaw.validate.backtest`) and by the
extrapolation calibration across studies (:mod:`bayeslaw.inference.calibration`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayeslaw.core.errors import DataError

MIN_TRAIN = 15  # runs: a 5-coefficient law plus noise needs a few times more


@dataclass(frozen=True)
class Split:
    """Which runs a backtest fits on and which it predicts (boolean masks over the table)."""

    kind: str
    label: str
    train: np.ndarray
    test: np.ndarray


def _compute(table: pd.DataFrame, size: str, tokens: str) -> np.ndarray:
    return 6.0 * table[size].to_numpy(float) * table[tokens].to_numpy(float)


def _checked(split: Split) -> Split:
    n_train, n_test = int(split.train.sum()), int(split.test.sum())
    if n_train < MIN_TRAIN:
        raise DataError(f"split '{split.label}' leaves {n_train} runs to fit on (need >= {MIN_TRAIN}); "
                        "move the cutoff")
    if n_test < 1:
        raise DataError(f"split '{split.label}' holds out no runs; move the cutoff")
    return split


def by_compute(table: pd.DataFrame, cutoff: float, *, size: str = "N", tokens: str = "D") -> Split:
    """Fit on runs with 6ND below ``cutoff`` FLOPs, predict the rest."""
    C = _compute(table, size, tokens)
    return _checked(Split("compute", f"6ND < {cutoff:.3g}", C < cutoff, C >= cutoff))


def by_loss(table: pd.DataFrame, threshold: float, *, loss: str = "loss") -> Split:
    """Fit on runs with loss >= ``threshold``, predict the lower-loss ones (the paper's protocol)."""
    L = table[loss].to_numpy(float)
    return _checked(Split("loss", f"{loss} >= {threshold:g}", L >= threshold, L < threshold))


def by_ratio(table: pd.DataFrame, ratio: float, *, size: str = "N", tokens: str = "D") -> Split:
    """Fit on runs with at most ``ratio`` tokens per parameter, predict the more heavily trained ones."""
    r = table[tokens].to_numpy(float) / table[size].to_numpy(float)
    return _checked(Split("ratio", f"D/N <= {ratio:g}", r <= ratio, r > ratio))


def largest(table: pd.DataFrame, k: int = 1, *, size: str = "N") -> Split:
    """Hold out every run of the ``k`` largest model sizes."""
    sizes = np.unique(table[size].to_numpy(float))
    if k < 1 or k >= sizes.size:
        raise DataError(f"can hold out 1 to {sizes.size - 1} of the {sizes.size} model sizes, not {k}")
    test = table[size].to_numpy(float) >= sizes[-k]
    return _checked(Split("largest", f"largest {k} size(s) held out (N >= {sizes[-k]:.3g})", ~test, test))


def rolling(table: pd.DataFrame, cutoffs=None, *, size: str = "N", tokens: str = "D") -> list[Split]:
    """Compute splits at several cutoffs (default: the 50%, 65% and 80% quantiles of 6ND)."""
    if cutoffs is None:
        cutoffs = np.quantile(_compute(table, size, tokens), [0.5, 0.65, 0.8])
    return [by_compute(table, c, size=size, tokens=tokens) for c in cutoffs]


def parse(spec: str, table: pd.DataFrame, *, law: str = "supervised") -> list[Split]:
    """``compute:1e21``, ``loss:2.2``, ``ratio:250`` (tokens per parameter), ``largest:1``, ``rolling`` or
    ``rolling:1e20,1e21``."""
    size, tokens, loss = ("N_S", "D_S", "L_S") if law == "distillation" else ("N", "D", "loss")
    kind, _, arg = spec.partition(":")
    try:
        if kind == "compute":
            return [by_compute(table, float(arg), size=size, tokens=tokens)]
        if kind == "loss":
            return [by_loss(table, float(arg), loss=loss)]
        if kind == "ratio":
            return [by_ratio(table, float(arg), size=size, tokens=tokens)]
        if kind == "largest":
            return [largest(table, int(arg or 1), size=size)]
        if kind == "rolling":
            cut = [float(x) for x in arg.split(",")] if arg else None
            return rolling(table, cut, size=size, tokens=tokens)
    except ValueError as err:
        if isinstance(err, DataError):
            raise
        raise DataError(f"bad split {spec!r}: {err}") from err
    raise DataError(f"split must be compute:C, loss:L, ratio:R, largest:K or rolling[:C1,C2,...]; got {spec!r}")
