"""Named, reproducible experiments.

An experiment is a function ``fn(quick: bool, seed: int, executor=None) -> Result`` registered
under a name with :func:`experiment`. ``consensuslab run NAME`` runs one and writes its table
to ``data/results/NAME.csv`` with a JSON sidecar; ``consensuslab reproduce`` runs all of them
and joins ``Result.measured`` with the published numbers in ``data/reference/*.csv`` (by the
reference row's ``id``) to build the reproduction report.

Registering is done at import time of the topic module (``consensuslab.experiments.<topic>``);
the topic modules are listed in :data:`TOPIC_MODULES` and imported lazily so that importing
``consensuslab.experiments`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # scipy is imported only by the experiments that build estimates
    from consensuslab.stats import Estimate

__all__ = ["Result", "Experiment", "experiment", "get", "all_experiments", "TOPIC_MODULES"]

#: Modules that register experiments when imported. A module that is missing is skipped.
TOPIC_MODULES: tuple[str, ...] = (
    "consensuslab.experiments.simulator",
    "consensuslab.experiments.election",
    "consensuslab.experiments.paxos",
    "consensuslab.experiments.hashing",
    "consensuslab.experiments.quorum",
    "consensuslab.experiments.vesta",
    "consensuslab.experiments.linearizability",
    "consensuslab.experiments.partial_connectivity",
    "consensuslab.experiments.raft_membership",
    "consensuslab.experiments.raft_reads",
    "consensuslab.experiments.vesta_clocks",
)


@dataclass(frozen=True)
class Result:
    """What an experiment returns.

    Attributes
    ----------
    table : pandas.DataFrame
        The tidy result table (one row per trial or per configuration).
    measured : dict[str, float]
        Values keyed by the ``id`` of rows in ``data/reference/*.csv`` that this experiment
        reproduces. Leave empty if the experiment reproduces no published number.
    params : dict
        The parameters that defined the run (written to the JSON sidecar).
    estimates : dict[str, Estimate]
        For a ``measured`` id computed from a sample: the sample size and the 95% interval
        (:class:`consensuslab.stats.Estimate`, built with the helpers of :mod:`consensuslab.stats`).
        The reproduction report shows them beside the value and judges the row by whether the
        interval meets the tolerance band (:func:`consensuslab.references.compare`). Leave out
        ids that are exact (a closed form, a message count).
    """

    table: pd.DataFrame
    measured: Mapping[str, float] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    estimates: Mapping[str, Estimate] = field(default_factory=dict)

    def __post_init__(self) -> None:
        extra = sorted(set(self.estimates) - set(self.measured))
        if extra:
            raise ValueError(f"`estimates` must be keyed by ids of `measured`; got extra ids {extra}.")


ExperimentFn = Callable[..., Result]


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    fn: ExperimentFn
    #: a long study (minutes to an hour at full size): `consensuslab run NAME` runs it, while
    #: `consensuslab reproduce` leaves it out unless named with --only
    study: bool = False

    def run(self, *, quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
        result = self.fn(quick=quick, seed=seed, executor=executor)
        if not isinstance(result, Result):
            raise TypeError(f"experiment {self.name!r} returned {type(result).__name__}, not Result")
        return result


_REGISTRY: dict[str, Experiment] = {}


def experiment(name: str, description: str, study: bool = False) -> Callable[[ExperimentFn], ExperimentFn]:
    """Register ``fn(quick, seed, executor) -> Result`` under ``name`` (``study``: see :class:`Experiment`)."""

    def register(fn: ExperimentFn) -> ExperimentFn:
        if name in _REGISTRY and _REGISTRY[name].fn is not fn:
            raise ValueError(f"experiment name {name!r} is registered twice")
        _REGISTRY[name] = Experiment(name, description, fn, study)
        return fn

    return register


def _load_all() -> None:
    for module in TOPIC_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a real missing dependency inside the module: surface it
                raise


def all_experiments() -> dict[str, Experiment]:
    """Every registered experiment, by name (sorted)."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> Experiment:
    """The experiment called ``name``; ``ValueError`` listing the names if unknown."""
    experiments = all_experiments()
    if name not in experiments:
        raise ValueError(f"`name` must be one of {sorted(experiments)}; got {name!r}.")
    return experiments[name]
