"""Latency distributions and the nemesis schedule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from consensuslab.sim import (
    Constant, Empirical, Exponential, LogNormal, Nemesis, Pareto, Simulator, Uniform, as_latency,
)
from consensuslab.sim.example import EchoBroadcast


@pytest.mark.parametrize(
    "dist, frozen",
    [
        (Uniform(5, 15), stats.uniform(5, 10)),
        (Exponential(7.0), stats.expon(scale=7.0)),
        (LogNormal(2.0, 0.5), stats.lognorm(s=0.5, scale=np.exp(2.0))),
        (Pareto(3.0, 2.5), stats.pareto(b=2.5, scale=3.0)),
        (Exponential(4.0).shifted(2.0), stats.expon(loc=2.0, scale=4.0)),
    ],
)
def test_distributions_match_scipy_reference(dist, frozen):
    x = dist.sample(np.random.default_rng(0), 20_000)
    assert stats.kstest(x, frozen.cdf).pvalue > 1e-3
    if np.isfinite(frozen.mean()):
        assert dist.mean == pytest.approx(frozen.mean(), rel=1e-9)


def test_empirical_resamples_only_its_values():
    d = Empirical([1.0, 2.0, 7.0])
    assert set(d.sample(np.random.default_rng(0), 1000)) == {1.0, 2.0, 7.0}
    with pytest.raises(ValueError, match="`samples`"):
        Empirical([])


def test_as_latency_shorthands_and_errors():
    assert as_latency(3) == Constant(3.0)
    assert as_latency((1, 2)) == Uniform(1.0, 2.0)
    with pytest.raises(ValueError, match=r"`latency\[0\]` must be a number >= 0.0"):
        as_latency((-1, 2))
    with pytest.raises(ValueError, match="`sigma`"):
        LogNormal(0, -1)
    with pytest.raises(ValueError, match="`alpha`"):
        Pareto(1, 0)


def test_nemesis_is_reproducible_from_its_seed():
    a = Nemesis(n=5, seed=3, duration=3000).schedule()
    b = Nemesis(n=5, seed=3, duration=3000).schedule()
    c = Nemesis(n=5, seed=4, duration=3000).schedule()
    assert a == b and a != c
    assert {e.action for e in a} >= {"crash", "restart"}


def test_nemesis_never_crashes_more_than_allowed_and_settles():
    for seed in range(50):
        events = Nemesis(n=5, seed=seed, duration=4000, interval=(10, 60)).schedule()
        down: set[int] = set()
        for e in events:
            if e.action == "crash":
                down.add(e.args[0])
            elif e.action == "restart":
                down.discard(e.args[0])
            assert len(down) <= 2, f"seed {seed}: {sorted(down)} down at {e.time}"
        assert not down
        assert events[-1].time == 4000


def test_nemesis_applies_to_a_simulator_and_progress_resumes():
    sim = Simulator(EchoBroadcast, n=5, seed=1, latency=(1, 5))
    events = Nemesis(n=5, seed=9, duration=1000, crash=False).apply(sim)
    assert events
    sim.run_for(1000)
    r = sim.nodes[0].round
    sim.run_for(300)
    assert sim.nodes[0].round > r  # healed, loss cleared: rounds complete again


def test_nemesis_bad_input():
    with pytest.raises(ValueError, match="`max_crashed`"):
        Nemesis(n=3, seed=0, max_crashed=4)
    with pytest.raises(ValueError, match="`max_loss`"):
        Nemesis(n=3, seed=0, max_loss=2)
