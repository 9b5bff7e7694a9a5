"""The reproducible, parallel trial runner.

Theory of operation
-------------------
:func:`run_trials` runs ``fn(rng, **params)`` ``trials`` times for each parameter
configuration. Trial ``t`` of configuration ``c`` draws from its own generator
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(c, t)))`` — the child that
``SeedSequence(seed).spawn`` would give, addressed by position — so a trial's result depends
only on ``(seed, c, t, params)``: never on the number of workers, the executor, or the order in
which chunks finish. Trials are grouped into chunks (a few per worker) to amortize the cost of
shipping work to processes; the rows are reassembled in ``(config, trial)`` order.

Any :class:`concurrent.futures.Executor` can run the chunks: the default is a process pool
sized to the machine, ``executor="inline"`` runs in this process (best for tiny runs), and a
Dask ``Client(...).get_executor()`` spreads the chunks over a cluster.

Results may be cached under ``data/results/cache/``: the key hashes the experiment name, the
parameters, trial count, seed, the function's qualified name and the package version. The file
is written to a temporary name and atomically renamed, so an interrupted run never leaves a
truncated cache entry.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import os
import pickle
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_int, describe

__all__ = ["run_trials", "results_dir", "atomic_write"]

TrialFn = Callable[..., Mapping[str, Any]]


def results_dir() -> Path:
    """Where result tables go: ``$CONSENSUSLAB_RESULTS``, else ``data/results`` of the source
    tree this package runs from, else ``./data/results``."""
    env = os.environ.get("CONSENSUSLAB_RESULTS")
    if env:
        return Path(env)
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").exists() and (root / "data").is_dir():
        return root / "data" / "results"
    return Path.cwd() / "data" / "results"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it over ``path``.

    What ``write`` returns is ignored (``Path.write_text`` returns a count, ``to_csv`` None).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _run_chunk(fn: TrialFn, seed: int, jobs: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for c, t, params in jobs:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(c, t)))
        row = fn(rng, **params)
        if not isinstance(row, Mapping):
            raise TypeError(f"trial function must return a mapping (one row); got {describe(row)}.")
        rows.append({"config": c, "trial": t, **params, **row})
    return rows


def _validate_params(fn: TrialFn, configs: list[dict[str, Any]]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: cannot check
        return
    for params in configs:
        if not isinstance(params, Mapping):
            raise TypeError(f"`params` must be a dict or a list of dicts; got an item {describe(params)}.")
        try:
            sig.bind(None, **params)
        except TypeError as exc:
            names = [p for p in sig.parameters][1:]
            raise ValueError(
                f"`params` do not fit {getattr(fn, '__name__', fn)}(rng, {', '.join(names)}): {exc}; "
                f"got {sorted(params)}."
            ) from None


def _cache_path(name: str, fn: TrialFn, configs: list[dict], trials: int, seed: int) -> Path:
    from consensuslab import __version__

    key = json.dumps(
        {
            "name": name,
            "fn": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}",
            "params": configs,
            "trials": trials,
            "seed": seed,
            "version": __version__,
        },
        sort_keys=True,
        default=repr,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return results_dir() / "cache" / f"{name}-{digest}.pkl"


def run_trials(
    fn: TrialFn,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    trials: int,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = True,
    cache: str | None = None,
) -> pd.DataFrame:
    """Run ``fn(rng, **params)`` ``trials`` times per configuration; return a tidy table.

    Parameters
    ----------
    fn : callable
        ``fn(rng, **params) -> dict`` — one trial; ``rng`` is a ``numpy.random.Generator``.
        Must be picklable (a module-level function) unless ``executor="inline"``.
    params : dict or list of dicts
        One configuration or several.
    trials : int
        Trials per configuration, >= 1.
    seed : int
        Root seed, >= 0.
    executor : Executor, "inline" or None
        Where chunks run. None: a process pool with one worker per CPU (created and shut
        down here). "inline": this process. Or any ``concurrent.futures.Executor``, e.g. a
        Dask ``Client.get_executor()``.
    progress : bool
        Show a tqdm progress bar (a widget in Jupyter).
    cache : str, optional
        Experiment name; if given, reuse/write a cached table under ``data/results/cache``.

    Returns
    -------
    pandas.DataFrame
        One row per trial: ``config``, ``trial``, the parameters, then ``fn``'s row; ordered
        by ``(config, trial)``.

    Raises
    ------
    ValueError
        ``trials < 1``, or parameter names that ``fn`` does not accept.
    TypeError
        ``fn`` not callable, or not picklable while a process pool is requested.

    Examples
    --------
    >>> def coin(rng, p):
    ...     return {"heads": bool(rng.random() < p)}
    >>> df = run_trials(coin, {"p": 0.5}, trials=4, seed=1, executor="inline", progress=False)
    >>> df.columns.tolist(), len(df)
    (['config', 'trial', 'p', 'heads'], 4)
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {describe(fn)}.")
    trials = check_int("trials", trials, 1)
    seed = check_int("seed", seed, 0)
    configs = [dict(params)] if isinstance(params, Mapping) else [dict(p) if isinstance(p, Mapping) else p for p in params]
    if not configs:
        raise ValueError("`params` must hold at least one configuration; got an empty list.")
    _validate_params(fn, configs)
    if executor is not None and not isinstance(executor, Executor) and executor != "inline":
        raise TypeError(f"`executor` must be a concurrent.futures.Executor, 'inline' or None; got {describe(executor)}.")
    inline = executor == "inline"
    if not inline:
        try:
            pickle.dumps(fn)
        except Exception as exc:  # lambdas, closures, local functions
            raise TypeError(
                f"`fn` must be picklable to run in worker processes (define it at module level), "
                f"or pass executor='inline'; pickling failed: {exc}"
            ) from None

    path = _cache_path(cache, fn, configs, trials, seed) if cache else None
    if path is not None and path.exists():
        return pd.read_pickle(path)

    jobs = [(c, t, cfg) for c, cfg in enumerate(configs) for t in range(trials)]
    own_pool = executor is None
    workers = os.cpu_count() or 1
    if own_pool:
        executor = ProcessPoolExecutor(max_workers=workers)
    n_chunks = 1 if inline else min(len(jobs), max(1, workers * 4))
    size = math.ceil(len(jobs) / n_chunks)
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]

    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), disable=not progress, desc=cache or getattr(fn, "__name__", "trials"), leave=False)
    results: list[list[dict[str, Any]] | None] = [None] * len(chunks)
    try:
        if inline:
            for i, chunk in enumerate(chunks):
                results[i] = _run_chunk(fn, seed, chunk)
                bar.update(len(chunk))
        else:
            assert isinstance(executor, Executor)
            futures = {executor.submit(_run_chunk, fn, seed, chunk): i for i, chunk in enumerate(chunks)}
            for fut in as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                bar.update(len(chunks[i]))
    finally:
        bar.close()
        if own_pool:
            assert isinstance(executor, Executor)
            executor.shutdown(cancel_futures=True)

    df = pd.DataFrame([row for chunk in results if chunk for row in chunk])
    if path is not None:
        atomic_write(path, lambda tmp: df.to_pickle(tmp))
    return df
