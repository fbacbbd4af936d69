"""The one reader of coefficients out of a fit: posterior draws as an ``xarray.Dataset``.

Every prediction, plan and report reads the law's coefficients through :func:`coefficients`;
the parameter names come from :mod:`bayeslaw.core.params`.
"""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from bayeslaw.core import bounds, params
from bayeslaw.core.errors import InputError, PosteriorError
from bayeslaw.model.spec import JointSpec
from bayeslaw.posterior.card import Fit

SCALES = ("sampled", "paper")
SUMMARY_PROB = 0.9


def coefficients(fit: Fit, scale: str = "sampled") -> xr.Dataset:
    """The law's coefficient draws, flattened over chains.

    Parameters
    ----------
    fit
        A supervised or joint (distillation) posterior.
    scale
        ``"sampled"``: the coordinates the model samples (``log_E``, ``log_size_term``, ...;
        :data:`~bayeslaw.core.params.SUPERVISED_SAMPLED` and, for a joint fit,
        :data:`~bayeslaw.core.params.DISTILLATION_SAMPLED`). ``"paper"``: the paper's
        coefficients (``E, A, B, alpha, beta, gamma`` and ``A_p ... d1``) as the fit stored them.

    Returns
    -------
    xarray.Dataset
        One variable per coefficient, each with dims ``(draw,)`` (chain-major). ``gamma`` is
        all ones for a Chinchilla-form fit (gamma fixed at 1).
    """
    if scale not in SCALES:
        raise InputError(f"scale must be one of {SCALES}, got {scale!r}")
    sup, dis = ((params.SUPERVISED_SAMPLED, params.DISTILLATION_SAMPLED) if scale == "sampled"
                else (params.SUPERVISED_PAPER, params.DISTILLATION_PAPER))
    names = [*sup, *(dis if fit.law == "distillation" else ())]
    # the extensions of Eq. 8 (JointSpec.break_tilt, .weak_teacher)
    names += [n for n in params.DISTILLATION_EXTENSIONS if n in fit.idata["posterior"].data_vars]
    got = fit.draws([n for n in names if n in fit.idata["posterior"].data_vars])
    got.setdefault("gamma", np.ones_like(got["alpha"]))
    twin = cut_twin(fit, scale)
    got |= {params.TWIN + k: np.full_like(got["alpha"], v) for k, v in twin.items()}
    return xr.Dataset({n: ("draw", got[n]) for n in [*names, *(params.TWIN + k for k in twin)]})


def cut_twin(fit: Fit, scale: str = "sampled") -> dict[str, float]:
    """A cut posterior's fixed supervised twin (Eq. 8's ``L~_S``; :class:`~bayeslaw.model.spec.JointSpec`): the
    supervised prior's medians, on the ``scale`` asked; empty for any other posterior."""
    spec = fit.card["spec"]
    if fit.law != "distillation" or not spec.get("supervised_cut"):
        return {}
    priors = JointSpec.from_dict(spec).priors
    sampled = {k: priors[k].median for k in params.SUPERVISED_SAMPLED}
    if scale == "sampled":
        return sampled
    return {k: float(v) for k, v in params.supervised_to_paper(sampled).items()}


def as_arrays(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """A coefficient Dataset as plain arrays by name (what the law functions take)."""
    return {k: ds[k].values for k in ds.data_vars}


#: The experimental extensions the planner does not model (:class:`~bayeslaw.model.spec.JointSpec`).
EXPERIMENTAL = {"break_tilt": "the experimental break tilt", "token_tilt": "the experimental token tilt",
                "teacher_effect": "experimental per-teacher offsets (a new teacher's is not drawn)"}


def refuse_experimental(fit: Fit, keys: tuple[str, ...] = tuple(EXPERIMENTAL)) -> None:
    """Raise :class:`PosteriorError` for a posterior with an extension (of ``keys``) that its caller leaves out.

    Parameters
    ----------
    fit
        A fitted posterior.
    keys
        The extensions to refuse (default all of :data:`EXPERIMENTAL`).

    Returns
    -------
    None
    """
    for key in keys:
        if fit.card["spec"].get(key):
            raise PosteriorError(f"this posterior has {EXPERIMENTAL[key]}, which this output does not model; "
                                 "use a posterior of the paper's form (e.g. the shipped one)")


def laws(fit: Fit) -> params.Laws:
    """Paper-scale coefficient draws as the planner's :class:`~bayeslaw.core.params.Laws`."""
    refuse_experimental(fit)
    ds = coefficients(fit, "paper")
    return params.Laws(**{k: v.values for k, v in ds.data_vars.items()})


def summary(fit: Fit, prob: float = SUMMARY_PROB) -> pd.DataFrame:
    """ArviZ summary of the paper-scale coefficients with a pinned equal-tailed interval.

    Parameters
    ----------
    fit
        A fitted posterior.
    prob
        The interval's probability.

    Returns
    -------
    pandas.DataFrame
        One row per coefficient: mean, sd, ``eti<prob>`` bounds, ESS, r_hat, MCSE.
    """
    bounds.check_interval(prob)
    post = fit.idata["posterior"].to_dataset()
    names = [v for v in params.REPORTED[fit.law] if v in post.data_vars]
    return az.summary(post[names], ci_prob=prob, ci_kind="eti", round_to="none")
