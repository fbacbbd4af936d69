"""A point law from published coefficients, standing in for a posterior: one draw, labelled as such.

``bayeslaw predict --coefficients ...`` and ``plan --coefficients ...`` answer a question with a law someone
published (the paper's Table 6, Hoffmann et al.'s fit, Epoch's refit) instead of a posterior. The law is wrapped as
a :class:`~bayeslaw.posterior.card.Fit` of one chain and one draw (``card["kind"] == "point"``), so every verb takes
it unchanged; what a point law cannot have, it does not pretend to: no posterior uncertainty (the bands are the
point), no run noise (its sd is not published), no extrapolation error and no reach check (there are no fitted runs
to measure the distance from), no diagnostics (nothing was sampled). Every result from it says so.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from bayeslaw.core import params
from bayeslaw.core.errors import InputError
from bayeslaw.data.reference import paper_coefficients
from bayeslaw.posterior.card import Fit, make_card

#: What a point law's results say beside every number.
POINT_NOTE = ("a point law (published coefficients, one draw): no posterior uncertainty, no run noise, no "
              "extrapolation error and no reach check (no fitted runs): the numbers are the law's alone")

_SUPERVISED = ("E", "A", "B", "alpha", "beta")
_DISTILLATION = params.DISTILLATION_PAPER


def presets() -> dict[str, dict[str, float]]:
    """Named published laws (paper scale): the distillation paper's Table 6 (supervised and distillation), Hoffmann
    et al.'s Chinchilla fit (their approach 3, as Sardana et al. use it) and Epoch AI's refit of the same runs."""
    sup, dis = paper_coefficients()
    return {
        "table6": {**sup, **dis},
        "table6-supervised": dict(sup),
        "hoffmann": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28, "gamma": 1.0},
        "sardana": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.336, "beta": 0.283, "gamma": 1.0},
        "epoch": {"E": 1.817, "A": 482.01, "B": 2085.43, "alpha": 0.348, "beta": 0.366, "gamma": 1.0},
    }


def parse_coefficients(text: str) -> dict[str, float]:
    """``"table6"``, ``"hoffmann,E=1.7"`` or ``"E=1.69,A=406.4,B=410.7,alpha=0.336,beta=0.283"`` as coefficients.

    Parameters
    ----------
    text
        A preset name (:func:`presets`), key=value pairs on the paper's scale (Eq. 1: ``E, A, B, alpha, beta`` and
        optionally ``gamma``; Eq. 8: ``A_p, B_p, alpha_p, beta_p, gamma_p, c0, c1, f1, d1``), or a preset then
        pairs that override it.

    Returns
    -------
    dict
        Coefficient name to value; checked (every one finite, positive where the law needs it, a complete law).
    """
    named = presets()
    out: dict[str, float] = {}
    for i, part in enumerate(p.strip() for p in str(text).split(",")):
        if not part:
            continue
        if "=" not in part:
            if i > 0 or part not in named:
                raise InputError(f"--coefficients: {part!r} is neither a preset ({', '.join(named)}) nor key=value")
            out.update(named[part])
            continue
        key, _, value = (s.strip() for s in part.partition("="))
        if key not in (*_SUPERVISED, "gamma", *_DISTILLATION):
            raise InputError(f"--coefficients: unknown coefficient {key!r}; the supervised law takes "
                             f"{', '.join(_SUPERVISED)} (and gamma), the distillation law also "
                             f"{', '.join(_DISTILLATION)}")
        try:
            out[key] = float(value)
        except ValueError as err:
            raise InputError(f"--coefficients: {key}={value!r} is not a number") from err
    out.setdefault("gamma", 1.0)
    missing = [k for k in _SUPERVISED if k not in out]
    if missing:
        raise InputError(f"--coefficients lacks {', '.join(missing)} (the supervised law needs E, A, B, alpha, beta; "
                         f"or give a preset: {', '.join(named)})")
    given = [k for k in _DISTILLATION if k in out]
    if given and len(given) < len(_DISTILLATION):
        raise InputError(f"--coefficients gives part of the distillation law ({', '.join(given)}); it needs all of "
                         f"{', '.join(_DISTILLATION)}, or none for a supervised point law")
    bad = [k for k, v in out.items() if not math.isfinite(v) or (v <= 0 and k != "c0")]
    if bad:
        raise InputError(f"--coefficients: {', '.join(f'{k}={out[k]:g}' for k in bad)} must be finite and positive")
    if not (out["E"] < 20 and out["alpha"] < 2 and out["beta"] < 2):
        raise InputError("--coefficients: E is a loss in nats/token (< 20) and alpha, beta exponents below 2; "
                         f"got E={out['E']:g}, alpha={out['alpha']:g}, beta={out['beta']:g}")
    return out


def point_law(text: str) -> Fit:
    """A published law as a one-draw stand-in for a posterior (see the module docstring).

    Parameters
    ----------
    text
        What :func:`parse_coefficients` reads.

    Returns
    -------
    Fit
        Law ``"distillation"`` when Eq. 8's coefficients are given, else ``"supervised"``; ``card["kind"]`` is
        ``"point"`` and ``card["data"]["source"]`` the coefficients as given.
    """
    c = parse_coefficients(text)
    law = "distillation" if "c0" in c else "supervised"
    log = params.supervised_to_log(c)
    log_size, log_data = params.amplitudes_to_centred(log["log_A"], log["log_B"], c["alpha"], c["beta"])
    values = {**{k: c[k] for k in params.SUPERVISED_PAPER}, "log_E": log["log_E"], "log_size_term": log_size,
              "log_data_term": log_data, "sigma": 0.0}
    if law == "distillation":
        slopes = params.paper_to_slopes(**{k: c[k] for k in _DISTILLATION if k != "c0"})
        size_c, data_lo = params.centred_distillation(slopes, c["c0"])
        values |= {k: c[k] for k in _DISTILLATION} | {
            "log_size_amp_c": size_c, "log_data_amp_lo": data_lo, "P": slopes["P"], "Q": slopes["Q"],
            "log_k": slopes["log_k"], "log_s": slopes["log_s"], "log_d1": slopes["log_d1"],
            "sigma_sup": 0.0, "sigma_dis": 0.0}
    posterior = xr.Dataset({k: (("chain", "draw"), np.full((1, 1), float(v))) for k, v in values.items()},
                           coords={"chain": [0], "draw": [0]})
    tree = xr.DataTree.from_dict({"posterior": posterior, "observed_data": xr.Dataset()})
    card = make_card(law=law, spec={"likelihood": "normal", "priors": {}, "point": True},
                     data={"source": f"published coefficients: {text}", "n_runs": 0, "range": {}},
                     sampler={}, seed=0,
                     diagnostics={"passed": True, "failures": [], "warnings": [POINT_NOTE], "metrics": {}})
    card["kind"] = "point"  # type: ignore[typeddict-unknown-key]
    card["parameters"] = []
    return Fit(tree, card)
