"""A fitted result: the posterior with its model card, saved and loaded with checks.

The card is JSON in the DataTree's attrs (the pymc-marketing pattern): the model
specification, the data hash and column mapping, sampler settings, seed, package
versions, diagnostics and timings. Two hashes guard it: ``config_hash`` over what defines
the fit (law, spec, data, sampler, seed), and ``content_hash`` over every card field and
every array the file holds (draws, sample statistics, observed data, coordinates). Loading
recomputes both and refuses a file whose card is missing, corrupt or edited, whose draws or
diagnostics were changed, of another law, or fitted to different data than the caller supplies.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, NotRequired, TypedDict, get_origin, get_type_hints

import numpy as np
import xarray as xr

from bayeslaw.core.errors import PosteriorError

CARD_ATTR = "bayeslaw_card"
CARD_VERSION = 2
_HASHED = ("law", "spec", "data", "sampler", "seed")
_VERSIONED = ("bayeslaw", "pymc", "pytensor", "nutpie", "arviz", "numpy", "xarray", "pandas")


class Card(TypedDict):
    """The model card's schema: what every saved posterior states about itself (JSON in its attrs).

    ``config_hash`` covers what defines the fit (law, spec, data, sampler, seed); ``content_hash`` seals every
    field and array of the file and exists only on disk (it is removed once verified on load).
    """

    card_version: int
    #: "supervised", "distillation" or "calibration"
    law: str
    #: the model specification (:mod:`bayeslaw.model.spec`), as JSON data
    spec: dict[str, Any]
    #: the data's hash, size, column mapping, origin, ranges, overridden checks
    data: dict[str, Any]
    #: the sampler settings of the attempt that was kept
    sampler: dict[str, Any]
    seed: int
    versions: dict[str, str]
    #: the gates' metrics, failures and ``passed``
    diagnostics: dict[str, Any]
    timing: dict[str, Any]
    config_hash: str
    #: everything else a fit records (parameters, escalation attempts, provenance, ...)
    parameters: NotRequired[list[str]]
    #: every sampling attempt of an escalated fit, with its settings, gates and timing
    attempts: NotRequired[list[dict[str, Any]]]
    content_hash: NotRequired[str]


def _card_fields() -> dict[str, type]:
    """The card's required fields and the JSON type each must have."""
    hints = get_type_hints(Card, include_extras=True)  # NotRequired survives only with the extras
    origin = {dict: dict, list: list, int: int, str: str}
    out = {}
    for name, t in hints.items():
        if get_origin(t) is NotRequired:
            continue
        out[name] = origin.get(get_origin(t) or t, object)
    return out


def check_card(card: Any, where: str) -> Card:
    """``card`` as a :class:`Card`, or a ``PosteriorError`` naming each field that is missing or of the wrong type."""
    if not isinstance(card, dict):
        raise PosteriorError(f"{where}: the model card is not a JSON object; refit it")
    wrong = [f"{k} (missing)" if k not in card else f"{k} (not {t.__name__})"
             for k, t in _card_fields().items() if k not in card or not isinstance(card[k], t)]
    if wrong:
        raise PosteriorError(f"{where}: the model card lacks or misstates {', '.join(wrong)} (edited, or written by "
                             "another bayeslaw version); refit it")
    return card  # type: ignore[return-value]


def package_versions() -> dict[str, str]:
    out = {}
    for pkg in _VERSIONED:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()


def card_hash(card: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical({k: card[k] for k in _HASHED})).hexdigest()


def _array_digest(h: Any, name: str, arr: xr.DataArray) -> None:
    values = np.asarray(arr.values)
    h.update(_canonical([name, list(arr.dims), list(values.shape)]))
    if values.dtype.kind in "OUS":  # strings come back from netCDF as objects: hash their text
        h.update(_canonical([str(v) for v in values.ravel()]))
    else:
        h.update(values.dtype.str.encode())
        h.update(np.ascontiguousarray(values).tobytes())


