"""Checks of bayeslaw against held-out runs and other methods: backtests, PSIS-LOO comparisons,
the Huber point-fit baseline and the SLSQP reference for the planner."""
