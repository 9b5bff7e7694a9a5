"""The trial runner: determinism across executors and worker counts, caching, validation."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from consensuslab.experiments import run_trials
from consensuslab.experiments import runner as runner_mod
from consensuslab.experiments.registry import Result, all_experiments, experiment, get


def noisy_trial(rng, mean, spread):
    """A trial that draws several numbers (so stream mix-ups would show)."""
    x = rng.normal(mean, spread, size=3)
    return {"a": float(x[0]), "b": float(x[1] + x[2]), "k": int(rng.integers(1000))}


def failing_trial(rng, boom):
    raise RuntimeError("boom")


GRID = [{"mean": 0.0, "spread": 1.0}, {"mean": 5.0, "spread": 0.1}]


def test_inline_result_shape_and_order():
    df = run_trials(noisy_trial, GRID, trials=7, seed=3, executor="inline", progress=False)
    assert len(df) == 14
    assert df[["config", "trial"]].values.tolist() == [[c, t] for c in range(2) for t in range(7)]
    assert list(df.columns[:4]) == ["config", "trial", "mean", "spread"]


def test_identical_results_with_one_and_two_workers_and_threads():
    ref = run_trials(noisy_trial, GRID, trials=25, seed=3, executor="inline", progress=False)
    with ProcessPoolExecutor(1) as one:
        a = run_trials(noisy_trial, GRID, trials=25, seed=3, executor=one, progress=False)
    with ProcessPoolExecutor(2) as two:
        b = run_trials(noisy_trial, GRID, trials=25, seed=3, executor=two, progress=False)
    with ThreadPoolExecutor(3) as three:
        c = run_trials(noisy_trial, GRID, trials=25, seed=3, executor=three, progress=False)
    for other in (a, b, c):
        pd.testing.assert_frame_equal(ref, other)


def test_default_process_pool_matches_inline():
    ref = run_trials(noisy_trial, GRID[0], trials=8, seed=9, executor="inline", progress=False)
    df = run_trials(noisy_trial, GRID[0], trials=8, seed=9, progress=False)
    pd.testing.assert_frame_equal(ref, df)


def test_different_seeds_differ_and_trials_are_independent():
    a = run_trials(noisy_trial, GRID[0], trials=5, seed=1, executor="inline", progress=False)
    b = run_trials(noisy_trial, GRID[0], trials=5, seed=2, executor="inline", progress=False)
    assert not a.equals(b)
    assert a["a"].nunique() == 5
    # a prefix of trials is unchanged when more trials are requested
    c = run_trials(noisy_trial, GRID[0], trials=9, seed=1, executor="inline", progress=False)
    pd.testing.assert_frame_equal(a, c.head(5))


def test_through_a_local_dask_cluster():
    distributed = pytest.importorskip("distributed")
    ref = run_trials(noisy_trial, GRID, trials=10, seed=4, executor="inline", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        df = run_trials(noisy_trial, GRID, trials=10, seed=4, executor=client.get_executor(), progress=False)
    pd.testing.assert_frame_equal(ref, df)


def test_bad_parameters_fail_before_any_work():
    with pytest.raises(ValueError, match=r"`trials` must be an int >= 1; got 0"):
        run_trials(noisy_trial, GRID, trials=0, seed=1)
    with pytest.raises(ValueError, match="do not fit noisy_trial"):
        run_trials(noisy_trial, {"mean": 1.0, "sprad": 2.0}, trials=1, seed=1)
    with pytest.raises(TypeError, match="picklable"):
        run_trials(lambda rng: {"x": 1}, {}, trials=1, seed=1)
    with pytest.raises(TypeError, match="`executor`"):
        run_trials(noisy_trial, GRID, trials=1, seed=1, executor="threads")
    with pytest.raises(ValueError, match="at least one configuration"):
        run_trials(noisy_trial, [], trials=1, seed=1)


def test_errors_inside_trials_propagate():
    with pytest.raises(RuntimeError, match="boom"):
        run_trials(failing_trial, {"boom": 1}, trials=2, seed=1, executor="inline", progress=False)


def test_cache_is_reused_and_written_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENSUSLAB_RESULTS", str(tmp_path))
    calls = {"n": 0}
    real = runner_mod._run_chunk

    def counting(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(runner_mod, "_run_chunk", counting)
    a = run_trials(noisy_trial, GRID, trials=3, seed=1, executor="inline", progress=False, cache="demo")
    files = list((tmp_path / "cache").glob("demo-*.pkl"))
    assert len(files) == 1 and calls["n"] == 1
    b = run_trials(noisy_trial, GRID, trials=3, seed=1, executor="inline", progress=False, cache="demo")
    assert calls["n"] == 1  # served from the cache
    pd.testing.assert_frame_equal(a, b)
    run_trials(noisy_trial, GRID, trials=4, seed=1, executor="inline", progress=False, cache="demo")
    assert len(list((tmp_path / "cache").glob("demo-*.pkl"))) == 2  # other parameters, other key


def test_interrupted_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.pkl"

    def explode(tmp):
        tmp.write_bytes(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        runner_mod.atomic_write(target, explode)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_registry_registers_and_lists():
    @experiment("test-dummy", "a dummy")
    def dummy(quick=False, seed=0, executor=None):
        return Result(pd.DataFrame({"x": [seed]}), {"dummy": 1.0})

    exps = all_experiments()
    assert "test-dummy" in exps and "simulator-network" in exps
    res = get("test-dummy").run(seed=5)
    assert res.table.x.tolist() == [5]
    with pytest.raises(ValueError, match="`name` must be one of"):
        get("no-such-experiment")
