"""How far a prediction reaches beyond the runs a posterior was fitted to.

A scaling law is fitted on small runs and used on large ones; its bands only account for
the uncertainty the fitted runs allow, not for the law's form failing further out. This
module measures the reach of each prediction as two factors: the model size over the largest
fitted model, and the training compute (6 N D of one model) over the largest fitted run's.
Beyond ``WARN_FACTOR`` (one decade) either way, reports print a warning: in the Chinchilla
and Epoch analyses one decade past the largest run is already where fits disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from bayeslaw.core.fmt import sci
from bayeslaw.posterior.card import Fit

WARN_FACTOR = 10.0


@dataclass(frozen=True)
class FittedScale:
    """The largest model and the largest single-run training compute (6 N D) among the fitted runs."""

    size: float
    compute: float


def fitted_scale(fit: Fit) -> FittedScale:
    """Read the fitted runs of a posterior (observed data; teachers from the model card's ranges)."""
    obs = fit.idata["observed_data"]
    sizes, computes = [], []
    for n, d in (("log_N", "log_D"), ("log_N_S", "log_D_S")):
        if n in obs.data_vars and obs[n].size:  # a joint fit without supervised runs has none
            N, D = np.exp(obs[n].values), np.exp(obs[d].values)
            sizes.append(N.max())
            computes.append((6.0 * N * D).max())
    rng = fit.card["data"].get("range", {})
    if "N_T" in rng and "D_T" in rng:
        # an upper bound: the largest teacher on the most tokens any teacher saw
        sizes.append(rng["N_T"][1])
        computes.append(6.0 * rng["N_T"][1] * rng["D_T"][1])
    return FittedScale(size=float(max(sizes)), compute=float(max(computes)))


def factors(scale: FittedScale, N, D) -> tuple[np.ndarray, np.ndarray]:
    """Model size over the largest fitted model, and training compute 6ND over the largest fitted run's.

    ``N`` and ``D`` broadcast against each other; both factors have their shape (NaN stays NaN).
    """
    N, D = np.asarray(N, float), np.asarray(D, float)
    return N / scale.size, 6.0 * N * D / scale.compute


def reach(scale: FittedScale, N, D) -> xr.Dataset:
    """Size and compute factors of models ``(N, D)`` over the fitted scale (NaN inputs stay NaN).

    Parameters
    ----------
    scale
        The fitted runs' largest model and single-run compute (:func:`fitted_scale`).
    N, D
        Model sizes and tokens, broadcast against each other.

    Returns
    -------
    xarray.Dataset
        ``size_factor``, ``compute_factor`` and ``beyond`` (either above ``WARN_FACTOR``) with dims
        ``(point,)``; ``attrs`` hold the factor and the fitted scale.
    """
    size, comp = np.broadcast_arrays(*factors(scale, N, D))
    ds = xr.Dataset({"size_factor": (("point",), size.ravel()), "compute_factor": (("point",), comp.ravel())})
    ds["beyond"] = (ds["size_factor"] > WARN_FACTOR) | (ds["compute_factor"] > WARN_FACTOR)
    ds.attrs.update(warn_factor=WARN_FACTOR, fitted_size=scale.size, fitted_compute=scale.compute)
    return ds


def describe(label: str, size_factor: float, compute_factor: float) -> str | None:
    """A short note when a model lies more than ``WARN_FACTOR`` beyond the fitted runs, else None."""
    parts = []
    if np.isfinite(size_factor) and size_factor > WARN_FACTOR:
        parts.append(f"{sci(size_factor)}x the largest fitted model")
    if np.isfinite(compute_factor) and compute_factor > WARN_FACTOR:
        parts.append(f"{sci(compute_factor)}x the largest fitted run's compute")
    if not parts:
        return None
    return f"{label}: {' and '.join(parts)}"


def warning(notes: list[str]) -> str | None:
    """One warning for all predictions beyond ``WARN_FACTOR``."""
    if not notes:
        return None
    return (f"{len(notes)} prediction(s) reach more than {WARN_FACTOR:.0f}x beyond the fitted runs, where only the "
            f"law's form carries them: " + "; ".join(notes))
