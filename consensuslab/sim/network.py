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
:class:`LogNormal`, :class:`Pareto`, :class:`Empirical`, :class:`Mixture`, each optionally
``shifted`` by a constant (``Exponential(10).shifted(5)``). They are the one family of delay
distributions in the project: the PBS model (:mod:`consensuslab.quorum.pbs`) builds its
published latency profiles from them, so the simulator can use exactly the same delays. :func:`as_latency` accepts shorthands:
a number (constant), a ``(low, high)`` pair (uniform) or a distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

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
    "Mixture",
    "as_latency",
    "Link",
    "BLOCK",
]

BLOCK = 4096


class Latency:
    """A distribution of one-way message delays in milliseconds.

    Every distribution is sampled by inversion, ``ppf(U)`` with ``U`` uniform on [0, 1): one
    uniform per delay, so two distributions fed the same uniforms are coupled (common random
    numbers — what the PBS Monte Carlo and the simulator's block sampling rely on).
    """

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Quantile function at ``u`` in [0, 1)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """``size`` independent delays drawn with ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"`rng` must be a numpy.random.Generator; got {describe(rng)}.")
        return self.ppf(rng.random(size))

    @property
    def mean(self) -> float:  # pragma: no cover - interface
        """Expected delay (``inf`` for a heavy tail without a mean)."""
        raise NotImplementedError

    def shifted(self, shift: float) -> "Shifted":
        """This distribution plus a constant ``shift`` >= 0 (a minimum delay)."""
        return Shifted(self, shift)


@dataclass(frozen=True)
class Constant(Latency):
    value: float

    def __post_init__(self) -> None:
        check_float("value", self.value, 0.0)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), float(self.value))

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

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Exponential(Latency):
    """Exponential with mean ``scale`` (use :meth:`from_rate` for a rate ``lambda``)."""

    scale: float

    def __post_init__(self) -> None:
        check_float("scale", self.scale, 0.0, low_open=True)

    @classmethod
    def from_rate(cls, rate: float) -> "Exponential":
        """The exponential with rate ``rate`` (mean ``1 / rate``), as the PBS paper states them."""
        return cls(1.0 / check_float("rate", rate, 0.0, low_open=True))

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.scale * np.log1p(-np.asarray(u, dtype=float))

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

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.mu + self.sigma * ndtri(np.asarray(u, dtype=float)))

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

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.xm * np.power(1.0 - np.asarray(u, dtype=float), -1.0 / self.alpha)

    @property
    def mean(self) -> float:
        return math.inf if self.alpha <= 1 else self.alpha * self.xm / (self.alpha - 1)


@dataclass(frozen=True, eq=False)
class Empirical(Latency):
    """Resample (with replacement) measured delays."""

    samples: np.ndarray

    def __post_init__(self) -> None:
        arr = np.sort(np.asarray(self.samples, dtype=float).ravel())
        if arr.size == 0:
            raise ValueError("`samples` must hold at least one delay; got an empty sequence.")
        if not np.all(np.isfinite(arr)) or arr[0] < 0:
            raise ValueError("`samples` must be finite delays >= 0.")
        arr.flags.writeable = False
        object.__setattr__(self, "samples", arr)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        n = len(self.samples)
        return self.samples[np.minimum((np.asarray(u) * n).astype(np.int64), n - 1)]

    @property
    def mean(self) -> float:
        return float(self.samples.mean())


@dataclass(frozen=True)
class Shifted(Latency):
    """``base`` plus a constant ``shift`` (a minimum delay, or a WAN hop)."""

    base: Latency
    shift: float

    def __post_init__(self) -> None:
        check_float("shift", self.shift, 0.0)
        if not isinstance(self.base, Latency):
            raise TypeError(f"`base` must be a Latency; got {describe(self.base)}.")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.base.ppf(u) + self.shift

    @property
    def mean(self) -> float:
        return self.base.mean + self.shift


@dataclass(frozen=True)
class Mixture(Latency):
    """A finite mixture: ``components`` is a sequence of ``(weight, Latency)``; weights sum to 1.

    Sampled by inversion too: the uniform picks the component by the cumulative weights and is
    rescaled into that component's quantile function.
    """

    components: tuple[tuple[float, Latency], ...]

    def __post_init__(self) -> None:
        comps = tuple((float(w), d) for w, d in self.components)
        if not comps:
            raise ValueError("`components` must hold at least 1 (weight, distribution) pair; got 0.")
        for i, (w, d) in enumerate(comps):
            check_float(f"components[{i}] weight", w, 0.0, 1.0)
            if not isinstance(d, Latency):
                raise TypeError(f"`components[{i}]` must pair a weight with a Latency; got {describe(d)}.")
        total = sum(w for w, _ in comps)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"`components` weights must sum to 1; got {total}.")
        object.__setattr__(self, "components", comps)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        comps = [(w, d) for w, d in self.components if w > 0]
        if len(comps) == 1:
            return comps[0][1].ppf(u)
        lower = np.concatenate([[0.0], np.cumsum([w for w, _ in comps])[:-1]])
        which = np.searchsorted(lower, u, side="right") - 1
        top = np.nextafter(1.0, 0.0)
        out = np.empty_like(u)
        for j, (w, dist) in enumerate(comps):
            mask = which == j
            out[mask] = dist.ppf(np.minimum((u[mask] - lower[j]) / w, top))
        return out

    @property
    def mean(self) -> float:
        return float(sum(w * d.mean for w, d in self.components if w > 0))


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
