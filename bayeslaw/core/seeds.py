"""One user seed, fanned out into named streams; no module draws random numbers on its own.

:class:`Streams` gives each stochastic stage its own independent 32-bit seed through
:class:`numpy.random.SeedSequence`, so the same user seed gives the same posterior, the same
diagnostics and the same plans, and adding a stage never shifts the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayeslaw.core.errors import InputError

# The order of the spawned children is part of every saved result: never reorder.
_STREAMS = ("sampling", "diagnostics", "predictive", "subsample")


def fan_out(seed: int, n: int = 4) -> list[int]:
    """Derive ``n`` independent 32-bit seeds from one user seed."""
    if seed is None or int(seed) < 0:
        raise InputError("a non-negative integer seed is required")
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]


@dataclass(frozen=True)
class Streams:
    """The named seeds of one user seed.

    ``sampling`` seeds NUTS, ``diagnostics`` the posterior predictive check, ``predictive``
    prior-predictive and held-out predictive draws, ``subsample`` the posterior draws a plan or
    report uses. ``split``, ``inner_split`` and ``extrapolation`` are the per-split seeds of a
    backtest (the user seed offset by the split's number, so that each split is reproducible on
    its own).
    """

    seed: int

    def _child(self, name: str) -> int:
        return fan_out(self.seed, len(_STREAMS))[_STREAMS.index(name)]

    @property
    def sampling(self) -> int:
        return self._child("sampling")

    @property
    def diagnostics(self) -> int:
        return self._child("diagnostics")

    @property
    def predictive(self) -> int:
        return self._child("predictive")

    @property
    def subsample(self) -> int:
        return self._child("subsample")

    def split(self, i: int) -> int:
        """The user-level seed of backtest split ``i``."""
        return self.seed + i

    def inner_split(self, j: int) -> int:
        """The user-level seed of inner calibration split ``j``."""
        return self.seed + 100 + j

    def extrapolation(self, i: int) -> int:
        """The seed of the extrapolation-error draws of backtest split ``i``."""
        return self.seed + 1000 + i
