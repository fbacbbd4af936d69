"""Re-seal a posterior written with model card v1 for card v2, keeping its draws byte for byte.

Usage: ``.venv/bin/python scripts/reseal.py IN.nc OUT.nc``

Card v1 hashed only what defines the fit (law, spec, data, sampler, seed); v2 adds a content hash
over every card field and every array (:func:`bayeslaw.posterior.card.content_hash`). This checks
the v1 file's own hash first (an edited v1 file is refused), then writes the same tree with
``card_version`` 2, a ``resealed`` note and the content hash. Used once, for the SYNTHETIC joint
posterior fitted before card v2 (its draws depend on the CPU that fitted them; see
docs/distillation.md), so that what ships is still that fit.
"""

from __future__ import annotations

import datetime
import json
import sys

import xarray as xr

from bayeslaw.core.errors import PosteriorError
from bayeslaw.posterior.card import CARD_ATTR, CARD_VERSION, Fit, card_hash, save


def reseal(src: str, dst: str) -> None:
    tree = xr.open_datatree(src, engine="h5netcdf").load()
    card = json.loads(tree.attrs.pop(CARD_ATTR))
    if card.get("card_version") != 1:
        raise PosteriorError(f"{src} is card version {card.get('card_version')}, not 1")
    if card.get("config_hash") != card_hash(card):
        raise PosteriorError(f"{src}: the v1 card does not match its hash (edited or corrupt)")
    card["card_version"] = CARD_VERSION
    card["resealed"] = (f"card v1 -> v{CARD_VERSION} on {datetime.date.today().isoformat()} by scripts/reseal.py; "
                        "draws and diagnostics are those of the original fit")
    save(Fit(tree, card), dst)


if __name__ == "__main__":
    reseal(sys.argv[1], sys.argv[2])
    print(f"resealed {sys.argv[1]} -> {sys.argv[2]}")
