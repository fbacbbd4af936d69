"""NUTS settings as plain data: the sampler, its lengths and step-size target, per-law defaults.

No PyMC here, so settings can be checked (and the command line can describe them) before
anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bayeslaw.core.errors import InputError

SAMPLERS = ("nutpie", "pymc", "numpyro")
ADAPTATIONS = ("low_rank", "diag")


@dataclass(frozen=True)
class SamplerConfig:
    """NUTS settings, recorded in the model card."""

    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    target_accept: float = 0.9
    max_treedepth: int = 10
    adaptation: str = "low_rank"  # nutpie only
    thin: int = 1  # keep every thin-th draw (storage; for slowly mixing posteriors)

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InputError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.draws < 10 or self.tune < 0 or self.chains < 1 or self.thin < 1:
            raise InputError("need draws >= 10, tune >= 0, chains >= 1 and thin >= 1")
        if self.draws // self.thin < 10:
            raise InputError(f"--thin {self.thin} keeps {self.draws // self.thin} of {self.draws} draws per chain; "
                             "keep at least 10 (a smaller --thin, or more --draws)")
        if self.adaptation not in ADAPTATIONS:
            raise InputError(f"adaptation must be one of {ADAPTATIONS}, got {self.adaptation!r}")
        if not 0.5 <= self.target_accept < 1:
            raise InputError(f"target_accept must lie in [0.5, 1), got {self.target_accept}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Default NUTS settings per law. The joint model's break mixes slowly and its posterior has
#: a narrow neck where the break reaches the runs (docs/distillation.md): more draws and a
#: smaller step than the supervised law need.
LAW_DEFAULTS: dict[str, dict[str, Any]] = {
    "supervised": {"draws": 1000, "target_accept": 0.9},
    "distillation": {"draws": 4000, "target_accept": 0.995},
}


#: What a default fit tries, in order, until one passes its gates: the law's defaults, then the
#: settings that sample curved posteriors (a diagonal mass matrix and a smaller step), then twice
#: as long. Measured on the shipped tables and their leave-future-out subsets by
#: benchmarks/defaults.py. The joint model's defaults are already long; its one retry doubles them.
ESCALATION: dict[str, tuple[dict[str, Any], ...]] = {
    "supervised": ({}, {"adaptation": "diag", "target_accept": 0.95},
                   {"adaptation": "diag", "target_accept": 0.95, "draws": 2000, "tune": 2000}),
    # the digitized paper table's L_S >= 2.45 subset gave ESS_bulk 326 on log_d1 at the defaults, its
    # L_S >= 2.40 subset 2 divergences: twice the draws at a smaller step. A fresh SYNTHETIC table (seed 99)
    # kept 1-2 divergences in the power term's ridge at that rung with 1000 tuning steps and none with
    # 3000 (4000 or 8000 draws): the longer warm-up lets the step size and mass matrix settle there.
    "distillation": ({}, {"draws": 8000, "tune": 3000, "target_accept": 0.998}),
}
#: Settings that, given explicitly, pin the sampler: no escalation then.
PINNING = ("draws", "tune", "target_accept", "adaptation")


def escalation(law: str, **settings: Any) -> list[SamplerConfig]:
    """The sampler settings a fit tries in order until one passes its gates.

    With every setting in :data:`PINNING` left at ``None`` (the defaults) this is the law's
    :data:`ESCALATION` ladder; otherwise only the settings given. Other settings (sampler,
    chains, thin) apply to every rung.
    """
    base = default_config(law, **settings)
    if any(settings.get(k) is not None for k in PINNING):
        return [base]
    return [default_config(law, **(settings | rung)) for rung in ESCALATION[law]]


def default_config(law: str, **settings: Any) -> SamplerConfig:
    """The law's default sampler settings, with every ``settings`` value that is not ``None``."""
    if law not in LAW_DEFAULTS:
        raise InputError(f"law must be one of {sorted(LAW_DEFAULTS)}, got {law!r}")
    return SamplerConfig(**(LAW_DEFAULTS[law] | {k: v for k, v in settings.items() if v is not None}))
