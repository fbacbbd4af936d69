"""Run NUTS on a chosen backend with one seed; compile once, refit many.

Backends: ``nutpie`` (default; low-rank mass matrix, which the strongly correlated
scaling-law posteriors need), ``pymc`` (PyMC's own NUTS) and ``numpyro`` (JAX; CPU or
GPU, an optional extra). The sampler takes the ``sampling`` stream of the user's seed
(:class:`bayeslaw.core.seeds.Streams`), so the same seed gives the same posterior.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator

import numpy as np
import pymc as pm
import pytensor
import xarray as xr

from bayeslaw.core.seeds import Streams
from bayeslaw.inference import callbacks
from bayeslaw.inference.config import SamplerConfig

#: PyTensor compiles its numba functions with fastmath, and then a function loaded from its
#: on-disk cache and the same function compiled fresh differ in the last bits (LLVM reorders the
#: arithmetic differently); NUTS amplifies those bits, so one seed gave two posteriors depending on
#: whether the cache was empty (the joint model: min ESS_bulk 28 vs 72). Strict IEEE arithmetic
#: makes the compiled log density the same whatever the cache holds.
REPRODUCIBLE_FLAGS = {"numba__fastmath": False}


@contextlib.contextmanager
def interruptible(*, raise_now: bool) -> Iterator[None]:
    """Ctrl-C stays an interrupt, whatever the native code inside does with it.

    nutpie answers Ctrl-C by stopping and returning the draws so far, and a Ctrl-C that lands in
    numba's compiler is swallowed by a ctypes callback: either way a fit would go on and save a
    broken posterior. The handler records the signal (and raises at once where the code inside
    listens for it, ``raise_now``); the interrupt is raised again when that code returns.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hit: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        hit.append(signum)
        if raise_now:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if hit:
        raise KeyboardInterrupt


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
        self.compile_note: str | None = None
        if config.sampler == "nutpie":
            t0 = time.perf_counter()
            with interruptible(raise_now=False), pytensor.config.change_flags(**REPRODUCIBLE_FLAGS):
                self._compiled, self.compile_note = callbacks.compile_model(model, jittered(model))
            if self.compile_note:
                warnings.warn(f"nutpie's callbacks were compiled for this process only ({self.compile_note}): "
                              "fits are about 5 s slower, results the same", RuntimeWarning, stacklevel=2)
            self.compile_seconds = time.perf_counter() - t0

    def fit(self, seed: int, data: dict[str, np.ndarray] | None = None,
            progress: bool = False, config: SamplerConfig | None = None) -> xr.DataTree:
        """Sample the posterior; ``data`` replaces ``pm.Data`` values by name.

        ``config`` overrides the lengths, step-size target and adaptation of the settings the
        model was compiled for (not the backend).
        """
        cfg = config or self.config
        if cfg.sampler != self.config.sampler:
            raise ValueError(f"compiled for {self.config.sampler}, asked to sample with {cfg.sampler}")
        t0 = time.perf_counter()
        if cfg.sampler == "nutpie":
            import nutpie  # the default backend, but only its compile and sample calls need it

            compiled = self._compiled.with_data(**data) if data else self._compiled
            with interruptible(raise_now=True):
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
            with (interruptible(raise_now=True), warnings.catch_warnings(),
                  pytensor.config.change_flags(**REPRODUCIBLE_FLAGS)):
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
    """Compile and sample once (see :class:`CompiledSampler` for repeated fits).

    Parameters
    ----------
    model
        A PyMC model.
    config
        NUTS settings.
    seed
        The user's seed (its ``sampling`` stream seeds NUTS).
    progress
        Show the sampler's progress bar.

    Returns
    -------
    xarray.DataTree
        ``posterior`` and ``sample_stats`` with dims ``(chain, draw, ...)`` and ``observed_data``.
    """
    return CompiledSampler(model, config).fit(Streams(seed).sampling, progress=progress)
