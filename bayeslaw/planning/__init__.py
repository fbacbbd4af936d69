"""Compute-optimal recipes over posterior draws: the one-variable searches, the scenario
reductions, chosen teachers, the chunked (JAX, Dask) grid and its summaries. Takes coefficient
draws (:class:`bayeslaw.core.params.Laws`) and imports only :mod:`bayeslaw.core`."""
