"""The law's own error beyond a fit's runs, from the population learned over public studies.

``models/extrapolation_calibration.nc`` (``bayeslaw calibrate``; :mod:`bayeslaw.validate.calibration`) holds
the posterior of a hierarchical model of how far a scaling law errs on runs beyond those it was fitted on:
a step at the edge of the fitted runs and growth per decade. A prediction beyond a fit's runs draws a new
study's error from that population and adds it to the new-run draws; inside the fitted runs it adds nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayeslaw.core.errors import PosteriorError
from bayeslaw.posterior.card import Fit, load, package_versions
from bayeslaw.posterior.reach import FittedScale, reach

#: The shipped calibration (rebuilt by ``bayeslaw calibrate``).
CALIBRATION = Path(__file__).resolve().parents[2] / "models" / "extrapolation_calibration.nc"


_LOADED: dict[tuple[str, float, int], Fit] = {}


def load_calibration(path: str | Path | None = None) -> Fit:
    """The calibration posterior, refused if edited, corrupt, of another kind or from another bayeslaw version.

    Loaded and verified once per file version in a process, so that a prediction costs no extra read.
    """
    path = Path(path or CALIBRATION)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    cal = load(path, expect_law="calibration")
    mine, theirs = package_versions()["bayeslaw"], cal.card["versions"].get("bayeslaw")
    if theirs != mine:
        raise PosteriorError(f"{path} was calibrated by bayeslaw {theirs}, this is {mine}: rebuild it with "
                             "`bayeslaw calibrate`")
    if key is not None:
        _LOADED[key] = cal
    return cal


def decades_beyond(scale: FittedScale, N, D) -> np.ndarray:
    """Decades a model lies beyond the fitted runs, in size or in 6ND, whichever is more (0 inside them)."""
    r = reach(scale, N, D)
    return np.maximum(0.0, np.log10(np.maximum(r["size_factor"].values, r["compute_factor"].values)))


def population_sd(cal: Fit, decades: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws ``(n, point)`` of a new study's extrapolation-error sd (log loss) at ``decades`` (0 inside).

    Each draw takes a posterior draw of the population and a new study's edge and growth from its central
    part (:data:`NEW_STUDY_Z`).
    """
    post = cal.draws(["mu_log_edge", "mu_log_growth", "sd_log_edge", "sd_log_growth"])
    pick = rng.integers(0, post["mu_log_edge"].size, n)
    edge = np.exp(post["mu_log_edge"][pick] + post["sd_log_edge"][pick] * _central(rng, n))
    growth = np.exp(post["mu_log_growth"][pick] + post["sd_log_growth"][pick] * _central(rng, n))
    d = np.asarray(decades, float)[None, :]
    return np.where(d > 0, np.sqrt(edge[:, None] ** 2 + (growth[:, None] * d) ** 2), 0.0)


#: A new study is drawn from the population's central part: within this many population sds of its mean.
#: Untruncated, a few of thousands of draws put a study's error at e^5-e^7 times the typical one (a loss off
#: by a factor of e^40 in a backtest, CRPS 1e33), which none of the seven studies supports: the most extreme,
#: Marin's sweeps, lie about 1.3 sds above the mean.
NEW_STUDY_Z = 2.5


def _central(rng: np.random.Generator, n: int) -> np.ndarray:
    """Standard normal draws truncated to +-NEW_STUDY_Z (redrawn, not clipped)."""
    z = rng.standard_normal(n)
    bad = np.abs(z) > NEW_STUDY_Z
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > NEW_STUDY_Z
    return z


def add_to_log_new(log_new: np.ndarray, decades: np.ndarray, cal: Fit, rng: np.random.Generator) -> np.ndarray:
    """New-run log-loss draws ``(draw, point)`` with the population's extrapolation error added beyond the runs."""
    sd = population_sd(cal, decades, log_new.shape[0], rng)
    return log_new + sd * rng.standard_normal(sd.shape)
