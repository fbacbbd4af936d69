"""The package's version (read by ``bayeslaw.__version__`` and every --json envelope)."""

VERSION = "0.1.0"
