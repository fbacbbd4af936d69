"""Prior specifications as plain data, with presets and a JSON/TOML round trip.

A prior is ``{"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}``, the form of
pymc-extras' ``Prior``, so configurations move between the two. Priors are placed on
the parameters the models *sample* (see :mod:`bayeslaw.core.params` for the centred and
slopes parameterisations); each entry documents what it means on the paper's scale.
The default priors and presets are in :mod:`bayeslaw.model.presets`.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayeslaw.core.errors import PriorError

_ALLOWED = {
    "Normal": {"mu", "sigma"},
    "LogNormal": {"mu", "sigma"},
    "HalfNormal": {"sigma"},
    "Exponential": {"lam"},
    "Gamma": {"alpha", "beta"},
    "StudentT": {"nu", "mu", "sigma"},
    "TruncatedNormal": {"mu", "sigma", "lower", "upper"},
    "Uniform": {"lower", "upper"},
}
# Keywords that carry the location of each location family, for shifting a prior.
_LOCATION = {"Normal": ("mu",), "StudentT": ("mu",), "TruncatedNormal": ("mu", "lower", "upper"),
             "Uniform": ("lower", "upper")}
# Keywords a family cannot do without (the rest of _ALLOWED's), and those that must be positive.
_REQUIRED = {"TruncatedNormal": {"mu", "sigma"}, "StudentT": {"nu", "mu", "sigma"}}
# (the widths are checked through _WIDTH)
_POSITIVE = {"Exponential": ("lam",), "Gamma": ("alpha", "beta"), "StudentT": ("nu",)}
# Keyword that carries the width of each family, for scaling a preset.
_WIDTH = {"Normal": "sigma", "LogNormal": "sigma", "HalfNormal": "sigma", "StudentT": "sigma",
          "TruncatedNormal": "sigma"}


@dataclass(frozen=True)
class Prior:
    """One prior: a PyMC distribution name and its keyword arguments."""

    dist: str
    kwargs: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dist not in _ALLOWED:
            raise PriorError(f"unsupported prior {self.dist!r}; use one of {sorted(_ALLOWED)}")
        extra = set(self.kwargs) - _ALLOWED[self.dist]
        if extra:
            raise PriorError(
                f"{self.dist} takes {sorted(_ALLOWED[self.dist])}, not {sorted(extra)}"
            )
        for k, v in self.kwargs.items():
            if not isinstance(v, int | float) or not math.isfinite(v):
                raise PriorError(f"{self.dist} {k}={v!r} must be a finite number")
        width = _WIDTH.get(self.dist)
        if width and self.kwargs.get(width, 1.0) <= 0:
            raise PriorError(f"{self.dist} {width} must be positive")
        missing = _REQUIRED.get(self.dist, _ALLOWED[self.dist]) - set(self.kwargs)
        if missing:
            raise PriorError(f"{self.dist} needs {sorted(missing)} (it has {sorted(self.kwargs)})")
        # values PyMC would accept and then crash or sample nonsense on (lam = 0 segfaulted the sampler)
        for key in _POSITIVE.get(self.dist, ()):
            if self.kwargs[key] <= 0:
                raise PriorError(f"{self.dist} {key} must be positive, got {self.kwargs[key]}")
        if "lower" in self.kwargs and "upper" in self.kwargs and not self.kwargs["lower"] < self.kwargs["upper"]:
            raise PriorError(f"{self.dist} lower ({self.kwargs['lower']}) must lie below upper "
                             f"({self.kwargs['upper']})")

    def to_dict(self) -> dict[str, Any]:
        return {"dist": self.dist, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Prior:
        example = '{"dist": "Normal", "kwargs": {"mu": 0.0, "sigma": 1.0}}'
        if not isinstance(d, Mapping):
            raise PriorError(f"a prior is a mapping like {example}, not {d!r}")
        if "dist" not in d:
            raise PriorError(f'prior {dict(d)} lacks "dist"; write {example}')
        kwargs = d.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise PriorError(f"prior kwargs must be a mapping of numbers like {example}, not {kwargs!r}")
        bad = {k: v for k, v in kwargs.items() if isinstance(v, bool) or not isinstance(v, int | float)}
        if bad:
            raise PriorError(f"prior {d['dist']} kwargs must be numbers, got {bad}")
        return cls(str(d["dist"]), {k: float(v) for k, v in kwargs.items()})

    def scaled(self, factor: float) -> Prior:
        """The same prior with its width multiplied by ``factor``."""
        width = _WIDTH.get(self.dist)
        if width is None:
            return self
        kw = dict(self.kwargs)
        kw[width] = kw[width] * factor
        return Prior(self.dist, kw)

    def create(self, name: str, **kwargs: Any):
        """Create the PyMC random variable (inside a model context)."""
        import pymc as pm  # priors are plain data; PyMC loads only when a model is built

        return getattr(pm, self.dist)(name, **self.kwargs, **kwargs)

    @property
    def centre(self) -> float:
        """The centre of a location-family prior (its mu, or the middle of its bounds)."""
        keys = self.location_keys()
        return self.kwargs["mu"] if "mu" in keys else (self.kwargs["lower"] + self.kwargs["upper"]) / 2

    @property
    def median(self) -> float:
        """The prior's median, for the symmetric location families and LogNormal."""
        if self.dist == "LogNormal":
            return math.exp(self.kwargs["mu"])
        if self.dist in ("Normal", "StudentT"):
            return self.kwargs["mu"]
        raise PriorError(f"the median of a {self.dist} prior is not needed anywhere; use Normal or LogNormal")

    def create_shifted(self, name: str, shift: Any):
        """Create ``x + shift`` where ``x`` has this prior: the same family, location moved.

        ``shift`` may depend on parameters created before; the map from ``x`` to the new
        variable has Jacobian 1, so the prior on ``x`` stays exactly this one.
        """
        import pymc as pm  # as in create

        kw: dict[str, Any] = dict(self.kwargs)
        for key in self.location_keys():
            if key in kw:
                kw[key] = kw[key] + shift
        return getattr(pm, self.dist)(name, **kw)

    def location_keys(self, parameter: str = "this parameter") -> tuple[str, ...]:
        """The keywords that locate this prior; a PriorError if it is not a location family."""
        if self.dist not in _LOCATION:
            raise PriorError(
                f"{parameter} is sampled as a shifted copy of its prior, so it needs one of "
                f"{sorted(_LOCATION)}, not {self.dist} (it is on the log scale: use Normal)"
            )
        return _LOCATION[self.dist]