def content_hash(tree: xr.DataTree, card: dict[str, Any]) -> str:
    """SHA-256 over every card field but this hash and every array (data and coordinates) of every group.

    Computed on what is written and recomputed on load, so an edited draw, sample statistic,
    diagnostics flag or card field is refused.
    """
    h = hashlib.sha256()
    h.update(_canonical({k: v for k, v in card.items() if k != "content_hash"}))
    for group in sorted(tree.children):
        ds = tree[group].to_dataset()
        h.update(group.encode())
        for name in sorted(ds.variables):
            _array_digest(h, str(name), ds[name])
    return h.hexdigest()


def make_card(
    *,
    law: str,
    spec: dict[str, Any],
    data: dict[str, Any],
    sampler: dict[str, Any],
    seed: int,
    diagnostics: dict[str, Any] | None = None,
    timing: dict[str, float] | None = None,
) -> Card:
    """Assemble a model card; ``config_hash`` covers law, spec, data, sampler and seed."""
    card: Any = {
        "card_version": CARD_VERSION,
        "law": law,
        "spec": spec,
        "data": data,
        "sampler": sampler,
        "seed": int(seed),
        "versions": package_versions(),
        "diagnostics": diagnostics or {},
        "timing": timing or {},
    }
    card["config_hash"] = card_hash(card)
    return card


@dataclass
class Fit:
    """A posterior (``xarray.DataTree``) and its model card."""

    idata: xr.DataTree
    card: Card

    @property
    def law(self) -> str:
        return self.card["law"]

    @property
    def is_point(self) -> bool:
        """A published point law standing in for a posterior (:mod:`bayeslaw.posterior.point`): one draw."""
        return self.card.get("kind") == "point"

    def require(self, *laws: str, verb: str) -> None:
        """Refuse (exit 2) a posterior of another law for ``verb``, saying what it is and what to give instead.

        Parameters
        ----------
        *laws
            The laws ``verb`` takes (``"supervised"``, ``"distillation"``).
        verb
            What is being asked (e.g. ``"plan"``), for the message.
        """
        if self.law in laws:
            return
        what = {"calibration": "an error model (the law's extrapolation error, its drift past the fitted tokens per "
                               "parameter, or the distillation law's own error), not a fit of runs",
                "supervised": "a supervised posterior", "distillation": "a distillation (joint) posterior"}
        wanted = " or ".join(what[law] for law in laws)
        examples = {"supervised": "models/supervised_chinchilla_epoch240.nc",
                    "distillation": "models/distillation_busbridge2025_digitized.nc"}
        raise PosteriorError(f"{verb} needs {wanted} (e.g. {examples[laws[0]]}); this one is "
                             f"{what.get(self.law, repr(self.law))}")

    @property
    def diagnostics_passed(self) -> bool:
        return bool(self.card.get("diagnostics", {}).get("passed", False))

    def draws(self, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """Posterior draws flattened over (chain, draw), as numpy arrays by name."""
        post = self.idata["posterior"].to_dataset()
        names = names or list(post.data_vars)
        return {n: post[n].values.reshape(-1, *post[n].shape[2:]) for n in names}

    @property
    def n_draws(self) -> int:
        post = self.idata["posterior"]
        return int(post.sizes["chain"] * post.sizes["draw"])

    def save(self, path: str | Path) -> Path:
        return save(self, path)


def _storable(idata: xr.DataTree) -> xr.DataTree:
    """Drop what netCDF cannot hold (object-dtype sampler messages)."""
    out = idata.copy()
    if "sample_stats" in out.children:
        ss = out["sample_stats"].to_dataset()
        bad = [v for v in ss.data_vars if ss[v].dtype == object]
        if bad:
            out["sample_stats"] = ss.drop_vars(bad)
    return out


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp)`` on a file beside ``path`` and rename it into place (mode 0644).

    An interrupted write never leaves a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _atomic_netcdf(obj: xr.Dataset | xr.DataTree, path: str | Path) -> Path:
    """Write netCDF (h5netcdf) atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: obj.to_netcdf(tmp, engine="h5netcdf"))


def save(fit: Fit, path: str | Path) -> Path:
    """Write the posterior with its card to netCDF, atomically, sealed by its content hash."""
    tree = _storable(fit.idata)
    card = json.loads(_canonical(fit.card))  # exactly what a reader will see
    card["content_hash"] = content_hash(tree, card)
    tree.attrs[CARD_ATTR] = json.dumps(card, sort_keys=True, default=str)
    return _atomic_netcdf(tree, path)


def write_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write a Dataset (e.g. a planning grid) to netCDF, atomically."""
    return _atomic_netcdf(ds, path)


