"""What defines a model, everything but the data: plain frozen dataclasses that serialise to JSON.

A specification goes into the model card of every fit and is rebuilt from it on load; it
resolves its priors when it is made, so a bad override fails before any sampling. No PyMC here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bayeslaw.core.errors import InputError
from bayeslaw.model.presets import PRESETS, busbridge2025_preset, distillation_defaults, supervised_defaults
from bayeslaw.model.priors import Prior, PriorSet, from_json, merge, to_json

LIKELIHOODS = ("student_t", "normal")


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
        sampled with r_hat 1.5).
    """

    likelihood: str = "student_t"
    preset: str = "weak"
    preset_scale: float = 1.0
    priors: dict[str, Prior] = field(default_factory=dict)
    teacher_noise: float = 0.002

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise InputError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if not self.teacher_noise > 0:
            raise InputError("teacher_noise (sd of a teacher's measured log loss) must be positive")
        if self.preset not in PRESETS:
            raise InputError(f"preset must be 'weak' or 'busbridge2025', got {self.preset!r}")
        if not self.preset_scale > 0:
            raise InputError("preset_scale must be positive")
        object.__setattr__(self, "priors", self.resolved_priors())
        for name in ("log_k", "log_s"):  # sampled as shifts (see build.create_distillation)
            self.priors[name].location_keys(name)

    @property
    def law(self) -> str:
        return "distillation"

    def resolved_priors(self) -> PriorSet:
        if self.preset == "busbridge2025":
            base = busbridge2025_preset(likelihood=self.likelihood, scale=self.preset_scale)
        else:
            base = distillation_defaults(likelihood=self.likelihood)
        return merge(base, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {"law": self.law, "likelihood": self.likelihood, "preset": self.preset,
                "preset_scale": self.preset_scale, "priors": to_json(self.priors),
                "teacher_noise": self.teacher_noise}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JointSpec:
        return cls(d["likelihood"], d["preset"], float(d["preset_scale"]), from_json(d["priors"]),
                   float(d["teacher_noise"]))
