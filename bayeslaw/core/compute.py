"""Compute accounting: forward FLOPs per token and the paper's four scenarios (Eq. 9, App. H).

Pure functions over an array namespace, like :mod:`bayeslaw.core.laws`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from bayeslaw.core.errors import InputError

Array = Any


@dataclass(frozen=True)
class Architecture:
    """Architecture settings behind F(N) (App. H of Busbridge et al.).

    Defaults are the paper's: aspect ratio ``d_model / n_layers = 128``, ``omega = 12``
    (parameters per layer over d_model**2), context 4096 and vocabulary 32768.
    """

    aspect_ratio: float = 128.0
    omega: float = 12.0
    n_ctx: int = 4096
    n_vocab: int = 32768

    @property
    def sigma1(self) -> float:
        return (1.0 / (self.aspect_ratio * self.omega**2)) ** (1.0 / 3.0)

    @property
    def sigma2(self) -> float:
        return (self.aspect_ratio / self.omega) ** (1.0 / 3.0)

    @property
    def uniform_loss(self) -> float:
        """The loss of a uniform guess over the vocabulary, ``log n_vocab`` nats per token: no trained model's
        loss is higher."""
        return math.log(self.n_vocab)


PAPER_ARCHITECTURE = Architecture()


def forward_flops_per_token(
    N: Array,
    arch: Architecture | None = PAPER_ARCHITECTURE,
    xp: ModuleType = np,
) -> Array:
    """Forward FLOPs per token F(N).

    ``F(N) = 2N (1 + sigma1 n_ctx / N**(1/3) + sigma2 n_vocab / N**(2/3))``; with
    ``arch=None`` the simple ``F(N) = 2N``.
    """
    if arch is None:
        return 2.0 * N
    return 2.0 * N * (
        1.0 + arch.sigma1 * arch.n_ctx * N ** (-1.0 / 3.0) + arch.sigma2 * arch.n_vocab * N ** (-2.0 / 3.0)
    )


def flops_elasticity(
    N: Array,
    arch: Architecture | None = PAPER_ARCHITECTURE,
    xp: ModuleType = np,
) -> Array:
    """``d log F / d log N``: 1 for ``F = 2N``, a little less with the attention and vocabulary terms.

    It sets the supervised compute-optimal frontier: at fixed compute, ``L(N, D)`` is minimal where
    ``alpha A N**-alpha / (beta B D**-beta)`` equals it.
    """
    if arch is None:
        return xp.ones_like(N)
    a = arch.sigma1 * arch.n_ctx * N ** (-1.0 / 3.0)
    b = arch.sigma2 * arch.n_vocab * N ** (-2.0 / 3.0)
    return 1.0 - (a / 3.0 + 2.0 * b / 3.0) / (1.0 + a + b)


@dataclass(frozen=True)
class Scenario:
    """A compute scenario of Table 2: which teacher costs the student pays for."""

    name: str
    delta_logits: float
    delta_pretrain: float
    label: str


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("best_case", 0.0, 0.0, "best case (teacher free)"),
        Scenario("teacher_inference", 1.0, 0.0, "teacher inference"),
        Scenario("teacher_pretraining", 0.0, 1.0, "teacher pretraining"),
        Scenario("pretraining_inference", 1.0, 1.0, "teacher pretraining + inference"),
    )
}


def get_scenario(name: str) -> Scenario:
    """Look up a scenario by name, with a clear error listing the valid ones."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise InputError(
            f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None


def supervised_flops(N: Array, D: Array, arch: Architecture | None = PAPER_ARCHITECTURE) -> Array:
    """Training FLOPs of a supervised run: ``3 F(N) D``."""
    return 3.0 * forward_flops_per_token(N, arch) * D


def supervised_tokens(N: Array, C: Array, arch: Architecture | None = PAPER_ARCHITECTURE) -> Array:
    """Tokens a budget ``C`` buys a model of size ``N`` trained supervised: the inverse of :func:`supervised_flops`."""
    return C / (3.0 * forward_flops_per_token(N, arch))


def student_token_flops(
    N_S: Array,
    N_T: Array,
    scenario: str | Scenario,
    *,
    arch: Architecture | None = PAPER_ARCHITECTURE,
    xp: ModuleType = np,
) -> Array:
    """FLOPs per distillation token: the student's training ``3 F(N_S)`` and, when the scenario
    counts it, the teacher's forward pass ``F(N_T)``."""
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    return 3.0 * forward_flops_per_token(N_S, arch, xp) + sc.delta_logits * forward_flops_per_token(N_T, arch, xp)


def teacher_pretraining_flops(
    N_T: Array,
    D_T: Array,
    scenario: str | Scenario,
    *,
    n_students: int = 1,
    teacher_sunk: bool = False,
    arch: Architecture | None = PAPER_ARCHITECTURE,
    xp: ModuleType = np,
) -> Array:
    """The teacher's pretraining ``3 F(N_T) D_T`` charged to one of ``n_students`` students, when the
    scenario counts it; nothing for a teacher that already exists (``teacher_sunk``)."""
    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    if n_students < 1:
        raise InputError(f"n_students must be >= 1, got {n_students}")
    if teacher_sunk or sc.delta_pretrain == 0:
        return 0.0 * forward_flops_per_token(N_T, arch, xp)
    return forward_flops_per_token(N_T, arch, xp) * (sc.delta_pretrain * 3.0 * D_T / n_students)


