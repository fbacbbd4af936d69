"""What defines a model, everything but the data: plain frozen dataclasses that serialise to JSON.

A specification goes into the model card of every fit and is rebuilt from it on load; it
resolves its priors when it is made, so a bad override fails before any sampling. No PyMC here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bayeslaw.core.errors import InputError
from bayeslaw.model.presets import PRESETS, busbridge2025_preset, distillation_defaults, supervised_defaults
from bayeslaw.model.priors import LogN, N, Prior, PriorSet, from_json, merge, to_json

LIKELIHOODS = ("student_t", "normal")
#: Width (sd on the log scale) of the learned teacher noise's prior: a factor ~4.4 either way (95%).
TEACHER_NOISE_LOG_SD = 0.75
#: Scale of the per-teacher offset's sd prior (HalfNormal), on log loss: a few tenths of a percent.
TEACHER_EFFECT_SD = 0.003
#: Scale of the per-student-size offset's sd prior (HalfNormal), on log loss: the same few tenths of a percent.
SIZE_EFFECT_SD = 0.003
#: Prior of the weak-teacher gain (``weak_teacher``): the share of a weaker teacher's log gap to the student's own
#: supervised loss that the student closes, in [0, 1]; most of its mass near the paper's 0 (median ~0.2).
WEAK_TEACHER_GAIN_SD = 0.3
#: Prior sd of the students' noise's slope in log student size (``noise_by_size``): per e-fold of N_S, so 0.5 lets the
#: noise change by a factor ~e^1.3 across the paper's students (143M-1.82B), either way, at one sd.
NOISE_SIZE_SLOPE_SD = 0.5
#: Prior sd of the token tilt (``token_tilt``): an exponent on L_T for the data amplitude alone, on the scale of
#: Eq. 8's own exponent on L_T for the whole added term (c0 ~ 2.5).
TOKEN_TILT_SD = 2.0


SUPERVISED_FROM_PRIOR = "none: the supervised law comes from the busbridge2025 preset (Table 6 prior)"


def joint_preset(preset: str | None, supervised: Any) -> str:
    """The joint model's preset: ``weak`` with supervised runs, ``busbridge2025`` without them.

    Without supervised runs nothing but the prior fixes the supervised law, so a weak prior is refused.
    """
    if supervised is None:
        if preset not in (None, "busbridge2025"):
            raise InputError(f"without supervised runs the supervised law must come from the busbridge2025 preset "
                             f"(Table 6), not {preset!r}: drop --preset, or give the supervised runs (--supervised)")
        return "busbridge2025"
    return preset or "weak"


@dataclass(frozen=True)
class SupervisedSpec:
    """What defines a supervised-law model (everything but the data).

    Parameters
    ----------
    gamma_free
        ``False``: Chinchilla form (gamma = 1). ``True``: the distillation paper's form.
    likelihood
        ``"student_t"`` (robust to outlier runs, default) or ``"normal"``, on log loss.
    priors
        Overrides of :func:`bayeslaw.model.presets.supervised_defaults`, by parameter name.
    """

    gamma_free: bool = False
    likelihood: str = "student_t"
    priors: dict[str, Prior] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise InputError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        # Resolve now so a bad override fails before any sampling.
        object.__setattr__(self, "priors", self.resolved_priors())

    @property
    def law(self) -> str:
        return "supervised"

    def resolved_priors(self) -> PriorSet:
        defaults = supervised_defaults(gamma_free=self.gamma_free, likelihood=self.likelihood)
        return merge(defaults, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "gamma_free": self.gamma_free,
            "likelihood": self.likelihood,
            "priors": to_json(self.priors),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SupervisedSpec:
        return cls(bool(d["gamma_free"]), str(d["likelihood"]), from_json(d["priors"]))


@dataclass(frozen=True)
class JointSpec:
    """The joint supervised + distillation model (everything but the data).

    Parameters
    ----------
    likelihood
        ``"student_t"`` or ``"normal"`` on log loss, for supervised runs and students alike.
    preset
        ``"weak"`` (weakly informative) or ``"busbridge2025"`` (centred on Table 6).
    preset_scale
        Multiplies the preset's prior widths (``busbridge2025`` only).
    priors
        Overrides by parameter name, applied on top of the preset.
    teacher_noise
        Sd of a teacher's *measured* log loss around its true value: the validation-set
        measurement error, known from the evaluation set's size (default 0.2%). It is fixed,
        not learned: with one measurement per teacher it cannot be told apart from the
        teacher's own deviation from the supervised law (a prototype that learned it
        sampled with r_hat 1.5). See ``learn_teacher_noise`` for teachers known by their loss only.
    learn_teacher_noise
        Experimental, for model comparison: learn the teachers' noise (prior LogNormal around
        ``teacher_noise``, sd :data:`TEACHER_NOISE_LOG_SD` on the log scale). With teachers known by
        their loss only, several students per teacher identify it, but as what a teacher's students share
        beyond the law, not as measurement error: on the paper's digitized runs it goes to ~1.5%, each
        teacher absorbs its students' misfit, and lower-loss students are predicted worse than at a fixed
        0.1-0.3% (docs/validation.md, ``scripts/distillation_teacher_noise.py``).
    teacher_effect
        Experimental, for model comparison: what a teacher's students share beyond Eq. 8 as a per-teacher
        offset on their log loss (``sd * z_j``, ``z_j ~ Normal(0, 1)``, ``sd`` with prior
        ``HalfNormal(TEACHER_EFFECT_SD)``), instead of leaving it to the latent teacher, which passes it
        through Eq. 8 to students it shifts by a different amount. A student of a fitted teacher takes
        its teacher's offset; one of a new teacher draws one.
    size_effect
        What students of one size share beyond Eq. 8 (an architecture's or a ladder's own offset, e.g. the paper's
        1.82B students) as a per-size offset on their log loss (``sd * z_k`` per distinct ``N_S``, ``z`` summing to
        zero, ``sd`` with prior ``HalfNormal(SIZE_EFFECT_SD)``). A held-out student of a fitted size takes its
        size's offset in a backtest; every student a plan, a prediction or a report asks about is a new
        architecture and draws one (:class:`~bayeslaw.posterior.size_offset.SizeOffset`). Not the default
        (docs/validation.md, "A per-size offset").
    weak_teacher
        Let a student beat a teacher weaker than its own supervised twin (``L_T > L~_S``), which Eq. 8's leading
        term ``L_T`` forbids: the lead falls by a share ``weak_teacher_gain`` of the log gap past parity
        (:func:`bayeslaw.core.laws.weak_teacher_lead`), prior ``TruncatedNormal(0, WEAK_TEACHER_GAIN_SD)`` on
        [0, 1]. Students of teachers stronger than themselves are predicted as by the paper's form.
    noise_by_size
        Let the students' run noise vary with their size: the sd of student ``i``'s log loss is
        ``sigma_dis * (N_i / NOISE_SIZE_REF) ** noise_size_slope``, prior ``Normal(0, NOISE_SIZE_SLOPE_SD)`` on the
        slope (``sigma_dis`` is then the noise at 1B parameters). A student outside the fitted sizes takes the noise
        of the nearest fitted size (:func:`bayeslaw.posterior.likelihood.student_noise`): a trend in noise is not
        extrapolated.
    token_tilt
        Experimental, for model comparison: the data amplitude of Eq. 8's power term depends on the teacher,
        ``B' (L_T / 2.1) ** -token_tilt`` (:func:`bayeslaw.core.laws.distillation_power_slopes`), prior
        ``Normal(0, TOKEN_TILT_SD)``: a stronger teacher's students gain more from their tokens. Refused by the
        planner.
    supervised_scale
        ``busbridge2025`` only: a further factor on the six supervised coefficients' widths
        (:func:`~bayeslaw.model.presets.busbridge2025_preset`; 1/3 for the paper's own runs).
    break_tilt
        Experimental, for model comparison only: let the break's location move with the
        student's capacity (:func:`bayeslaw.core.laws.distillation_log_loss_from_power`), prior
        ``Normal(0, 0.5)``. Posteriors with it are refused by the planner.
    supervised_cut
        Take the students' supervised twin ``L~_S`` in Eq. 8 from the supervised prior's centre (Table 6)
        instead of from the sampled supervised law: the students no longer inform the supervised law (a
        "cut", the paper's own fit, which fixes Table 6's law before fitting Eq. 8). Without it the
        students pull the supervised law past its prior, and the supervised law is also the supervised
        option of every plan (docs/validation.md). Needs the ``busbridge2025`` preset; the supervised
        coefficients keep their prior (and whatever supervised runs say) for the supervised option.
    """

    likelihood: str = "student_t"
    preset: str = "weak"
    preset_scale: float = 1.0
    priors: dict[str, Prior] = field(default_factory=dict)
    teacher_noise: float = 0.002
    break_tilt: bool = False
    supervised_scale: float = 1.0
    supervised_cut: bool = False
    learn_teacher_noise: bool = False
    teacher_effect: bool = False
    size_effect: bool = False
    weak_teacher: bool = False
    noise_by_size: bool = False
    token_tilt: bool = False

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise InputError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.supervised_cut and self.preset != "busbridge2025":
            raise InputError("the supervised cut takes the students' L~_S from Table 6: it needs the busbridge2025 "
                             "preset")
        if not self.teacher_noise > 0:
            raise InputError("teacher_noise (sd of a teacher's measured log loss) must be positive")
        if self.preset not in PRESETS:
            raise InputError(f"preset must be 'weak' or 'busbridge2025', got {self.preset!r}")
        if not self.preset_scale > 0:
            raise InputError("preset_scale must be positive")
        if not self.supervised_scale > 0:
            raise InputError("supervised_scale must be positive")
        if self.supervised_scale != 1.0 and self.preset != "busbridge2025":
            raise InputError("supervised_scale narrows the busbridge2025 preset's supervised priors; it needs that "
                             "preset")
        object.__setattr__(self, "priors", self.resolved_priors())
        for name in ("log_k", "log_s"):  # sampled as shifts (see build.create_distillation)
            self.priors[name].location_keys(name)

    @property
    def law(self) -> str:
        return "distillation"

    def resolved_priors(self) -> PriorSet:
        if self.preset == "busbridge2025":
            base = busbridge2025_preset(likelihood=self.likelihood, scale=self.preset_scale,
                                        supervised_scale=self.supervised_scale)
        else:
            base = distillation_defaults(likelihood=self.likelihood)
        if self.break_tilt:
            base = base | {"break_tilt": N(0.0, 0.5)}
        if self.learn_teacher_noise:
            base = base | {"teacher_noise": LogN(self.teacher_noise, TEACHER_NOISE_LOG_SD)}
        if self.teacher_effect:
            base = base | {"teacher_effect_sd": Prior("HalfNormal", {"sigma": TEACHER_EFFECT_SD})}
        if self.size_effect:
            base = base | {"size_effect_sd": Prior("HalfNormal", {"sigma": SIZE_EFFECT_SD})}
        if self.weak_teacher:
            base = base | {"weak_teacher_gain": Prior("TruncatedNormal", {"mu": 0.0, "sigma": WEAK_TEACHER_GAIN_SD,
                                                                          "lower": 0.0, "upper": 1.0})}
        if self.noise_by_size:
            base = base | {"noise_size_slope": N(0.0, NOISE_SIZE_SLOPE_SD)}
        if self.token_tilt:
            base = base | {"token_tilt": N(0.0, TOKEN_TILT_SD)}
        return merge(base, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "likelihood": self.likelihood, "preset": self.preset,
                "preset_scale": self.preset_scale, "priors": to_json(self.priors),
                "teacher_noise": self.teacher_noise} | ({"break_tilt": True} if self.break_tilt else {}) | (
                    {"supervised_scale": self.supervised_scale} if self.supervised_scale != 1.0 else {}) | (
                    {"supervised_cut": True} if self.supervised_cut else {}) | (
                    {"learn_teacher_noise": True} if self.learn_teacher_noise else {}) | (
                    {"teacher_effect": True} if self.teacher_effect else {}) | (
                    {"size_effect": True} if self.size_effect else {}) | (
                    {"weak_teacher": True} if self.weak_teacher else {}) | (
                    {"noise_by_size": True} if self.noise_by_size else {}) | (
                    {"token_tilt": True} if self.token_tilt else {})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JointSpec:
        return cls(d["likelihood"], d["preset"], float(d["preset_scale"]), from_json(d["priors"]),
                   float(d["teacher_noise"]), bool(d.get("break_tilt", False)),
                   float(d.get("supervised_scale", 1.0)), bool(d.get("supervised_cut", False)),
                   bool(d.get("learn_teacher_noise", False)), bool(d.get("teacher_effect", False)),
                   bool(d.get("size_effect", False)), bool(d.get("weak_teacher", False)),
                   bool(d.get("noise_by_size", False)), bool(d.get("token_tilt", False)))
