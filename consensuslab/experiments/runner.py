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

A trial's row becomes the table row ``config, trial, <parameters>, <row>``. A row may repeat a
parameter (or ``config``/``trial``) with the *same* value, but a row whose column would
overwrite one of those with a different value is an error naming the column -- the table never
silently loses a parameter.

Results may be cached under ``data/results/cache/`` (``cache=NAME``). The key hashes the
experiment name, the parameters, trial count, seed, the function's qualified name, the package
version, the caller's ``version=`` and a fingerprint of the *code*: the trial function's source
text and compiled code (bytecode and constants, nested functions included), and the source
text of the module it is defined in -- so editing the trial function or a helper beside it
gives a fresh run. What the fingerprint cannot see (code in other modules, data files, a
function built at run time without source) is what ``version=`` is for: bump it. The file is
written to a temporary name, flushed to disk and atomically renamed (:func:`atomic_write`), so
an interrupted run never leaves a truncated entry; an entry that cannot be read (corrupted,
or written by an incompatible pandas) is ignored with a :class:`CacheWarning` and recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import os
import pickle
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_int, describe

__all__ = ["CacheWarning", "atomic_write", "code_fingerprint", "results_dir", "run_trials"]

TrialFn = Callable[..., Mapping[str, Any]]


class CacheWarning(UserWarning):
    """A cached result could not be used (unreadable file); the trials run afresh."""


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
    The temporary file is flushed to disk (``fsync``) before the rename, so after a crash
    ``path`` holds either its old content or the complete new one -- never a truncated file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same(a: Any, b: Any) -> bool:
    """Whether a row's value repeats the table's value (NaN equals NaN; arrays compared whole)."""
    if a is b:
        return True
    try:
        eq = a == b
        if isinstance(eq, (bool, np.bool_)):
            if eq:
                return True
            return bool(isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    except Exception:  # noqa: BLE001 - any __eq__ may raise: incomparable values are different values
        return False


def _run_chunk(fn: TrialFn, seed: int, jobs: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for c, t, params in jobs:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(c, t)))
        row = fn(rng, **params)
        if not isinstance(row, Mapping):
            raise TypeError(f"trial function must return a mapping (one row); got {describe(row)}.")
        base = {"config": c, "trial": t, **params}
        clash = [k for k in row if k in base and not _same(row[k], base[k])]
        if clash:
            k = clash[0]
            raise ValueError(
                f"`fn` must not return a column that overwrites `config`, `trial` or a parameter; "
                f"got column {k!r} = {describe(row[k])} where the table has {k!r} = {describe(base[k])} "
                f"(config {c}, trial {t}; all clashing columns: {clash}). Rename the column in the row."
            )
        rows.append({**base, **row})
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


def _code_bytes(code: types.CodeType) -> bytes:
    """A code object's bytecode and constants, nested code objects (inner functions) included."""
    parts = [code.co_code, repr(code.co_names).encode()]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            parts.append(_code_bytes(const))
        else:
            parts.append(f"{type(const).__name__}:{const!r}".encode())
    return b"\x00".join(parts)


