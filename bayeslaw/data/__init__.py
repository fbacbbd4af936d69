"""Run tables: the schema and its validation, the shipped tables, the paper's reference tables,
and the generator of SYNTHETIC studies. Imports only :mod:`bayeslaw.core`."""
