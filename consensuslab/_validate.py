"""Parameter validation with one message shape.

Every public entry point validates its arguments with these helpers so that errors read
alike (scikit-learn's ``validate_params`` style)::

    ValueError: `vnodes` must be an int >= 1; got 0.
    TypeError: `seed` must be an int; got 'a' (str).

``ValueError`` is for a value out of range, ``TypeError`` for a value of the wrong type.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "check_int",
    "check_float",
    "check_probability",
    "check_choice",
    "check_range_pair",
    "check_size",
    "describe",
]


def describe(value: Any) -> str:
    """Render a received value for an error message: its repr and, for odd types, the type."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    if isinstance(value, (bool, int, float, str)) and not isinstance(value, bool):
        return text
    return f"{text} ({type(value).__name__})"


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high}")
    return " and ".join(parts)


def check_int(
    name: str,
    value: Any,
    low: int | None = None,
    high: int | None = None,
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        rng = _bounds(low, high, False, False)
        raise TypeError(f"`{name}` must be an int{' ' + rng if rng else ''}; got {describe(value)}.")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"`{name}` must be an int {_bounds(low, high, False, False)}; got {value}.")
    return value


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` within the bounds; raise a clear error otherwise."""
    rng = _bounds(low, high, low_open, high_open)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number{' ' + rng if rng else ''}; got {describe(value)}.")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be a finite number{' ' + rng if rng else ''}; got {value}.")
    bad = (
        (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high))
    )
    if bad:
        raise ValueError(f"`{name}` must be a number {rng}; got {value}.")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``value`` must be a bool (``"no"``, ``1`` or ``None`` are not)."""
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool; got {describe(value)}.")
    return value


def check_probability(name: str, value: Any) -> float:
    """A probability in ``[0, 1]``."""
    return check_float(name, value, 0.0, 1.0)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` must be one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {choices}; got {describe(value)}.")
    return value


def check_range_pair(
    name: str, value: Any, low: float = 0.0, *, strict_order: bool = False
) -> tuple[float, float]:
    """A ``(lo, hi)`` pair of numbers with ``low <= lo <= hi`` (``lo < hi`` if ``strict_order``)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"`{name}` must be a (low, high) pair of numbers; got {describe(value)}.")
    lo = check_float(f"{name}[0]", value[0], low)
    hi = check_float(f"{name}[1]", value[1], low)
    if hi < lo or (strict_order and hi == lo):
        op = "<" if strict_order else "<="
        raise ValueError(f"`{name}` must satisfy low {op} high; got {tuple(value)}.")
    return lo, hi


def check_size(name: str, size: float, limit: int, unit: str, how: str = "") -> int:
    """A size derived from parameters (``size`` ``unit``) must be at most ``limit``; raise otherwise.

    Used where parameters multiply into a table or a loop too large to build: the check runs
    before anything is allocated, and the message states the size, the limit and (``how``)
    how the size follows from the parameters::

        ValueError: `weights` must give at most 16777216 ring points (round(vnodes * weight)
        summed over nodes, vnodes=160); got 160000000160.

    ``size`` may be a float (``inf`` when the product overflows); the return value is ``int(size)``.
    """
    if not size <= limit:  # also catches nan
        if isinstance(size, numbers.Integral):
            got = str(int(size))
        else:
            got = str(int(size)) if math.isfinite(size) else f"{size} (the product overflows a float)"
        raise ValueError(f"`{name}` must give at most {limit} {unit}{' (' + how + ')' if how else ''}; got {got}.")
    return int(size)
