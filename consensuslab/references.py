"""Published numbers and how ours compare with them: the pure core of the reproduction report.

Theory of operation
-------------------
``data/reference/*.csv`` hold the published numbers the project reproduces, one row each:
``id, quantity, reference, tolerance, tolerance_kind, unit, source`` and an optional ``kind``.
:func:`load_references` reads and validates them. An experiment's ``Result.measured`` maps some
of those ids to our values, and ``Result.estimates`` adds, for a value computed from a sample,
its sample size and 95% interval (:class:`consensuslab.stats.Estimate`). :func:`compare` joins
the two and judges every row. Notebooks import this module to put a number beside its
published value; it imports neither the job runner nor the renderer.

Two kinds of rows
    ``reproduction`` (the default): a published *measurement* — a figure, a table entry, a
    simulation result — that we measure again. ``check``: an analytic identity (a closed form,
    a message count, a strictness or cap check) that a correct implementation must hit exactly.
    The report lists them in separate sections and its headline counts reproductions only.

The tolerance band
    A row's band is ``[reference - t, reference + t]`` with ``t = tolerance`` (``abs``) or
    ``t = tolerance * |reference|`` (``rel``).

Judging a row (the rule the report states)
    * With an interval ``[low, high]`` (a sampled value): *within tolerance* when the interval
      and the band overlap, i.e. ``low <= reference + t`` and ``high >= reference - t``: the
      published value is not rejected by our data at the stated tolerance. The point value
      alone may lie outside the band when the interval is wide; the report shows both.
    * Without an interval (an exact value): when ``|ours - reference| <= t``
      (:func:`within_tolerance`).
    * Quick mode: a value whose statistic depends on the sample size — a maximum, a minimum, a
      tail quantile with fewer than 10 points beyond it (:attr:`Estimate.size_dependent`) —
      cannot be compared with a value published for a larger sample. Such rows are marked
      ``"not comparable in quick mode"``, never ``"out of tolerance"``.

Row statuses
    ``"ok"``, ``"out of tolerance"``, ``"not comparable in quick mode"``, ``"not measured"``
    (no experiment measured the id), ``"invalid"`` (ours is not a finite number) and
    ``"no reference"`` (an id measured without a reference row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from consensuslab.stats import Estimate

__all__ = [
    "REFERENCE_COLUMNS",
    "ROW_KINDS",
    "STATUSES",
    "COMPARE_COLUMNS",
    "repo_root",
    "references_dir",
    "load_references",
    "tolerance_band",
    "within_tolerance",
    "interval_within",
    "compare",
    "compare_with_paper",
]

#: Columns every ``data/reference/*.csv`` must have (``kind`` is optional).
REFERENCE_COLUMNS: tuple[str, ...] = ("id", "quantity", "reference", "tolerance", "tolerance_kind", "unit", "source")
#: Values of the optional ``kind`` column; a row without one is a reproduction.
ROW_KINDS: tuple[str, ...] = ("reproduction", "check")
#: Every status :func:`compare` gives a row.
STATUSES: tuple[str, ...] = (
    "ok", "out of tolerance", "not comparable in quick mode", "not measured", "invalid", "no reference",
)
#: Columns of :func:`compare`'s table, in order.
COMPARE_COLUMNS: tuple[str, ...] = (
    "id", "kind", "quantity", "unit", "reference", "ours", "ci_low", "ci_high", "n", "n_unit", "statistic",
    "ci_method", "deviation", "rel_deviation", "tolerance", "tolerance_kind", "within", "status", "source",
    "experiment",
)

# a hair of slack so that a value printed equal to the bound counts as within
_SLACK = 1e-12


# --------------------------------------------------------------------------------------------
# locations


def repo_root() -> Path | None:
    """The source checkout this package runs from (has ``pyproject.toml``), else ``None``."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else None


def references_dir() -> Path:
    """``data/reference`` of the source checkout, else ``./data/reference``."""
    root = repo_root()
    if root is not None and (root / "data" / "reference").is_dir():
        return root / "data" / "reference"
    return Path.cwd() / "data" / "reference"


# --------------------------------------------------------------------------------------------
# reading


