"""The law's own error beyond a fit's runs, from the population learned over public studies.

``models/extrapolation_calibration.nc`` (``bayeslaw calibrate``; :mod:`bayeslaw.validate.calibration`) holds
the posterior of a hierarchical model of how far a scaling law errs on runs beyond those it was fitted on:
a step at the edge of the fitted runs and growth per decade. A prediction beyond a fit's runs draws a new
study's error from that population and adds it to the new-run draws; inside the fitted runs it adds nothing.

A plan compares two options built on the same supervised law (the supervised student, and the distilled
student whose Eq. 8 takes the supervised law at the student, L~_S, and at the teacher, L_T):
:class:`LawError` carries one draw of the law's error at the student into both options and an independent one
into a teacher the law predicts, so that the paired difference widens only by what does not cancel.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core import compute, laws, params
from bayeslaw.core import extrapolation as law_error
from bayeslaw.core.compute import PAPER_ARCHITECTURE
from bayeslaw.core.errors import PosteriorError
from bayeslaw.core.intervals import tails
from bayeslaw.posterior.card import Fit, load, package_versions
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.reach import (
    FittedScale,
    FittedStudents,
    factors,
    fitted_scale,
    fitted_students,
    student_distance,
    student_reach,
)
from bayeslaw.posterior.size_offset import SizeOffset

#: The shipped calibration (rebuilt by ``bayeslaw calibrate``).
CALIBRATION = Path(__file__).resolve().parents[2] / "models" / "extrapolation_calibration.nc"
#: The extensions of Eq. 8 a distillation posterior can be fitted with (``JointSpec``), in the order a form names them.
EXTENSIONS = ("size_effect", "weak_teacher")
#: The form of the default posterior of the paper's runs (the weak-teacher gain; docs/validation.md).
DEFAULT_FORM = ("weak_teacher",)
#: Eq. 8 as the paper prints it.
PAPER_FORM: tuple[str, ...] = ()
#: The shipped distillation-law errors (rebuilt by ``bayeslaw calibrate --distillation``), one per form of the law
#: whose split fits learned it: the default posterior's, Eq. 8 as printed, per-student-size offsets on Eq. 8.
STUDENT_ERROR = Path(__file__).resolve().parents[2] / "models" / "distillation_error.nc"
STUDENT_ERROR_PAPER = STUDENT_ERROR.with_name("distillation_error_paper_form.nc")
STUDENT_ERROR_SIZE = STUDENT_ERROR.with_name("distillation_error_size_effect.nc")
STUDENT_ERROR_MODEL = "bayeslaw.model.build.build_student_discrepancy"
#: The shipped tokens-per-parameter drift (rebuilt by ``bayeslaw calibrate --ratio``), and the model that makes it.
RATIO_DRIFT = Path(__file__).resolve().parents[2] / "models" / "ratio_drift.nc"
#: The compute-optimal size's own error beyond the fitted runs, learned from IsoFLOP replays
#: (:mod:`bayeslaw.validate.allocation`; ``python -m bayeslaw.validate.allocation`` rebuilds it).
ALLOCATION = Path(__file__).resolve().parents[2] / "models" / "allocation_error.json"
RATIO_DRIFT_MODEL = "bayeslaw.model.build.build_ratio_drift"
#: How backtests name the distillation law's bands with its learned error (what predictions use by default).
WITH_STUDENT_ERROR = "bayeslaw + distillation error"


#: Verified posteriors by (kind, path, mtime, size): a file is checked once per process as the kind it was asked as.
_LOADED: dict[tuple[str, str, float, int], Fit] = {}


def load_calibration(path: str | Path | None = None) -> Fit:
    """The calibration posterior, refused if edited, corrupt, of another kind or from another bayeslaw version.

    Loaded and verified once per file version in a process, so that a prediction costs no extra read.
    """
    def verify(cal: Fit, path: Path) -> None:
        if cal.card["spec"].get("model") in (STUDENT_ERROR_MODEL, RATIO_DRIFT_MODEL):
            raise PosteriorError(f"{path} is another error model ({cal.card['spec'].get('model')}), not the "
                                 f"supervised calibration: give {CALIBRATION.name} (or leave the calibration at its "
                                 "default)")
        _check_version(cal, path, "bayeslaw calibrate")

    return _load_verified("calibration", Path(path or CALIBRATION), verify)


def _load_verified(kind: str, path: Path, verify: Callable[[Fit, Path], None]) -> Fit:
    """An error-model posterior loaded and checked by ``verify`` once per file version (path, mtime, size) and kind
    in a process."""
    try:
        st = path.stat()
        key = (kind, str(path.resolve()), st.st_mtime, st.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    fit = load(path, expect_law="calibration")
    verify(fit, path)
    if key is not None:
        _LOADED[key] = fit
    return fit


def _check_version(cal: Fit, path: Path, rebuild: str) -> None:
    mine, theirs = package_versions()["bayeslaw"], cal.card["versions"].get("bayeslaw")
    if theirs != mine:
        raise PosteriorError(f"{path} was calibrated by bayeslaw {theirs}, this is {mine}: rebuild it with `{rebuild}`")


def load_student_error(path: str | Path | None = None) -> Fit:
    """The distillation law's error posterior (:mod:`bayeslaw.inference.student_error`), verified as
    :func:`load_calibration` verifies the calibration."""
    path = Path(path or STUDENT_ERROR)
    err = load(path, expect_law="calibration")
    if err.card["spec"].get("model") != STUDENT_ERROR_MODEL:
        raise PosteriorError(f"{path} is not a distillation-law error (it was made by "
                             f"{err.card['spec'].get('model')}); rebuild it with `bayeslaw calibrate --distillation`")
    _check_version(err, path, "bayeslaw calibrate --distillation")
    return err


def load_drift(path: str | Path | None = None) -> Fit:
    """The tokens-per-parameter drift posterior (:mod:`bayeslaw.inference.ratio_drift`), verified as
    :func:`load_calibration` verifies the calibration (and loaded once per file version in a process)."""
    def verify(drift: Fit, path: Path) -> None:
        if drift.card["spec"].get("model") != RATIO_DRIFT_MODEL:
            raise PosteriorError(f"{path} is not a tokens-per-parameter drift (it was made by "
                                 f"{drift.card['spec'].get('model')}); rebuild it with `bayeslaw calibrate --ratio`")
        _check_version(drift, path, "bayeslaw calibrate --ratio")

    return _load_verified("drift", Path(path or RATIO_DRIFT), verify)


def resolve_drift(calibration: Fit | None) -> Fit | None:
    """The tokens-per-parameter drift that goes with a calibration: the shipped one where a calibration is used and
    the drift exists, else None (the law's error then grows with size and compute only)."""
    if calibration is None or not RATIO_DRIFT.exists():
        return None
    return load_drift()


def ratio_decades(scale: FittedScale, N, D) -> np.ndarray:
    """Decades past the most tokens per parameter of any fitted run (0 within them; NaN stays NaN)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return law_error.ratio_decades(np.asarray(D, float) / np.asarray(N, float) / scale.ratio)


def law_form(record: Mapping[str, Any]) -> tuple[str, ...]:
    """The extensions of Eq. 8 (of :data:`EXTENSIONS`) that a distillation posterior's spec, or a distillation-law
    error's data record, names: ``()`` is the paper's form."""
    return tuple(k for k in EXTENSIONS if record.get(k))


#: The extensions in words.
EXTENSION_WORDS = {"size_effect": "per-student-size offsets", "weak_teacher": "the weak-teacher gain"}


def form_words(form: tuple[str, ...]) -> str:
    """A form of the law in words."""
    return "Eq. 8 with " + " and ".join(EXTENSION_WORDS[k] for k in form) if form else "Eq. 8 as printed"


def form_suffix(form: tuple[str, ...]) -> str:
    """How shipped files of a form of the law are named after the default's: ``""`` for the default form,
    ``"_paper_form"`` for Eq. 8 as printed, else the extensions' names (``"_size_effect"``)."""
    if tuple(form) == DEFAULT_FORM:
        return ""
    return "_" + ("_".join(form) if form else "paper_form")


def student_error_path(form: tuple[str, ...] = DEFAULT_FORM) -> Path:
    """Where the distillation-law error of a form of the law ships (:data:`STUDENT_ERROR` for the default form,
    :func:`form_suffix` for another)."""
    return STUDENT_ERROR.with_name(f"distillation_error{form_suffix(form)}.nc")


def resolve_student_error(extrapolation: bool | str | Path, form: tuple[str, ...] = DEFAULT_FORM) -> Fit | None:
    """The distillation law's error an ``extrapolation=`` option implies for a posterior of ``form``
    (:func:`law_form`): the shipped one learned by split fits of that form where the calibration is on and it
    exists, else None (outputs then say the distilled students' bands lack it). The errors a law leaves depend on
    the law, so each posterior takes the one learned from its own kind of fit."""
    path = student_error_path(form)
    if extrapolation is False or not path.exists():
        return None
    return load_student_error(path)


def new_study_prior(cal: Fit) -> dict[str, tuple[float, float]]:
    """A new study's log edge and log growth under the population (``(mean, sd)`` each): the population means'
    posterior mean, and the sd of a new study drawn as :func:`population_error` draws one (the means' posterior
    spread and the population sd over its central part), moment-matched to a normal."""
    post = cal.draws(["mu_log_edge", "mu_log_growth", "sd_log_edge", "sd_log_growth"])
    z = np.linspace(-NEW_STUDY_Z, NEW_STUDY_Z, 20001)
    w = np.exp(-0.5 * z ** 2)
    var_z = float(np.sum(w * z ** 2) / np.sum(w))  # a truncated standard normal's variance
    out = {}
    for name, mu, sd in (("log_edge", "mu_log_edge", "sd_log_edge"), ("log_growth", "mu_log_growth", "sd_log_growth")):
        out[name] = (float(np.mean(post[mu])), float(np.sqrt(np.var(post[mu]) + np.mean(post[sd] ** 2) * var_z)))
    return out


def resolve_calibration(extrapolation: bool | str | Path) -> Fit | None:
    """The extrapolation calibration an ``extrapolation=`` option names: the shipped one (True), a file, or none
    (False). With True and no shipped calibration, None: outputs then say that their bands hold the law and the
    noise only."""
    if extrapolation is False:
        return None
    if extrapolation is True and not CALIBRATION.exists():
        return None
    return load_calibration(None if extrapolation is True else extrapolation)


def decades_beyond(scale: FittedScale, N, D) -> np.ndarray:
    """Decades a model lies beyond the fitted runs, in size or in 6ND, whichever is more (0 inside them).

    ``N`` and ``D`` broadcast against each other; the result has their shape (NaN stays NaN).
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return law_error.decades_beyond(*factors(scale, N, D))


def population_error(cal: Fit, decades: np.ndarray, n: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws ``(n, point)`` of a new study's extrapolation error at ``decades`` (0 inside): its signed mean (the
    study's lean; 0 for a calibration without one) and its sd, both on log loss.

    Each draw takes a posterior draw of the population and a new study's edge, growth and lean from its central
    part (:data:`NEW_STUDY_Z`). An error draw is ``mean + sd * z``.
    """
    new = _new_studies(cal, n, rng)
    d = np.asarray(decades, float)[None, :]
    return new.mean(d, 2), new.sd(d, 2)


@dataclass(frozen=True)
class NewStudies:
    """``n`` new studies drawn from the calibration's population: each one's error parameters (sd of log loss at the
    edge and per decade) and its signed lean (mean log-loss error at the edge and per decade)."""

    edge: np.ndarray
    growth: np.ndarray
    shift_edge: np.ndarray
    shift_growth: np.ndarray

    def sd(self, d: np.ndarray, ndim: int) -> np.ndarray:
        """The error's sd at ``d`` decades beyond (``(draw, ...)``, ``ndim`` dims)."""
        return _sd(_per_draw(self.edge, ndim), _per_draw(self.growth, ndim), d)

    def mean(self, d: np.ndarray, ndim: int) -> np.ndarray:
        """The error's signed mean at ``d`` decades beyond (0 inside, and where ``d`` is NaN: no model)."""
        with np.errstate(invalid="ignore"):
            return law_error.error_mean(_per_draw(self.shift_edge, ndim), _per_draw(self.shift_growth, ndim), d)


def is_signed(cal: Fit) -> bool:
    """Whether a calibration learned the law's signed lean beyond the runs
    (:func:`bayeslaw.model.build.build_discrepancy`'s ``signed``)."""
    return "mu_shift_edge" in cal.idata["posterior"]


def _new_studies(cal: Fit, n: int, rng: np.random.Generator) -> NewStudies:
    """``n`` new studies, each from a population draw; a calibration without a lean draws exactly as it did before
    leans were learned (nothing more taken from ``rng``)."""
    post = cal.draws(["mu_log_edge", "mu_log_growth", "sd_log_edge", "sd_log_growth"])
    pick = rng.integers(0, post["mu_log_edge"].size, n)
    edge = np.exp(post["mu_log_edge"][pick] + post["sd_log_edge"][pick] * _central(rng, n))
    growth = np.exp(post["mu_log_growth"][pick] + post["sd_log_growth"][pick] * _central(rng, n))
    if not is_signed(cal):
        return NewStudies(edge, growth, np.zeros(n), np.zeros(n))
    lean = cal.draws(["mu_shift_edge", "sd_shift_edge", "mu_shift_growth", "sd_shift_growth"])
    shift_edge = lean["mu_shift_edge"][pick] + lean["sd_shift_edge"][pick] * _central(rng, n)
    shift_growth = lean["mu_shift_growth"][pick] + lean["sd_shift_growth"][pick] * _central(rng, n)
    return NewStudies(edge, growth, shift_edge, shift_growth)


def _per_draw(x: np.ndarray, ndim: int) -> np.ndarray:
    """A per-draw vector shaped to broadcast against ``(draw, ...)`` arrays of ``ndim`` dims."""
    return x.reshape(-1, *([1] * (ndim - 1)))


def _sd(edge: np.ndarray, growth: np.ndarray, d: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return law_error.error_sd(edge, growth, d)


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


#: The ceiling of every loss the law's error can reach: a uniform guess over the paper's vocabulary (32768
#: tokens: 10.4 nats). No trained language model does worse; the floor is each draw's irreducible loss E.
LOG_CEILING = math.log(PAPER_ARCHITECTURE.uniform_loss)


def new_run(log_mean: np.ndarray, noise: np.ndarray | float, log_E: np.ndarray | None = None) -> np.ndarray:
    """A new run's log loss: ``log_mean`` plus its run ``noise``, held inside the law's domain ``[E, ceiling]``
    (without ``log_E``, as for supervised runs, below the ceiling only).

    The students' run noise is Student-t, and a fit whose tails grow heavy (nu near 1-2, as with per-size offsets)
    puts a handful of a million draws tens of thousands of sds out: a loss of e^50 nats, which no run has and which
    turns a CRPS or a mean into nonsense. Draws inside the domain are untouched.
    """
    return np.clip(log_mean + noise, log_E, LOG_CEILING)


def add_to_log_new(log_mean: np.ndarray, noise: np.ndarray | float, decades: np.ndarray, cal: Fit,
                   rng: np.random.Generator, log_floor: np.ndarray | float | None = None, *,
                   ratio: np.ndarray | None = None, drift: Fit | None = None, lean: bool = True) -> np.ndarray:
    """New-run log-loss draws ``(draw, point)``: ``log_mean`` with the population's extrapolation error beyond the
    runs (a new study's lean and spread, :func:`population_error`), then the run's ``noise``.

    Without ``log_floor`` (supervised predictions) the error is added to log loss as the leave-one-study-out
    evaluation validated it, and only a draw worse than a uniform guess is held at :data:`LOG_CEILING` (none is,
    within the three decades the studies measured). With it (each draw's log E, shape ``(draw, 1)``: distilled
    students, whose Eq. 8 turns a teacher or student below E into hundreds of nats) the error moves each draw's
    loss within ``(E, ceiling)`` (:func:`bayeslaw.core.extrapolation.within_bounds`): the calibrated error to
    first order, never a loss no language model has.

    With a ``drift`` (:func:`load_drift`) and each point's ``ratio`` decades past the fitted runs' most tokens per
    parameter, a new study's signed drift and its spread are added to the error too. ``lean=False`` leaves out the
    population's signed lean (the spread only): for the population standing in for another law's error, whose
    own error model learned no lean (the distillation law's, :mod:`bayeslaw.inference.student_error`).
    """
    mean, sd = population_error(cal, decades, log_mean.shape[0], rng)
    shift = (mean if lean else 0.0) + sd * rng.standard_normal(sd.shape)
    if drift is not None and ratio is not None:
        shift = shift + drift_shift(drift, np.asarray(ratio, float)[None, :], log_mean.shape[0], rng)
    if log_floor is None:
        return new_run(log_mean + noise, shift)
    return new_run(law_error.within_bounds(log_mean, shift, log_floor, LOG_CEILING), noise, log_floor)


def new_study_drift(drift: Fit, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new studies' tokens-per-parameter drift: slope (log loss per decade) and spread, each from a
    population draw of :func:`bayeslaw.inference.ratio_drift.fit_ratio_drift`'s posterior."""
    post = drift.draws(["mu_slope", "sd_slope", "spread"])
    pick = rng.integers(0, post["mu_slope"].size, n)
    slope = post["mu_slope"][pick] + post["sd_slope"][pick] * _central(rng, n)
    return slope, post["spread"][pick]


def drift_shift(drift: Fit, ratio_decades: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws ``(n, point)`` of the log-loss shift of runs ``ratio_decades`` (shape ``(1, point)`` or ``(n, point)``)
    past the fitted runs' most tokens per parameter: a new study's signed drift plus its spread (0 inside)."""
    slope, spread = new_study_drift(drift, n, rng)
    d = np.maximum(np.asarray(ratio_decades, float), 0.0)
    return slope[:, None] * d + spread[:, None] * d * rng.standard_normal(np.broadcast_shapes(d.shape, (n, 1)))


@dataclass(frozen=True)
class StudentError:
    """The distillation law's own error for a plan or a prediction: one draw of the learned error
    (:func:`load_student_error`) per posterior draw, where a distilled student lies beyond the fitted students.

    Independent of the supervised law's error at the student and at the teacher: one study cannot tell how they
    co-move (docs/validation.md), and independence adds their variances, the wider of the two simple choices.
    """

    edge: np.ndarray
    growth: np.ndarray
    z: np.ndarray
    span: FittedStudents
    #: the shipped file of the error's form (what outputs name as its source)
    source: str = STUDENT_ERROR.name

    @classmethod
    def draw(cls, err: Fit, span: FittedStudents, n: int, rng: np.random.Generator) -> StudentError:
        post = err.draws(["edge", "growth"])
        pick = rng.integers(0, post["edge"].size, n)
        return cls(post["edge"][pick], post["growth"][pick], rng.standard_normal(n), span,
                   student_error_path(law_form(err.card["data"])).name)

    def distance(self, N_S, D_S, L_S, L_T) -> tuple[np.ndarray, np.ndarray]:
        """How far students ``(N_S, D_S)`` whose (median) loss is ``L_S`` and teacher's ``L_T`` lie beyond the fitted
        students: ``(decades, outside)`` (:func:`bayeslaw.posterior.reach.student_distance`)."""
        return student_distance(student_reach(self.span, N_S, D_S, L_S, L_T))

    def sd(self, N_S, D_S, L_S, L_T, ndim: int) -> np.ndarray:
        """The error's sd ``(draw, ...)`` (``ndim`` dims) at students ``(N_S, D_S)`` whose (median) loss is ``L_S``
        and teacher's ``L_T``: each shaped ``(draw, ...)`` or without the draw axis."""
        decades, outside = self.distance(N_S, D_S, L_S, L_T)
        return _sd_outside(_per_draw(self.edge, ndim), _per_draw(self.growth, ndim), decades, outside)

    def reached(self, log_S: np.ndarray, N_S, D_S, log_L_T: np.ndarray, log_E: np.ndarray,
                offset: np.ndarray | float = 0.0) -> np.ndarray:
        """``log_S`` ``(draw, ...)`` with the distillation law's error (and a new size's ``offset``), kept within
        ``(E, ceiling)``; whether a student lies beyond the fitted ones is judged by the draws' median loss and
        teacher loss."""
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN cell (no feasible recipe) stays NaN
            L_S, L_T = np.nanmedian(np.exp(log_S), axis=0), np.nanmedian(np.exp(log_L_T), axis=0)
        shift = _per_draw(self.z, log_S.ndim) * self.sd(N_S, D_S, L_S, L_T, log_S.ndim)
        return law_error.within_bounds(log_S, np.where(np.isfinite(shift), shift, 0.0) + offset, log_E, LOG_CEILING)


def _sd_outside(edge: np.ndarray, growth: np.ndarray, d: np.ndarray, outside: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return law_error.error_sd(edge, growth, np.nan_to_num(d), outside=outside)


@dataclass(frozen=True)
class LawError:
    """The supervised law's extrapolation error for a plan, one new study per posterior draw.

    ``z_student`` is the error at the student (in sds), shared by the supervised and the distilled
    option: both rest on the same law at the same model size. ``z_teacher`` is the error of a teacher
    whose loss the law predicts, drawn apart (another model, often far larger). A measured teacher
    carries none. Both centre on the draw's study's lean (``shift_edge``, ``shift_growth``), where the
    calibration learned one: a study's law leans the same way at every model it extrapolates to.
    """

    edge: np.ndarray
    growth: np.ndarray
    z_student: np.ndarray
    z_teacher: np.ndarray
    scale: FittedScale
    #: each draw's new-study lean beyond the runs (mean log-loss error at the edge and per decade; None: no lean)
    shift_edge: np.ndarray | None = None
    shift_growth: np.ndarray | None = None
    #: the distillation law's own error (None: not included)
    student: StudentError | None = None
    #: each draw's new-study drift past the fitted runs' most tokens per parameter (log loss per decade) and its
    #: spread (None: not included)
    slope: np.ndarray | None = None
    spread: np.ndarray | None = None
    #: a new student size's offset, for a posterior fitted with per-size offsets (None: not one)
    size: SizeOffset | None = None

    @classmethod
    def draw(cls, cal: Fit, scale: FittedScale, n: int, rng: np.random.Generator,
             student: tuple[Fit, FittedStudents] | None = None, drift: Fit | None = None) -> LawError:
        new = _new_studies(cal, n, rng)
        z_s, z_t = rng.standard_normal(n), rng.standard_normal(n)
        lean = (new.shift_edge, new.shift_growth) if is_signed(cal) else (None, None)
        err = cls(new.edge, new.growth, z_s, z_t, scale, *lean,
                  student=None if student is None else StudentError.draw(*student, n, rng))
        if drift is None:
            return err
        return replace(err, **dict(zip(("slope", "spread"), new_study_drift(drift, n, rng), strict=True)))

    def log_error(self, N, D, z: np.ndarray) -> np.ndarray:
        """``z`` sds of the law's error at models ``(N, D)`` of shape ``(draw, ...)`` (0 inside the fitted runs) plus
        the study's lean there, and past the fitted tokens per parameter the drift: its signed shift, its spread
        added to the sd."""
        d = decades_beyond(self.scale, N, D)
        k = d.ndim
        sd = _sd(_per_draw(self.edge, k), _per_draw(self.growth, k), d)
        mean = 0.0
        if self.shift_edge is not None:
            with np.errstate(invalid="ignore"):
                mean = law_error.error_mean(_per_draw(self.shift_edge, k), _per_draw(self.shift_growth, k), d)
        if self.slope is None:
            return _per_draw(z, k) * sd + mean
        # no model, no drift: a best-case teacher has no (N, D) (NaN), as it has no decades beyond (d NaN: no error)
        r = np.broadcast_to(np.nan_to_num(ratio_decades(self.scale, N, D), nan=0.0), d.shape)
        sd = np.sqrt(sd ** 2 + (_per_draw(self.spread, k) * r) ** 2)
        return _per_draw(z, k) * sd + mean + _per_draw(self.slope, k) * r

    def reached(self, log_L: np.ndarray, N, D, z: np.ndarray, log_E: np.ndarray) -> np.ndarray:
        """``log_L`` (shape ``(draw, ...)``) with the law's error at ``(N, D)``, kept between each draw's
        irreducible loss ``E`` and :data:`LOG_CEILING` (:func:`bayeslaw.core.extrapolation.within_bounds`)."""
        return law_error.within_bounds(log_L, self.log_error(N, D, z), log_E, LOG_CEILING)


def supervised_outcome(c: dict[str, np.ndarray], err: LawError, N, D) -> np.ndarray:
    """Log loss a supervised run at ``(N, D)`` (shape ``(draw, ...)``) reaches, the law's error included.

    ``c`` holds the sampled coefficients of the same draws as ``err``
    (:data:`~bayeslaw.core.params.SUPERVISED_SAMPLED`).
    """
    log_N, log_D = np.log(np.asarray(N, float)), np.log(np.asarray(D, float))
    col = {k: _per_draw(np.asarray(c[k]), log_N.ndim) for k in params.SUPERVISED_SAMPLED}
    return err.reached(laws.supervised_log_loss_centred(log_N, log_D, **col), N, D, err.z_student, col["log_E"])


def student_outcome(c: dict[str, np.ndarray], err: LawError, N_S, D_S, log_L_T, N_T=None, D_T=None) -> np.ndarray:
    """Log loss a distilled student at ``(N_S, D_S)`` reaches, the law's error included (Eq. 8 on both inputs).

    Parameters
    ----------
    c
        Sampled coefficients of the draws of ``err`` (supervised and distillation).
    err
        The law's error per draw.
    N_S, D_S
        Students, shape ``(draw, ...)``.
    log_L_T
        The teacher's log loss, same shape: the law's at ``(N_T, D_T)``, or a measured one.
    N_T, D_T
        The teacher the law predicts (its own error is added), or None for a measured teacher.

    Returns
    -------
    numpy.ndarray
        ``log L_S`` with the shape of ``N_S``.
    """
    return student_outcomes(c, err, N_S, D_S, log_L_T, N_T, D_T)[0]


def student_outcomes(c: dict[str, np.ndarray], err: LawError, N_S, D_S, log_L_T, N_T=None,
                     D_T=None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`student_outcome` with and without the distillation law's own error (``err.student``, and a new
    student size's offset ``err.size``), from one evaluation of Eq. 8: the second is what the first would be
    without them, for the share of a band they make.

    Parameters
    ----------
    c, err, N_S, D_S, log_L_T, N_T, D_T
        As :func:`student_outcome`'s.

    Returns
    -------
    tuple of numpy.ndarray
        ``(log L_S, log L_S without the distillation law's error)``, each with the shape of ``N_S`` (the same array
        twice when ``err`` carries no such error).
    """
    log_N, log_D = np.log(np.asarray(N_S, float)), np.log(np.asarray(D_S, float))
    col = {k: _per_draw(np.asarray(v), log_N.ndim) for k, v in c.items()}
    if params.TWIN + "log_E" in c:  # a cut posterior: Eq. 8's L~_S is a fixed feature, not the law at the student
        log_tilde = laws.supervised_log_loss_centred(log_N, log_D, **params.twin_of(col))
    else:
        log_tilde = supervised_outcome(c, err, N_S, D_S)
    if N_T is not None:
        # a predicted teacher meets the law's error too, but stays above its law's E: below it Eq. 8's
        # L_T**-c0 grows without bound (students at hundreds of nats)
        log_L_T = err.reached(log_L_T, N_T, D_T, err.z_teacher, col["log_E"])
    log_S = laws.distillation_log_loss_sampled(col, log_N, log_D, log_L_T, log_tilde, xp=np)
    offset = 0.0 if err.size is None else err.size.at(N_S, log_S.ndim)
    if err.student is not None:
        return err.student.reached(log_S, N_S, D_S, log_L_T, col["log_E"], offset), log_S
    if err.size is not None:
        return law_error.within_bounds(log_S, offset, col["log_E"], LOG_CEILING), log_S
    return log_S, log_S


#: What a plan's losses mean with and without the calibration (``attrs['extrapolation']``).
REACHED = ("losses and differences include the supervised law's extrapolation error beyond the fitted runs, "
           "its lean and its spread (learned from public studies, models/extrapolation_calibration.nc): one error "
           "at the student (in the supervised option, and in Eq. 8's L~_S unless the fit cut it), another at a "
           "predicted teacher (the same study's lean); not a run's seed noise")
MEAN_LAW = "mean-law losses: the law's extrapolation error beyond the fitted runs is not included"
STUDENT_REACHED = ("; distilled students beyond the fitted students also carry the distillation law's own error, "
                   "learned from the paper's runs (models/{})")
SIZE_REACHED = ("; every distilled student is a new architecture: its size's offset beyond Eq. 8 is drawn from the "
                "spread the fit's per-size offsets learned (one per size, shared by its budgets and scenarios)")


def plan_law_error(fit: Fit, cal: Fit, draw_index: np.ndarray, rng: np.random.Generator,
                   student_error: Fit | None = None) -> tuple[dict[str, np.ndarray], LawError]:
    """The sampled coefficients (supervised and distillation) of the posterior draws a plan used, and the
    law's error for each of them (one :class:`LawError` per decision, shared by all its options); for a
    distillation posterior with the distillation law's error (``student_error``, default the shipped one)."""
    keep = (*params.SUPERVISED_SAMPLED, *params.DISTILLATION_SAMPLED, *params.DISTILLATION_EXTENSIONS,
            *(params.TWIN + k for k in params.SUPERVISED_SAMPLED))
    c = {k: v[draw_index] for k, v in as_arrays(coefficients(fit)).items() if k in keep}
    span = fitted_students(fit)
    err = (student_error if student_error is not None
           else resolve_student_error(True, law_form(fit.card["spec"])) if span else None)
    if err is not None and law_form(err.card["data"]) != law_form(fit.card["spec"]):
        raise PosteriorError(f"this distillation-law error was learned from split fits of "
                             f"{form_words(law_form(err.card['data']))} and the posterior is of "
                             f"{form_words(law_form(fit.card['spec']))}: the errors a law leaves depend on the law; "
                             "use the error learned the posterior's way (bayeslaw calibrate --distillation "
                             "[--paper-form] [--size-effect])")
    student = None if err is None or span is None else (err, span)
    law_err = LawError.draw(cal, fitted_scale(fit), len(draw_index), rng, student, resolve_drift(cal))
    size = SizeOffset.draw(fit, draw_index, rng)  # after the others: a posterior without offsets draws as before
    return c, law_err if size is None else replace(law_err, size=size)


def plan_with_law_error(grid: xr.Dataset, c: dict[str, np.ndarray], err: LawError) -> xr.Dataset:
    """A planning grid whose losses are what each draw's recipe reaches, the law's extrapolation error included.

    The recipes (``D_S``, ``N_T``, ``D_T``) stay as planned on the law's expectation: the error is what
    following them meets, not something a plan could choose around.

    Parameters
    ----------
    grid
        :func:`bayeslaw.planning.grid.plan_grid`'s output (paper architecture's F(N) for FLOPs).
    c
        The coefficients of the draws behind the grid's ``draw`` (:func:`plan_law_error`).
    err
        The law's error for those draws: the same object for every option of one decision, so that
        they share the error at the student.

    Returns
    -------
    xarray.Dataset
        ``grid`` with ``L_S``, ``L_sup`` and ``diff`` the reached values, the mean-law ones kept as ``L_S_law``,
        ``L_sup_law`` and ``diff_law`` (dims as in the grid), and ``attrs['extrapolation']``.
    """
    L_S = grid["L_S"].transpose("draw", "student_size", "budget", "scenario")
    N_S = np.broadcast_to(grid["student_size"].values[None, :, None, None], L_S.shape)
    with np.errstate(invalid="ignore"):  # cells without a recipe (NaN) stay NaN, and are masked below
        log_S, log_plain = student_outcomes(c, err, N_S, grid["D_S"].transpose(*L_S.dims).values,
                                            np.log(grid["L_T"].transpose(*L_S.dims).values),
                                            grid["N_T"].transpose(*L_S.dims).values,
                                            grid["D_T"].transpose(*L_S.dims).values)
    N = grid["student_size"].values[None, :, None]
    # with a serving demand the student trains on what its serving leaves of each budget
    train = (grid["training_budget"].transpose("student_size", "budget").values[None] if "training_budget" in grid
             else grid["budget"].values[None, None, :])
    L_sup = grid["L_sup"].transpose("draw", "student_size", "budget")
    with np.errstate(invalid="ignore", divide="ignore"):
        D_sup = compute.supervised_tokens(N, train)
        log_sup = supervised_outcome(c, err, np.broadcast_to(N, L_sup.shape), np.broadcast_to(D_sup, L_sup.shape))
    out = grid.copy()
    out["L_S_law"], out["L_sup_law"], out["diff_law"] = grid["L_S"], grid["L_sup"], grid["diff"]
    out["L_S"] = L_S.copy(data=np.where(np.isfinite(L_S.values), np.exp(log_S), np.nan))
    out["L_sup"] = L_sup.copy(data=np.where(np.isfinite(L_sup.values), np.exp(log_sup), np.nan))
    out["diff"] = out["L_S"] - out["L_sup"]
    out.attrs["extrapolation"] = reached_text(err)
    if err.student is not None or err.size is not None:  # what the distillation law's own error adds
        plain = L_S.copy(data=np.where(np.isfinite(L_S.values), np.exp(log_plain), np.nan))
        out["diff_without_distillation_error"] = plain - out["L_sup"]
    return out


def reached_text(err: LawError | None) -> str:
    """What losses drawn with ``err`` include, in words (:data:`MEAN_LAW` without one)."""
    if err is None:
        return MEAN_LAW
    learned = err.student.source if err.student is not None else ""
    return (REACHED + (STUDENT_REACHED.format(learned) if err.student is not None else "")
            + (SIZE_REACHED if err.size is not None else ""))


def extrapolation_share(with_error: xr.DataArray, without: xr.DataArray, prob: float = 0.9,
                        dim: str = "draw") -> xr.DataArray:
    """The part of a band's width that the law's extrapolation error makes: 1 - width without / width with.

    Parameters
    ----------
    with_error, without
        The same quantity's draws with and without the error, dim ``dim``.
    prob
        The equal-tailed band's probability.

    Returns
    -------
    xarray.DataArray
        In [0, 1], the other dims of the inputs (NaN where no draw is finite).
    """
    q = list(tails(prob))
    w1 = with_error.quantile(q, dim=dim).diff("quantile").squeeze("quantile", drop=True)
    w0 = without.quantile(q, dim=dim).diff("quantile").squeeze("quantile", drop=True)
    return (1 - w0 / w1.where(w1 > 0)).clip(0, 1)


def load_allocation(path: str | Path = ALLOCATION) -> dict[str, float] | None:
    """The learned allocation error (``a``, ``b`` in log10 N*; :mod:`bayeslaw.validate.allocation`), or None where
    the file is not there; a file without them is refused."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        rec = json.loads(p.read_text())
        err = {"a": float(rec["a"]), "b": float(rec["b"])}
    except (ValueError, KeyError, TypeError) as e:
        raise PosteriorError(f"{p} is not an allocation error (JSON with a and b): {e}; rebuild it with "
                             "`python -m bayeslaw.validate.allocation`") from e
    if not all(np.isfinite(v) and v >= 0 for v in err.values()):
        raise PosteriorError(f"{p}: a and b must be finite and >= 0, got {err}")
    return err


def allocation_shift(err: dict[str, float], decades: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws ``(n, budget)`` of log10 N*'s error beyond the fitted runs: ``z sqrt(a^2 + (b d)^2)``, 0 inside.

    Parameters
    ----------
    err
        :func:`load_allocation`'s ``a`` and ``b``.
    decades
        Decades of compute beyond the fitted runs per budget.
    n
        Draws.
    rng
        The generator.

    Returns
    -------
    numpy.ndarray
        The shifts in log10 units.
    """
    d = np.asarray(decades, float)[None, :]
    sd = np.where(d > 0, np.sqrt(err["a"] ** 2 + (err["b"] * d) ** 2), 0.0)
    return sd * rng.standard_normal((n, d.shape[1]))


#: What an optimum's N* and D* include with the allocation error (``attrs['allocation']``).
ALLOCATED = ("N* and D* beyond the fitted runs include the compute-optimal size's own error, learned from IsoFLOP "
             "replays on four public sweeps (models/allocation_error.json; docs/validation.md): the law's N* "
             "missed the best run of later budgets by about 0.1 in log10 there")


def allocated_optimum(fit: Fit, N: np.ndarray, C: np.ndarray, err: dict[str, float], rng: np.random.Generator, *,
                      arch: compute.Architecture | None = PAPER_ARCHITECTURE,
                      serving_tokens: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-draw optimal sizes ``N`` (``(draw, budget)``) moved by the allocation error beyond the fitted runs, and
    the tokens each budget then buys.

    Parameters
    ----------
    fit
        The posterior (its fitted runs set where "beyond" starts).
    N
        The law's N* per draw and budget.
    C
        The budgets (FLOPs, in the convention of ``arch``).
    err
        :func:`load_allocation`'s error.
    rng
        The generator.
    arch, serving_tokens
        The FLOP convention (None: 6ND) and the tokens served over the model's life (paid from the budget first).

    Returns
    -------
    tuple of numpy.ndarray
        ``(N, D, decades)``: the moved sizes and their tokens ``(draw, budget)``, and each budget's decades beyond
        the fitted runs' largest compute.
    """
    d = allocation_decades(fit, C)
    moved = np.asarray(N, float) * 10.0 ** allocation_shift(err, d, np.shape(N)[0], rng)
    return moved, tokens_bought(moved, C, arch=arch, serving_tokens=serving_tokens), d


@dataclass(frozen=True)
class StudyAllocation:
    """The compute-optimal size's error as one study departs: per draw, one offset and one slope per decade beyond
    the fitted runs, shared by every run and decision of that draw (the learned error's ``a`` and ``b``; its
    leave-one-study-out misses were one offset per study). A run of compute ``c`` beyond the fitted runs lies on the
    law's IsoFLOP curve moved by ``e(c) = a z_1 + b d(c) z_2`` in log10 N: the law at ``N / 10^e`` and the tokens
    that compute buys it, so the curve's lowest loss is the law's and its size ``10^e`` times the law's.

    Attributes
    ----------
    a, b
        :func:`load_allocation`'s error (log10 N*; per decade).
    z
        ``(draw, 2)`` standard normal draws: the offset's and the slope's.
    compute
        The fitted runs' largest compute (FLOPs): beyond it the error applies.
    """

    a: float
    b: float
    z: np.ndarray
    compute: float

    @classmethod
    def draw(cls, fit: Fit, err: dict[str, float], n: int, rng: np.random.Generator) -> StudyAllocation:
        """``n`` draws for ``fit``'s fitted runs (see the class docstring).

        Parameters
        ----------
        fit
            The posterior (its fitted runs set where "beyond" starts).
        err
            :func:`load_allocation`'s error.
        n
            Draws.
        rng
            The generator.
        """
        return cls(float(err["a"]), float(err["b"]), rng.standard_normal((n, 2)), float(fitted_scale(fit).compute))

    def shift(self, C: np.ndarray) -> np.ndarray:
        """``(draw, ...)`` log10 moves of the IsoFLOP curves at compute ``C`` (0 inside the fitted runs).

        Parameters
        ----------
        C
            FLOPs, ``(draw,)`` or ``(draw, k)``.
        """
        C = np.asarray(C, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.log10(C / self.compute)
        z = self.z.reshape(self.z.shape[:1] + (1,) * (C.ndim - 1) + (2,))
        return np.where(d > 0, self.a * z[..., 0] + self.b * d * z[..., 1], 0.0)

    def moved(self, N: np.ndarray, D: np.ndarray,
              arch: compute.Architecture | None = PAPER_ARCHITECTURE) -> tuple[np.ndarray, np.ndarray]:
        """Where the law is read for runs ``(N, D)`` (each ``(draw, ...)``): the same compute, at ``N / 10^e``.

        Parameters
        ----------
        N, D
            The runs' sizes and tokens.
        arch
            The FLOP convention of the compute.
        """
        C = compute.supervised_flops(N, D, arch)
        N_law = np.asarray(N, float) / 10.0 ** self.shift(C)
        return N_law, compute.supervised_tokens(N_law, C, arch)


def allocation_decades(fit: Fit, C: np.ndarray) -> np.ndarray:
    """Decades by which budgets ``C`` exceed the fitted runs' largest compute (0 inside): where the allocation
    error applies.

    Parameters
    ----------
    fit
        The posterior.
    C
        Budgets (FLOPs).

    Returns
    -------
    numpy.ndarray
        One value per budget.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.maximum(0.0, np.log10(np.asarray(C, float) / fitted_scale(fit).compute))


def tokens_bought(N: np.ndarray, C: np.ndarray, *, arch: compute.Architecture | None = PAPER_ARCHITECTURE,
                  serving_tokens: float = 0.0) -> np.ndarray:
    """Training tokens that lifetime budgets ``C`` (last axis) buy models ``N`` (``(draw, budget)``) once their
    serving is paid; NaN where serving takes the whole budget.

    Parameters
    ----------
    N, C
        Sizes per draw and budget; the budgets (FLOPs, the convention of ``arch``).
    arch, serving_tokens
        The FLOP convention (None: 6ND) and the tokens served over the model's life.

    Returns
    -------
    numpy.ndarray
        The shape of ``N``.
    """
    train = np.asarray(C, float)[None, :] - compute.CostModel(arch=arch, serving_tokens=serving_tokens).serving_flops(N)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(train > 0, compute.supervised_tokens(N, np.maximum(train, 0.0), arch), np.nan)
