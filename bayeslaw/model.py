"""PyMC models built from the laws, the priors and a validated run table.

Specifications are plain frozen dataclasses that serialise to JSON (they go into the
model card); ``build_*`` turns a specification and a table into a ``pm.Model``. The
observed data enter as ``pm.Data`` so a compiled model can be refitted on new runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from bayeslaw import laws
from bayeslaw.priors import Prior, PriorSet, from_json, merge, supervised_defaults, to_json

LIKELIHOODS = ("student_t", "normal")


@dataclass(frozen=True)
class SupervisedSpec:
    """What defines a supervised-law model (everything but the data).

    Parameters
    ----------
    gamma_free
        ``False``: Chinchilla form (gamma = 1). ``True``: the distillation paper's form.
    likelihood
        ``"student_t"`` (robust to outlier runs, default) or ``"normal"``, on log loss.
    priors
        Overrides of :func:`bayeslaw.priors.supervised_defaults`, by parameter name.
    """

    gamma_free: bool = False
    likelihood: str = "student_t"
    priors: dict[str, Prior] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        # Resolve now so a bad override fails before any sampling.
        object.__setattr__(self, "priors", self.resolved_priors())

    @property
    def law(self) -> str:
        return "supervised"

    def resolved_priors(self) -> PriorSet:
        defaults = supervised_defaults(gamma_free=self.gamma_free, likelihood=self.likelihood)
        return merge(defaults, self.priors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "gamma_free": self.gamma_free,
            "likelihood": self.likelihood,
            "priors": to_json(self.priors),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SupervisedSpec:
        return cls(bool(d["gamma_free"]), str(d["likelihood"]), from_json(d["priors"]))


def observe_log_loss(name: str, mu, obs, *, likelihood: str, sigma, nu=None, dims=None):
    """The observation model on log loss, shared by every law."""
    if likelihood == "student_t":
        return pm.StudentT(name, nu=nu, mu=mu, sigma=sigma, observed=obs, dims=dims)
    return pm.Normal(name, mu=mu, sigma=sigma, observed=obs, dims=dims)


def supervised_coefficients(spec: SupervisedSpec) -> dict[str, Any]:
    """Create the supervised coefficients (inside a model context) and their paper-scale twins."""
    p = spec.priors
    c = {name: p[name].create(name) for name in ("log_E", "log_size_term", "log_data_term",
                                                 "alpha", "beta")}
    c["gamma"] = p["gamma"].create("gamma") if spec.gamma_free else 1.0
    log_A, log_B = laws.centred_to_amplitudes(
        c["log_size_term"], c["log_data_term"], c["alpha"], c["beta"]
    )
    pm.Deterministic("E", pt.exp(c["log_E"]))
    pm.Deterministic("A", pt.exp(log_A))
    pm.Deterministic("B", pt.exp(log_B))
    pm.Deterministic("a_opt", c["beta"] / (c["alpha"] + c["beta"]))
    return c


def supervised_mean(c: dict[str, Any], log_N, log_D):
    """Mean of log loss under the supervised law (PyTensor)."""
    return laws.supervised_log_loss_centred(
        log_N,
        log_D,
        log_E=c["log_E"],
        log_size_term=c["log_size_term"],
        log_data_term=c["log_data_term"],
        alpha=c["alpha"],
        beta=c["beta"],
        gamma=c["gamma"],
        xp=pt,
    )


def build_supervised(spec: SupervisedSpec, df: pd.DataFrame) -> pm.Model:
    """The supervised law as a PyMC model of ``log(loss)`` for a validated table."""
    coords = {"run": np.arange(len(df))}
    with pm.Model(coords=coords) as model:
        log_N = pm.Data("log_N", np.log(df["N"].to_numpy()), dims="run")
        log_D = pm.Data("log_D", np.log(df["D"].to_numpy()), dims="run")
        log_loss = pm.Data("log_loss", np.log(df["loss"].to_numpy()), dims="run")
        c = supervised_coefficients(spec)
        sigma = spec.priors["sigma"].create("sigma")
        nu = spec.priors["nu"].create("nu") if spec.likelihood == "student_t" else None
        mu = supervised_mean(c, log_N, log_D)
        observe_log_loss(
            "obs", mu, log_loss, likelihood=spec.likelihood, sigma=sigma, nu=nu, dims="run"
        )
    return model
