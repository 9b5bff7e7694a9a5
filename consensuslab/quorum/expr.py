"""Boolean expressions over named nodes: the general way to write down a quorum system.

Theory of operation
-------------------
A (monotone) quorum system over nodes ``X`` is fully described by a monotone boolean
formula: a set of live nodes contains a quorum iff the formula is true when each node's
variable is "alive". ``(a & b) | (c & d)`` has the two minimal quorums ``{a, b}`` and
``{c, d}``; ``choose(2, a, b, c)`` is "any two of a, b, c" (a majority of three).

Expressions are small trees (:class:`Node`, :class:`And`, :class:`Or`, :class:`Choose`).
They are evaluated *vectorized*: :meth:`Expr.evaluate` takes a 2-D boolean array of node
states (one row per state, one column per node) and returns one boolean per row, so all
``2**n`` failure patterns of a 20-node system are checked in one pass of numpy.

The **dual** of an expression swaps ``&`` and ``|`` (and ``choose(k, ...)`` of ``m``
children becomes ``choose(m - k + 1, ...)``). The dual's quorums are exactly the minimal
sets that intersect every quorum of the original: the optimal write quorums for a given
set of read quorums (this is how ``quoracle`` builds write quorums from read quorums).

:func:`parse` reads the text form: names (``[A-Za-z_][A-Za-z0-9_.-]*`` or integers),
``&``/``*`` for AND, ``|``/``+`` for OR, parentheses, and ``choose(k, e1, e2, ...)``.
AND binds tighter than OR.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Expr", "Node", "And", "Or", "Choose", "choose", "parse", "minimize"]

NodeName = Hashable


def minimize(sets: Iterable[frozenset]) -> list[frozenset]:
    """Drop every set that is a proper superset of another; return the minimal ones, sorted.

    Parameters
    ----------
    sets : iterable of frozenset
        Candidate quorums.

    Returns
    -------
    list of frozenset
        The inclusion-minimal sets, deduplicated, ordered by size then by sorted members.
    """
    unique = sorted(set(sets), key=lambda s: (len(s), sorted(map(str, s))))
    kept: list[frozenset] = []
    for s in unique:
        if not any(k <= s for k in kept):
            kept.append(s)
    return kept


class Expr:
    """A monotone boolean formula over node names. Combine with ``&``/``*`` and ``|``/``+``."""

    def __and__(self, other: Expr) -> Expr:
        return And((self, _as_expr(other)))

    __mul__ = __and__

    def __or__(self, other: Expr) -> Expr:
        return Or((self, _as_expr(other)))

    __add__ = __or__

    # -- interface -----------------------------------------------------------------------
    def names(self) -> tuple[NodeName, ...]:
        """Node names in order of first appearance."""
        seen: dict[NodeName, None] = {}
        self._collect(seen)
        return tuple(seen)

    def _collect(self, seen: dict[NodeName, None]) -> None:
        raise NotImplementedError

    def evaluate(self, states: np.ndarray, index: Mapping[NodeName, int]) -> np.ndarray:
        """Vectorized truth value: ``states`` is ``(m, n)`` bool; returns ``(m,)`` bool."""
        raise NotImplementedError

    def dual(self) -> Expr:
        """The dual formula (swap AND/OR): its quorums are the minimal transversals."""
        raise NotImplementedError

    def dnf(self, limit: int = 200_000) -> list[frozenset]:
        """Minimal quorums (sets of names), by expanding to disjunctive normal form.

        Raises
        ------
        ValueError
            If an intermediate expansion exceeds ``limit`` terms.
        """
        raise NotImplementedError


def _as_expr(value: object) -> Expr:
    if isinstance(value, Expr):
        return value
    raise TypeError(f"`other` must be a quorum expression; got {value!r} ({type(value).__name__}).")


def _check_size(terms: list[frozenset], limit: int) -> list[frozenset]:
    if len(terms) > limit:
        raise ValueError(
            f"`limit` must be >= the number of quorums in the expansion; got {limit} "
            f"(the expansion has more than {limit} terms)."
        )
    return terms


@dataclass(frozen=True)
class Node(Expr):
    """A single node (leaf). ``Node('a')`` is true iff node ``a`` is alive."""

    name: NodeName

    def _collect(self, seen: dict[NodeName, None]) -> None:
        seen.setdefault(self.name, None)

    def evaluate(self, states: np.ndarray, index: Mapping[NodeName, int]) -> np.ndarray:
        return states[:, index[self.name]]

    def dual(self) -> Expr:
        return self

    def dnf(self, limit: int = 200_000) -> list[frozenset]:
        return [frozenset([self.name])]

    def __str__(self) -> str:
        return str(self.name)


@dataclass(frozen=True)
class _Nary(Expr):
    """An operator over children; nested operators of the same kind are flattened."""

    children: tuple[Expr, ...]

    def __post_init__(self) -> None:
        flat: list[Expr] = []
        for c in self.children:
            flat.extend(c.children if type(c) is type(self) else (c,))
        object.__setattr__(self, "children", tuple(flat))

    def _collect(self, seen: dict[NodeName, None]) -> None:
        for c in self.children:
            c._collect(seen)


@dataclass(frozen=True)
class And(_Nary):
    """All children true."""

    def evaluate(self, states: np.ndarray, index: Mapping[NodeName, int]) -> np.ndarray:
        out = self.children[0].evaluate(states, index).copy()
        for c in self.children[1:]:
            out &= c.evaluate(states, index)
        return out

    def dual(self) -> Expr:
        return Or(tuple(c.dual() for c in self.children))

    def dnf(self, limit: int = 200_000) -> list[frozenset]:
        terms: list[frozenset] = [frozenset()]
        for c in self.children:
            sub = c.dnf(limit)
            terms = minimize(_check_size([a | b for a in terms for b in sub], limit))
        return terms

    def __str__(self) -> str:
        return "(" + " & ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Or(_Nary):
    """Any child true."""

    def evaluate(self, states: np.ndarray, index: Mapping[NodeName, int]) -> np.ndarray:
        out = self.children[0].evaluate(states, index).copy()
        for c in self.children[1:]:
            out |= c.evaluate(states, index)
        return out

    def dual(self) -> Expr:
        return And(tuple(c.dual() for c in self.children))

    def dnf(self, limit: int = 200_000) -> list[frozenset]:
        terms: list[frozenset] = []
        for c in self.children:
            terms.extend(c.dnf(limit))
            _check_size(terms, limit)
        return minimize(terms)

    def __str__(self) -> str:
        return "(" + " | ".join(map(str, self.children)) + ")"


@dataclass(frozen=True)
class Choose(Expr):
    """At least ``k`` of the children true (``choose(2, a, b, c)`` = majority of three)."""

    k: int
    children: tuple[Expr, ...]

    def __post_init__(self) -> None:
        from consensuslab._validate import check_int

        if len(self.children) < 1:
            raise ValueError("`children` must hold at least 1 expression; got 0.")
        check_int("k", self.k, 1, len(self.children))

    def _collect(self, seen: dict[NodeName, None]) -> None:
        for c in self.children:
            c._collect(seen)

    def evaluate(self, states: np.ndarray, index: Mapping[NodeName, int]) -> np.ndarray:
        count = np.zeros(states.shape[0], dtype=np.int32)
        for c in self.children:
            count += c.evaluate(states, index)
        return count >= self.k

    def dual(self) -> Expr:
        return Choose(len(self.children) - self.k + 1, tuple(c.dual() for c in self.children))

    def dnf(self, limit: int = 200_000) -> list[frozenset]:
        subs = [c.dnf(limit) for c in self.children]
        terms: list[frozenset] = []
        for combo in itertools.combinations(range(len(subs)), self.k):
            part: list[frozenset] = [frozenset()]
            for i in combo:
                part = [a | b for a in part for b in subs[i]]
                _check_size(part, limit)
            terms.extend(part)
            _check_size(terms, limit)
        return minimize(terms)

    def __str__(self) -> str:
        return f"choose({self.k}, " + ", ".join(map(str, self.children)) + ")"


def choose(k: int, *children: Expr | Sequence[Expr]) -> Choose:
    """``choose(k, a, b, c)`` or ``choose(k, [a, b, c])``: at least ``k`` children true."""
    if len(children) == 1 and isinstance(children[0], (list, tuple)):
        children = tuple(children[0])
    return Choose(k, tuple(_as_expr(c) for c in children))


# -- parser ------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*|\d+)|(?P<op>[&*|+(),]))")


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"`text` must be a quorum expression; unexpected character at {pos}: {text[pos:pos + 10]!r}.")
        tokens.append(m.group("name") or m.group("op"))
        pos = m.end()
    return tokens


def parse(text: str, nodes: Iterable[NodeName] | None = None) -> Expr:
    """Parse ``"(a & b) | (c & d)"`` (also ``*``/``+`` and ``choose(k, ...)``) into an :class:`Expr`.

    Parameters
    ----------
    text : str
        The expression. Names are identifiers or non-negative integers (integers become
        ``int`` node names, so ``"0 & 1"`` refers to nodes ``0`` and ``1``).
    nodes : iterable, optional
        The allowed node names. A name not in ``nodes`` is an error.

    Returns
    -------
    Expr

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    ValueError
        On a syntax error, an empty expression, or an unknown node name.

    Examples
    --------
    >>> str(parse("(a & b) | (c & d)"))
    '((a & b) | (c & d))'
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str; got {text!r} ({type(text).__name__}).")
    tokens = _tokenize(text)
    if not tokens:
        raise ValueError("`text` must be a non-empty quorum expression; got ''.")
    allowed = None if nodes is None else set(nodes)
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: str | None = None) -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise ValueError(f"`text` ended early: expected {expected or 'more input'} in {text!r}.")
        tok = tokens[pos]
        if expected is not None and tok != expected:
            raise ValueError(f"`text` has {tok!r} where {expected!r} was expected in {text!r}.")
        pos += 1
        return tok

    def parse_or() -> Expr:
        terms = [parse_and()]
        while peek() in ("|", "+"):
            take()
            terms.append(parse_and())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def parse_and() -> Expr:
        terms = [parse_atom()]
        while peek() in ("&", "*"):
            take()
            terms.append(parse_atom())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def parse_atom() -> Expr:
        tok = take()
        if tok == "(":
            e = parse_or()
            take(")")
            return e
        if tok == "choose" and peek() == "(":
            take("(")
            k_tok = take()
            if not k_tok.isdigit():
                raise ValueError(f"`text`: choose() needs an integer k first; got {k_tok!r}.")
            children: list[Expr] = []
            while peek() == ",":
                take(",")
                children.append(parse_or())
            take(")")
            return Choose(int(k_tok), tuple(children))
        if tok in "&*|+(),":
            raise ValueError(f"`text` has {tok!r} where a node name was expected in {text!r}.")
        name: NodeName = int(tok) if tok.isdigit() else tok
        if allowed is not None and name not in allowed:
            raise ValueError(f"`text` names node {name!r}, which is not one of the nodes {sorted(map(str, allowed))}.")
        return Node(name)

    result = parse_or()
    if pos != len(tokens):
        raise ValueError(f"`text` has unexpected {tokens[pos]!r} at token {pos} in {text!r}.")
    return result
