"""Where a report's numbers come from: data hashes, the model card, seeds, versions, the reproducing command."""

from __future__ import annotations

import platform
import shlex
import sys
from importlib import metadata
from typing import Any

from bayeslaw.posterior.card import Fit, package_versions


def provenance(fit: Fit, *, seed: int, max_draws: int, path: str | None = None) -> dict[str, Any]:
    """Data hashes, the model card, package versions, seed and the reproducing command."""
    pkgs = package_versions()
    try:
        pkgs["matplotlib"] = metadata.version("matplotlib")
    except metadata.PackageNotFoundError:
        pkgs["matplotlib"] = "not installed"
    card = fit.card
    data = card["data"]
    hashes = {data.get("source") or "run table": data.get("sha256")}
    if "supervised" in data and data["supervised"].get("sha256"):
        hashes[data["supervised"].get("source") or "supervised table"] = data["supervised"].get("sha256")
    if fit.is_point and path is None:
        path = f"none: {data.get('source')} (a point law)"
    return {"data_sha256": hashes, "config_hash": card.get("config_hash"), "posterior": path,
            "fit_seed": card.get("seed"), "report_seed": seed, "draws_used": max_draws,
            "sampler": card.get("sampler"), "spec": card.get("spec"), "packages": pkgs,
            "python": platform.python_version(), "command": _command()}


def _command() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith("bayeslaw"):
        argv[0] = "bayeslaw"  # not this machine's path to the entry point
    return " ".join(shlex.quote(a) for a in argv)
