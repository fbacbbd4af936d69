"""What the person deciding a budget asks: the student, the budgets, the scenario, the teachers.

Every field is checked by :meth:`Question.check` before any posterior is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bayeslaw.core import bounds, compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.fmt import sci
from bayeslaw.core.serving import Demand, PricedBudgets


@dataclass(frozen=True)
class Teacher:
    """A teacher you could use: size and tokens (loss from the law) or size and a measured loss.

    A teacher given by its measured loss exists, so its pretraining is sunk in every scenario; one
    given by size and tokens is charged where the scenario charges pretraining, unless ``sunk``.
    """

    N_T: float
    D_T: float | None = None
    L_T: float | None = None
    sunk: bool = False

    @property
    def is_sunk(self) -> bool:
        return self.sunk or self.L_T is not None

    @property
    def label(self) -> str:
        if self.L_T is not None:
            return f"existing teacher {sci(self.N_T)} params, L_T {self.L_T:.3f}"
        return f"{'existing ' if self.sunk else ''}teacher {sci(self.N_T)} params on {sci(self.D_T)} tokens"

    def check(self) -> None:
        if not np.isfinite(self.N_T) or self.N_T < bounds.BOX_MIN:
            raise InputError(f"teacher size must be a raw parameter count >= 1e6, got {self.N_T:g}")
        if self.D_T is None and self.L_T is None:
            raise InputError("give each teacher its tokens (N_T:D_T) or its measured loss (N_T:L=...)")
        if self.D_T is not None and (not np.isfinite(self.D_T) or self.D_T < bounds.BOX_MIN):
            raise InputError(f"teacher tokens must be a raw count >= 1e6 (e.g. 2e11, not 200), got {self.D_T:g}")
        if self.L_T is not None:
            bounds.check_loss(self.L_T, "teacher loss")


@dataclass(frozen=True)
class Question:
    """What the person deciding a budget asks."""

    #: None only for a supervised-only report (its question is the compute-optimal model)
    student_size: float | None
    budgets: tuple[float, ...]
    scenario: str = "teacher_inference"
    n_students: int = 1
    target: float | None = None
    teachers: tuple[Teacher, ...] = ()
    prob: float = 0.9
    #: other scenarios whose optimal recipe is compared as an option (e.g. pretraining a new teacher
    #: against distilling from an existing one)
    other_scenarios: tuple[str, ...] = ()
    #: differences smaller than this many nats are a practical tie (bayeslaw.decide.verdict)
    margin: float = bounds.PRACTICAL_MARGIN
    #: teacher inference: the recommended teacher's pretraining at most this multiple of the budget
    #: (None: uncapped); the uncapped optimum is shown as a bound, never as the recipe
    teacher_cap: float | None = bounds.TEACHER_CAP_RATIO
    #: tokens the student (or the supervised model) will serve over its lifetime: each budget is then a lifetime
    #: budget that pays for that serving first (docs/serving.md)
    inference_tokens: float = 0.0
    #: the question as asked in money (``--prices``): then :attr:`budgets` are its training FLOPs and
    #: :attr:`inference_tokens` its training-priced forward passes (:class:`~bayeslaw.core.serving.PricedBudgets`)
    priced: PricedBudgets | None = None

    @property
    def demand_tokens(self) -> float:
        """The tokens the model will serve, as asked (with prices, :attr:`inference_tokens` is their cost)."""
        return self.priced.demands[0].tokens if self.priced is not None else self.inference_tokens

    def serving_flops(self, N: float) -> float:
        """What serving :attr:`inference_tokens` costs a model of ``N`` parameters (one forward pass per token).

        Parameters
        ----------
        N
            Model size.
        """
        return float(compute.CostModel(serving_tokens=self.inference_tokens).serving_flops(N))

    def check(self) -> None:
        Demand.total(self.inference_tokens)  # a finite count >= 0, or exit 2 saying so
        bounds.check_distinct(np.asarray(self.budgets, float), "budget")
        if self.student_size is None:  # a supervised-only report: budgets, target, band
            if not self.budgets:
                raise InputError("give at least one compute budget (FLOPs)")
            bounds.check_optimum_budgets(np.asarray(self.budgets, float), headroom=bounds.SWEEP_HEADROOM)
            bounds.check_serving_budgets(np.asarray(self.budgets, float), self.inference_tokens)
            if self.target is not None:
                bounds.check_loss(self.target, "target loss")
            bounds.check_interval(self.prob)
            return
        if not bounds.in_box(np.asarray(self.student_size)):
            raise InputError(f"student size must be a raw parameter count in [1e6, 1e17] (e.g. 1e9, not 1), "
                             f"got {self.student_size:g}")
        if not self.budgets:
            raise InputError("give at least one compute budget (FLOPs)")
        for sc in (self.scenario, *self.other_scenarios):
            compute.get_scenario(sc)
        bounds.check_n_students(self.n_students)
        if self.target is not None:
            bounds.check_loss(self.target, "target loss")
        bounds.check_interval(self.prob)
        bounds.check_margin(self.margin)
        bounds.check_teacher_cap(self.teacher_cap)
        serving = self.serving_flops(self.student_size)
        need = bounds.min_budget(self.student_size) + serving
        most = bounds.min_budget(self.student_size) / bounds.BOX_MIN * bounds.BOX_MAX + serving
        for c in self.budgets:
            if not np.isfinite(c) or c < need:
                extra = (f", of which serving {self.inference_tokens:.3g} tokens takes {serving:.3g}; lower "
                         "--inference-tokens or raise the budget" if serving else "")
                raise InputError(f"budget {c:.3g} FLOPs cannot train a {self.student_size:.3g}-parameter student on "
                                 f"the minimum 1e6 tokens (needs >= {need:.3g} FLOPs{extra})")
            if c > most:
                raise InputError(f"budget {c:.3g} FLOPs is beyond the planning box: a {self.student_size:.3g}-"
                                 f"parameter student trained on it would see more than 1e17 tokens (at most "
                                 f"{most:.3g} FLOPs)")
        for t in self.teachers:
            t.check()

    def default_teachers(self) -> tuple[Teacher, ...]:
        """Chosen teachers, else two of the paper's ladder: 2x and 10x the student on 20 tokens/param."""
        if self.teachers:
            return self.teachers
        return tuple(Teacher(N_T=m * self.student_size, D_T=20 * m * self.student_size) for m in (2, 10)
                     if m * self.student_size <= 1e14)  # 20 tokens/param stays inside the box


def distil_label(scenario: str) -> str:
    """The name of the option 'distil with the scenario's optimal teacher' (reports, plans and pilots)."""
    return f"distil, optimal teacher ({scenario.replace('_', ' ')})"


def question_record(q: Question) -> dict[str, Any]:
    """The question as plain data (for the report's JSON and provenance)."""
    d = asdict(q)
    d["budgets"] = list(q.budgets)
    if q.priced is None:
        d.pop("priced")  # a FLOP question reads as it always has
    else:
        d["priced"] = q.priced.record()
    return d
