"""From a posterior to a decision: the question, the one pipeline that answers it (draws -> planner grid ->
the law's error -> summary -> verdict -> caveats), predictions and optima with their caveats, and the
numbers a report shows. Computes only; :mod:`bayeslaw.reporting` renders."""
