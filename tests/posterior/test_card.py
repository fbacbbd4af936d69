"""A saved posterior is tamper-evident: editing any draw, statistic, observed value or card field is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from bayeslaw import api
from bayeslaw.core.errors import PosteriorError
from bayeslaw.posterior.card import CARD_ATTR, check_card, load, make_card
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("card") / "post.nc"
    api.load(ROOT / "models/supervised_chinchilla_epoch240.nc").save(path)
    return path


def _edit_card(tree: xr.DataTree, change) -> None:
    card = json.loads(tree.attrs[CARD_ATTR])
    change(card)
    tree.attrs[CARD_ATTR] = json.dumps(card, sort_keys=True)


def _bump(tree: xr.DataTree, group: str, name: str, change) -> None:
    ds = tree[group].to_dataset()
    values = ds[name].values.copy()
    flat = values.reshape(-1)
    flat[0] = change(flat[0])
    tree[group] = ds.assign({name: (ds[name].dims, values)})


EDITS = {
    "a draw": lambda t: _bump(t, "posterior", "alpha", lambda v: v + 1e-9),
    "a sample statistic": lambda t: _bump(t, "sample_stats", "diverging", lambda v: not v),
    "an observed value": lambda t: _bump(t, "observed_data", "log_loss", lambda v: v * 1.001),
    "the diagnostics flag": lambda t: _edit_card(t, lambda c: c["diagnostics"].update(
        passed=not c["diagnostics"]["passed"])),
    "the gated parameters": lambda t: _edit_card(t, lambda c: c["parameters"].pop()),
    "a timing": lambda t: _edit_card(t, lambda c: c["timing"].update(sampling_wall_seconds=0.1)),
    "the seed": lambda t: _edit_card(t, lambda c: c.update(seed=c["seed"] + 1)),
    "the content hash removed": lambda t: _edit_card(t, lambda c: c.pop("content_hash")),
}


def test_an_untouched_copy_loads_and_keeps_its_numbers(saved, tmp_path):
    tree = xr.open_datatree(saved, engine="h5netcdf").load()
    tree.to_netcdf(tmp_path / "copy.nc", engine="h5netcdf")
    fit = load(tmp_path / "copy.nc")
    original = api.load(ROOT / "models/supervised_chinchilla_epoch240.nc")
    np.testing.assert_array_equal(fit.draws(["alpha"])["alpha"], original.draws(["alpha"])["alpha"])
    assert fit.card["diagnostics"] == original.card["diagnostics"]


@pytest.mark.parametrize("what", EDITS)
def test_every_edit_is_refused(saved, tmp_path, what):
    tree = xr.open_datatree(saved, engine="h5netcdf").load()
    EDITS[what](tree)
    tree.to_netcdf(tmp_path / "edited.nc", engine="h5netcdf")
    with pytest.raises(PosteriorError, match="edited or corrupt"):
        load(tmp_path / "edited.nc")


def test_the_card_schema_names_what_is_missing_or_mistyped():
    card = make_card(law="supervised", spec={}, data={"sha256": "x"}, sampler={}, seed=3)
    assert check_card(dict(card), "here") == card
    missing = {k: v for k, v in card.items() if k != "seed"}
    with pytest.raises(PosteriorError, match=r"seed \(missing\)"):
        check_card(missing, "here")
    with pytest.raises(PosteriorError, match=r"diagnostics \(not dict\)"):
        check_card({**card, "diagnostics": []}, "here")
    with pytest.raises(PosteriorError, match="not a JSON object"):
        check_card([card], "here")
