"""``fit``: a law fitted to runs with NUTS, its inputs checked before PyMC loads.

Everything a user can get wrong (the table, its columns and units, the priors, the spec, the sampler settings)
is checked with the light layers first, so that a mistake is reported in well under a second; then
:mod:`bayeslaw.inference.engine` samples along the law's escalation ladder and attaches the card.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bayeslaw.core.errors import DataWarning, DiagnosticsWarning, InputError
from bayeslaw.data import tables
from bayeslaw.data.registry import SHIPPED, shipped_form
from bayeslaw.inference.config import LAW_DEFAULTS, escalation
from bayeslaw.model.priors import Prior, read_prior_file
from bayeslaw.model.spec import JointSpec, SupervisedSpec, joint_preset

if TYPE_CHECKING:
    from bayeslaw.posterior.card import Fit
    from bayeslaw.posterior.diagnostics import Gates

Table = str | Path | pd.DataFrame


def read_priors(priors: str | Path | Mapping[str, Any] | None) -> dict[str, Prior] | None:
    """Prior overrides from a mapping or a JSON/TOML file (None: the defaults)."""
    if priors is None or isinstance(priors, Mapping):
        return dict(priors) if priors else None
    return read_prior_file(priors)


def check_extensions(law: str, size_effect: bool = False, weak_teacher: bool = False,
                     noise_by_size: bool = False, token_tilt: bool = False) -> None:
    """Refuse (exit 2) an extension of the distillation model (``--size-effect``, ``--weak-teacher``,
    ``noise_by_size``, ``token_tilt``) outside the distillation law.

    Parameters
    ----------
    law
        The law asked for.
    size_effect, weak_teacher, noise_by_size, token_tilt
        Whether a per-student-size offset, the weak-teacher gain, a students' noise by size or the token tilt was
        asked for.

    Returns
    -------
    None
    """
    if law == "distillation":
        return
    asked = {"--size-effect is an offset per student size in the distillation law": size_effect,
             "--weak-teacher extends the distillation law (Eq. 8)": weak_teacher,
             "noise_by_size makes the distilled students' noise vary with their size": noise_by_size,
             "token_tilt makes Eq. 8's data amplitude depend on the teacher": token_tilt}
    for what, wanted in asked.items():
        if wanted:
            raise InputError(f"{what}: --law distillation only")


def fit(
    data: Table,
    *,
    law: str = "supervised",
    columns: Mapping[str, str] | None = None,
    supervised: Table | None = None,
    gamma_free: bool = False,
    likelihood: str | None = None,
    priors: str | Path | Mapping[str, Any] | None = None,
    preset: str | None = None,
    preset_scale: float = 1.0,
    teacher_noise: float | None = None,
    supervised_scale: float | None = None,
    supervised_cut: bool | None = None,
    size_effect: bool = False,
    weak_teacher: bool | None = None,
    noise_by_size: bool = False,
    token_tilt: bool = False,
    include_outliers: bool = False,
    sampler: str = "nutpie",
    draws: int | None = None,
    tune: int | None = None,
    chains: int = 4,
    target_accept: float | None = None,
    adaptation: str | None = None,
    thin: int = 1,
    seed: int = 0,
    gates: Gates | None = None,
    progress: bool = False,
    allow_duplicates: bool = False,
    losses_in_nats: bool = False,
    escalate: bool = True,
) -> Fit:
    """Fit a law to runs with NUTS and run the diagnostic gates.

    Parameters
    ----------
    data
        A CSV/parquet path, a DataFrame, or a shipped table name (``"chinchilla"``,
        ``"misfitting"``; for ``law="distillation"`` the students, e.g. ``"busbridge2025_digitized"``).
    law
        ``"supervised"`` or ``"distillation"`` (the joint model).
    columns
        Mapping from canonical names (``N``, ``D``, ``loss``, ...) to the table's names.
    supervised
        Distillation only: the supervised runs. Without them the supervised law comes from the
        ``busbridge2025`` preset (Table 6) and is updated only through the students.
    gamma_free, likelihood, priors
        The law's form, the likelihood on log loss and prior overrides (a mapping or a
        JSON/TOML file).
    preset, preset_scale
        Distillation only: the prior preset (default ``"weak"`` with supervised runs,
        ``"busbridge2025"`` without) and a factor on its widths.
    teacher_noise
        Distillation only: sd of a teacher's measured log loss around its true value (default: the
        shipped table's stated estimate, else 0.2%).
    supervised_scale
        Distillation with the ``busbridge2025`` preset: a further factor on its supervised widths
        (default: the shipped table's, 1/3 for the paper's own runs; else 1).
    supervised_cut
        Distillation: take the students' supervised twin from Table 6 so that the students do not move the
        supervised law (:class:`~bayeslaw.model.spec.JointSpec`). Default: cut without supervised runs,
        joint with them; ``False`` without supervised runs gives the joint fit of bayeslaw 0.x.
    size_effect
        Distillation: a per-student-size offset on the students' log loss (:class:`~bayeslaw.model.spec.JointSpec`);
        plans, predictions and reports on such a posterior draw each new student size's offset.
    weak_teacher
        Distillation: let a student beat a teacher weaker than its own supervised twin (the weak-teacher gain of
        :class:`~bayeslaw.model.spec.JointSpec`); ``False`` is Eq. 8 as printed. Default (None): a shipped table's
        stated form and likelihood (the paper's digitized students: the gain, Normal; docs/validation.md), else
        Eq. 8 as printed.
    noise_by_size
        Distillation, experimental: the students' noise sd log-linear in their size
        (:class:`~bayeslaw.model.spec.JointSpec`); measured on the paper's students and not adopted
        (docs/validation.md, "The students' noise by size").
    token_tilt
        Distillation, experimental: the data amplitude of Eq. 8 depends on the teacher
        (:class:`~bayeslaw.model.spec.JointSpec`); the planner refuses such a posterior.
    include_outliers
        Shipped tables: keep the runs excluded by default.
    sampler, draws, tune, chains, target_accept, adaptation, thin
        NUTS settings; ``draws`` and ``target_accept`` default per law
        (:data:`bayeslaw.inference.config.LAW_DEFAULTS`).
    escalate
        With ``draws``, ``tune``, ``target_accept`` and ``adaptation`` left to their defaults, a fit
        that fails its gates is retried along the law's ladder
        (:data:`bayeslaw.inference.config.ESCALATION`): every attempt is recorded in the card.
    seed
        The one seed: the same seed gives the same posterior.
    gates
        Diagnostic thresholds.
    allow_duplicates
        Keep exact duplicate runs (refused by default: they would narrow every interval).
    losses_in_nats
        Accept losses that look like perplexities for the model sizes given.

    Returns
    -------
    Fit
        The posterior with its model card; ``fit.diagnostics_passed`` says whether to trust it.
    """
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be 'supervised' or 'distillation', got {law!r}")
    ladder = escalation(law, sampler=sampler, draws=draws, tune=tune, chains=chains,
                        target_accept=target_accept, adaptation=adaptation, thin=thin)
    prior_overrides = read_priors(priors)
    checks = {"allow_duplicates": allow_duplicates, "losses_in_nats": losses_in_nats}
    # everything a user can get wrong is checked here, before PyMC is imported
    check_extensions(law, size_effect, bool(weak_teacher), noise_by_size, token_tilt)
    if law == "supervised":
        likelihood = likelihood or "student_t"
        table, source, filters = tables.resolve(data, include_outliers)
        if source is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns (columns=) "
                             "maps the columns of your own files")
        tables.validate_supervised(table, columns, **checks)
        SupervisedSpec(gamma_free=gamma_free, likelihood=likelihood, priors=prior_overrides or {})
    else:
        table, source, filters = tables.resolve(data, include_outliers, law="distillation")
        shipped = SHIPPED.get(data) if isinstance(data, str) else None
        if shipped is not None and columns:
            raise InputError(f"{data!r} is a shipped table with its own column mapping; --columns (columns=) "
                             "maps the columns of your own files")
        teacher_noise, supervised_scale, provenance = shipped_joint(shipped, supervised, teacher_noise,
                                                                     supervised_scale)
        weak_teacher, likelihood = shipped_form(shipped, weak_teacher, likelihood)
        preset = joint_preset(preset, supervised)
        students = tables.validate_distillation(table, columns, **checks)
        sup = None if supervised is None else tables.validate_supervised(supervised, **checks)
        tables.split_teachers(students, sup)
        if supervised_cut is None:
            supervised_cut = supervised is None
        JointSpec(likelihood=likelihood, preset=preset, preset_scale=preset_scale, priors=prior_overrides or {},
                  supervised_cut=supervised_cut, size_effect=size_effect, weak_teacher=weak_teacher,
                  noise_by_size=noise_by_size, token_tilt=token_tilt,
                  **({} if teacher_noise is None else {"teacher_noise": teacher_noise}),
                  **({} if supervised_scale is None else {"supervised_scale": supervised_scale}))
    from bayeslaw.inference import engine  # after the checks: PyMC, PyTensor, nutpie

    if law == "distillation":
        _warn_distillation_data(students, supervised, bool(supervised_cut), bool(weak_teacher))
    result = engine.fit(table, law=law, supervised=supervised, columns=columns, source=source,
                        filters=filters, gamma_free=gamma_free, likelihood=likelihood, priors=prior_overrides,
                        preset=preset, preset_scale=preset_scale, sampler=ladder[0], seed=seed, gates=gates,
                        progress=progress, escalate=ladder[1:] if escalate else (), teacher_noise=teacher_noise,
                        supervised_scale=supervised_scale, supervised_cut=supervised_cut, size_effect=size_effect,
                        weak_teacher=weak_teacher, noise_by_size=noise_by_size, token_tilt=token_tilt,
                        provenance=provenance if law == "distillation" else None, **checks)
    if not result.diagnostics_passed:  # the CLI prints FAILED from the card; Python users get it here
        warnings.warn("the fit FAILED its diagnostic gates: " + "; ".join(result.card["diagnostics"]["failures"])
                      + " (every prediction from it carries attrs['diagnostics_passed'] = False)",
                      DiagnosticsWarning, stacklevel=2)
    return result


def shipped_joint(shipped: Any, supervised: Table | None, teacher_noise: float | None,
                   supervised_scale: float | None) -> tuple[float | None, float | None, str | None]:
    """What a shipped distillation table states for the joint model, where the caller left it unset:
    teacher noise, supervised prior scale (only without supervised runs), provenance."""
    if shipped is None:
        return teacher_noise, supervised_scale, None
    if teacher_noise is None:
        teacher_noise = shipped.teacher_noise
    if supervised_scale is None and supervised is None:
        supervised_scale = shipped.supervised_scale
    return teacher_noise, supervised_scale, shipped.provenance


def _warn_distillation_data(students: pd.DataFrame, supervised: Table | None, cut: bool,
                            weak_teacher: bool = False) -> None:
    """Python users get as warnings what the CLI prints from the card (:func:`bayeslaw.reporting.text.fit_notes`)."""
    if supervised is None:
        how = ("not updated by the students (cut: Eq. 8's L~_S is Table 6's)" if cut
               else "updated only through the students")
        warnings.warn("no supervised runs: the supervised law comes from the busbridge2025 preset (Table 6 prior), "
                      + how, DataWarning, stacklevel=3)
    below = tables.students_below_teacher(students)
    if below and not weak_teacher:
        warnings.warn(f"{len(below)} students lie below their teacher's loss (rows {below[:12]}"
                      f"{', ...' if len(below) > 12 else ''}): kept, but Eq. 8 as printed cannot produce L_S < L_T "
                      "(weak_teacher=True, --weak-teacher, can)",
                      DataWarning, stacklevel=3)