def load_references(folder: str | Path | None = None) -> pd.DataFrame:
    """Read every ``*.csv`` in ``folder`` into one table of published numbers.

    Parameters
    ----------
    folder : path, optional
        A folder of CSV files with the columns :data:`REFERENCE_COLUMNS` (extra columns kept).
        Default :func:`references_dir`.

    Returns
    -------
    pandas.DataFrame
        The rows of all files, in file then row order, plus ``kind`` (``"reproduction"`` where
        the file has no such column or leaves it empty) and ``file`` (the file name). Empty
        (with the columns) if the folder has no CSV file.

    Raises
    ------
    ValueError
        A file lacks a column, an ``id`` repeats, a value is not numeric, a tolerance is
        negative, a ``tolerance_kind`` is not ``abs``/``rel`` or a ``kind`` is not one of
        :data:`ROW_KINDS`; the message names the file.
    """
    folder = Path(folder) if folder is not None else references_dir()
    frames = []
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, dtype={"id": str, "quantity": str, "unit": str, "source": str, "tolerance_kind": str,
                                      "kind": str})
        missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"reference file {path.name} must have the columns {list(REFERENCE_COLUMNS)}; missing {missing}.")
        for col in ("reference", "tolerance"):
            values = pd.to_numeric(df[col], errors="coerce")
            if values.isna().any():
                bad = df.loc[values.isna(), "id"].tolist()
                raise ValueError(f"reference file {path.name}: `{col}` must be a number; got a non-number for {bad}.")
            df[col] = values.astype(float)
        if (df["tolerance"] < 0).any():
            raise ValueError(f"reference file {path.name}: `tolerance` must be >= 0; got {df['tolerance'].min()}.")
        kinds = df["tolerance_kind"].fillna("").str.strip()
        if not kinds.isin(["abs", "rel"]).all():
            raise ValueError(
                f"reference file {path.name}: `tolerance_kind` must be one of ['abs', 'rel']; "
                f"got {sorted(set(kinds[~kinds.isin(['abs', 'rel'])]))}."
            )
        df["tolerance_kind"] = kinds
        row_kinds = (df["kind"] if "kind" in df.columns else pd.Series([""] * len(df), index=df.index, dtype=str))
        row_kinds = row_kinds.fillna("").str.strip().replace("", "reproduction")
        if not row_kinds.isin(ROW_KINDS).all():
            raise ValueError(
                f"reference file {path.name}: `kind` must be one of {list(ROW_KINDS)}; "
                f"got {sorted(set(row_kinds[~row_kinds.isin(ROW_KINDS)]))}."
            )
        df["kind"] = row_kinds
        df["id"] = df["id"].str.strip()
        df["unit"] = df["unit"].fillna("")
        df["file"] = path.name
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*REFERENCE_COLUMNS, "kind", "file"])
    refs = pd.concat(frames, ignore_index=True)
    dup = refs["id"][refs["id"].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"reference ids must be unique across data/reference/*.csv; repeated: {dup}.")
    return refs


# --------------------------------------------------------------------------------------------
# judging one value


def tolerance_band(reference: float, tolerance: float, kind: str) -> tuple[float, float]:
    """The band ``[reference - t, reference + t]``, ``t = tolerance`` or ``tolerance * |reference|``
    (widened by a hair, 1e-12 relative, so that a value printed equal to a bound counts as within).

    Examples
    --------
    >>> [round(x, 9) for x in tolerance_band(10.0, 0.1, "rel") + tolerance_band(10.0, 0.5, "abs")]
    [9.0, 11.0, 9.5, 10.5]
    """
    if kind not in ("abs", "rel"):
        raise ValueError(f"`kind` must be one of ['abs', 'rel']; got {kind!r}.")
    t = tolerance if kind == "abs" else tolerance * abs(reference)
    t += _SLACK * max(1.0, abs(reference))
    return reference - t, reference + t


def within_tolerance(ours: float, reference: float, tolerance: float, kind: str) -> bool:
    """Whether the exact value ``ours`` lies in the tolerance band of ``reference``.

    Parameters
    ----------
    ours, reference : float
        Our value and the published one. A NaN or infinite ``ours`` is never within.
    tolerance : float
        Allowed deviation, >= 0.
    kind : {"abs", "rel"}
        ``abs``: ``|ours - reference| <= tolerance``; ``rel``: ``<= tolerance * |reference|``.

    Returns
    -------
    bool

    Examples
    --------
    >>> within_tolerance(0.52, 0.5, 0.05, "rel"), within_tolerance(0.56, 0.5, 0.05, "abs")
    (True, False)
    """
    low, high = tolerance_band(reference, tolerance, kind)
    if not (math.isfinite(ours) and math.isfinite(reference)):
        return False
    return low <= ours <= high


def interval_within(low: float, high: float, reference: float, tolerance: float, kind: str) -> bool:
    """Whether the interval ``[low, high]`` overlaps the tolerance band of ``reference``.

    Examples
    --------
    >>> interval_within(1.06, 1.20, 1.0, 0.05, "rel"), interval_within(1.04, 1.20, 1.0, 0.05, "rel")
    (False, True)
    """
    band_low, band_high = tolerance_band(reference, tolerance, kind)
    if math.isnan(low) or math.isnan(high) or not math.isfinite(reference):
        return False
    return low <= band_high and high >= band_low


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


