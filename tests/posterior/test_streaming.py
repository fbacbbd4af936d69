"""Predictions stream in chunks (issue 26): a million points in bounded memory. The chunks must not change what a
prediction says: the first chunk is the one-pass result, the draws kept or not give the same bands, every point's
band is the same distribution wherever its chunk falls, and the seed fixes it all. (Memory and time:
benchmarks/predict_stream.py.)"""

import numpy as np
import pytest
from scipy import stats

from bayeslaw import api
from bayeslaw.core.errors import InputError
from bayeslaw.core.intervals import pick
from bayeslaw.decision.predict import CHUNK_VALUES, KEEP_DRAWS_MAX
from tests.conftest import ROOT

pytestmark = pytest.mark.heavy  # predictions of a few thousand points over 4,000-8,000 draws

CHIN = ROOT / "models/supervised_chinchilla_epoch240.nc"
DIGITIZED = ROOT / "models/distillation_busbridge2025_digitized.nc"


@pytest.fixture(scope="module")
def chin():
    return api.load(CHIN)


@pytest.fixture(scope="module")
def streamed(chin):
    size = CHUNK_VALUES // chin.n_draws
    # every point the same run, so every point's band estimates the same distribution
    N = np.full(2 * size + 7, 3e10)
    calls = []
    ds = api.predict(chin, N, 20 * N, keep_draws=False, progress=lambda done, total: calls.append((done, total)))
    return size, N, ds, calls


def test_the_first_chunk_is_the_one_pass_prediction(chin, streamed):
    size, N, ds, calls = streamed
    one = api.predict(chin, N[:size], 20 * N[:size])
    for name in ("loss_mean", "loss_new"):
        np.testing.assert_array_equal(pick(ds, name).values[:size], pick(one, name).values)
    assert calls == [(size, N.size), (2 * size, N.size), (N.size, N.size)]


def test_large_predictions_keep_bands_not_draws_and_the_same_bands_either_way(chin, streamed):
    size, N, ds, _ = streamed
    assert "loss_new" not in ds and ds.attrs["draws_kept"] == 0 and "draws_note" in ds.attrs
    kept = api.predict(chin, N, 20 * N)  # under KEEP_DRAWS_MAX values: the draws are kept by default
    assert N.size * chin.n_draws <= KEEP_DRAWS_MAX
    assert kept["loss_new"].shape == (chin.n_draws, N.size) and kept.attrs["draws_kept"] == 1
    for name in ("loss_mean_band", "loss_new_band", "extrapolation_share"):
        np.testing.assert_array_equal(ds[name].values, kept[name].values)
    again = api.predict(chin, N, 20 * N, keep_draws=False)
    np.testing.assert_array_equal(ds["loss_new_band"].values, again["loss_new_band"].values)


def test_every_chunk_gives_the_same_distribution(chin, streamed):
    size, N, ds, _ = streamed
    kept = api.predict(chin, N, 20 * N, keep_draws=True)
    # the same run in chunk 0, 1 and 2: the mean law is the same draws; a new run's draws come from streams of
    # their own per chunk (not the same numbers) and from the same distribution (two-sample KS on 4,000 draws each)
    np.testing.assert_array_equal(pick(ds, "loss_mean").values, pick(ds, "loss_mean").values[0])
    first = kept["loss_new"].values[:, 0]
    for j in (size, 2 * size):
        later = kept["loss_new"].values[:, j]
        assert not np.array_equal(first, later)
        assert stats.ks_2samp(first, later).pvalue > 1e-3


def test_a_distilled_prediction_streams_too():
    fit = api.load(DIGITIZED)
    size = CHUNK_VALUES // fit.n_draws
    N_S = np.geomspace(3e8, 3e9, size + 5)
    L_T = np.linspace(2.2, 2.4, N_S.size)
    ds = api.predict_distillation(fit, N_S=N_S, D_S=20 * N_S, L_T=L_T, extrapolation=False, keep_draws=False)
    assert ds.attrs["draws_kept"] == 0 and ds["verdict"].shape == (N_S.size,)
    np.testing.assert_allclose(ds["L_T"].values, L_T)
    one = api.predict_distillation(fit, N_S=N_S[:size], D_S=20 * N_S[:size], L_T=L_T[:size], extrapolation=False)
    np.testing.assert_array_equal(ds["difference_band"].values[:, :size], one["difference_band"].values)
    np.testing.assert_array_equal(ds["p_better"].values[:size], one["p_better"].values)


def test_point_shapes_are_checked(chin):
    with pytest.raises(InputError, match="1-D lists of points"):
        api.predict(chin, np.full((2, 3), 1e9), np.full((2, 3), 2e10))
    with pytest.raises(InputError, match="must be numbers"):
        api.predict(chin, ["a lot"], [2e10])
    fit = api.load(DIGITIZED)
    with pytest.raises(InputError, match="one value or one per student"):
        api.predict_distillation(fit, N_S=[1e9, 2e9, 3e9], D_S=2e10, L_T=[2.3, 2.4])
