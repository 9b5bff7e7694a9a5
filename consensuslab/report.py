"""Rendering the reproduction report: the terminal/Markdown summary and ``report.html``.

Theory of operation
-------------------
A :class:`Report` holds what ``consensuslab reproduce`` did — the job outcomes
(:class:`consensuslab.jobs.JobOutcome`), the joined reference table of
:func:`consensuslab.references.compare`, the mode, the seed — and :func:`render_markdown` and
:func:`render_html` turn it into text. Nothing here runs a job or reads a reference file: the
functions are pure, so a test can render a hand-made report.

The layout, in both formats:

1. A headline that counts **reproductions only**: how many published measurements are within
   tolerance, outside, not comparable in quick mode, not measured; then how many checks hold.
2. How rows are judged (the rule of :mod:`consensuslab.references`, stated in the report).
3. *Reproductions of published measurements*: reference, ours, the 95% interval of ours and
   its sample size (and how the interval was computed), deviation, tolerance, verdict, source.
4. *Checks*: analytic identities (closed forms, message counts, strictness checks), with
   reference, ours, tolerance and whether each holds.
5. The jobs, the failures, and the figures, each with a caption (the notebook's title for it)
   and a link to the notebook cell that drew it.
"""

from __future__ import annotations

import html
import math
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from consensuslab.jobs import Figure, JobOutcome

__all__ = ["Report", "JUDGING_RULE", "counts", "reference_markdown", "check_markdown", "render_markdown",
           "render_html"]

#: How rows are judged, as the report states it (see :mod:`consensuslab.references`).
JUDGING_RULE = (
    "A reproduction is within tolerance when the 95% confidence interval of our value overlaps the "
    "tolerance band [reference - t, reference + t] of the published value (for a value without sampling "
    "error: when the value itself lies in the band). A check holds when our exact value lies in its band."
)
_QUICK_NOTE = (
    "Quick mode uses small samples, so the intervals are wide. A statistic that depends on the sample size "
    "(a maximum, a minimum, a tail quantile with fewer than 10 points beyond it) is marked "
    "\"not comparable in quick mode\"; run `consensuslab reproduce` (full, the default) for the "
    "published-size runs."
)


