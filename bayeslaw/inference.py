"""Run NUTS on a chosen backend with one seed; compile once, refit many.

Backends: ``nutpie`` (default; low-rank mass matrix, which the strongly correlated
scaling-law posteriors need), ``pymc`` (PyMC's own NUTS) and ``numpyro`` (JAX; CPU or
GPU, an optional extra). One integer seed enters here and is fanned out with
:class:`numpy.random.SeedSequence`, so the same seed gives the same posterior.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import xarray as xr

SAMPLERS = ("nutpie", "pymc", "numpyro")

#: PyTensor compiles its numba functions with fastmath, and then a function loaded from its
#: on-disk cache and the same function compiled fresh differ in the last bits (LLVM reorders the
#: arithmetic differently); NUTS amplifies those bits, so one seed gave two posteriors depending on
#: whether the cache was empty (the joint model: min ESS_bulk 28 vs 72). Strict IEEE arithmetic
#: makes the compiled log density the same whatever the cache holds.
REPRODUCIBLE_FLAGS = {"numba__fastmath": False}


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
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.draws < 10 or self.tune < 0 or self.chains < 1 or self.thin < 1:
            raise ValueError("need draws >= 10, tune >= 0, chains >= 1 and thin >= 1")
        if not 0.5 <= self.target_accept < 1:
            raise ValueError(f"target_accept must lie in [0.5, 1), got {self.target_accept}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Default NUTS settings per law. The joint model's break mixes slowly and its posterior has
#: a narrow neck where the break reaches the runs (docs/distillation.md): more draws and a
#: smaller step than the supervised law need.
LAW_DEFAULTS: dict[str, dict[str, Any]] = {
    "supervised": {"draws": 1000, "target_accept": 0.9},
    "distillation": {"draws": 4000, "target_accept": 0.995},
}


def default_config(law: str, **settings: Any) -> SamplerConfig:
    """The law's default sampler settings, with every ``settings`` value that is not ``None``."""
    if law not in LAW_DEFAULTS:
        raise ValueError(f"law must be one of {sorted(LAW_DEFAULTS)}, got {law!r}")
    return SamplerConfig(**(LAW_DEFAULTS[law] | {k: v for k, v in settings.items() if v is not None}))


def fan_out(seed: int, n: int = 4) -> list[int]:
    """Derive ``n`` independent 32-bit seeds from one user seed."""
    if seed is None or int(seed) < 0:
        raise ValueError("a non-negative integer seed is required")
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(int(seed)).spawn(n)]


def _cores(chains: int) -> int:
    return max(1, min(chains, os.cpu_count() or 1))


class CompiledSampler:
    """A model compiled once for nutpie, refitted on new data with :meth:`fit`.

    Compilation dominates small fits (seconds); a refit with new ``pm.Data`` values
    costs only sampling. Other backends recompile on every fit.
    """

    def __init__(self, model: pm.Model, config: SamplerConfig) -> None:
        self.model = model
        self.config = config
        self._compiled = None
        self.compile_seconds = 0.0
        if config.sampler == "nutpie":
            import nutpie

            t0 = time.perf_counter()
            with pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):
                self._compiled = nutpie.compile_pymc_model(model, jitter_rvs=jittered(model))
            self.compile_seconds = time.perf_counter() - t0

    def fit(self, seed: int, data: dict[str, np.ndarray] | None = None,
            progress: bool = False) -> xr.DataTree:
        """Sample the posterior; ``data`` replaces ``pm.Data`` values by name."""
        cfg = self.config
        t0 = time.perf_counter()
        if cfg.sampler == "nutpie":
            import nutpie

            compiled = self._compiled.with_data(**data) if data else self._compiled
            idata = nutpie.sample(
                compiled,
                draws=cfg.draws,
                tune=cfg.tune,
                chains=cfg.chains,
                cores=_cores(cfg.chains),
                seed=seed,
                save_warmup=False,
                progress_bar=progress,
                adaptation=cfg.adaptation,
                target_accept=cfg.target_accept,
                maxdepth=cfg.max_treedepth,
            )
        else:
            if data:
                pm.set_data(data, model=self.model)
            logging.getLogger("pymc").setLevel(logging.WARNING if not progress else logging.INFO)
            with warnings.catch_warnings(), pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):
                warnings.simplefilter("ignore", FutureWarning)
                idata = pm.sample(
                    draws=cfg.draws,
                    tune=cfg.tune,
                    chains=cfg.chains,
                    cores=_cores(cfg.chains),
                    random_seed=seed,
                    nuts_sampler=cfg.sampler,
                    nuts={"target_accept": cfg.target_accept,
                          # numpyro spells it max_tree_depth
                          ("max_tree_depth" if cfg.sampler == "numpyro" else "max_treedepth"):
                          cfg.max_treedepth},
                    progressbar=progress,
                    compute_convergence_checks=False,
                    model=self.model,
                )
        wall = time.perf_counter() - t0
        if cfg.thin > 1:
            idata = idata.isel(draw=slice(None, None, cfg.thin))
        idata["observed_data"] = _observed(self.model, data)
        idata.attrs["sampling_wall_seconds"] = wall
        idata.attrs["compile_seconds"] = self.compile_seconds
        return idata


def jittered(model: pm.Model) -> set:
    """Free variables whose chains start at a random jitter of the default initial value.

    A variable the model gave an explicit initial value (``initval``) starts exactly there:
    the model knows a good start (e.g. a measured quantity) that a U(-1, 1) jitter on the
    unconstrained scale would throw away.
    """
    return {rv for rv in model.free_RVs if model.rvs_to_initial_values.get(rv) is None}


def _observed(model: pm.Model, data: dict[str, np.ndarray] | None) -> xr.Dataset:
    """The observed variables and the data containers, as the model saw them."""
    out = {}
    values = {v.name: v.get_value() for v in model.data_vars}
    values.update(data or {})
    for name, val in values.items():
        dims = model.named_vars_to_dims.get(name)
        dim = dims[0] if dims else f"{name}_dim"
        out[name] = xr.DataArray(np.asarray(val), dims=(dim,))
    return xr.Dataset(out)


def sample(model: pm.Model, config: SamplerConfig, seed: int, progress: bool = False) -> xr.DataTree:
    """Compile and sample once (see :class:`CompiledSampler` for repeated fits)."""
    return CompiledSampler(model, config).fit(fan_out(seed)[0], progress=progress)
