"""bayeslaw: Bayesian supervised and distillation scaling laws for planning LM training.

The public verbs live in :mod:`bayeslaw.api` and are loaded on first use (PEP 562), so
``import bayeslaw`` loads neither PyMC nor ArviZ; ``bl.fit`` loads PyMC when it runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Fit", "Gates", "Question", "SamplerConfig", "Teacher", "backtest", "compare", "diagnose", "fit",
           "generate", "load", "optimum", "plan", "predict", "predict_distillation", "prior_predictive", "report",
           "summary", "__version__"]

# every public name but the version comes from the API, resolved on first attribute access
_LAZY = {name: "bayeslaw.api" for name in __all__ if name != "__version__"}

if TYPE_CHECKING:
    from bayeslaw.api import (
        Fit,
        Gates,
        Question,
        SamplerConfig,
        Teacher,
        backtest,
        compare,
        diagnose,
        fit,
        generate,
        load,
        optimum,
        plan,
        predict,
        predict_distillation,
        prior_predictive,
        report,
        summary,
    )


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'bayeslaw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
