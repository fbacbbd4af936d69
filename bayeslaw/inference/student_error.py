"""The distillation law's own error beyond its fitted students, learned inside a distillation table.

The supervised calibration (:mod:`bayeslaw.inference.calibration`) says how a supervised law errs beyond its runs.
Eq. 8 errs in its own way, and the students it is fitted on rarely reach the losses a plan asks about. Here the
paper's own protocol is repeated at several student-loss thresholds: fit the students at or above a threshold,
predict the others. Each held-out student enters once, from the first split that holds it out (the highest
threshold's, so the residuals span every distance below it), so that no residual is counted twice. Its residual
(observed minus the predictive median, on log loss), the predictive sd, and how far it lies beyond the fitted
students (:func:`bayeslaw.posterior.reach.student_distance`) feed
:func:`bayeslaw.model.build.build_student_discrepancy`: one study's edge and growth, with the supervised
population as their prior (a new study of it: partial pooling, and a cut, so the supervised calibration stays
what it was validated as). Its posterior ships as ``models/distillation_error.nc``
(:func:`bayeslaw.posterior.extrapolation.load_student_error`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayeslaw.core import bounds
from bayeslaw.core.errors import DataError
from bayeslaw.core.seeds import Streams
from bayeslaw.data import tables
from bayeslaw.data.registry import SHIPPED, shipped_form
from bayeslaw.data.splits import by_loss
from bayeslaw.inference.config import ESCALATION, SamplerConfig, default_config
from bayeslaw.inference.engine import fit as engine_fit
from bayeslaw.inference.engine import sample_fit
from bayeslaw.inference.fit import shipped_joint
from bayeslaw.model.build import build_student_discrepancy
from bayeslaw.posterior.card import Fit, atomic_write
from bayeslaw.posterior.draws import as_arrays, coefficients
from bayeslaw.posterior.extrapolation import (
    PAPER_FORM,
    STUDENT_ERROR_MODEL,
    form_suffix,
    law_form,
    load_calibration,
    new_run,
    new_study_prior,
    student_error_path,
)
from bayeslaw.posterior.likelihood import scaled_noise, size_columns, student_log_mean, student_noise
from bayeslaw.posterior.reach import fitted_students, student_distance, student_reach
from bayeslaw.posterior.size_offset import SizeOffset, has_size_offset

#: The student-loss thresholds of the shipped error: the paper's digitized students span 2.29-2.95 nats; each
#: threshold fits the students at or above it (>= 200 of 328) and predicts the rest.
THRESHOLDS = (2.50, 2.45, 2.40, 2.35)
#: Predictive draws kept per held-out student.
KEEP = 1000


@dataclass
class HeldOutStudents:
    """Every held-out student of every split, with its predictive draws (without the law's error)."""

    runs: pd.DataFrame  # split, threshold, N_S, D_S, L_T, observed, decades, outside, first (its first split)
    log_new: np.ndarray  # (run, KEEP) new-run draws of log L_S
    log_mu: np.ndarray  # (run, KEEP) mean-law draws of log L_S
    log_E: np.ndarray  # (run, KEEP) the draws' irreducible loss (the floor of the law's error)
    noise: dict[str, np.ndarray]  # sigma (run, KEEP), nu (run, KEEP) or None: the students' noise
    fits: list[dict[str, Any]] = field(default_factory=list)


def held_out_teachers(posterior: Fit, te: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Log teacher loss per draw for held-out students: the latent teacher when it was fitted, else its measured
    loss with the model's measurement noise."""
    if posterior.card["spec"].get("learn_teacher_noise"):
        noise = posterior.draws(["teacher_noise"])["teacher_noise"][:, None]
    else:
        noise = float(posterior.card["spec"]["teacher_noise"])
    drawn = np.log(te["L_T"].to_numpy())[None, :] + noise * rng.standard_normal((posterior.n_draws, len(te)))
    return _fitted_teachers_or(posterior, te, posterior.draws(["log_L_T"])["log_L_T"], drawn)


def _fitted_teachers_or(posterior: Fit, te: pd.DataFrame, fitted: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Per draw and held-out student: its teacher's column of ``fitted`` ``(draw, teacher)`` where the fit had that
    teacher, else its column of ``drawn`` ``(draw, student)`` (overwritten in place)."""
    return _fitted_or(fitted, drawn, _teacher_columns(posterior, te))


def _teacher_columns(posterior: Fit, te: pd.DataFrame) -> np.ndarray:
    """Each held-out student's teacher's column in the fit (-1 for a teacher it did not have)."""
    position = {t: j for j, t in enumerate(posterior.card["data"]["teachers"]["ids"])}
    return np.array([position.get(t, -1) for t in te["teacher_id"]], dtype=int)


def _fitted_or(fitted: np.ndarray, drawn: np.ndarray, column: np.ndarray) -> np.ndarray:
    """``drawn`` ``(draw, student)`` with each student's column replaced by ``fitted[:, column]`` where ``column``
    is not -1 (in place)."""
    hit = column >= 0
    drawn[:, hit] = fitted[:, column[hit]]
    return drawn


def _offsets(posterior: Fit, te: pd.DataFrame, rng: np.random.Generator, name: str, column: np.ndarray
             ) -> np.ndarray:
    """Per draw, held-out students' experimental offsets ``name``: the fitted one where ``column`` names it, else one
    drawn from the fitted spread ``{name}_sd``."""
    d = posterior.draws([name, f"{name}_sd"])
    drawn = d[f"{name}_sd"][:, None] * rng.standard_normal((posterior.n_draws, len(te)))
    return _fitted_or(d[name], drawn, column)


def teacher_effects(posterior: Fit, te: pd.DataFrame, rng: np.random.Generator) -> np.ndarray | float:
    """Per draw, the offset a held-out student shares with its teacher's other students (``JointSpec.teacher_effect``):
    its teacher's when that teacher was fitted, else one drawn from the fitted spread; 0 without the offset."""
    if not posterior.card["spec"].get("teacher_effect"):
        return 0.0
    return _offsets(posterior, te, rng, "teacher_effect", _teacher_columns(posterior, te))


def size_effects(posterior: Fit, te: pd.DataFrame, rng: np.random.Generator) -> np.ndarray | float:
    """Per draw, the offset a held-out student shares with the fitted students of its size (``JointSpec.size_effect``):
    its size's when that size was fitted, else its new size's, drawn from the fitted spread
    (:class:`~bayeslaw.posterior.size_offset.SizeOffset`, shared by that size's students); 0 without the offset."""
    if not has_size_offset(posterior):
        return 0.0
    column = size_columns(posterior, te["N_S"])
    fitted = posterior.draws(["size_effect"])["size_effect"]
    if (column >= 0).all():  # only sizes the fit has: nothing drawn
        return fitted[:, column]
    # a new size's students share one offset, drawn as a plan draws it
    drawn = SizeOffset.draw(posterior, np.arange(posterior.n_draws), rng).at(te["N_S"].to_numpy(float), 2)
    return _fitted_or(fitted, drawn, column)


def predict_students(posterior: Fit, te: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A split fit's predictions of held-out students: mean-law and new-run draws ``(draw, student)``, the draws'
    ``log E``, the noise parameters, and how far each student lies beyond the fitted ones (``decades``, ``outside``;
    judged by the posterior median, as a prediction is)."""
    c = as_arrays(coefficients(posterior))
    log_T = held_out_teachers(posterior, te, rng)
    log_mu, _ = student_log_mean(c, te["N_S"].to_numpy(), te["D_S"].to_numpy(), log_T)
    log_mu = log_mu + teacher_effects(posterior, te, rng) + size_effects(posterior, te, rng)
    sigma, nu = student_noise(posterior, te["N_S"].to_numpy())
    log_new = new_run(log_mu, scaled_noise(sigma, nu, log_mu.shape, rng), c["log_E"][:, None])
    r = student_reach(fitted_students(posterior), te["N_S"].to_numpy(), te["D_S"].to_numpy(),
                      np.median(np.exp(log_mu), axis=0), te["L_T"].to_numpy())
    decades, outside = student_distance(r)
    return {"log_mu": log_mu, "log_new": log_new, "log_E": np.broadcast_to(c["log_E"][:, None], log_mu.shape),
            "sigma": sigma, "nu": nu, "decades": decades, "outside": outside}


def held_out_students(dis: pd.DataFrame, thresholds: Sequence[float] = THRESHOLDS, *,
                      supervised: pd.DataFrame | None = None, seed: int = 0, sampler: SamplerConfig | None = None,
                      progress: Callable[[str], None] | None = None, **fit_kwargs: Any) -> HeldOutStudents:
    """Fit the joint model on the students with ``L_S >= threshold`` (each threshold in turn, highest first) and
    predict the others.

    Split ``i`` is seeded by ``Streams(seed).split(i)`` (the fit) and ``Streams(seed).extrapolation(i)`` (its
    predictive draws). ``fit_kwargs`` go to the joint fit (preset, teacher noise, supervised scale and cut).
    """
    say = progress or (lambda _m: None)
    streams = Streams(seed)
    thresholds = sorted((float(t) for t in thresholds), reverse=True)
    splits = [by_loss(dis, th, loss="L_S") for th in thresholds]  # all checked before any fit
    config = sampler or default_config("distillation")
    rows, parts, fits, seen = [], [], [], set()
    for i, (th, sp) in enumerate(zip(thresholds, splits, strict=True)):
        label = f"L_S >= {th:g}"
        tr, te = dis[sp.train].reset_index(drop=True), dis[sp.test]
        say(f"{label}: fitting on {len(tr)} students, predicting {len(te)}")
        t0 = time.perf_counter()
        posterior = engine_fit(tr, law="distillation", supervised=supervised, sampler=config, seed=streams.split(i),
                               escalate=[replace(config, **rung) for rung in ESCALATION["distillation"][1:]],
                               **fit_kwargs)
        wall = time.perf_counter() - t0
        p = predict_students(posterior, te.reset_index(drop=True), np.random.default_rng(streams.extrapolation(i)))
        keep = np.linspace(0, p["log_mu"].shape[0] - 1, min(KEEP, p["log_mu"].shape[0])).astype(int)
        first = np.array([k not in seen for k in te.index])
        seen |= set(te.index)
        rows.append(pd.DataFrame({"split": label, "threshold": th, "student": te.index.to_numpy(),
                                  "N_S": te["N_S"].to_numpy(), "D_S": te["D_S"].to_numpy(),
                                  "L_T": te["L_T"].to_numpy(), "observed": te["L_S"].to_numpy(),
                                  "decades": p["decades"], "outside": p["outside"], "first": first}))
        n = len(te)
        parts.append({"log_mu": p["log_mu"][keep].T, "log_new": p["log_new"][keep].T, "log_E": p["log_E"][keep].T,
                      "sigma": p["sigma"][keep].T,
                      "nu": None if p["nu"] is None else np.repeat(p["nu"][keep][None, :], n, 0)})
        diag = posterior.card["diagnostics"]
        fits.append({"split": label, "n_train": len(tr), "n_test": n, "refit_seconds": wall,
                     "diagnostics_passed": diag["passed"], "failures": "; ".join(diag["failures"]),
                     "attempts": len(posterior.card.get("attempts", [])),
                     "draws": posterior.card["sampler"]["draws"]})
        say(f"{label}: gates {'passed' if diag['passed'] else 'FAILED'} ({wall:.0f} s)")
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("log_mu", "log_new", "log_E", "sigma")}
    nu = None if parts[0]["nu"] is None else np.concatenate([p["nu"] for p in parts])
    return HeldOutStudents(runs=pd.concat(rows, ignore_index=True), log_new=cat["log_new"], log_mu=cat["log_mu"],
                           log_E=cat["log_E"], noise={"sigma": cat["sigma"], "nu": nu}, fits=fits)


def learning_rows(h: HeldOutStudents, above: float | None = None) -> np.ndarray:
    """The held-out students the error is learned from: each once, from the first split that held it out and whose
    fit passed its gates (a failed fit's errors are its sampler's as much as the law's), and (``above``) only those
    with ``L_S >= above``, so that a later split's held-out students stay unseen."""
    failed = {f["split"] for f in h.fits if not f["diagnostics_passed"]}
    usable = ~h.runs["split"].isin(failed).to_numpy()
    m = h.runs["first"].to_numpy().astype(bool) & usable
    if failed:  # a student a failed split held out first counts from the next split that held it out and passed
        m = usable & ~pd.Series(np.where(usable, h.runs["student"].to_numpy(), -1)).duplicated().to_numpy()
    if above is not None:
        m &= h.runs["observed"].to_numpy() >= above
    return m


def residual_data(h: HeldOutStudents, rows: np.ndarray) -> dict[str, np.ndarray]:
    """What the student-error model sees of the held-out students ``rows`` (a boolean mask)."""
    med = np.median(h.log_new[rows], axis=1)
    return {"residual": np.log(h.runs["observed"].to_numpy()[rows]) - med, "sd": np.std(h.log_new[rows], axis=1),
            "decades": h.runs["decades"].to_numpy()[rows], "outside": h.runs["outside"].to_numpy()[rows]}


def fit_student_error(h: HeldOutStudents, rows: np.ndarray, calibration: Fit, *, seed: int = 0,
                      source: str = "", sampler: SamplerConfig | None = None,
                      form: tuple[str, ...] = PAPER_FORM) -> Fit:
    """The distillation law's error posterior from the held-out students ``rows``, the supervised population
    (``calibration``) as its prior; a DataError if no student lies beyond its fitted ones. ``form`` records the
    extensions of Eq. 8 the split fits had (:func:`~bayeslaw.posterior.extrapolation.law_form`): a posterior of
    that form uses this error, and only such."""
    if not np.any(rows):
        raise DataError("no held-out student to learn the distillation law's error from: no split held one out, or "
                        "every split fit that did failed its gates (its errors would be its sampler's as much as the "
                        "law's; the split lines above say which)")
    data = residual_data(h, rows)
    if not data["outside"].any():
        raise DataError("no held-out student lies beyond the students its split was fitted on: nothing to learn "
                        "the distillation law's error from")
    prior = new_study_prior(calibration)
    model = build_student_discrepancy(data["residual"], data["sd"], data["decades"], data["outside"], prior)
    sampler = sampler or SamplerConfig(draws=1000, target_accept=0.95)
    digest = hashlib.sha256()
    for k in ("residual", "sd", "decades", "outside"):
        digest.update(np.ascontiguousarray(np.asarray(data[k], float)).tobytes())
    split_of = h.runs["split"].to_numpy()[rows]
    record = {"n_runs": int(rows.sum()), "n_outside": int(data["outside"].sum()), "sha256": digest.hexdigest(),
              "source": source, "splits": sorted(set(split_of.tolist())),
              "split_fits_failed": [f"{f['split']} ({f['failures']})" for f in h.fits
                                    if not f["diagnostics_passed"] and f["split"] in set(split_of)],
              "population": calibration.card.get("content_hash", "")} | dict.fromkeys(form, True)
    skipped = [f"{f['split']} ({f['failures']})" for f in h.fits if not f["diagnostics_passed"]
               and f["split"] not in set(split_of)]
    if skipped:  # learning_rows leaves a failed split's students to the next split that passed
        record["split_fits_skipped"] = skipped
    spec = {"law": "calibration", "model": STUDENT_ERROR_MODEL, "priors": {k: list(v) for k, v in prior.items()},
            "likelihood": "student_t"}
    return sample_fit(model, spec, "calibration", record, sampler, seed, None, False,
                      escalate=[replace(sampler, target_accept=0.99, draws=2000)])


def calibrate_distillation(data: str = "busbridge2025_digitized", *, thresholds: Sequence[float] = THRESHOLDS,
          out: str | Path | None = None, out_dir: str | Path | None = None, seed: int = 0,
          calibration: Fit | None = None, size_effect: bool = False, weak_teacher: bool | None = None,
          likelihood: str | None = None,
          progress: Callable[[str], None] | None = None) -> tuple[Fit, HeldOutStudents, dict[str, str]]:
    """Learn the distillation law's error beyond its fitted students from a distillation table and save it.

    Parameters
    ----------
    data
        A shipped distillation table (default the paper's digitized students) or a path; every row needs ``L_T``.
    thresholds
        Student-loss thresholds of the leave-future-out splits (:data:`THRESHOLDS`).
    out
        Where the posterior goes (default the form's shipped file,
        :func:`~bayeslaw.posterior.extrapolation.student_error_path`: ``models/distillation_error.nc`` for the
        default form, ``..._paper_form.nc`` for Eq. 8 as printed, ``..._size_effect.nc`` with per-size offsets).
    out_dir
        Where the held-out students' table goes (``distillation_heldout.csv`` for the default form, else with the
        form's suffix); None: not written.
    seed
        The one seed.
    calibration
        The supervised population, the prior (default the shipped one).
    size_effect, weak_teacher, likelihood
        The form of the split fits (``JointSpec.size_effect`` and ``.weak_teacher``) and their likelihood, resolved
        as :func:`~bayeslaw.inference.fit.fit` resolves them (unset: the shipped table's form and likelihood); the
        error is for posteriors of that form only.
    progress
        ``progress(message)`` per split.

    Returns
    -------
    tuple
        ``(posterior, held-out students, written paths)``.
    """
    shipped = SHIPPED.get(data) if isinstance(data, str) else None
    weak_teacher, likelihood = shipped_form(shipped, weak_teacher, likelihood)
    form = law_form({"size_effect": size_effect, "weak_teacher": weak_teacher})
    out = Path(out or student_error_path(form))
    bounds.check_writable(out, "--out")
    if out_dir is not None:
        bounds.check_writable(out_dir, "--out-dir", directory=True)
    table, source, _ = tables.resolve(data, False, law="distillation")
    dis = tables.validate_distillation(table)
    if "L_T" not in dis or dis["L_T"].isna().any():
        raise DataError("the distillation law's error is learned from students with their teachers' measured loss: "
                        "every row needs L_T")
    noise, scale, _ = shipped_joint(shipped, None, None, None)
    cal = calibration or load_calibration()
    h = held_out_students(dis, thresholds, seed=seed, progress=progress,
                          **({} if noise is None else {"teacher_noise": noise}),
                          **({} if scale is None else {"supervised_scale": scale}), size_effect=size_effect,
                          weak_teacher=weak_teacher, likelihood=likelihood)
    fit = fit_student_error(h, learning_rows(h), cal, seed=seed, form=form,
                            source=f"held-out students of {source or data} (thresholds {sorted(thresholds)})")
    paths = {"distillation_error": str(fit.save(out))}
    if out_dir is not None:
        path = Path(out_dir) / f"distillation_heldout{form_suffix(form)}.csv"
        runs = h.runs.assign(median=np.exp(np.median(h.log_new, axis=1)), sd=np.std(h.log_new, axis=1))
        atomic_write(path, lambda tmp: runs.to_csv(tmp, index=False))
        paths["heldout"] = str(path)
    return fit, h, paths
