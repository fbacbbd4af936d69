"""bayeslaw: Bayesian supervised and distillation scaling laws for planning LM training."""

from bayeslaw.api import (
    Fit,
    Gates,
    SamplerConfig,
    diagnose,
    fit,
    load,
    optimum,
    plan,
    predict,
    predict_distillation,
    prior_predictive,
)

__version__ = "0.1.0"

__all__ = ["Fit", "Gates", "SamplerConfig", "diagnose", "fit", "load", "optimum", "plan", "predict",
           "predict_distillation", "prior_predictive", "__version__"]
