"""The planning grid: optima for every draw, student size, budget and scenario, in bounded chunks.

Draws are processed in chunks so memory stays bounded whatever the grid; each chunk runs on
numpy or, jit-compiled, on JAX (CPU or GPU), locally or on Dask workers
(:mod:`bayeslaw.planning.dask`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from bayeslaw.core import bounds
from bayeslaw.core.compute import PAPER_ARCHITECTURE, Architecture, CostModel
from bayeslaw.core.errors import InputError, SetupError
from bayeslaw.core.params import Laws
from bayeslaw.planning.dask import map_chunks
from bayeslaw.planning.optima import SCENARIO_NAMES, distillation_optimum, supervised_optimum, supervised_student
from bayeslaw.planning.search import COARSE

#: Largest number of grid evaluations held in one temporary array (float64: 64 MB).
MAX_GRID_ELEMENTS = 2**23
_GRID_POINTS = max(COARSE.values())  # the widest search grid per problem


def auto_chunk(n_sizes: int, n_budgets: int) -> int:
    """Draws per chunk so that one search grid stays within :data:`MAX_GRID_ELEMENTS`."""
    return max(1, MAX_GRID_ELEMENTS // (n_sizes * n_budgets * _GRID_POINTS))


@functools.cache
def _jax_kernel(scenario: str, n_students: int, arch: Architecture | None, iters: int | None,
                teacher_cap: float | None = None):
    import jax  # the optional jax extra
    import jax.numpy as jnp

    def kernel(coefs, N_S, C):
        return distillation_optimum(Laws(**coefs), N_S, C, scenario, n_students=n_students, arch=arch,
                                    iters=iters, teacher_cap=teacher_cap, xp=jnp)

    return jax.jit(kernel)


def _optimum(sub: Laws, N_S, C, scenario: str, *, n_students: int, arch, iters: int | None, backend: str,
             teacher_cap: float | None = None):
    if backend == "numpy":
        return distillation_optimum(sub, N_S, C, scenario, n_students=n_students, arch=arch, iters=iters,
                                    teacher_cap=teacher_cap)
    if backend == "jax":
        import jax  # the optional jax extra

        if not jax.config.jax_enable_x64:
            raise SetupError("the JAX planner needs 64-bit floats: set JAX_ENABLE_X64=1 (or "
                               "jax.config.update('jax_enable_x64', True)) before JAX is first used")
        coefs = {k: v for k, v in sub.__dict__.items() if v is not None}
        out = _jax_kernel(scenario, n_students, arch, iters, teacher_cap)(coefs, N_S, C)
        return {k: np.asarray(v) for k, v in out.items()}
    raise InputError(f"backend must be 'numpy' or 'jax', got {backend!r}")


def plan_chunk(sub: Laws, N_S: np.ndarray, C: np.ndarray, scenarios: tuple[str, ...], *, n_students: int = 1,
               arch: Architecture | None = PAPER_ARCHITECTURE, iters: int | None = None,
               backend: str = "numpy", teacher_cap: float | None = None) -> xr.Dataset:
    """All optima for one chunk of draws (the unit of work of :func:`plan_grid`, local or on Dask).

    Parameters
    ----------
    sub
        The chunk's coefficient draws.
    N_S, C
        Student sizes (parameters) and budgets (FLOPs).
    scenarios
        Compute scenario names.
    n_students, arch, iters, backend, teacher_cap
        As in :func:`plan_grid`.

    Returns
    -------
    xarray.Dataset
        ``L_S``, ``D_S``, ``N_T``, ``D_T``, ``L_T`` with dims ``(draw, student_size, budget, scenario)``,
        ``L_sup`` with dims ``(draw, student_size, budget)``, ``N_opt``, ``D_opt``, ``L_opt`` with dims
        ``(draw, budget)`` (no coordinates: :func:`plan_grid` assigns them).
    """
    out = {k: [] for k in ("L_S", "D_S", "N_T", "D_T", "L_T")}
    for sc in scenarios:
        res = _optimum(sub, N_S, C, sc, n_students=n_students, arch=arch, iters=iters, backend=backend,
                       teacher_cap=teacher_cap)
        for k in out:
            out[k].append(res[k])
    dims = ("draw", "student_size", "budget", "scenario")
    ds = xr.Dataset({k: (dims, np.stack(v, axis=-1)) for k, v in out.items()})
    ds["L_sup"] = (("draw", "student_size", "budget"), supervised_student(sub, N_S, C, arch))
    opt = supervised_optimum(sub, C, arch, iters=iters)
    for k, v in opt.items():
        ds[f"{k}_opt"] = (("draw", "budget"), v)
    return ds


def plan_grid(law: Laws, student_sizes, budgets, scenarios: tuple[str, ...] = SCENARIO_NAMES, *,
              n_students: int = 1, arch: Architecture | None = PAPER_ARCHITECTURE, chunk: int | None = None,
              iters: int | None = None, backend: str = "numpy", scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None, teacher_cap: float | None = None,
              serving_tokens: float = 0.0, infeasible: str = "raise") -> xr.Dataset:
    """Distillation and supervised optima for every draw, student size, budget and scenario.

    Draws are processed ``chunk`` at a time (default :func:`auto_chunk`: one search grid within
    :data:`MAX_GRID_ELEMENTS`), so memory stays bounded whatever the grid.

    Parameters
    ----------
    law
        Paper-scale coefficient draws of a joint posterior.
    student_sizes, budgets
        Student sizes (parameters) and compute budgets (FLOPs, 3 F(N) per training token).
    scenarios
        Compute scenario names (default: all four).
    n_students
        Students sharing one teacher's pretraining.
    arch
        Architecture behind F(N) (``None``: F = 2N).
    chunk
        Draws per chunk (default :func:`auto_chunk`, and with ``progress`` at most a tenth of the draws).
    iters
        Golden-section steps after each coarse grid.
    backend
        ``"numpy"`` or ``"jax"`` (jit-compiled searches, CPU or GPU, same results).
    scheduler
        Send the chunks to Dask: ``"local"`` starts a LocalCluster, anything else is a scheduler address.
    progress
        ``progress(done, total)`` after each chunk, counting draws.
    teacher_cap
        Teacher inference: the teacher's pretraining compute at most this multiple of the budget
        (:func:`bayeslaw.planning.optima.distillation_optimum`); None: unbounded (the 1e17-token bound).
    serving_tokens
        Tokens the student will serve over its lifetime (Sardana et al.): each budget is then a lifetime budget,
        and the student's serving, ``F(N_S)`` per token, is paid from it before any training (charged to the
        student only: the supervised and the distilled student of one size serve alike). The supervised optimum
        is then the lifetime-optimal model. 0: training only.
    infeasible
        With serving: where it leaves too little of a budget to train a student, refuse (``"raise"``) or leave
        the cells NaN (``"nan"``: a search over student sizes).

    Returns
    -------
    xarray.Dataset
        Dims ``(draw, student_size, budget, scenario)``: the distillation optimum (``L_S``, ``D_S``,
        ``N_T``, ``D_T``, ``L_T``), ``diff = L_S - L_sup`` (negative: distillation wins); ``L_sup`` (the
        supervised student on the same budget) with dims ``(draw, student_size, budget)``; the
        supervised compute-optimal ``N_opt``, ``D_opt``, ``L_opt`` with dims ``(draw, budget)``.
    """
    N_S = np.atleast_1d(np.asarray(student_sizes, float))
    C = np.atleast_1d(np.asarray(budgets, float))
    scenarios = tuple(scenarios)
    bounds.check_plan(N_S, C, scenarios, n_students)
    if serving_tokens:
        return _with_serving(law, N_S, C, scenarios, serving_tokens, n_students=n_students, arch=arch, chunk=chunk,
                             iters=iters, backend=backend, scheduler=scheduler, progress=progress,
                             teacher_cap=teacher_cap, infeasible=infeasible)
    if not law.has_distillation:
        raise InputError("distillation planning needs a distillation (joint) posterior, not a supervised one")
    if chunk is None:
        chunk = auto_chunk(N_S.size, C.size)
        if progress is not None:  # report from the first chunk on: about ten chunks
            chunk = min(chunk, max(1, -(-law.n_draws // 10)))
    starts = list(range(0, law.n_draws, chunk))
    kw = {"n_students": n_students, "arch": arch, "iters": iters, "backend": backend, "teacher_cap": teacher_cap}
    if scheduler is None:
        parts = []
        for start in starts:
            parts.append(plan_chunk(law.take(slice(start, start + chunk)), N_S, C, scenarios, **kw))
            if progress:
                progress(min(start + chunk, law.n_draws), law.n_draws)
    else:
        parts = map_chunks(scheduler, plan_chunk, [law.take(slice(s, s + chunk)) for s in starts], N_S, C,
                           scenarios, **kw, progress=progress, total=law.n_draws)
    ds = xr.concat(parts, dim="draw")
    ds = ds.assign_coords(draw=np.arange(law.n_draws), student_size=N_S, budget=C, scenario=list(scenarios))
    ds["diff"] = ds["L_S"] - ds["L_sup"]
    ds.attrs.update(n_students=n_students, bounds=f"sizes and tokens in [{bounds.BOX_MIN:.0e}, {bounds.BOX_MAX:.0e}]",
                    teacher_cap="none" if teacher_cap is None else float(teacher_cap),
                    flops="3 F(N) per training token, F(N) of App. H" if arch else "F(N) = 2N")
    return ds


def _with_serving(law: Laws, N_S: np.ndarray, C: np.ndarray, scenarios: tuple[str, ...], serving_tokens: float,
                  *, infeasible: str = "raise", **kw: Any) -> xr.Dataset:
    """:func:`plan_grid` with each student's serving paid from the budget first: one training budget per size.

    Where serving leaves too little to train the student on 1e6 tokens, ``infeasible="raise"`` refuses the question
    and ``"nan"`` (a search over sizes) leaves those cells NaN."""
    serving = CostModel(arch=kw["arch"], serving_tokens=serving_tokens).serving_flops(N_S)
    left = C[None, :] - serving[:, None]
    enough = left >= np.array([bounds.min_budget(n) for n in N_S])[:, None]
    if infeasible == "raise" and not enough.all():
        i, j = np.argwhere(~enough)[0]
        raise InputError(f"serving {serving_tokens:.3g} tokens with a {N_S[i]:.3g}-parameter student costs "
                         f"{serving[i]:.3g} FLOPs, which leaves too little of the {C[j]:.3g} FLOP budget to train "
                         "it: raise --budget, lower --inference-tokens or plan a smaller student")
    progress = kw.pop("progress")
    parts: list[xr.Dataset | None] = []
    for i, n in enumerate(N_S):
        ok = enough[i]
        parts.append(plan_grid(law, [n], left[i, ok], scenarios, **kw).assign_coords(budget=C[ok]).reindex(budget=C)
                     if ok.any() else None)
    template = next((p for p in parts if p is not None), None)
    if template is None:  # no size can train on any budget: the planner's variables, all NaN
        template = plan_grid(law, [bounds.BOX_MIN], C, scenarios, **kw)
    parts = [p if p is not None else (template * np.nan).assign_coords(student_size=[n])
             for p, n in zip(parts, N_S, strict=True)]
    if progress:
        progress(law.n_draws, law.n_draws)
    ds = xr.concat(parts, dim="student_size", data_vars="minimal", coords="minimal", compat="override")
    ds.attrs = next((p.attrs for p in parts if p.attrs), {})
    # the supervised optimum of a lifetime budget: training and serving the same demand
    opt = supervised_optimum(law, C, kw["arch"], iters=kw["iters"], serving_tokens=serving_tokens)
    for k, v in opt.items():
        ds[f"{k}_opt"] = (("draw", "budget"), v)
    ds["training_budget"] = (("student_size", "budget"), left)
    ds.attrs["serving_tokens"] = float(serving_tokens)
    return ds
