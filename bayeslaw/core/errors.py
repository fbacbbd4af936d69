"""The errors a user can fix. The command line turns these, and only these, into exit code 2.

Each derives from :class:`BayeslawError`; the input errors are also ``ValueError`` so that
code written against the standard exception keeps working. Any other exception is a bug in
bayeslaw and surfaces as a traceback.
"""

from __future__ import annotations


class BayeslawError(Exception):
    """Base of every error whose message says what the user should change."""


class InputError(BayeslawError, ValueError):
    """An argument or setting that cannot be used as given."""


class DataError(InputError):
    """A run table that cannot be used as given; the message says what to fix."""


class PriorError(InputError):
    """A prior specification that cannot be used; the message says what to fix."""


class PosteriorError(InputError):
    """A posterior file that cannot be used; the message says why and what to do."""


class SetupError(BayeslawError, RuntimeError):
    """The environment lacks something a requested path needs (an extra, a JAX setting)."""


class DataWarning(UserWarning):
    """Something in the data a user should know, that does not stop a fit (e.g. students below their teacher)."""


class DiagnosticsWarning(UserWarning):
    """A fit failed its diagnostic gates: its results are shown, and every result says so."""
