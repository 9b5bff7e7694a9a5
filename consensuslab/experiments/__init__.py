"""Named, reproducible experiments and the parallel trial runner.

``run_trials`` runs seeded trials on any executor (see :mod:`.runner`); ``experiment`` /
``all_experiments`` register and list named experiments (see :mod:`.registry`).
"""

from typing import Any

from consensuslab.experiments.registry import Result, all_experiments, experiment, get
from consensuslab.experiments.runner import run_trials

__all__ = ["run_trials", "Result", "experiment", "all_experiments", "get", "election_downtime"]


def __getattr__(name: str) -> Any:
    if name == "election_downtime":  # Raft paper §9.3 methodology; imported on first use
        from consensuslab.experiments.election import election_downtime

        return election_downtime
    raise AttributeError(name)
