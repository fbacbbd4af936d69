"""Ctrl-C during sampling is an interrupt, not 'stop and keep the draws so far' (nutpie's own answer)."""

import os
import signal
import threading

import pytest

from bayeslaw.inference.config import SamplerConfig
from bayeslaw.inference.sampler import CompiledSampler, interruptible
from bayeslaw.model.build import build_supervised
from bayeslaw.model.spec import SupervisedSpec
from tests.conftest import synthetic_supervised

pytestmark = pytest.mark.heavy  # the second tier: fits, reports, planner comparisons


@pytest.fixture(autouse=True)
def python_sigint_handler():
    """Python's own SIGINT handler for each test: a process started in the background of a non-interactive
    shell inherits SIGINT ignored, where neither Ctrl-C nor its restoration can be observed."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_nutpie_samples_raises_keyboard_interrupt():
    compiled = CompiledSampler(build_supervised(SupervisedSpec(), synthetic_supervised(n=30, seed=1)),
                               SamplerConfig(draws=200_000, tune=1000, chains=2))
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            compiled.fit(seed=1)
    finally:
        timer.cancel()


def test_a_swallowed_interrupt_is_raised_when_the_native_code_returns():
    with pytest.raises(KeyboardInterrupt):
        with interruptible(raise_now=False):
            os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised: as inside numba's compiler
            threading.Event().wait(0.2)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
