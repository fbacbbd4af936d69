"""One set of input checks, each raising :class:`~bayeslaw.core.errors.InputError` that says what to fix.

Two kinds of bound live here and must not be confused:

- *units* bounds catch numbers given in the wrong unit: a model below ``MIN_PARAMS`` parameters or
  a run below ``MIN_TOKENS`` tokens was almost surely given in millions or billions, and a loss
  above ``MAX_LOSS`` is a perplexity, not a cross-entropy in nats;
- the *planning box* ``[BOX_MIN, BOX_MAX]`` bounds every size and token count the planner may
  choose, as in the paper (App. H).
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bayeslaw.core import compute
from bayeslaw.core.errors import InputError
from bayeslaw.core.fmt import sci

#: Smallest plausible raw counts; below these a column was almost surely scaled.
MIN_PARAMS = 1e4
MIN_TOKENS = 1e6
#: Largest plausible cross-entropy in nats/token; above it the numbers are perplexities.
MAX_LOSS = 20.0
#: Real LMs of LARGE_MODEL+ parameters trained on LARGE_TOKENS+ tokens reach below LARGE_MODEL_LOSS
#: nats (on the shipped tables: at most 3.58), and every table of trained models has some run below
#: MIN_LOSS_CEILING: a table above either holds perplexities. (Fewer tokens are not enough to tell:
#: (Mis)Fitting's 114M model on 0.79B tokens sits at 4.03 nats.)
LARGE_MODEL, LARGE_TOKENS, LARGE_MODEL_LOSS, MIN_LOSS_CEILING = 1e8, 2e9, 4.0, 7.0
#: The planning box for sizes and tokens (Busbridge et al. App. H).
BOX_MIN, BOX_MAX = 1e6, 1e17
LOG_BOX_MIN, LOG_BOX_MAX = math.log(BOX_MIN), math.log(BOX_MAX)
INTERVAL_KINDS = ("eti", "hdi")


def check_points(N: np.ndarray, D: np.ndarray) -> None:
    """Model sizes and tokens of predictions: positive, finite, raw counts."""
    if np.any(~np.isfinite(N)) or np.any(N <= 0) or np.any(~np.isfinite(D)) or np.any(D <= 0):
        raise InputError("N and D must be positive finite raw counts")
    if np.any(N < MIN_PARAMS) or np.any(D < MIN_TOKENS):
        raise InputError(
            "N or D looks scaled (N < 1e4 or D < 1e6): give raw counts, e.g. 7e9 not 7"
        )
    if np.any(N > BOX_MAX) or np.any(D > BOX_MAX):
        raise InputError(f"N or D above {BOX_MAX:.0e} (largest given: N {np.max(N):.3g}, D {np.max(D):.3g}) lies "
                         "beyond the planning box, where no law fitted to today's runs says anything; give counts up "
                         "to 1e17")


def check_interval(prob: float, kind: str = "eti") -> None:
    """A credible interval's probability in (0, 1) and kind ``eti`` or ``hdi``."""
    if kind not in INTERVAL_KINDS:
        raise InputError(f"interval kind must be one of {INTERVAL_KINDS}")
    if not 0 < prob < 1:
        raise InputError(f"interval probability must lie in (0, 1), got {prob}")


def check_budgets(C: np.ndarray) -> None:
    """Compute budgets: positive, finite FLOPs."""
    if np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise InputError("budgets must be positive FLOPs")


#: A supervised report sweeps budgets from 1/100 of its smallest to 100x its largest.
SWEEP_HEADROOM = 100.0


def optimum_budget_range(flops: str = "3fnd", headroom: float = 1.0) -> tuple[float, float]:
    """The budgets whose compute-optimal model lies in the planning box (:data:`BOX_MIN` to :data:`BOX_MAX`
    parameters and tokens) under a FLOP convention (``"3fnd"``: 3 F(N) D, ``"6nd"``), the top divided by
    ``headroom`` (a report sweeps up to 100x its largest budget)."""
    arch = compute.PAPER_ARCHITECTURE if flops == "3fnd" else None
    lo = float(compute.supervised_flops(BOX_MIN, BOX_MIN, arch))
    return lo, float(compute.supervised_flops(BOX_MAX, BOX_MAX, arch)) / headroom