def _source(obj: Any) -> str | None:
    """The source text of a function, class or module as it is on disk now, or None."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):  # builtins, C extensions, code typed at a bare REPL
        return None


def code_fingerprint(fn: Callable[..., Any]) -> str:
    """A digest of the code a trial function runs: what :func:`run_trials` caches against.

    Parameters
    ----------
    fn : callable
        A function, a ``functools.partial`` (its function and bound arguments), a decorated
        function (unwrapped through ``__wrapped__``) or a callable object (its class).

    Returns
    -------
    str
        Hex SHA-256 of: the function's source text (``inspect.getsource``); its compiled code
        (``__code__.co_code``, names and constants, recursively through nested functions, and
        its default arguments) -- the fallback when no source exists, and a guard when the file
        on disk no longer matches the loaded code; and the source text of its module.

    Notes
    -----
    Code the function calls in *other* modules is not included: the cache key also holds the
    package version, and ``run_trials(..., version=...)`` is the explicit switch for the rest.
    Source text is read from disk when the fingerprint is taken (``inspect`` re-reads a file
    whose size or time changed): after editing a module, reload it (or restart the kernel)
    before running, or the old code's results are stored under the new text's key.
    """
    h = hashlib.sha256()
    target: Any = fn
    while isinstance(target, functools.partial):
        h.update(repr((target.args, sorted(target.keywords.items()))).encode())
        target = target.func
    target = inspect.unwrap(target)
    if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target)
            or inspect.isbuiltin(target)):
        target = type(target)  # a callable object: its class holds the code
    h.update(f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}".encode())
    src = _source(target)
    h.update(b"source:" + (src or "").encode())
    func = getattr(target, "__func__", target)  # bound method -> function
    code = getattr(func, "__code__", None)
    if isinstance(code, types.CodeType):
        h.update(b"code:" + _code_bytes(code))
        h.update(repr((getattr(func, "__defaults__", None), getattr(func, "__kwdefaults__", None))).encode())
    elif src is None:
        h.update(repr(target).encode())
    module = sys.modules.get(getattr(target, "__module__", None) or "")
    module_src = _source(module) if module is not None else None
    h.update(b"module:" + (module_src or "").encode())
    return h.hexdigest()


def _cache_path(
    name: str, fn: TrialFn, configs: list[dict[str, Any]], trials: int, seed: int, version: str | int | None
) -> Path:
    from consensuslab import __version__

    key = json.dumps(
        {
            "name": name,
            "fn": f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}",
            "code": code_fingerprint(fn),
            "params": configs,
            "trials": trials,
            "seed": seed,
            "version": __version__,
            "experiment_version": version,
        },
        sort_keys=True,
        default=repr,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return results_dir() / "cache" / f"{name}-{digest}.pkl"


def _read_cache(path: Path) -> pd.DataFrame | None:
    """The cached table at ``path``, or None (with a :class:`CacheWarning`) if it is unreadable."""
    try:
        df = pd.read_pickle(path)
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - unpickling a bad file raises almost anything
        warnings.warn(
            f"ignoring the unreadable cached result {path} ({type(exc).__name__}: {exc}); running the trials again",
            CacheWarning,
            stacklevel=3,
        )
        return None
    if not isinstance(df, pd.DataFrame):
        warnings.warn(
            f"ignoring the cached result {path}: it holds {describe(df)}, not a table; running the trials again",
            CacheWarning,
            stacklevel=3,
        )
        return None
    return df


def run_trials(
    fn: TrialFn,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    trials: int,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = True,
    cache: str | None = None,
    version: str | int | None = None,
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
        The key covers the parameters, ``trials``, ``seed``, the package version, ``version``
        and the code of ``fn`` and of its module (:func:`code_fingerprint`). An unreadable
        cache file is ignored with a :class:`CacheWarning` and rewritten.
    version : str or int, optional
        An experiment's own version, part of the cache key: bump it when the results change
        for a reason the code fingerprint cannot see (a helper in another module, a data file).

    Returns
    -------
    pandas.DataFrame
        One row per trial: ``config``, ``trial``, the parameters, then ``fn``'s row; ordered
        by ``(config, trial)``.

    Raises
    ------
    ValueError
        ``trials < 1``, parameter names that ``fn`` does not accept, or a row from ``fn`` with
        a column named ``config``, ``trial`` or like a parameter whose value differs from the
        table's (it would overwrite it).
    TypeError
        ``fn`` not callable, not picklable while a process pool is requested, ``cache`` not a
        str, or ``version`` not a str or int.

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

    if cache is not None and not isinstance(cache, str):
        raise TypeError(f"`cache` must be a str (an experiment name) or None; got {describe(cache)}.")
    if version is not None and (isinstance(version, bool) or not isinstance(version, (str, int))):
        raise TypeError(f"`version` must be a str, an int or None; got {describe(version)}.")
    path = _cache_path(cache, fn, configs, trials, seed, version) if cache else None
    if path is not None:
        cached = _read_cache(path)
        if cached is not None:
            return cached

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
