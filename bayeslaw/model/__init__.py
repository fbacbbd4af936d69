"""Model specification: priors and presets (plain data), specs (what defines a model), and the
PyMC graphs built from them (:mod:`bayeslaw.model.build`, the only module here that imports PyMC)."""