def load(
    path: str | Path,
    *,
    expect_law: str | None = None,
    data_hash: str | None = None,
) -> Fit:
    """Load a saved posterior and verify its card.

    Parameters
    ----------
    path
        A netCDF file written by ``Fit.save`` or ``bayeslaw fit --out``.
    expect_law
        Refuse a posterior of another law (``"supervised"`` or ``"distillation"``).
    data_hash
        Refuse a posterior fitted to other data (see :func:`bayeslaw.data.tables.table_hash`).

    Returns
    -------
    Fit
        The posterior and its card; an edited, corrupt or mismatched file raises ``PosteriorError``.
    """
    path = Path(path)
    if not path.exists():
        raise PosteriorError(f"posterior file {path} does not exist; fit one with `bayeslaw fit`")
    if path.is_dir():
        raise PosteriorError(f"{path} is a folder, not a posterior file "
                             "(e.g. models/supervised_chinchilla_epoch240.nc)")
    try:
        tree = xr.open_datatree(path, engine="h5netcdf").load()
    except Exception as err:
        raise PosteriorError(
            f"{path} is not a readable posterior (corrupt or not netCDF: {err}); "
            "refit it with `bayeslaw fit`"
        ) from err
    raw = tree.attrs.get(CARD_ATTR)
    if raw is None:
        raise PosteriorError(f"{path} has no bayeslaw model card; it was not written by bayeslaw")
    try:
        card = json.loads(raw)
    except json.JSONDecodeError as err:
        raise PosteriorError(f"{path}: the model card is not valid JSON ({err})") from err
    if not isinstance(card, dict):
        raise PosteriorError(f"{path}: the model card is not a JSON object (edited or corrupt); refit it")
    if card.get("card_version") != CARD_VERSION:
        raise PosteriorError(
            f"{path}: card version {card.get('card_version')} is not {CARD_VERSION} (written by another "
            "bayeslaw version); refit it"
        )
    edited = f"{path}: the model card does not match its hash (edited or corrupt); refit it"
    if any(k not in card for k in (*_HASHED, "config_hash", "content_hash")):
        raise PosteriorError(edited)
    card = check_card(card, str(path))
    if card["config_hash"] != card_hash(card):
        raise PosteriorError(edited)
    del tree.attrs[CARD_ATTR]
    if card["content_hash"] != content_hash(tree, card):
        raise PosteriorError(f"{path}: the draws, statistics or card do not match the content hash "
                             "(edited or corrupt); refit it")
    del card["content_hash"]  # verified; a save seals the content anew
    if "posterior" not in tree.children:
        raise PosteriorError(f"{path} holds no posterior group")
    if expect_law is not None and card["law"] != expect_law:
        raise PosteriorError(
            f"{path} is a {card['law']} posterior, but a {expect_law} posterior is needed"
        )
    if data_hash is not None and card["data"]["sha256"] != data_hash:
        raise PosteriorError(
            f"{path} was fitted to different data (sha256 {card['data']['sha256'][:12]}..., "
            f"given {data_hash[:12]}...); refit on this table or pass the original one"
        )
    return Fit(tree, card)
