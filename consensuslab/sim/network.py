"""Network model: latency distributions, loss, duplication, partitions, per-link overrides.

Theory of operation
-------------------
Every message sent from ``src`` to ``dst`` is subject to the link's settings (a per-link
override if one exists, else the network defaults):

1. *Partition.* If the directed link ``src -> dst`` is cut, the message is dropped. Cuts are
   checked at send time and again at delivery time, so a partition also drops messages that
   were in flight when it began (as a firewall rule would).
2. *Loss.* With probability ``loss`` the message is dropped.
3. *Latency.* A delay drawn from the link's latency distribution. Reordering falls out of
   random latency: two messages on one link may arrive in either order.
4. *Duplication.* With probability ``duplicate`` a second copy is delivered with its own delay.

All draws come from the network's own ``numpy.random.Generator`` stream. Distributions sample
in blocks of :data:`BLOCK` values for speed; blocks are consumed in order, so the run is a
deterministic function of the seed and the sequence of sends.

Latency distributions (all in ms): :class:`Constant`, :class:`Uniform`, :class:`Exponential`,
:class:`LogNormal`, :class:`Pareto`, :class:`Empirical`, each optionally ``shifted`` by a
constant (``Exponential(10).shifted(5)``). :func:`as_latency` accepts shorthands:
a number (constant), a ``(low, high)`` pair (uniform) or a distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from consensuslab._validate import check_float, check_probability, describe

__all__ = [
    "Latency",
    "Constant",
    "Uniform",
    "Exponential",
    "LogNormal",
    "Pareto",
    "Empirical",
    "Shifted",
    "as_latency",
    "Link",
    "BLOCK",
]

BLOCK = 4096


class Latency:
    """A distribution of one-way message delays in milliseconds."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover
        raise NotImplementedError

    def shifted(self, shift: float) -> "Shifted":
        """This distribution plus a constant ``shift`` >= 0 (a minimum delay)."""
        return Shifted(self, shift)


@dataclass(frozen=True)
class Constant(Latency):
    value: float

    def __post_init__(self) -> None:
        check_float("value", self.value, 0.0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(size, float(self.value))

    @property
    def mean(self) -> float:
        return float(self.value)


@dataclass(frozen=True)
class Uniform(Latency):
    low: float
    high: float

    def __post_init__(self) -> None:
        check_float("low", self.low, 0.0)
        check_float("high", self.high, self.low)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, size)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Exponential(Latency):
    scale: float  # the mean

    def __post_init__(self) -> None:
        check_float("scale", self.scale, 0.0, low_open=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.scale, size)

    @property
    def mean(self) -> float:
        return float(self.scale)


@dataclass(frozen=True)
class LogNormal(Latency):
    """``exp(N(mu, sigma^2))`` ms."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        check_float("mu", self.mu)
        check_float("sigma", self.sigma, 0.0)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, size)

    @property
    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


@dataclass(frozen=True)
class Pareto(Latency):
    """Pareto (type I) with minimum ``xm`` and shape ``alpha``: ``P(X > x) = (xm/x)^alpha``."""

    xm: float
    alpha: float

    def __post_init__(self) -> None:
        check_float("xm", self.xm, 0.0, low_open=True)
        check_float("alpha", self.alpha, 0.0, low_open=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.xm * (1.0 + rng.pareto(self.alpha, size))

    @property
    def mean(self) -> float:
        return math.inf if self.alpha <= 1 else self.alpha * self.xm / (self.alpha - 1)


@dataclass(frozen=True)
class Empirical(Latency):
    """Resample (with replacement) from observed delays."""

    samples: tuple[float, ...]

    def __init__(self, samples: Iterable[float]) -> None:
        values = tuple(float(s) for s in samples)
        if not values:
            raise ValueError("`samples` must hold at least one delay; got an empty sequence.")
        if any(not math.isfinite(v) or v < 0 for v in values):
            raise ValueError("`samples` must be finite delays >= 0.")
        object.__setattr__(self, "samples", values)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.choice(np.asarray(self.samples), size)

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))


@dataclass(frozen=True)
class Shifted(Latency):
    base: Latency
    shift: float

    def __post_init__(self) -> None:
        check_float("shift", self.shift, 0.0)
        if not isinstance(self.base, Latency):
            raise TypeError(f"`base` must be a Latency; got {describe(self.base)}.")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.base.sample(rng, size) + self.shift

    @property
    def mean(self) -> float:
        return self.base.mean + self.shift


def as_latency(spec: Latency | float | Sequence[float], name: str = "latency") -> Latency:
    """A :class:`Latency` from a distribution, a constant, or a ``(low, high)`` uniform pair."""
    if isinstance(spec, Latency):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(check_float(name, spec, 0.0))
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        lo = check_float(f"{name}[0]", spec[0], 0.0)
        hi = check_float(f"{name}[1]", spec[1], 0.0)
        if hi < lo:
            raise ValueError(f"`{name}` must satisfy low <= high; got {tuple(spec)}.")
        return Uniform(lo, hi)
    raise TypeError(
        f"`{name}` must be a Latency, a number of ms, or a (low, high) pair; got {describe(spec)}."
    )


@dataclass(frozen=True)
class Link:
    """Settings for one directed link; ``None`` fields fall back to the network defaults."""

    latency: Latency | None = None
    loss: float | None = None
    duplicate: float | None = None

    def __post_init__(self) -> None:
        if self.latency is not None:
            object.__setattr__(self, "latency", as_latency(self.latency))
        if self.loss is not None:
            check_probability("loss", self.loss)
        if self.duplicate is not None:
            check_probability("duplicate", self.duplicate)


class _Sampler:
    """Draws delays from ``dist`` in blocks of :data:`BLOCK`, consumed in order."""

    __slots__ = ("dist", "rng", "buf", "i")

    def __init__(self, dist: Latency, rng: np.random.Generator) -> None:
        self.dist = dist
        self.rng = rng
        self.buf: list[float] = []
        self.i = 0

    def __call__(self) -> float:
        i = self.i
        if i >= len(self.buf):
            self.buf = self.dist.sample(self.rng, BLOCK).tolist()
            i = 0
        self.i = i + 1
        return self.buf[i]
