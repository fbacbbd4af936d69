"""How far a prediction reaches beyond the runs a posterior was fitted to.

A scaling law is fitted on small runs and used on large ones; its bands only account for
the uncertainty the fitted runs allow, not for the law's form failing further out. This
module measures the reach of each prediction as two factors: the model size over the largest
fitted model, and the training compute (6 N D of one model) over the largest fitted run's.
Beyond ``WARN_FACTOR`` (one decade) either way, reports print a warning: in the Chinchilla
and Epoch analyses one decade past the largest run is already where fits disagree.

A third distance is the tokens per parameter, over the most any fitted run had. It gets a warning
as soon as a prediction leaves the measured range: heavily over-trained runs lie inside the fitted
size and compute, yet fits made at typical ratios overestimate what extra tokens buy there
(Sardana et al. 2024: a fit to their runs at <= 250 tokens per parameter is optimistic by a median
4% on their runs at 500-10,000).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from bayeslaw.core import laws, params
from bayeslaw.core.fmt import sci
from bayeslaw.posterior.card import Fit
from bayeslaw.posterior.draws import as_arrays, coefficients

WARN_FACTOR = 10.0


@dataclass(frozen=True)
class FittedScale:
    """The largest model and the largest single-run training compute (6 N D) among the fitted runs."""

    size: float
    compute: float
    #: the smallest fitted model and single-run compute (0: not known; nothing is then below them)
    smallest_size: float = 0.0
    smallest_compute: float = 0.0
    #: the most tokens per parameter of any fitted run (inf: not known; nothing is then beyond it)
    ratio: float = float("inf")


def fitted_scale(fit: Fit) -> FittedScale:
    """Read the fitted runs of a posterior (observed data; teachers from the model card's ranges)."""
    obs = fit.idata["observed_data"]
    sizes, computes, small, small_c, ratios = [], [], [], [], []
    for n, d in (("log_N", "log_D"), ("log_N_S", "log_D_S")):
        if n in obs.data_vars and obs[n].size:  # a joint fit without supervised runs has none
            N, D = np.exp(obs[n].values), np.exp(obs[d].values)
            sizes.append(N.max())
            computes.append((6.0 * N * D).max())
            small.append(N.min())
            small_c.append((6.0 * N * D).min())
            ratios.append((D / N).max())
    rng = fit.card["data"].get("range", {})
    if "N_T" in rng and "D_T" in rng:
        # an upper bound: the largest teacher on the most tokens any teacher saw
        sizes.append(rng["N_T"][1])
        computes.append(6.0 * rng["N_T"][1] * rng["D_T"][1])
    return FittedScale(size=float(max(sizes)), compute=float(max(computes)), smallest_size=float(min(small)),
                       smallest_compute=float(min(small_c)), ratio=float(max(ratios)))


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
        ``size_factor``, ``compute_factor`` and ``beyond`` (either above ``WARN_FACTOR``), ``tokens_per_param``,
        ``ratio_factor`` (over the most any fitted run had) and ``beyond_ratio`` (above 1) with dims
        ``(point,)``; ``attrs`` hold the factor and the fitted scale.
    """
    size, comp = np.broadcast_arrays(*factors(scale, N, D))
    tpp = np.broadcast_to(np.asarray(D, float) / np.asarray(N, float), size.shape)
    ds = xr.Dataset({"size_factor": (("point",), size.ravel()), "compute_factor": (("point",), comp.ravel()),
                     "tokens_per_param": (("point",), tpp.ravel()),
                     "ratio_factor": (("point",), tpp.ravel() / scale.ratio)})
    ds["beyond"] = (ds["size_factor"] > WARN_FACTOR) | (ds["compute_factor"] > WARN_FACTOR)
    ds["beyond_ratio"] = ds["ratio_factor"] > 1.0
    ds.attrs.update(warn_factor=WARN_FACTOR, fitted_size=scale.size, fitted_compute=scale.compute,
                    fitted_ratio=scale.ratio)
    return ds


def describe(label: str, size_factor: float, compute_factor: float, tokens_per_param: float = float("nan"),
             ratio_factor: float = float("nan")) -> str | None:
    """A short note when a model lies more than ``WARN_FACTOR`` beyond the fitted runs in size or compute, or
    beyond the most tokens per parameter any fitted run had, else None."""
    parts = []
    if np.isfinite(size_factor) and size_factor > WARN_FACTOR:
        parts.append(f"{sci(size_factor)}x the largest fitted model")
    if np.isfinite(compute_factor) and compute_factor > WARN_FACTOR:
        parts.append(f"{sci(compute_factor)}x the largest fitted run's compute")
    if np.isfinite(ratio_factor) and ratio_factor > 1.0:
        parts.append(f"{tokens_per_param:,.0f} tokens per parameter, {ratio_factor:.3g}x the most of any fitted run "
                     f"({tokens_per_param / ratio_factor:,.0f})")
    if not parts:
        return None
    return f"{label}: {' and '.join(parts)}"


def describe_reach(label: str, r: xr.Dataset, i: int = 0) -> str | None:
    """:func:`describe` for point ``i`` of a :func:`reach` result.

    Parameters
    ----------
    label
        What the point is, for the note.
    r
        :func:`reach`'s result.
    i
        The point.
    """
    return describe(label, *(float(r[k][i]) for k in ("size_factor", "compute_factor", "tokens_per_param",
                                                      "ratio_factor")))


def describe_below(label: str, scale: FittedScale, N: float, D: float) -> str | None:
    """A short note when a model lies more than ``WARN_FACTOR`` below the smallest fitted model or run's compute
    (the law was not fitted there either), else None."""
    parts = []
    if scale.smallest_size > 0 and N < scale.smallest_size / WARN_FACTOR:
        parts.append(f"{sci(N / scale.smallest_size)}x the smallest fitted model")
    if scale.smallest_compute > 0 and 6.0 * N * D < scale.smallest_compute / WARN_FACTOR:
        parts.append(f"{sci(6.0 * N * D / scale.smallest_compute)}x the smallest fitted run's compute")
    return f"{label}: {' and '.join(parts)}" if parts else None


def _listed(notes: list[str], most: int | None) -> str:
    """The notes joined, the first ``most`` of them and how many more where there are more."""
    if most is None or len(notes) <= most:
        return "; ".join(notes)
    return "; ".join(notes[:most]) + f"; and {len(notes) - most} more"


def warning(notes: list[str], most: int | None = None) -> str | None:
    """One warning for all predictions beyond ``WARN_FACTOR`` (counting all, naming at most ``most``)."""
    if not notes:
        return None
    return (f"{len(notes)} prediction(s) lie beyond the fitted runs (more than {WARN_FACTOR:.0f}x in size or compute, "
            f"or past the most tokens per parameter measured), where only the law's form carries them: "
            + _listed(notes, most))


@dataclass(frozen=True)
class FittedStudents:
    """What a distillation posterior's students span: the largest student, the most tokens and tokens per
    parameter any student saw, the lowest student loss and the lowest teacher loss, and, for a posterior with the
    weak-teacher gain, the largest ratio of a teacher's loss to its student's supervised loss (how far past parity
    the gain was measured)."""

    size: float
    tokens: float
    tokens_per_param: float
    loss: float
    teacher_loss: float
    #: the fewest tokens per parameter any student saw (0: not known; nothing is then below it)
    fewest_tokens_per_param: float = 0.0
    #: the weak-teacher gain's reach: the largest L_T / L~_S among the fitted students (inf: no gain, nothing is then
    #: beyond it), and the supervised twin that gives L~_S (median paper-scale coefficients; None: no gain)
    teacher_ratio: float = float("inf")
    twin: dict[str, float] | None = None

    def tilde(self, N_S, D_S) -> np.ndarray:
        """The students' supervised twin loss L~_S by the twin's median coefficients (NaN without a twin)."""
        N_S, D_S = np.asarray(N_S, float), np.asarray(D_S, float)
        if self.twin is None:
            return np.full(np.broadcast_shapes(N_S.shape, D_S.shape), np.nan)
        return laws.supervised_loss(N_S, D_S, **self.twin)


def fitted_students(fit: Fit) -> FittedStudents | None:
    """The fitted students' span (None for a supervised posterior)."""
    obs = fit.idata["observed_data"]
    if "log_N_S" not in obs.data_vars or not obs["log_N_S"].size:
        return None
    N, D = np.exp(obs["log_N_S"].values), np.exp(obs["log_D_S"].values)
    rng = fit.card["data"].get("range", {})
    low_S = rng.get("L_S", [np.nan])[0]
    low_T = rng.get("L_T", [np.nan])[0]
    span = FittedStudents(size=float(N.max()), tokens=float(D.max()), tokens_per_param=float((D / N).max()),
                          loss=float(low_S), teacher_loss=float(low_T), fewest_tokens_per_param=float((D / N).min()))
    if not fit.card["spec"].get("weak_teacher"):
        return span
    # the gain was measured up to the weakest teacher relative to its student: each student at its latent teacher's
    # median, its twin at the twin's median coefficients
    draws = params.twin_of(as_arrays(coefficients(fit, "paper")), params.SUPERVISED_PAPER)
    twin = {k: float(np.median(v)) for k, v in draws.items()}
    teacher = np.asarray(fit.card["data"]["teachers"]["index"])
    L_T = np.exp(np.median(fit.draws(["log_L_T"])["log_L_T"], axis=0))[teacher]
    ratio = float(np.max(L_T / laws.supervised_loss(N, D, **twin)))
    return replace(span, teacher_ratio=ratio, twin=twin)


def student_reach(span: FittedStudents, N_S, D_S, L_S, L_T) -> dict[str, np.ndarray]:
    """How far distilled students lie beyond the fitted students, in size, tokens, tokens per parameter, loss and
    teacher strength.

    Parameters
    ----------
    span
        The fitted students (:func:`fitted_students`).
    N_S, D_S
        The students.
    L_S, L_T
        Their predicted loss (e.g. the posterior median) and their teacher's loss, broadcast against ``N_S``.

    Returns
    -------
    dict of numpy.ndarray
        ``size_factor``, ``token_factor``, ``tokens_per_param_factor`` (over the fitted maxima; > 1 beyond them),
        ``loss_below`` and ``teacher_loss_below`` (the relative distance below the lowest fitted student's and
        teacher's loss; 0 inside), ``tokens_per_param_below`` (the relative distance below the fewest tokens per
        parameter of any fitted student; 0 inside), ``teacher_ratio`` (L_T / L~_S; NaN without the weak-teacher gain)
        and ``teacher_ratio_factor`` (it over the largest fitted one; > 1: the gain carried past where it was
        measured), each the inputs' broadcast shape.
    """
    N_S, D_S, L_S, L_T = np.broadcast_arrays(*(np.asarray(x, float) for x in (N_S, D_S, L_S, L_T)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = L_T / span.tilde(N_S, D_S)
        return {"teacher_ratio": ratio, "teacher_ratio_factor": ratio / span.teacher_ratio,
                "size_factor": N_S / span.size, "token_factor": D_S / span.tokens,
                "tokens_per_param_factor": (D_S / N_S) / span.tokens_per_param,
                "loss_below": np.maximum(0.0, 1.0 - L_S / span.loss),
                "teacher_loss_below": np.maximum(0.0, 1.0 - L_T / span.teacher_loss),
                "tokens_per_param_below": (np.maximum(0.0, 1.0 - (D_S / N_S) / span.fewest_tokens_per_param)
                                           if span.fewest_tokens_per_param > 0 else np.zeros(N_S.shape))}


def student_distance(r: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Where the distillation law's own error applies (:mod:`bayeslaw.inference.student_error`), from
    :func:`student_reach`'s factors.

    Returns
    -------
    tuple of numpy.ndarray
        ``decades``: how far beyond the fitted students in size, tokens or tokens per parameter, whichever is most
        (0 inside); ``outside``: beyond them at all, in those or in loss or teacher strength (below the lowest
        fitted student's or teacher's loss, or a teacher weaker against its student than any fitted one where the
        weak-teacher gain applies). NaN inputs give ``decades`` NaN and ``outside`` False.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        most = np.fmax(np.fmax(r["size_factor"], r["token_factor"]), r["tokens_per_param_factor"])
        decades = np.maximum(0.0, np.log10(most))
        weaker = r.get("teacher_ratio_factor", np.zeros_like(decades)) > 1
    outside = (decades > 0) | (r["loss_below"] > 0) | (r["teacher_loss_below"] > 0) | weaker
    return decades, outside


#: A distilled student lying this much (relative) below the lowest fitted student loss, or its teacher this
#: much below the lowest fitted teacher loss, is named in a warning: 1% of loss is about what separates the
#: paper's lowest-loss students from the ones its law was fitted on in its own extrapolation check.
LOSS_WARN = 0.01


#: A distilled student trained on fewer than half the fewest tokens per parameter any fitted student saw is named.
TOKENS_BELOW_WARN = 0.5


def describe_student(label: str, r: dict[str, float]) -> str | None:
    """A short note when a distilled student lies beyond the fitted students (:func:`student_reach` of one point),
    else None."""
    parts = []
    for key, what in (("size_factor", "the largest fitted student"), ("token_factor", "the most student tokens"),
                      ("tokens_per_param_factor", "the most student tokens per parameter")):
        if np.isfinite(r[key]) and r[key] > WARN_FACTOR:
            parts.append(f"{sci(r[key])}x {what}")
    if np.isfinite(r["loss_below"]) and r["loss_below"] > LOSS_WARN:
        parts.append(f"{r['loss_below']:.1%} below the lowest fitted student loss")
    if np.isfinite(r["teacher_loss_below"]) and r["teacher_loss_below"] > LOSS_WARN:
        parts.append(f"its teacher {r['teacher_loss_below']:.1%} below the lowest fitted teacher loss")
    # fewer tokens per parameter than any fitted student: the law's form alone (its learned error is not applied)
    below = r.get("tokens_per_param_below", 0.0)
    if np.isfinite(below) and below > TOKENS_BELOW_WARN:
        parts.append(f"{1 - below:.2g}x the fewest tokens per parameter of any fitted student (its form alone)")
    weaker = r.get("teacher_ratio_factor", np.nan)
    if np.isfinite(weaker) and weaker > 1:
        parts.append(f"its teacher's loss {r['teacher_ratio']:.2f}x the student's own supervised loss, past the "
                     f"{r['teacher_ratio'] / weaker:.2f}x of any fitted student (the weak-teacher gain carried by "
                     "its form)")
    return f"{label}: {', '.join(parts)}" if parts else None


def student_warning(notes: list[str], most: int | None = None) -> str | None:
    """One warning for every distilled student beyond the fitted students (counting all, naming at most ``most``)."""
    if not notes:
        return None
    return (f"{len(notes)} distilled student(s) lie beyond the students the distillation law was fitted on, where "
            "only the law's form and its learned error beyond the fitted students carry them (docs/validation.md): "
            + _listed(notes, most))
