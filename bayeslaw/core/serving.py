"""A model's lifetime cost: training it and serving its demand, in FLOPs or in money.

Sardana et al. ("Beyond Chinchilla-Optimal", ICML 2024, arXiv 2401.00448) charge a model its
training, ``3 F(N) D`` here (6ND in their text), plus one forward pass per token it serves, ``F(N)``
per token (their 2N). In money each part runs at its own hardware peak, utilisation and price; the
prefill of input tokens and the decode of output tokens run at different utilisations.

Pure functions and small frozen dataclasses over an array namespace, like :mod:`bayeslaw.core.compute`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from types import ModuleType
from typing import Any

import numpy as np

from bayeslaw.core.compute import PAPER_ARCHITECTURE, Architecture, CostModel, forward_flops_per_token
from bayeslaw.core.errors import InputError

Array = Any

#: Output tokens per served token when only a total is given: Sardana et al.'s request of 1000 input and 250
#: output tokens. It matters only for costs in money (decode runs at a lower utilisation than prefill).
OUTPUT_SHARE = 0.2


def _count(value: float, what: str) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise InputError(f"{what} must be a finite count of tokens >= 0, got {value!r}")
    return v


@dataclass(frozen=True)
class Demand:
    """Tokens a model will serve over its lifetime: input (prefill) and output (decode).

    Parameters
    ----------
    input_tokens, output_tokens
        Raw counts (not billions), finite and >= 0.
    """

    input_tokens: float = 0.0
    output_tokens: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_tokens", _count(self.input_tokens, "input tokens"))
        object.__setattr__(self, "output_tokens", _count(self.output_tokens, "output tokens"))

    @classmethod
    def total(cls, tokens: float, output_share: float = OUTPUT_SHARE) -> Demand:
        """``tokens`` served in all, ``output_share`` of them generated (decode).

        Parameters
        ----------
        tokens
            Inference tokens over the model's lifetime (raw count).
        output_share
            The share of them that are output tokens, in [0, 1].
        """
        t = _count(tokens, "inference tokens (--inference-tokens)")
        if not (math.isfinite(output_share) and 0.0 <= output_share <= 1.0):
            raise InputError(f"the output share of inference tokens must be in [0, 1], got {output_share!r}")
        return cls(t * (1.0 - output_share), t * output_share)

    @property
    def tokens(self) -> float:
        return self.input_tokens + self.output_tokens


NO_DEMAND = Demand()


@dataclass(frozen=True)
class Prices:
    """What turns FLOPs into money: each phase's peak FLOP/s, utilisation and price per hour.

    The defaults are Sardana et al.'s example: training on A100s (312 TFLOP/s bf16) at $1.40 per hour and
    utilisation 0.5; serving on int8 hardware (624 TOP/s) at $0.60 per hour, prefill at utilisation 0.4 and
    decode at 0.2. Costs are per GPU-hour, so the number of GPUs cancels.

    Parameters
    ----------
    train_peak, serve_peak
        Peak FLOP/s of one training / serving accelerator.
    train_hour, serve_hour
        Price of one accelerator-hour (any currency; reports print "$").
    train_utilisation, prefill_utilisation, decode_utilisation
        Model FLOP utilisation of each phase, in (0, 1].
    """

    train_peak: float = 312e12
    serve_peak: float = 624e12
    train_hour: float = 1.40
    serve_hour: float = 0.60
    train_utilisation: float = 0.5
    prefill_utilisation: float = 0.4
    decode_utilisation: float = 0.2

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v) or v <= 0:
                raise InputError(f"price setting {f.name} must be a positive number, got {v!r}")
            if f.name.endswith("utilisation") and v > 1:
                raise InputError(f"{f.name} is a share of the peak FLOP/s and must be in (0, 1], got {v!r}")

    @classmethod
    def parse(cls, text: str) -> Prices:
        """``"default"`` or ``"key=value,..."`` over the defaults (keys: this class's fields).

        Parameters
        ----------
        text
            What ``--prices`` was given.
        """
        if text.strip() in ("", "default"):
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in known:
                raise InputError(f"--prices takes 'default' or key=value pairs with keys {', '.join(sorted(known))}; "
                                 f"got {part.strip()!r}")
            try:
                values[key] = float(value)
            except ValueError:
                raise InputError(f"--prices {key}: not a number: {value.strip()!r}") from None
        return cls(**values)

    def per_flop(self) -> tuple[float, float, float]:
        """Money per FLOP of training, prefill and decode."""
        def rate(peak: float, utilisation: float, hour: float) -> float:
            return hour / 3600.0 / (peak * utilisation)

        return (rate(self.train_peak, self.train_utilisation, self.train_hour),
                rate(self.serve_peak, self.prefill_utilisation, self.serve_hour),
                rate(self.serve_peak, self.decode_utilisation, self.serve_hour))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Lifetime:
    """A model's lifetime cost: training plus serving ``demand``, in FLOPs (``prices`` None) or money.

    Parameters
    ----------
    demand
        The tokens the trained model serves.
    prices
        None: the cost is FLOPs (training plus ``F(N)`` per served token); else money at these prices.
    arch
        F(N)'s architecture (None: ``F = 2N``, Sardana et al.'s and Chinchilla's convention).
    """

    demand: Demand = NO_DEMAND
    prices: Prices | None = None
    arch: Architecture | None = PAPER_ARCHITECTURE

    @property
    def unit(self) -> str:
        return "FLOPs" if self.prices is None else "$"

    def _weights(self) -> tuple[float, float]:
        """Cost per training FLOP and per forward FLOP-per-token of serving (the demand folded in)."""
        if self.prices is None:
            return 1.0, self.demand.tokens
        w_train, w_in, w_out = self.prices.per_flop()
        return w_train, w_in * self.demand.input_tokens + w_out * self.demand.output_tokens

    def in_training_flops(self, budgets: Array) -> tuple[np.ndarray, float]:
        """Lifetime budgets as the FLOP question that has the same answer: ``(C, T)`` for the planner.

        A lifetime cost ``w_t * training + w_s * F(N)`` within a budget ``M`` is, divided by ``w_t`` (the price
        of a training FLOP), training FLOPs plus ``T = w_s / w_t`` forward passes within ``C = M / w_t``: the
        FLOP planner's lifetime budget with a serving demand of ``T`` tokens, priced as training. Everything a
        distillation recipe trains (the teacher's pretraining, its logits on the student's tokens, the student)
        is priced as training. Without prices the budgets are FLOPs and ``T`` the demand.

        Parameters
        ----------
        budgets
            Lifetime budgets in this cost's unit (money with prices, else FLOPs).

        Returns
        -------
        tuple
            The budgets as training FLOPs, and the demand as training-priced forward passes.
        """
        w_train, w_serve = self._weights()
        return np.asarray(budgets, float) / w_train, float(w_serve / w_train)

    def serving_flops(self, N: Array, xp: ModuleType = np) -> Array:
        """FLOPs of serving the demand with a model of size ``N``: ``F(N)`` per token (:class:`CostModel`'s)."""
        return CostModel(arch=self.arch, serving_tokens=self.demand.tokens).serving_flops(N, xp)

    def cost(self, N: Array, training_flops: Array, xp: ModuleType = np) -> Array:
        """Lifetime cost of a model of size ``N`` trained with ``training_flops``.

        Parameters
        ----------
        N
            Model size(s).
        training_flops
            Its training FLOPs (broadcast against ``N``).
        xp
            Array namespace.
        """
        w_train, w_serve = self._weights()
        return w_train * training_flops + w_serve * forward_flops_per_token(N, self.arch, xp)

    def log_cost(self, log_train: Array, log_F: Array, xp: ModuleType = np) -> Array:
        """``log cost`` from ``log`` training FLOPs and ``log F(N)`` (the planner's log space).

        Parameters
        ----------
        log_train
            log training FLOPs.
        log_F
            log F(N).
        xp
            Array namespace.
        """
        w_train, w_serve = self._weights()
        out = log_train + math.log(w_train)
        if w_serve > 0:
            out = xp.logaddexp(out, log_F + math.log(w_serve))
        return out


#: No serving demand, costs in FLOPs: the paper's (and Chinchilla's) training-only objective.
TRAINING_ONLY = Lifetime()


#: A money budget above this is almost surely a FLOP count given by mistake (the largest training runs cost ~1e9 $).
MONEY_MAX = 1e13


@dataclass(frozen=True)
class PricedBudgets:
    """Lifetime budgets given in money, and the FLOP question with the same answer.

    The planner works in FLOPs; at fixed prices a money budget is a FLOP budget and a serving demand is a number
    of training-priced forward passes (:meth:`Lifetime.in_training_flops`), so every FLOP search answers the money
    question exactly. Everything a recipe trains (a teacher's pretraining and logits too) is priced as training.

    Parameters
    ----------
    money
        Lifetime budgets in money (training plus serving), each finite and > 0.
    demands
        The serving demands asked about (one, or several to compare).
    prices
        What a FLOP costs in each phase.
    """

    money: tuple[float, ...]
    demands: tuple[Demand, ...]
    prices: Prices

    def __post_init__(self) -> None:
        for m in self.money:
            if not (math.isfinite(m) and m > 0):
                raise InputError(f"with --prices each --budget is money, a positive amount; got {m!r}")
            if m > MONEY_MAX:
                raise InputError(f"with --prices each --budget is money, and {m:.3g} is more than {MONEY_MAX:.0e}: "
                                 "a FLOP count given by mistake? Give the budget in money (e.g. 2e6 for $2M), or "
                                 "drop --prices to give FLOPs")

    def _lifetimes(self) -> list[Lifetime]:
        return [Lifetime(d, self.prices) for d in self.demands]

    def flops(self) -> np.ndarray:
        """The budgets as training FLOPs (money / the price of a training FLOP)."""
        return self._lifetimes()[0].in_training_flops(np.asarray(self.money, float))[0]

    def serving_tokens(self) -> list[float]:
        """Each demand as training-priced forward passes: what the FLOP planner serves."""
        return [life.in_training_flops(np.ones(1))[1] for life in self._lifetimes()]

    def note(self) -> str:
        """One sentence for every output that answers a priced question."""
        w_train = self.prices.per_flop()[0]
        budgets = ", ".join(f"${m:.3g} = {c:.3g}" for m, c in zip(self.money, self.flops(), strict=True))
        demand = "; ".join(f"serving {d.tokens:.3g} tokens ({d.input_tokens:.3g} in, {d.output_tokens:.3g} out) costs "
                           f"as much as {t:.3g} forward passes priced as training"
                           for d, t in zip(self.demands, self.serving_tokens(), strict=True) if d.tokens)
        return (f"budgets in money at --prices (${self.prices.train_hour:g}/h per training accelerator of "
                f"{self.prices.train_peak:.3g} FLOP/s at utilisation {self.prices.train_utilisation:g}: "
                f"{w_train:.3g} per training FLOP): {budgets} training FLOPs"
                + (f"; {demand}" if demand else "")
                + ". The FLOP figures below are these training-FLOP equivalents (a teacher's pretraining and "
                  "logits priced as training)")

    def record(self) -> dict[str, Any]:
        """The priced question as plain data (JSON)."""
        return {"budgets": list(self.money), "training_flops": [float(c) for c in self.flops()],
                "inference_tokens": [d.tokens for d in self.demands],
                "serving_forward_passes": self.serving_tokens(), "prices": self.prices.as_dict(),
                "per_flop": dict(zip(("train", "prefill", "decode"), self.prices.per_flop(), strict=True))}


def priced_demands(priced: PricedBudgets, tokens: Any) -> list[float]:
    """Other serving demands of a priced question as training-priced forward passes, split into input and output
    tokens as its own demand is.

    Parameters
    ----------
    priced
        The question as asked in money.
    tokens
        Demands (tokens served over the model's lifetime).

    Returns
    -------
    list of float
        What the FLOP planner serves for each.
    """
    d = priced.demands[0]
    share = d.output_tokens / d.tokens if d.tokens else OUTPUT_SHARE
    return PricedBudgets(priced.money, tuple(Demand.total(float(t), share) for t in tokens),
                         priced.prices).serving_tokens()
