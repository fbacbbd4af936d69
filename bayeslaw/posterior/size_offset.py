"""A new student size's offset: what a distilled student of an unmeasured architecture adds beyond Eq. 8.

A posterior fitted with per-size offsets (:class:`~bayeslaw.model.spec.JointSpec` ``size_effect``) says that the
students of one size share a shift of their log loss away from the law, spread with sd ``size_effect_sd``. The
paper's five student sizes have theirs; a student a user plans is another architecture, whose offset is unknown
and drawn from that spread, one per draw. Students of one size share it wherever they appear (every budget and
scenario of a plan, a pilot run and the plan it informs), students of two sizes draw theirs apart: the offset is
keyed by the size, not by the call that asks for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bayeslaw.posterior.card import Fit

#: Sizes within this relative distance share an offset (they are the same architecture written two ways).
SAME_SIZE = 1e-6


def has_size_offset(fit: Fit) -> bool:
    """Whether ``fit`` was fitted with per-student-size offsets (``JointSpec.size_effect``)."""
    return fit.law == "distillation" and bool(fit.card["spec"].get("size_effect"))


@dataclass(frozen=True)
class SizeOffset:
    """Per draw, the offset on a distilled student's log loss of each student size the fit has not measured.

    Attributes
    ----------
    sd
        The offsets' spread per draw (``size_effect_sd``), shape ``(draw,)``.
    key
        Seeds each size's standard-normal draws together with the size: the same size gives the same draws.
    """

    sd: np.ndarray
    key: int

    @classmethod
    def draw(cls, fit: Fit, draw_index: np.ndarray, rng: np.random.Generator) -> SizeOffset | None:
        """The offsets of the draws ``draw_index`` of ``fit`` (one integer from ``rng``); None for a posterior
        without per-size offsets (then nothing is taken from ``rng``)."""
        if not has_size_offset(fit):
            return None
        sd = fit.draws(["size_effect_sd"])["size_effect_sd"][np.asarray(draw_index)]
        return cls(sd, int(rng.integers(0, 2 ** 63 - 1)))

    def z(self, N_S: float) -> np.ndarray:
        """The standard-normal draws ``(draw,)`` of student size ``N_S``."""
        size = round(math.log(float(N_S)) / SAME_SIZE)
        return np.random.default_rng([self.key, size & (2 ** 63 - 1)]).standard_normal(self.sd.size)

    def at(self, N_S: np.ndarray | float, ndim: int) -> np.ndarray:
        """The offset ``(draw, ...)`` (``ndim`` dims) of students of sizes ``N_S``.

        Parameters
        ----------
        N_S
            Student sizes: ``(draw, ...)`` with ``ndim`` dims (the same sizes in every draw, as every caller has
            them) or without the draw axis.
        ndim
            The dims of the result.

        Returns
        -------
        numpy.ndarray
            ``sd * z(size)`` per draw and student; 0 where a size is not finite (a cell without a recipe).
        """
        N = np.asarray(N_S, float)
        sizes = N[0] if N.ndim == ndim else N
        flat = np.ravel(sizes)
        out = np.zeros((self.sd.size, flat.size))
        for size in np.unique(flat[np.isfinite(flat) & (flat > 0)]):
            out[:, flat == size] = (self.sd * self.z(size))[:, None]
        return out.reshape(self.sd.size, *np.shape(sizes))
