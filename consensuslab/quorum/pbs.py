"""Probabilistically Bounded Staleness (Bailis et al., VLDB 2012): how stale are partial quorums?

Theory of operation
-------------------
*k-staleness (closed form).* With ``N`` replicas, a write waits for ``W`` acks and a read
for ``R`` replies. If quorums are chosen uniformly at random, a read quorum misses the last
write quorum with probability ``C(N - W, R) / C(N, R)`` (paper §3.1, Eq. 1) — zero when
``R + W > N`` (strict quorums). The read returns a value no older than ``k`` versions unless
it misses each of the last ``k`` independent write quorums:
``p_sk = 1 - (C(N - W, R) / C(N, R)) ** k`` (Eq. 2).

*t-visibility: the WARS model (§4).* Real stores send every write and read to all ``N``
replicas and wait for the fastest ``W`` / ``R`` responses, so staleness is a race of
message delays. Per replica ``i``: the write reaches it after ``W_i``, its ack returns after
``A_i``; a read request reaches it after ``R_i`` and the reply returns after ``S_i``. The
write commits at ``w_t`` = the ``W``-th smallest ``W_i + A_i``. A read issued ``t`` ms after
commit reaches replica ``i`` at ``w_t + t + R_i``; it is consistent iff one of the ``R``
replicas that answer first (smallest ``R_i + S_i``) already had the write:
``W_i <= w_t + t + R_i``. Per trial we compute the smallest ``t`` that makes the read
consistent, ``min_i (W_i - w_t - R_i)`` over the first ``R`` responders; P(consistent at
``t``) is then the empirical CDF of those thresholds at ``t``, so one vectorized Monte Carlo
run answers every ``t`` at once (1,000,000 trials take well under a second).

*Latency profiles (§5.1, Table 3).* Fits of production latencies as mixtures of Pareto and
exponential distributions (milliseconds):

============  ==============================================================================
LNKD-SSD      W = A = R = S: 91.22% Pareto(xm=.235, a=10), 8.78% Exponential(rate=1.66)
LNKD-DISK     W: 38% Pareto(xm=1.05, a=1.51), 62% Exponential(rate=.183); A = R = S: LNKD-SSD
YMMR          W: 93.9% Pareto(xm=3, a=3.35 [3.5 in the authors' code]), 6.1% Exponential(rate=.0028);
              A = R = S: 98.2% Pareto(xm=1.5, a=3.8), 1.8% Exponential(rate=.0217)
WAN           LNKD-DISK delays, and each operation's coordinator sits in a random datacenter
              holding one replica; messages to/from the other ``N - 1`` replicas take an extra
              75 ms each way (§5.1)
============  ==============================================================================

The YMMR write shape is 3.35 in the paper's Table 3, but the authors' code — which produced
the paper's figures — uses 3.5; ``PROFILES["YMMR"]`` uses 3.5 because it reproduces the
published 89.3% (3.35 gives about 88.7%); :func:`ymmr_profile` builds either. Every profile exposes its per-message delay distributions
(``profile.sample(kind, rng, size)`` for ``kind`` in ``"W", "A", "R", "S"``) so other
simulators can reuse them; user profiles are built from the simulator's delay distributions
(:mod:`consensuslab.sim.network`: ``Pareto``, ``Exponential.from_rate``, ``Mixture``,
``Constant``, ``Shifted``, ``Empirical``, ...), which this module re-exports — one family
of distributions serves the PBS model and the network simulator alike.

References
----------
P. Bailis, S. Venkataraman, M. J. Franklin, J. M. Hellerstein, I. Stoica. "Probabilistically
Bounded Staleness for Practical Partial Quorums." PVLDB 5(8), 2012. §3 (Eq. 1-2), §4 (WARS),
§5.1 (Table 3), §5.2 (Figure 6 and text: 97.4%, 43.9%/92.5% at 10 ms, 89.3%, 33%).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from consensuslab._validate import check_choice, check_float, check_int, describe
from consensuslab.sim.network import Constant, Empirical, Exponential, Latency, Mixture, Pareto, Shifted

__all__ = [
    "Latency",
    "Pareto",
    "Exponential",
    "Constant",
    "Shifted",
    "Mixture",
    "Empirical",
    "LatencyProfile",
    "PROFILES",
    "ymmr_profile",
    "p_nonintersect",
    "p_stale_within_k",
    "p_older_than_k",
    "wars",
    "wars_trials",
    "wars_curve",
]

KINDS = ("W", "A", "R", "S")


# -- profiles ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyProfile:
    """The four WARS one-way delay distributions of a deployment.

    Attributes
    ----------
    name : str
        Profile name.
    W, A, R, S : Latency
        Write request, write ack, read request, read response delays (ms).
    remote_delay : float
        Extra one-way delay (ms) for messages between an operation's coordinator and the
        ``N - 1`` replicas outside its datacenter (WAN); 0 for single-datacenter profiles.
        :meth:`sample` returns the *local* delays; :meth:`sample_trials` applies the
        datacenter layout.
    source : str
        Provenance.
    """

    name: str
    W: Latency
    A: Latency
    R: Latency
    S: Latency
    remote_delay: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        for kind in KINDS:
            if not isinstance(getattr(self, kind), Latency):
                raise TypeError(f"`{kind}` must be a Latency; got {describe(getattr(self, kind))}.")
        check_float("remote_delay", self.remote_delay, 0.0)

    def distribution(self, kind: str) -> Latency:
        """The distribution of message kind ``"W"``, ``"A"``, ``"R"`` or ``"S"``."""
        check_choice("kind", kind, KINDS)
        return getattr(self, kind)

    def sample(self, kind: str, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """Draw ``size`` one-way delays of message kind ``kind`` (ms), vectorized.

        Examples
        --------
        >>> rng = np.random.default_rng(1)
        >>> PROFILES["LNKD-SSD"].sample("W", rng, 4).shape
        (4,)
        """
        return self.distribution(kind).sample(rng, size)

    def sample_trials(self, rng: np.random.Generator, trials: int, n: int) -> dict[str, np.ndarray]:
        """Per-trial, per-replica delays ``{"W","A","R","S": (trials, n)}`` including WAN hops."""
        out = {kind: self.sample(kind, rng, (trials, n)) for kind in KINDS}
        if self.remote_delay > 0:
            cols = np.arange(n)
            writer = rng.integers(0, n, size=trials)[:, None]
            reader = rng.integers(0, n, size=trials)[:, None]
            w_remote = (cols != writer) * self.remote_delay
            r_remote = (cols != reader) * self.remote_delay
            out["W"] += w_remote
            out["A"] += w_remote
            out["R"] += r_remote
            out["S"] += r_remote
        return out


def _lnkd_ssd() -> Latency:
    return Mixture(((0.9122, Pareto(0.235, 10.0)), (0.0878, Exponential.from_rate(1.66))))


def ymmr_profile(write_shape: float = 3.5) -> LatencyProfile:
    """The Yammer (Riak) profile; ``write_shape`` is the Pareto shape of W.

    Table 3 of the paper prints 3.35; the authors' code (and so the published figures) used
    3.5. With 3.5 this model reproduces the paper's 89.3% consistent reads at ``t = 0``
    (``N=3, R=W=1``); with 3.35 it gives about 88.7%. ``PROFILES["YMMR"]`` uses 3.5.
    """
    ars = Mixture(((0.982, Pareto(1.5, 3.8)), (0.018, Exponential.from_rate(0.0217))))
    return LatencyProfile(
        "YMMR",
        W=Mixture(((0.939, Pareto(3.0, write_shape)), (0.061, Exponential.from_rate(0.0028)))),
        A=ars,
        R=ars,
        S=ars,
        source=f"Bailis et al. VLDB 2012, Table 3 (W Pareto shape {write_shape})",
    )


_SSD = _lnkd_ssd()
_DISK_W = Mixture(((0.38, Pareto(1.05, 1.51)), (0.62, Exponential.from_rate(0.183))))

#: The paper's fitted production profiles (Bailis et al. 2012, Table 3), by name.
PROFILES: dict[str, LatencyProfile] = {
    "LNKD-SSD": LatencyProfile("LNKD-SSD", _SSD, _SSD, _SSD, _SSD, source="Bailis et al. VLDB 2012, Table 3"),
    "LNKD-DISK": LatencyProfile("LNKD-DISK", _DISK_W, _SSD, _SSD, _SSD, source="Bailis et al. VLDB 2012, Table 3"),
    "YMMR": ymmr_profile(3.5),
    "WAN": LatencyProfile(
        "WAN", _DISK_W, _SSD, _SSD, _SSD, remote_delay=75.0, source="Bailis et al. VLDB 2012, §5.1 (LNKD-DISK + 75 ms)"
    ),
}


def _profile(profile: LatencyProfile | str) -> LatencyProfile:
    if isinstance(profile, str):
        check_choice("profile", profile, PROFILES)
        return PROFILES[profile]
    if not isinstance(profile, LatencyProfile):
        raise TypeError(f"`profile` must be a LatencyProfile or one of {list(PROFILES)}; got {describe(profile)}.")
    return profile


# -- closed forms ------------------------------------------------------------------------
def _nrw(n: int, r: int, w: int) -> tuple[int, int, int]:
    n = check_int("n", n, 1)
    return n, check_int("r", r, 1, n), check_int("w", w, 1, n)


def p_nonintersect(n: int, r: int, w: int) -> float:
    """Probability that a random read quorum of size ``r`` misses a random write quorum of size ``w``.

    ``C(n - w, r) / C(n, r)`` (Bailis et al. 2012, §3.1, Eq. 1); 0 when ``r + w > n``.

    Examples
    --------
    >>> p_nonintersect(3, 1, 1)
    0.6666666666666666
    """
    n, r, w = _nrw(n, r, w)
    return math.comb(n - w, r) / math.comb(n, r)


def p_older_than_k(n: int, r: int, w: int, k: int) -> float:
    """Probability that a read returns a value more than ``k`` versions old: ``p_nonintersect ** k``."""
    k = check_int("k", k, 1)
    return p_nonintersect(n, r, w) ** k


def p_stale_within_k(n: int, r: int, w: int, k: int) -> float:
    """PBS k-staleness: probability that a read returns one of the last ``k`` committed versions.

    ``1 - (C(n - w, r) / C(n, r)) ** k`` (Bailis et al. 2012, §3.2, Eq. 2); ``k = 1`` is the
    probability of reading the latest version.

    Examples
    --------
    >>> round(p_stale_within_k(3, 1, 1, 3), 4)
    0.7037
    """
    return 1.0 - p_older_than_k(n, r, w, k)


# -- WARS Monte Carlo --------------------------------------------------------------------
def _kth_smallest(a: np.ndarray, k: int) -> np.ndarray:
    return np.partition(a, k - 1, axis=1)[:, k - 1]


def wars_trials(
    n: int,
    r: int,
    w: int,
    profile: LatencyProfile | str,
    trials: int = 100_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Run ``trials`` independent WARS write+read races.

    Returns
    -------
    pandas.DataFrame
        One row per trial: ``t_consistent`` (smallest time after commit, ms, at which the
        read would be consistent; <= 0 means consistent immediately), ``write_latency`` and
        ``read_latency`` (ms).
    """
    n, r, w = _nrw(n, r, w)
    prof = _profile(profile)
    trials = check_int("trials", trials, 1)
    seed = check_int("seed", seed, 0)
    rng = np.random.default_rng(seed)
    chunk = max(1, (1 << 21) // n)
    parts = []
    for start in range(0, trials, chunk):
        m = min(chunk, trials - start)
        d = prof.sample_trials(rng, m, n)
        wa = d["W"] + d["A"]
        rs = d["R"] + d["S"]
        commit = _kth_smallest(wa, w)
        slack = d["W"] - d["R"] - commit[:, None]
        if r == n:
            need = slack.min(axis=1)
            read_lat = rs.max(axis=1)
        elif r == 1:
            first = np.argmin(rs, axis=1)
            need = np.take_along_axis(slack, first[:, None], axis=1)[:, 0]
            read_lat = np.take_along_axis(rs, first[:, None], axis=1)[:, 0]
        else:
            order = np.argpartition(rs, r - 1, axis=1)[:, :r]
            need = np.take_along_axis(slack, order, axis=1).min(axis=1)
            read_lat = np.take_along_axis(rs, order, axis=1).max(axis=1)
        parts.append(pd.DataFrame({"t_consistent": need, "write_latency": commit, "read_latency": read_lat}))
    return pd.concat(parts, ignore_index=True)


def _times(t: object) -> tuple[np.ndarray, bool]:
    if isinstance(t, numbers.Real) and not isinstance(t, bool):
        return np.array([check_float("t", t, 0.0)]), True
    arr = np.asarray(t, dtype=float)
    if arr.ndim == 0:
        return np.array([check_float("t", float(arr), 0.0)]), True
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"`t` must be a time >= 0 (ms) or a 1-D array of them; got {describe(t)}.")
    return arr, False