def distillation_flops(
    N_S: Array,
    D_S: Array,
    N_T: Array,
    D_T: Array,
    scenario: str | Scenario,
    *,
    n_students: int = 1,
    teacher_sunk: bool = False,
    arch: Architecture | None = PAPER_ARCHITECTURE,
    xp: ModuleType = np,
) -> Array:
    """Total FLOPs of distilling one student (Eq. 9).

    ``3 F(N_S) D_S + F(N_T) (delta_lgt D_S + delta_pre 3 D_T / k)``: the student's tokens at
    :func:`student_token_flops` each plus :func:`teacher_pretraining_flops`. With ``k`` students
    sharing a teacher the pretraining cost per student is divided by ``k``; a teacher that
    already exists (``teacher_sunk``) costs no pretraining at all.
    """
    return (student_token_flops(N_S, N_T, scenario, arch=arch, xp=xp) * D_S
            + teacher_pretraining_flops(N_T, D_T, scenario, n_students=n_students, teacher_sunk=teacher_sunk,
                                        arch=arch, xp=xp))


#: log 3: a training token costs 3 forward passes (forward and backward).
LOG3 = math.log(3.0)


def log_forward_flops(log_N: Array, arch: Architecture | None = PAPER_ARCHITECTURE, xp: ModuleType = np) -> Array:
    """``log F(N)`` from ``log N``."""
    return xp.log(forward_flops_per_token(xp.exp(log_N), arch, xp))


@dataclass(frozen=True)
class CostModel:
    """The one cost model in log space: what training, a teacher and serving cost, over an array namespace.

    Every FLOP count the planner, the SLSQP reference and the reports use is one of these terms
    (Eq. 9 of Busbridge et al.; App. H for F(N)):

    - a training token of a model of size N: ``3 F(N)``;
    - a distillation token: ``3 F(N_S) + delta_lgt F(N_T)`` (the teacher's forward pass, where the
      scenario charges it);
    - the teacher's pretraining: ``delta_pre 3 F(N_T) D_T / k`` (``k`` students share it);
    - serving: ``F(N)`` per inference token (one forward pass), for ``serving_tokens`` tokens.

    Methods take and return logs, so that the planner's searches stay in log space; the arithmetic is
    written once here, in the order the planner has always used (its results are bit-for-bit those of
    the inline formulas it replaced).

    Parameters
    ----------
    scenario
        The compute scenario (Table 2), by name or as a :class:`Scenario`.
    n_students
        Students sharing one teacher's pretraining.
    arch
        F(N)'s architecture (None: ``F = 2N``).
    serving_tokens
        Inference tokens the trained model will serve (0: training compute only).
    """

    scenario: Scenario = SCENARIOS["best_case"]
    n_students: int = 1
    arch: Architecture | None = PAPER_ARCHITECTURE
    serving_tokens: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.scenario, str):
            object.__setattr__(self, "scenario", get_scenario(self.scenario))
        if self.n_students < 1:
            raise InputError(f"n_students must be >= 1, got {self.n_students}")
        if not (math.isfinite(self.serving_tokens) and self.serving_tokens >= 0):
            raise InputError(f"serving tokens must be a finite count >= 0, got {self.serving_tokens!r}")

    @property
    def log_k(self) -> float:
        return math.log(float(self.n_students))

    def log_F(self, log_N: Array, xp: ModuleType = np) -> Array:
        """``log F(N)``: forward FLOPs per token."""
        return log_forward_flops(log_N, self.arch, xp)

    def log_tokens(self, log_C: Array, log_F_N: Array) -> Array:
        """``log D`` that a budget ``C`` trains a model with forward cost ``F`` on: ``C / (3 F)``."""
        return log_C - LOG3 - log_F_N

    def log_training(self, log_F_N: Array, log_D: Array) -> Array:
        """``log 3 F(N) D``: training a model with forward cost ``F`` on ``D`` tokens."""
        return LOG3 + log_F_N + log_D

    def log_student_token(self, log_F_S: Array, log_F_T: Array | None = None, xp: ModuleType = np) -> Array:
        """``log (3 F(N_S) + delta_lgt F(N_T))``: one distillation token (``log_F_T`` unused where the
        scenario does not charge the teacher's inference)."""
        out = LOG3 + log_F_S
        if self.scenario.delta_logits > 0 and log_F_T is not None:
            out = xp.logaddexp(out, log_F_T)
        return out

    def log_teacher_pretraining(self, log_F_T: Array, log_D_T: Array) -> Array:
        """``log 3 F(N_T) D_T / k``: the teacher's pretraining charged to one of ``k`` students (where the
        scenario charges it: see :attr:`charges_pretraining`)."""
        return LOG3 + log_F_T + log_D_T - self.log_k

    @property
    def charges_pretraining(self) -> bool:
        return self.scenario.delta_pretrain > 0

    @property
    def charges_inference(self) -> bool:
        return self.scenario.delta_logits > 0

    def serving_flops(self, N: Array, xp: ModuleType = np) -> Array:
        """FLOPs of serving ``serving_tokens`` with a model of size ``N``: ``F(N)`` per token."""
        return forward_flops_per_token(N, self.arch, xp) * self.serving_tokens

    def log_training_budget(self, log_C: Array, log_F_N: Array, xp: ModuleType = np) -> Array:
        """``log (C - F(N) T)``: what a lifetime budget ``C`` leaves for training once serving ``T`` tokens with
        a model of forward cost ``F`` is paid; NaN where serving alone costs ``C`` or more."""
        if self.serving_tokens == 0:
            return log_C + 0.0 * log_F_N
        frac = xp.exp(log_F_N + math.log(self.serving_tokens) - log_C)
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.where(frac < 1.0, log_C + xp.log1p(-xp.minimum(frac, 1.0)), xp.nan)
