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


def test_indexed_seeds_are_spawned_children_that_never_collide():
    s = Streams(7)
    # the documented key: (number of named streams + the family's position, *index)
    assert s.split(2) == int(np.random.SeedSequence(7, spawn_key=(4, 2)).generate_state(1)[0])
    assert s.child("study_split", 1, 0) == int(np.random.SeedSequence(7, spawn_key=(7, 1, 0)).generate_state(1)[0])
    # the offsets of old collided: study 1's split 0 had the seed of inner split 0, a leave-one-out fit 1 that
    # of backtest split 1; every family and index now gets its own seed, distinct from the named streams'
    seeds = [s.sampling, s.diagnostics, s.predictive, s.subsample]
    seeds += [s.child(f, i) for f in ("split", "inner_split", "extrapolation", "population_error",
                                       "population_check", "leave_one_out") for i in range(200)]
    seeds += [s.child("study_split", k, i) for k in range(8) for i in range(8)]
    assert len(set(seeds)) == len(seeds)
    assert Streams(s.split(2)).sampling != s.sampling
    assert Streams(8).split(2) != s.split(2)  # no offset arithmetic: seed 8's split 2 is not seed 7's split 3
    assert Streams(8).split(2) != s.split(3)


def test_bad_seeds_and_families():
    with pytest.raises(InputError, match="non-negative integer seed"):
        _ = Streams(-1).sampling
    with pytest.raises(InputError, match="non-negative integer seed"):
        Streams(-1).split(0)
    with pytest.raises(InputError, match="non-negative"):
        Streams(1).split(-1)
    with pytest.raises(ValueError, match="unknown seed family"):
        Streams(1).child("splits", 0)
