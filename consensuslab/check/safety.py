"""Safety violations.

Protocol monitors (``consensuslab.protocols.<name>`` each has one) check the paper's safety
properties after every simulator step and raise :class:`SafetyViolation` naming the invariant,
the time and the evidence. Randomized runs catch it and print the ``(config, seed)`` to replay.
"""

from __future__ import annotations

__all__ = ["SafetyViolation"]


class SafetyViolation(AssertionError):
    """A safety property of a protocol was broken.

    Parameters
    ----------
    invariant : str
        The property's name as the paper gives it (e.g. ``"Election Safety"``).
    detail : str
        What was observed.
    time : float, optional
        Simulated time (ms) at which it was observed.
    """

    def __init__(self, invariant: str, detail: str, time: float | None = None) -> None:
        self.invariant = invariant
        self.detail = detail
        self.time = time
        at = f" at t={time:.3f} ms" if time is not None else ""
        super().__init__(f"{invariant} violated{at}: {detail}")