def N(mu: float, sigma: float) -> Prior:  # noqa: N802 - mirrors the distribution name
    return Prior("Normal", {"mu": mu, "sigma": sigma})


def LogN(median: float, sigma: float) -> Prior:  # noqa: N802
    return Prior("LogNormal", {"mu": math.log(median), "sigma": sigma})


PriorSet = dict[str, Prior]


def merge(defaults: PriorSet, overrides: Mapping[str, Prior | Mapping[str, Any]] | None) -> PriorSet:
    """Override some priors; unknown names are an error (a typo must not pass silently)."""
    out = dict(defaults)
    for name, spec in (overrides or {}).items():
        if name not in defaults:
            raise PriorError(
                f"no parameter named {name!r} in this model; its parameters are {sorted(defaults)}"
            )
        out[name] = spec if isinstance(spec, Prior) else Prior.from_dict(spec)
    return out


def to_json(priors: PriorSet) -> dict[str, dict[str, Any]]:
    return {k: v.to_dict() for k, v in sorted(priors.items())}


def from_json(d: Mapping[str, Mapping[str, Any]]) -> PriorSet:
    return {k: Prior.from_dict(v) for k, v in d.items()}


def read_prior_file(path: str | Path) -> dict[str, Prior]:
    """Read priors from a JSON or TOML file: ``{name: {"dist": ..., "kwargs": {...}}}``.

    TOML example::

        [alpha]
        dist = "LogNormal"
        kwargs = { mu = -1.05, sigma = 0.3 }
    """
    path = Path(path)
    if not path.exists():
        raise PriorError(f"prior file {path} does not exist")
    if not path.is_file():
        raise PriorError(f"prior file {path} is not a file")
    try:
        if path.suffix.lower() == ".toml":
            raw = tomllib.loads(path.read_text())
        else:
            raw = json.loads(path.read_text())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise PriorError(f"could not parse prior file {path} (JSON, or TOML by its .toml suffix): {err}") from err
    if not isinstance(raw, dict):
        raise PriorError(f"prior file {path} must hold a mapping of parameter name to prior")
    return from_json(raw)


def prior_sd(prior: Prior) -> float:
    """Standard deviation of a prior (for posterior/prior contraction)."""
    kw = prior.kwargs
    if prior.dist in ("Normal", "StudentT", "TruncatedNormal"):
        return kw["sigma"]
    if prior.dist == "LogNormal":
        return math.sqrt((math.exp(kw["sigma"] ** 2) - 1) * math.exp(2 * kw["mu"] + kw["sigma"] ** 2))
    if prior.dist == "HalfNormal":
        return kw["sigma"] * math.sqrt(1 - 2 / math.pi)
    if prior.dist == "Gamma":
        return math.sqrt(kw["alpha"]) / kw["beta"]
    if prior.dist == "Exponential":
        return 1 / kw["lam"]
    return (kw["upper"] - kw["lower"]) / math.sqrt(12)