# --------------------------------------------------------------------------------------------
# the joined table


def compare(
    references: pd.DataFrame,
    measured: Mapping[str, Any],
    origins: Mapping[str, str] | None = None,
    *,
    estimates: Mapping[str, Estimate] | None = None,
    quick: bool = False,
    include_unmeasured: bool = True,
) -> pd.DataFrame:
    """Join measured values with the published reference rows and judge each row.

    Parameters
    ----------
    references : pandas.DataFrame
        As returned by :func:`load_references`.
    measured : mapping of str to float
        Our values, keyed by reference ``id`` (all experiments' ``Result.measured`` merged).
    origins : mapping of str to str, optional
        Which experiment measured each id (shown in the report).
    estimates : mapping of str to Estimate, optional
        Sample size and 95% interval of the ids computed from a sample.
    quick : bool
        The values come from a quick (small-sample) run: rows whose statistic depends on the
        sample size are ``"not comparable in quick mode"``.
    include_unmeasured : bool
        Keep reference rows that nothing measured (status ``"not measured"``). Turn off when
        only some experiments ran (``--only``).

    Returns
    -------
    pandas.DataFrame
        One row per reference id (file order), then one per measured id without a reference,
        with the columns :data:`COMPARE_COLUMNS`. ``deviation`` is ``ours - reference``;
        ``rel_deviation`` is ``deviation / |reference|`` (NaN when the reference is 0);
        ``ci_low``/``ci_high``/``n`` are NaN/None without an estimate; ``within`` is
        True/False, or None where nothing is judged; ``status`` is one of :data:`STATUSES`.
    """
    origins = dict(origins or {})
    estimates = dict(estimates or {})
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    nan = float("nan")

    def sample_fields(rid: str) -> dict[str, Any]:
        est = estimates.get(rid)
        if est is None:
            return {"ci_low": nan, "ci_high": nan, "n": None, "n_unit": "", "statistic": "", "ci_method": ""}
        return {"ci_low": float(est.low), "ci_high": float(est.high), "n": int(est.n), "n_unit": est.unit,
                "statistic": est.statistic, "ci_method": est.method}

    for ref in references.to_dict("records"):
        rid = str(ref["id"])
        seen.add(rid)
        base = {
            "id": rid,
            "kind": ref.get("kind", "reproduction") or "reproduction",
            "quantity": ref["quantity"],
            "unit": ref.get("unit", "") or "",
            "reference": float(ref["reference"]),
            "tolerance": float(ref["tolerance"]),
            "tolerance_kind": ref["tolerance_kind"],
            "source": ref["source"],
            "experiment": origins.get(rid, ""),
        }
        if rid not in measured:
            if include_unmeasured:
                rows.append({**base, **sample_fields(rid), "ours": nan, "deviation": nan, "rel_deviation": nan,
                             "within": None, "status": "not measured"})
            continue
        ours = _as_float(measured[rid])
        dev = ours - base["reference"]
        rel = dev / abs(base["reference"]) if base["reference"] != 0 else nan
        est = estimates.get(rid)
        within: bool | None
        if not math.isfinite(ours):
            within, status = False, "invalid"
        elif quick and est is not None and est.size_dependent:
            within, status = None, "not comparable in quick mode"
        else:
            if est is not None:
                within = interval_within(est.low, est.high, base["reference"], base["tolerance"], base["tolerance_kind"])
            else:
                within = within_tolerance(ours, base["reference"], base["tolerance"], base["tolerance_kind"])
            status = "ok" if within else "out of tolerance"
        rows.append({**base, **sample_fields(rid), "ours": ours, "deviation": dev, "rel_deviation": rel,
                     "within": within, "status": status})
    for mid in measured:
        if mid in seen:
            continue
        rows.append(
            {
                "id": mid, "kind": "", "quantity": "", "unit": "", "reference": nan, "tolerance": nan,
                "tolerance_kind": "", "source": "", "experiment": origins.get(mid, ""), **sample_fields(mid),
                "ours": _as_float(measured[mid]), "deviation": nan, "rel_deviation": nan,
                "within": None, "status": "no reference",
            }
        )
    return pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))


def compare_with_paper(
    measured: Mapping[str, Any],
    estimates: Mapping[str, Estimate] | None = None,
    *,
    quick: bool = False,
    folder: str | Path | None = None,
) -> pd.DataFrame:
    """:func:`compare` against the repository's references, measured rows only (for notebooks).

    Examples
    --------
    >>> table = compare_with_paper({"majority5_load": 0.6})
    >>> table[["id", "kind", "status"]].values.tolist()
    [['majority5_load', 'check', 'ok']]
    """
    return compare(load_references(folder), measured, estimates=estimates, quick=quick, include_unmeasured=False)
