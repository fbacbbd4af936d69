"""Inference: NUTS on a chosen backend with one seed (compile once, refit many), and the one
``fit`` that turns a run table into a :class:`~bayeslaw.posterior.card.Fit`."""
