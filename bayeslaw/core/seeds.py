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


def _checked(seed: int) -> int:
    if seed is None or int(seed) < 0:
        raise InputError("a non-negative integer seed is required")
    return int(seed)


def fan_out(seed: int, n: int = 4) -> list[int]:
    """Derive ``n`` independent 32-bit seeds from one user seed."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(_checked(seed)).spawn(n)]


#: Families of indexed seeds (a backtest's splits, ...). Each is spawned from the user seed at the key
#: ``(len(_STREAMS) + its position, *index)``, disjoint from the named streams' keys and from each other's, so
#: no two stages share a seed whatever their indices (the arithmetic offsets of bayeslaw <= 0.5 collided: a
#: study's split ``k`` was seeded like the leave-one-study-out fit ``k``). Append only: never reorder.
_FAMILIES = ("split", "inner_split", "extrapolation", "study_split", "population_error", "population_check",
             "leave_one_out", "pilot", "ratio_loso", "ratio_loso_draws", "ratio_drift", "predict_chunk", "exact_loo",
             "allocation", "allocation_draws", "bootstrap")


@dataclass(frozen=True)
class Streams:
    """The named seeds of one user seed.

    ``sampling`` seeds NUTS, ``diagnostics`` the posterior predictive check, ``predictive``
    prior-predictive and held-out predictive draws, ``subsample`` the posterior draws a plan or
    report uses. :meth:`child` gives the indexed seeds of repeated stages (a backtest's splits, a
    calibration's studies), each a spawned child of the user seed, so that each is reproducible on its own.
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

    def child(self, family: str, *index: int) -> int:
        """The seed of item ``index`` of a family of repeated stages (one of :data:`_FAMILIES`)."""
        if family not in _FAMILIES:
            raise ValueError(f"unknown seed family {family!r}; add it to _FAMILIES (at the end)")
        if any(int(i) < 0 for i in index):
            raise InputError("seed indices must be non-negative")
        key = (len(_STREAMS) + _FAMILIES.index(family), *(int(i) for i in index))
        return int(np.random.SeedSequence(_checked(self.seed), spawn_key=key).generate_state(1)[0])

    def split(self, i: int) -> int:
        """The user-level seed of backtest split ``i``."""
        return self.child("split", i)

    def inner_split(self, j: int) -> int:
        """The user-level seed of inner calibration split ``j``."""
        return self.child("inner_split", j)

    def extrapolation(self, i: int) -> int:
        """The seed of the extrapolation-error draws of split ``i``."""
        return self.child("extrapolation", i)
