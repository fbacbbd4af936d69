"""The pure core: the laws, compute accounting, parameter names and maps, input bounds, seeds.

Everything here is numpy (or any array namespace passed as ``xp``) and the standard library;
nothing imports PyMC, PyTensor, ArviZ or pandas, and nothing imports the layers above.
"""