def check_optimum_budgets(C: np.ndarray, flops: str = "3fnd", headroom: float = 1.0) -> None:
    """Budgets of a compute-optimal supervised model: inside :func:`optimum_budget_range` (outside it the search
    has no model to offer, and used to print N* on the box's edge with an infinite loss)."""
    check_budgets(C)
    lo, hi = optimum_budget_range(flops, headroom)
    if np.any(C < lo):
        raise InputError(f"budget {C.min():.3g} FLOPs is too small to train any model: the smallest the planner "
                         f"considers, {BOX_MIN:.0e} parameters on {BOX_MIN:.0e} tokens, takes {lo:.2g} FLOPs")
    if np.any(C > hi):
        raise InputError(f"budget {C.max():.3g} FLOPs lies beyond the planning box: models of at most {BOX_MAX:.0e} "
                         f"parameters on {BOX_MAX:.0e} tokens take at most {hi * headroom:.2g} FLOPs"
                         + (f", and a report sweeps up to {headroom:g}x its largest budget (so <= {hi:.2g})"
                            if headroom > 1 else ""))


def check_serving_budgets(C: np.ndarray, inference_tokens: float,
                          arch: compute.Architecture | None = compute.PAPER_ARCHITECTURE) -> None:
    """Lifetime budgets of a model chosen by the planner: serving ``inference_tokens`` with the smallest model it
    considers (:data:`BOX_MIN` parameters) must leave something of every budget to train with."""
    if not inference_tokens:
        return
    cost = float(compute.CostModel(arch=arch, serving_tokens=inference_tokens).serving_flops(BOX_MIN))
    C = np.atleast_1d(np.asarray(C, float))
    if np.any(C <= cost * (1.0 + 1e-9)):  # within rounding of the cost, nothing is left either
        raise InputError(f"serving {inference_tokens:.3g} tokens costs {cost:.3g} FLOPs even with the smallest model "
                         f"the planner considers ({BOX_MIN:.0e} parameters), which leaves nothing of the {C.min():.3g} "
                         "FLOP budget for training: raise --budget or lower --inference-tokens")


def check_loss(value: Any, what: str) -> None:
    """A loss (or array of them) in nats/token: finite, in (0, :data:`MAX_LOSS`)."""
    v = np.atleast_1d(np.asarray(value, float))
    bad = ~np.isfinite(v) | (v <= 0) | (v >= MAX_LOSS)
    if bad.any():
        raise InputError(f"{what} must be a cross-entropy in nats/token (0 < L < 20), got {v[bad][0]:g}")


def check_n_students(n_students: int) -> None:
    if n_students < 1:
        raise InputError(f"n_students must be >= 1, got {n_students}")


def min_budget(N: Any, arch: compute.Architecture | None = compute.PAPER_ARCHITECTURE) -> Any:
    """The smallest budget that trains a model of ``N`` parameters on the box's minimum tokens."""
    return compute.supervised_flops(N, BOX_MIN, arch)


def in_box(x: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all(x >= BOX_MIN) and np.all(x <= BOX_MAX))


def check_plan(N_S: np.ndarray, C: np.ndarray, scenarios: Iterable[str], n_students: int) -> None:
    """Student sizes, budgets, scenarios and students per teacher of a planning question."""
    if np.size(N_S) == 0 or np.size(C) == 0:
        raise InputError("give at least one student size and one compute budget (FLOPs)")
    scenarios = tuple(scenarios)
    if not scenarios:
        raise InputError(f"give at least one compute scenario (one of {', '.join(compute.SCENARIOS)})")
    if not in_box(N_S):
        raise InputError("student sizes must be raw parameter counts within [1e6, 1e17] (e.g. 1e9, not 1)")
    check_budgets(C)
    check_distinct(N_S, "student size")
    check_distinct(C, "budget")
    smallest = min_budget(np.min(N_S))
    if np.any(C < smallest):
        raise InputError(f"budget {C.min():.3g} FLOPs cannot train the smallest student on the minimum 1e6 tokens "
                         f"(needs >= {smallest:.3g} FLOPs)")
    for s in scenarios:
        compute.get_scenario(s)
    check_n_students(n_students)