def wars(
    n: int,
    r: int,
    w: int,
    profile: LatencyProfile | str,
    t: object = 0.0,
    trials: int = 1_000_000,
    seed: int = 0,
    k: int = 1,
) -> float | np.ndarray:
    """Probability of a consistent read ``t`` ms after a write commits (PBS t-visibility).

    Parameters
    ----------
    n, r, w : int
        Replicas, read quorum size, write quorum size (``1 <= r, w <= n``).
    profile : LatencyProfile or str
        A profile or the name of one of :data:`PROFILES`.
    t : float or array_like
        Time(s) after commit, ms (>= 0).
    trials : int
        Monte Carlo trials (one write and one read each).
    seed : int
        Seed of the ``numpy.random.Generator``.
    k : int
        Tolerated versions of staleness; ``k > 1`` uses the paper's conservative
        independence approximation ``1 - (1 - p) ** k``.

    Returns
    -------
    float or numpy.ndarray
        A float for scalar ``t``, else one probability per time.

    Examples
    --------
    >>> round(float(wars(3, 2, 2, "LNKD-DISK", t=0.0, trials=10_000, seed=1)), 3)
    1.0
    """
    times, scalar = _times(t)
    k = check_int("k", k, 1)
    need = np.sort(wars_trials(n, r, w, profile, trials, seed)["t_consistent"].to_numpy())
    p = np.searchsorted(need, times, side="right") / len(need)
    if k > 1:
        p = 1.0 - (1.0 - p) ** k
    return float(p[0]) if scalar else p


def wars_curve(
    n: int,
    r: int,
    w: int,
    profiles: Sequence[str | LatencyProfile] | None = None,
    t: Sequence[float] | np.ndarray | None = None,
    trials: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Tidy table of P(consistent read) vs time after commit for several profiles.

    Returns
    -------
    pandas.DataFrame
        Columns ``profile``, ``t`` (ms), ``p_consistent``.
    """
    profs = [_profile(p) for p in (profiles if profiles is not None else list(PROFILES))]
    times = np.asarray(t if t is not None else np.linspace(0.0, 100.0, 201), dtype=float)
    frames = []
    for i, prof in enumerate(profs):
        p = wars(n, r, w, prof, times, trials=trials, seed=seed + i)
        frames.append(pd.DataFrame({"profile": prof.name, "t": times, "p_consistent": np.atleast_1d(p)}))
    return pd.concat(frames, ignore_index=True)

