"""nutpie's C callbacks for a PyMC model, compiled once per machine instead of once per process.

nutpie calls the log density through two numba ``cfunc`` callbacks (log density with gradient,
and the expansion to the stored variables). nutpie 0.16 builds them with the data arrays frozen
into the closure, which numba refuses to cache ("dynamic globals"), so every process spent about
5 s of a 10 s ``bayeslaw fit`` recompiling them. Here the same callbacks are generated as source
that reads every data array through the pointer table nutpie already passes (no array in the
code), and are cached on disk under a key made of PyTensor's own cache key for the compiled
log density, the callback template and the package versions: the same model graph loads its
callbacks from the cache, a changed graph compiles new ones.

The callbacks do what nutpie's do (same checks, same return codes), so a seed gives the same
draws either way (``tests/inference/test_callbacks.py`` compares them bit for bit). They use
nutpie's private compile helpers, so :func:`compile_model` falls back to
``nutpie.compile_pymc_model`` (and says why) when those are not there or the cache cannot be read.
"""

from __future__ import annotations

import hashlib
import warnings
from importlib import metadata
from typing import Any

import numpy as np

#: Bumped whenever the generated source below changes: old cache entries are then never used.
TEMPLATE_VERSION = 2



class _Uncached(Exception):
    """This model's callbacks cannot come from the cache; the message says why."""

_LOGP = '''
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        shared = numba.carray(user_data_, (), RECORD)["shared"]
{unpack}
        logp_val, grad = inner(x{args})
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
'''

_EXPAND = '''
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        shared = numba.carray(user_data_, (), RECORD)["shared"]
{unpack}
        (values,) = inner(x{args})
        out[...] = values
    except Exception:
        return -2
    return 0
'''


def _unpack(keys: list[str], shared_data: dict[str, np.ndarray]) -> tuple[str, str]:
    """Source lines that view each data array through its pointer, and the call's arguments."""
    lines, args = [], []
    for i, key in enumerate(keys):
        ndim = shared_data[key].ndim
        shape = "(" + "".join(f"int(s{i}[{d}]), " for d in range(ndim)) + ")"
        lines += [
            f'        s{i} = shared["shape"]["{key}"]',
            f'        a{i} = numba.carray(address_as_void_pointer(shared["data"]["{key}"][()]), '
            f'int(shared["size"]["{key}"][()]), DTYPE{i}).reshape({shape})',
        ]
        args.append(f", a{i}")
    return "\n".join(lines) if lines else "        pass", "".join(args)


def _versions() -> str:
    return ",".join(f"{p}={metadata.version(p)}" for p in ("nutpie", "numba", "pytensor", "numpy"))


def _callback(template: str, name: str, inner: Any, keys: list[str], shared_data: dict[str, np.ndarray],
              record: np.dtype, signature: Any, layout: dict[str, int]) -> Any:
    """Generate, register for caching and compile (or load) one callback."""
    import numba  # heavy; loaded only where a nutpie model is compiled
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if inner_key is None:
        raise _Uncached("PyTensor gave the log density no cache key (an uncacheable graph)")
    unpack, args = _unpack(keys, shared_data)
    src = template.format(unpack=unpack, args=args, **layout)
    dtypes = {f"DTYPE{i}": shared_data[k].dtype for i, k in enumerate(keys)}
    # the record's field names are ours (v0, v1, ...), so its layout is part of the source's key
    key = hashlib.sha256("|".join([
        "bayeslaw-nutpie-callback", str(TEMPLATE_VERSION), _versions(), inner_key, src,
        str(record.descr), str({k: str(v) for k, v in dtypes.items()}),
    ]).encode()).hexdigest()
    # a cached callback's environment is rebuilt by importing the module that names it
    env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner, "RECORD": record,
           "address_as_void_pointer": address_as_void_pointer, **dtypes}
    fn = compile_numba_function_src(src, name, env, cache_key=key)
    with warnings.catch_warnings():
        # a cache that cannot be written (read-only home) still compiles; only slower
        warnings.filterwarnings("ignore", category=numba.NumbaWarning)
        try:
            return numba.cfunc(signature, cache=True)(fn)
        except Exception as err:  # an unreadable cache entry must not stop a fit
            raise _Uncached(f"the callback cache could not be read ({type(err).__name__}: {err})") from err