def check_distinct(values: np.ndarray, what: str) -> None:
    """Each value given once: a repeated size or budget is a typo, and would be a table row and a grid cell twice."""
    v = np.ravel(np.asarray(values, float))
    if np.unique(v).size < v.size:
        seen, twice = set(), []
        for x in v:
            if x in seen:
                twice.append(sci(float(x)))
            seen.add(x)
        raise InputError(f"each {what} once, please: {', '.join(dict.fromkeys(twice))} is given more than once")


def check_student_tokens(D: np.ndarray) -> None:
    """Student tokens of a fixed-token comparison, inside the planning box."""
    if not in_box(D):
        raise InputError("student tokens must be raw counts within [1e6, 1e17] (e.g. 2e10, not 20)")


def check_not_input(path: str | Path, flag: str, inputs: dict[str, Any]) -> None:
    """That an output does not name one of the command's inputs (which writing it would destroy)."""
    out = Path(path).resolve()
    for what, given in inputs.items():
        if isinstance(given, str | Path) and Path(given).exists() and Path(given).resolve() == out:
            raise InputError(f"{flag} {path} is the {what} this command reads: writing it would destroy the input; "
                             "choose another file")


def check_writable(path: str | Path, flag: str, *, directory: bool = False) -> None:
    """That an output can be written, checked before any work: a file path (or a folder to write into)."""
    p = Path(path)
    if directory and p.exists() and not p.is_dir():
        raise InputError(f"{flag} {p} is a file; give a folder to write into")
    if not directory and p.is_dir():
        raise InputError(f"{flag} {p} is a folder; give a file name, e.g. {p / 'posterior.nc'}")
    # the nearest existing folder the output (or its new folders) would be written into
    parent = p if directory and p.exists() else next((q for q in p.parents if q.exists()), Path("."))
    if not parent.is_dir():
        raise InputError(f"{flag} {p}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{flag} {p}: cannot write in {parent} (permission denied); choose another place")
    # os.access says yes to root on a read-only file system or a pseudo-file system: try a file there
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as err:
        raise InputError(f"{flag} {p}: cannot write in {parent} ({err.strerror or err}); choose another place") from err


#: The default cap on a teacher's pretraining compute where the scenario does not charge it (teacher
#: inference), as a multiple of the student's budget. Uncapped, the optimal teacher there trains on the
#: 1e17-token bound: a teacher nobody will train, and a million times beyond any fitted run. 100x the
#: budget is a teacher an organisation spending that budget on one student can plausibly own or share;
#: ``None`` (``--teacher-cap none``) gives the uncapped bound, "the best teacher you could have".
TEACHER_CAP_RATIO = 100.0


def check_teacher_cap(cap: float | None, flag: str = "--teacher-cap") -> None:
    """A teacher-compute cap is a positive multiple of the budget, or None (uncapped)."""
    if cap is None:
        return
    if not (isinstance(cap, int | float) and math.isfinite(cap) and cap > 0):
        raise InputError(f"the teacher's pretraining cap ({flag}) is a positive multiple of the budget, e.g. 100, "
                         f"or 'none' for no cap; got {cap!r}")


#: The practical-equivalence margin (nats/token) below which two options are a tie (bayeslaw.decide).
#: 0.01 nats is 0.4% of a loss of 2.3: about one training run's own scatter (the fitted run-to-run sd
#: of log loss is 0.4% on Chinchilla, 0.2% on the paper's digitized students), so a smaller difference
#: can be undone by a rerun with another seed and is no reason to prefer a recipe. Users set their own.
PRACTICAL_MARGIN = 0.01


def check_margin(margin: float, flag: str = "--margin") -> None:
    """A practical-equivalence margin is a finite number of nats >= 0."""
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
        raise InputError(f"the practical-equivalence margin ({flag}) must be a number of nats >= 0, got {margin!r}")