@dataclass
class Report:
    """Everything ``reproduce`` did: job outcomes, the joined reference table, where files went."""

    outcomes: list[JobOutcome]
    table: pd.DataFrame
    quick: bool
    out_dir: Path
    duration: float
    workers: int
    seed: int
    warnings: list[str] = field(default_factory=list)
    html_path: Path | None = None
    markdown_path: Path | None = None

    @property
    def failures(self) -> list[JobOutcome]:
        """The jobs that failed."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        """0 when every job succeeded, else 1."""
        return 1 if self.failures else 0

    @property
    def figures(self) -> list[Figure]:
        """All figures, in job order."""
        return [f for o in self.outcomes for f in o.figures]

    def section(self, kind: str) -> pd.DataFrame:
        """The rows of one section: ``"reproduction"``, ``"check"`` or ``"no reference"``."""
        if not len(self.table):
            return self.table
        if kind == "no reference":
            return self.table[self.table["status"] == "no reference"]
        return self.table[(self.table["kind"] == kind) & (self.table["status"] != "no reference")]


# --------------------------------------------------------------------------------------------
# formatting


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def _fmt_deviation(row: Mapping[str, Any]) -> str:
    dev = row["deviation"]
    if dev is None or (isinstance(dev, float) and math.isnan(dev)):
        return "–"
    if abs(dev) <= 1e-12 * max(1.0, abs(float(row["reference"]))):
        return "0"
    text = f"{'+' if dev >= 0 else '-'}{_fmt(abs(dev))}"
    rel = row["rel_deviation"]
    if rel is not None and math.isfinite(rel):
        text += f" ({rel:+.1%})"
    return text


def _fmt_tolerance(row: Mapping[str, Any]) -> str:
    tol = row["tolerance"]
    if tol is None or (isinstance(tol, float) and math.isnan(tol)):
        return ""
    return f"±{tol:.0%}" if row["tolerance_kind"] == "rel" and tol < 10 else f"±{_fmt(tol)}"


def _fmt_ci(row: Mapping[str, Any]) -> str:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or (isinstance(lo, float) and math.isnan(lo)):
        return "–"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _fmt_n(row: Mapping[str, Any]) -> str:
    n = row.get("n")
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return "–"
    return f"{int(n):,} {_text(row.get('n_unit'))}".strip()


def _text(value: Any) -> str:
    """A table cell as text; empty for None/NaN (a table read back from CSV has NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _fmt_method(row: Mapping[str, Any]) -> str:
    stat, method = _text(row.get("statistic")), _text(row.get("ci_method"))
    return f"{stat}, {method}" if stat and method else stat or method


_MARK = {
    "ok": "yes", "out of tolerance": "NO", "not measured": "not measured", "invalid": "NO (not a number)",
    "no reference": "no reference", "not comparable in quick mode": "not comparable in quick mode",
}


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _clip(text: Any, width: int | None) -> str:
    text = str(text)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def _with_unit(row: Mapping[str, Any]) -> str:
    return _fmt(row["reference"]) + (f" {row['unit']}" if row["unit"] else "")


def reference_markdown(table: pd.DataFrame, *, width: int | None = None) -> str:
    """A Markdown table of measured rows: reference (with unit), ours, 95% CI, n, deviation,
    tolerance, within?, source. ``width`` clips the quantity and source texts (terminal use)."""
    rows = [
        (r["id"], _clip(r["quantity"], width), _with_unit(r), _fmt(r["ours"]), _fmt_ci(r), _fmt_n(r),
         _fmt_deviation(r), _fmt_tolerance(r), _MARK.get(r["status"], r["status"]), _clip(r["source"], width))
        for r in table.to_dict("records")
    ]
    return _md_table(["id", "quantity", "reference", "ours", "95% CI", "n", "deviation", "tolerance", "within?",
                      "source"], rows)


def check_markdown(table: pd.DataFrame, *, width: int | None = None) -> str:
    """A Markdown table of check rows: reference, ours, tolerance, holds?, source."""
    rows = [
        (r["id"], _clip(r["quantity"], width), _with_unit(r), _fmt(r["ours"]), _fmt_tolerance(r),
         _MARK.get(r["status"], r["status"]), _clip(r["source"], width))
        for r in table.to_dict("records")
    ]
    return _md_table(["id", "quantity", "reference", "ours", "tolerance", "holds?", "source"], rows)


def counts(table: pd.DataFrame) -> dict[str, int]:
    """Rows per status in ``table``, every status present (0 when absent)."""
    from consensuslab.references import STATUSES

    status = table["status"].value_counts().to_dict() if len(table) else {}
    return {k: int(status.get(k, 0)) for k in STATUSES}


def _headline(report: Report) -> tuple[str, str]:
    """(reproductions sentence, checks sentence)."""
    rc = counts(report.section("reproduction"))
    total = sum(v for k, v in rc.items() if k != "no reference")
    parts = [f"{rc['ok']} of {total} published measurements reproduced within tolerance"]
    outside = rc["out of tolerance"] + rc["invalid"]
    if outside:
        parts.append(f"{outside} outside")
    if rc["not comparable in quick mode"]:
        parts.append(f"{rc['not comparable in quick mode']} not comparable in quick mode")
    if rc["not measured"]:
        parts.append(f"{rc['not measured']} not measured")
    cc = counts(report.section("check"))
    ctotal = sum(v for k, v in cc.items() if k != "no reference")
    checks = f"{cc['ok']} of {ctotal} checks hold"
    if cc["not measured"]:
        checks += f", {cc['not measured']} not measured"
    return ", ".join(parts), checks


def render_markdown(report: Report, *, figure_links: bool = False, width: int | None = None) -> str:
    """The Markdown summary printed to the terminal (and saved as ``report.md``).

    Parameters
    ----------
    report : Report
    figure_links : bool
        List figures as Markdown images with their captions and cell links (for ``report.md``)
        instead of a count per notebook.
    width : int, optional
        Clip long quantity/source texts to this many characters (terminal use).
    """
    from consensuslab import __version__

    mode = "quick" if report.quick else "full"
    headline, checks = _headline(report)
    out = [
        f"# consensuslab reproduction report ({mode} mode)",
        "",
        f"consensuslab {__version__}, seed {report.seed}, {report.workers} worker(s), "
        f"{report.duration:.1f} s; {len(report.outcomes)} job(s), {len(report.failures)} failed.",
        "",
        f"**{headline}.** {checks}.",
        "",
        JUDGING_RULE,
        "",
    ]
    if report.quick:
        out += [_QUICK_NOTE, ""]
    repro, check, extra = report.section("reproduction"), report.section("check"), report.section("no reference")
    out += [f"## Reproductions of published measurements ({len(repro)})", ""]
    out += [reference_markdown(repro, width=width) if len(repro) else "(no reference rows)", ""]
    out += [f"## Checks: analytic identities ({len(check)})", ""]
    out += [check_markdown(check, width=width) if len(check) else "(none)", ""]
    if len(extra):
        out += ["## Measured without a reference row", "", reference_markdown(extra, width=width), ""]
    out += ["## Jobs", ""]
    out += [_md_table(
        ["job", "kind", "status", "time", "detail"],
        [(o.name + (" (ran alone)" if o.alone else ""), o.kind, "ok" if o.ok else "FAILED", f"{o.duration:.1f} s",
          (o.error or o.detail).splitlines()[0] if (o.error or o.detail) else "")
         for o in report.outcomes],
    ), ""]
    if report.failures:
        out += ["## Failures", ""]
        for o in report.failures:
            out += [f"- **{o.kind} {o.name}**: {o.error}"]
        out += [""]
    for w in report.warnings:
        out += [f"> warning: {w}", ""]
    figures = report.figures
    out += [f"## Figures ({len(figures)})", ""]
    if figure_links:
        for f in figures:
            rel = os.path.relpath(f.path, report.out_dir)
            out += [f"![{f.caption}]({rel})", "", f"*{f.caption}* ([notebook cell]({f.link}))" if f.link
                    else f"*{f.caption}*", ""]
    else:
        per: dict[str, int] = {}
        for f in figures:
            per[f.origin] = per.get(f.origin, 0) + 1
        if per:
            out += [", ".join(f"{k}: {v}" for k, v in per.items())]
    if report.html_path is not None:
        out += ["", f"Full report: {report.html_path}"]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1500px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td code{overflow-wrap:anywhere;font-size:.8rem}td.id{min-width:10rem;max-width:16rem}td.src{font-size:.8rem;color:#444;max-width:24rem}td.q{max-width:20rem}.wide{overflow-x:auto}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.how,div.how{font-size:.75rem;color:#555;white-space:normal}td.num.n{white-space:normal;font-size:.8rem;min-width:6rem;max-width:10rem}td.q{min-width:14rem}
tr.ok td.st{background:#e3f6e3}tr.bad td.st{background:#fbe0e0}tr.miss td.st{background:#fff3cd}tr.nc td.st{background:#e8eef8}
.note{background:#fff8e1;border-left:4px solid #f0c040;padding:.5rem 1rem}
.rule{background:#f4f7fb;border-left:4px solid #7a9cc6;padding:.5rem 1rem}
.fail{background:#fdecea;border-left:4px solid #d33;padding:.5rem 1rem}
pre{white-space:pre-wrap;font-size:.8rem;background:#f7f7f7;padding:.5rem}
figure{display:inline-block;margin:.5rem;max-width:46%;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.8rem;color:#555}
"""

_ROW_CLASS = {"ok": "ok", "out of tolerance": "bad", "invalid": "bad", "not comparable in quick mode": "nc"}


def render_html(report: Report) -> str:
    """The standalone ``report.html``: headline, reproductions, checks, jobs, failures, figures."""
    from consensuslab import __version__

    esc = html.escape
    mode = "quick" if report.quick else "full"
    headline, checks = _headline(report)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>consensuslab reproduction report ({mode})</title><style>{_CSS}</style></head><body>",
        f"<h1>consensuslab reproduction report <small>({mode} mode)</small></h1>",
        f"<p>consensuslab {esc(__version__)} · seed {report.seed} · {report.workers} worker(s) · "
        f"{report.duration:.1f} s · {esc(when)} · Python {esc(platform.python_version())} on {os.cpu_count()} CPU(s)</p>",
        f"<p class='headline'><b>{esc(headline)}.</b> {esc(checks)}. "
        f"{len(report.outcomes)} job(s), <b>{len(report.failures)}</b> failed.</p>",
        f"<p class='rule'>{esc(JUDGING_RULE)}</p>",
    ]
    if report.quick:
        parts.append(f"<p class='note'>{esc(_QUICK_NOTE)}</p>")
    for w in report.warnings:
        parts.append(f"<p class='note'>{esc(w)}</p>")
    if report.failures:
        parts.append("<h2>Failures</h2>")
        for o in report.failures:
            parts.append(f"<div class='fail'><b>{esc(o.kind)} {esc(o.name)}</b>: {esc(o.error or '')}"
                         + (f"<pre>{esc(o.detail)}</pre>" if o.detail else "")
                         + (f"<details><summary>output</summary><pre>{esc(o.log)}</pre></details>" if o.log else "")
                         + "</div>")

    repro = report.section("reproduction")
    parts.append(f"<h2 id='reproductions'>Reproductions of published measurements ({len(repro)})</h2>")
    if len(repro):
        parts.append("<div class='wide'><table><tr><th>id</th><th>quantity</th><th>reference</th><th>ours</th>"
                     "<th>95% CI</th><th>n</th><th>deviation</th><th>tolerance</th><th>within?</th><th>source</th>"
                     "<th>experiment</th></tr>")
        for r in repro.to_dict("records"):
            cls = _ROW_CLASS.get(r["status"], "miss")
            unit = f" {esc(str(r['unit']))}" if r["unit"] else ""
            how = esc(_fmt_method(r))
            parts.append(
                f"<tr class='{cls}'><td class='id'><code>{esc(r['id'])}</code></td><td class='q'>{esc(str(r['quantity']))}</td>"
                f"<td class='num'>{esc(_fmt(r['reference']))}{unit}</td><td class='num'>{esc(_fmt(r['ours']))}</td>"
                f"<td class='num ci'>{esc(_fmt_ci(r))}" + (f"<div class='how'>{how}</div>" if how else "") + "</td>"
                f"<td class='num n'>{esc(_fmt_n(r))}</td>"
                f"<td class='num'>{esc(_fmt_deviation(r))}</td><td class='num'>{esc(_fmt_tolerance(r))}</td>"
                f"<td class='st'>{esc(_MARK.get(r['status'], r['status']))}</td><td class='src'>{esc(str(r['source']))}</td>"
                f"<td>{esc(str(r['experiment']))}</td></tr>"
            )
        parts.append("</table></div>")
    else:
        parts.append("<p>(no reference rows)</p>")

    check = report.section("check")
    parts.append(f"<h2 id='checks'>Checks: analytic identities ({len(check)})</h2>")
    parts.append("<p>Closed forms, message counts and strictness checks: exact values, not counted in the headline.</p>")
    if len(check):
        parts.append("<div class='wide'><table><tr><th>id</th><th>quantity</th><th>reference</th><th>ours</th>"
                     "<th>tolerance</th><th>holds?</th><th>source</th><th>experiment</th></tr>")
        for r in check.to_dict("records"):
            cls = _ROW_CLASS.get(r["status"], "miss")
            unit = f" {esc(str(r['unit']))}" if r["unit"] else ""
            parts.append(
                f"<tr class='{cls}'><td class='id'><code>{esc(r['id'])}</code></td><td class='q'>{esc(str(r['quantity']))}</td>"
                f"<td class='num'>{esc(_fmt(r['reference']))}{unit}</td><td class='num'>{esc(_fmt(r['ours']))}</td>"
                f"<td class='num'>{esc(_fmt_tolerance(r))}</td>"
                f"<td class='st'>{esc(_MARK.get(r['status'], r['status']))}</td><td class='src'>{esc(str(r['source']))}</td>"
                f"<td>{esc(str(r['experiment']))}</td></tr>"
            )
        parts.append("</table></div>")

    extra = report.section("no reference")
    if len(extra):
        parts.append("<h2>Measured without a reference row</h2><ul>")
        parts += [f"<li><code>{esc(r['id'])}</code> = {esc(_fmt(r['ours']))} ({esc(str(r['experiment']))})</li>"
                  for r in extra.to_dict("records")]
        parts.append("</ul>")

    parts.append("<h2>Jobs</h2><table><tr><th>job</th><th>kind</th><th>status</th><th>time</th><th>detail</th><th>files</th></tr>")
    for o in report.outcomes:
        links = " ".join(
            f"<a href='{esc(os.path.relpath(p, report.out_dir))}'>{esc(Path(p).name)}</a>" for p in o.files
        )
        status = "ok" if o.ok else "FAILED"
        parts.append(
            f"<tr class='{'ok' if o.ok else 'bad'}'><td>{esc(o.name)}{' (ran alone)' if o.alone else ''}</td><td>{o.kind}</td>"
            f"<td class='st'>{status}</td><td class='num'>{o.duration:.1f} s</td>"
            f"<td>{esc((o.error or o.detail).splitlines()[0] if (o.error or o.detail) else '')}</td><td>{links}</td></tr>"
        )
    parts.append("</table>")
    figures = report.figures
    parts.append(f"<h2>Figures ({len(figures)})</h2>")
    for f in figures:
        rel = os.path.relpath(f.path, report.out_dir)
        cell = f" · <a href='{esc(f.link)}'>notebook cell</a>" if f.link else ""
        parts.append(f"<figure><img src='{esc(rel)}' alt='{esc(f.caption)}' loading='lazy'>"
                     f"<figcaption>{esc(f.caption)}{cell}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)
