"""Named seed streams: each stage its own independent seed, stable and documented."""

import numpy as np
import pytest

from bayeslaw.core.errors import InputError
from bayeslaw.core.seeds import Streams, fan_out


def test_streams_are_the_spawned_children_in_their_documented_order():
    children = np.random.SeedSequence(20240410).spawn(4)
    expected = [int(c.generate_state(1)[0]) for c in children]
    s = Streams(20240410)
    assert [s.sampling, s.diagnostics, s.predictive, s.subsample] == expected
    assert len(set(expected)) == 4
    assert fan_out(20240410) == expected


def test_backtest_streams_and_bad_seeds():
    s = Streams(7)
    assert (s.split(2), s.inner_split(2), s.extrapolation(2)) == (9, 109, 1009)
    assert Streams(s.split(2)).sampling != s.sampling
    with pytest.raises(InputError, match="non-negative integer seed"):
        _ = Streams(-1).sampling