def compile_model(model: Any, jitter_rvs: set) -> tuple[Any, str | None]:
    """``nutpie.compile_pymc_model(model, jitter_rvs=...)`` (numba backend) with cached callbacks.

    Parameters
    ----------
    model
        A PyMC model.
    jitter_rvs
        Free variables whose chains start at a jittered initial value.

    Returns
    -------
    compiled : nutpie.compile_pymc.CompiledPyMCModel
        Ready for ``nutpie.sample`` and ``with_data``.
    fallback : str or None
        Why nutpie's own (per-process) compile was used instead, or ``None``.
    """
    import nutpie  # heavy (Rust extension, ArviZ); loaded only where a nutpie model is compiled

    try:
        import numba  # private helpers below: a missing one means another nutpie version
        from nutpie import compile_pymc as cp
        from pymc.initial_point import make_initial_point_fn

        parts = (cp._make_functions, cp.make_user_data, cp._prepare_dims_and_coords, cp._wrap_with_lock,
                 cp.CompiledPyMCModel)
    except (ImportError, AttributeError) as err:
        why = f"nutpie's compile helpers are not where bayeslaw expects them ({err})"
        return nutpie.compile_pymc_model(model, jitter_rvs=jitter_rvs), why
    make_functions, make_user_data, dims_and_coords, with_lock, compiled_model = parts

    initial_point = with_lock(make_initial_point_fn(
        model=model, overrides=None, default_strategy="support_point", jitter_rvs=jitter_rvs,
        return_transformed=True))
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info, reparameterized = make_functions(
        model, mode="NUMBA", compute_grad=True, join_expanded=True, pymc_initial_point_fn=initial_point,
        var_names=None)

    shared_data: dict[str, np.ndarray] = {}
    shared_keys: dict[Any, str] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if var not in shared_keys:
            key = f"v{len(shared_keys)}"
            shared_keys[var] = key
            shared_data[key] = np.array(var.get_value(), order="C", copy=True)
            shared_data[key].flags.writeable = False
    user_data = make_user_data(shared_keys, shared_data)
    t = numba.types
    try:
        logp_cb = _callback(
            _LOGP, "logp_callback", logp_pt.vm.jit_fn, [shared_keys[v] for v in logp_pt.get_shared()],
            shared_data, user_data.dtype,
            t.int64(t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.CPointer(t.double), t.voidptr),
            {"n_dim": n_dim})
        expand_cb = _callback(
            _EXPAND, "expand_callback", expand_pt.vm.jit_fn, [shared_keys[v] for v in expand_pt.get_shared()],
            shared_data, user_data.dtype,
            t.int64(t.uint64, t.uint64, t.CPointer(t.double), t.CPointer(t.double), t.voidptr),
            {"n_dim": n_dim, "n_expanded": n_expanded})
    except _Uncached as err:
        return nutpie.compile_pymc_model(model, jitter_rvs=jitter_rvs), str(err)
    dims, coords = dims_and_coords(model, shape_info, reparameterized)
    try:
        compiled = compiled_model(
            _n_dim=n_dim, dims=dims, _coords=coords,
            _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
            compiled_logp_func=logp_cb, compiled_expand_func=expand_cb, initial_point_func=initial_point_fn,
            shared_data=shared_data, shared_var_keys=shared_keys, user_data=user_data, n_expanded=n_expanded,
            shape_info=shape_info, logp_func=logp_pt, expand_func=expand_pt,
            reparameterized_names=reparameterized,
        )
    except TypeError as err:  # the dataclass's fields changed: another nutpie version
        why = f"nutpie's compiled-model fields are not what bayeslaw expects ({err})"
        return nutpie.compile_pymc_model(model, jitter_rvs=jitter_rvs), why
    return compiled, None
