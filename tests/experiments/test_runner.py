"""The trial runner: determinism across executors and worker counts, caching, validation."""

from __future__ import annotations

import inspect
import os
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

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


# -- issue 15, item 5: a row must not overwrite config, trial or a parameter ------------------
def row_overwrites_trial(rng, mean):
    return {"trial": 99, "x": mean}


def row_overwrites_config(rng, mean):
    return {"config": "mine", "x": mean}


def row_overwrites_a_parameter(rng, mean):
    return {"mean": mean + 1.0}


def row_echoes_its_parameters(rng, mean, label):
    return {"mean": mean, "label": label, "x": 1}


@pytest.mark.parametrize(
    "fn, column",
    [(row_overwrites_trial, "'trial'"), (row_overwrites_config, "'config'"), (row_overwrites_a_parameter, "'mean'")],
)
def test_a_row_that_overwrites_config_trial_or_a_parameter_is_an_error(fn, column):
    with pytest.raises(ValueError, match=f"`fn` must not return a column that overwrites.*got column {column}"):
        run_trials(fn, {"mean": 1.0}, trials=2, seed=0, executor="inline", progress=False)


def test_the_overwrite_error_crosses_process_boundaries():
    with ProcessPoolExecutor(1) as pool, pytest.raises(ValueError, match="got column 'mean' = 3.0 where the table has 'mean' = 2.0"):
        run_trials(row_overwrites_a_parameter, {"mean": 2.0}, trials=1, seed=0, executor=pool, progress=False)


def test_a_row_may_repeat_a_parameter_with_the_same_value():
    # e.g. paxos-messages' trial returns multipaxos_cost's row, which repeats n and commands
    df = run_trials(row_echoes_its_parameters, [{"mean": float("nan"), "label": (1, 2)}, {"mean": 2.0, "label": "a"}],
                    trials=2, seed=0, executor="inline", progress=False)
    assert df.columns.tolist() == ["config", "trial", "mean", "label", "x"]
    assert df["config"].tolist() == [0, 0, 1, 1] and df["trial"].tolist() == [0, 1, 0, 1]


# -- issue 15, item 6: the cache follows the code, and survives bad files -----------------------
TRIAL_MODULE = '''
SCALE = {scale}


def helper(hit):
    return SCALE * hit


def trial(rng, p):
    return {{"x": {factor} * helper(int(rng.random() < p))}}
'''


@pytest.fixture
def trial_module(tmp_path, monkeypatch):
    """A trial function in a module file that the test rewrites and reloads."""
    import importlib
    import sys

    monkeypatch.setenv("CONSENSUSLAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # reload must compile the new text
    monkeypatch.syspath_prepend(str(tmp_path))
    name = "cl_trialmod_" + "".join(ch if ch.isalnum() else "_" for ch in tmp_path.name)
    path = tmp_path / f"{name}.py"

    def write(scale: int = 1, factor: int = 1):
        path.write_text(TRIAL_MODULE.format(scale=scale, factor=factor))
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)

    yield write
    sys.modules.pop(name, None)


def _xs(mod, **kw):
    df = run_trials(mod.trial, {"p": 0.6}, trials=6, seed=2, executor="inline", progress=False, cache="demo", **kw)
    return df["x"].tolist()


def test_cache_sees_a_changed_trial_function(trial_module):
    mod = trial_module(factor=1)
    first = _xs(mod)
    assert set(first) == {0, 1} and _xs(mod) == first  # the second run is served from the cache
    mod = trial_module(factor=2)  # edit the trial function itself, reload
    assert _xs(mod) == [2 * x for x in first]


def test_cache_sees_a_changed_helper_in_the_trial_module(trial_module):
    mod = trial_module(scale=1)
    first = _xs(mod)
    mod = trial_module(scale=3)  # the trial function is unchanged; a module constant is not
    assert _xs(mod) == [3 * x for x in first]


def test_cache_version_argument_gives_a_fresh_run(trial_module, monkeypatch):
    mod = trial_module()
    calls = {"n": 0}
    real = runner_mod._run_chunk

    def counting(*args):
        calls["n"] += 1
        return real(*args)

    monkeypatch.setattr(runner_mod, "_run_chunk", counting)
    _xs(mod, version=1)
    _xs(mod, version=1)
    assert calls["n"] == 1
    _xs(mod, version=2)
    _xs(mod, version="2024-06")
    assert calls["n"] == 3
    with pytest.raises(TypeError, match="`version` must be a str, an int or None; got 1.5"):
        _xs(mod, version=1.5)


def test_code_fingerprint_falls_back_to_bytecode_and_constants():
    def compiled(text):
        namespace = {}
        exec(compile(text, "<no source file>", "exec"), namespace)  # noqa: S102 - a function without source
        return namespace["trial"]

    one = compiled("def trial(rng, p):\n    return {'x': 1 * p}\n")
    one_again = compiled("def trial(rng, p):\n    return {'x': 1 * p}\n")
    two = compiled("def trial(rng, p):\n    return {'x': 2 * p}\n")
    default = compiled("def trial(rng, p, k=3):\n    return {'x': 1 * p}\n")
    with pytest.raises(OSError):
        inspect.getsource(one)
    fp = runner_mod.code_fingerprint
    assert fp(one) == fp(one_again)
    assert len({fp(one), fp(two), fp(default)}) == 3
    # partials and callable objects are fingerprinted through their function / class
    import functools

    assert fp(functools.partial(noisy_trial, spread=1.0)) != fp(functools.partial(noisy_trial, spread=2.0))


def test_corrupted_cache_file_is_ignored_with_a_warning_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENSUSLAB_RESULTS", str(tmp_path))
    a = run_trials(noisy_trial, GRID, trials=3, seed=1, executor="inline", progress=False, cache="demo")
    (path,) = (tmp_path / "cache").glob("demo-*.pkl")
    good = path.read_bytes()
    for bad in (good[: len(good) // 2], b"", b"not a pickle at all", pickle.dumps({"not": "a table"})):
        path.write_bytes(bad)
        with pytest.warns(runner_mod.CacheWarning, match="ignoring the"):
            b = run_trials(noisy_trial, GRID, trials=3, seed=1, executor="inline", progress=False, cache="demo")
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(pd.read_pickle(path), a)  # rewritten whole


def test_cache_write_is_atomic_and_synced(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSENSUSLAB_RESULTS", str(tmp_path))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(runner_mod.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    real_to_pickle = pd.DataFrame.to_pickle

    def dies_half_way(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\x80\x05partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_pickle", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        run_trials(noisy_trial, GRID, trials=2, seed=1, executor="inline", progress=False, cache="demo")
    assert not list((tmp_path / "cache").iterdir())  # neither a half-written entry nor a temp file
    monkeypatch.setattr(pd.DataFrame, "to_pickle", real_to_pickle)
    df = run_trials(noisy_trial, GRID, trials=2, seed=1, executor="inline", progress=False, cache="demo")
    assert synced, "the temporary file is flushed to disk before the rename"
    (path,) = (tmp_path / "cache").iterdir()
    pd.testing.assert_frame_equal(pd.read_pickle(path), df)
