"""Figures of simulator runs: message-sequence charts, event timelines, delay distributions.

Theory of operation
-------------------
All functions take data (a trace's DataFrames, arrays) and an optional matplotlib ``ax`` and
return the Axes they drew on (:func:`latency_figure` returns a Figure).

Message-sequence charts (:func:`sequence_chart`) follow four rules:

* **Every arrow says what it carries**: its kind and, where the message has them, its ballot or
  term and its value (:func:`message_label`; a caller may pass its own labeller).
* **Every mark has a legend entry**: the message kinds (colours), a lost message (dashed stub
  ending in ×), a message cut by a partition (stub ending in ■), a message to a crashed node
  (stub ending in ▼), one still in flight (dashed open arrow), a crash (✖ on the lifeline, which
  turns dotted while the node is down), a restart (▲) and a partition (a shaded band).
* **Labels never overlap**: each label is a :class:`_Label` that, when the figure is drawn,
  tries a few positions along its arrow and takes the first one whose box is free; a label with
  no free position is not drawn (thinned). The choice is made at draw time, so it holds for the
  final layout and resolution.
* **Time runs down**, in ms for a simulator run and in steps for a hand-driven run (a messages
  frame whose ``attrs["time_unit"]`` is ``"step"``).

Delay distributions are shown honestly: :func:`latency_hist` never folds the tail into its last
bin (samples beyond the range drawn are left out and counted in the legend) and
:func:`latency_ccdf` draws the complementary CDF on log-log axes out to the largest sample, with
a pointwise 95% band.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
from matplotlib.transforms import Bbox

__all__ = ["sequence_chart", "timeline", "latency_hist", "latency_ccdf", "latency_figure", "message_label"]

#: marker, legend text of each way a message can fail to arrive
_FATES = {
    "loss": ("x", "lost (dashed stub ending in ×)"),
    "partition": ("s", "cut by a partition (stub ending in ■)"),
    "down": ("v", "receiver crashed (stub ending in ▼)"),
}
_DROP_COLOR = "crimson"
_PARTITION_COLOR = "orange"


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


# -- labels that never overlap -------------------------------------------------------------------
class _Placer(Artist):
    """Drawn first in its Axes (lowest zorder): forgets the boxes taken in the last draw."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[Bbox] = []
        self.set_zorder(-1e9)

    def draw(self, renderer: Any) -> None:
        self.taken = []


def _placer(ax: Axes) -> _Placer:
    for child in ax.get_children():
        if isinstance(child, _Placer):
            return child
    placer = _Placer()
    ax.add_artist(placer)
    return placer


class _Label(Text):
    """A text that takes the first free position among its candidates, or is not drawn.

    ``drawn`` tells, after a draw, whether the label found room (tests read it).
    """

    def __init__(self, candidates: Sequence[tuple[float, float]], text: str, placer: _Placer, **kw: Any) -> None:
        x, y = candidates[0]
        super().__init__(x, y, text, **kw)
        self.candidates = list(candidates)
        self.placer = placer
        self.drawn = False

    def draw(self, renderer: Any) -> None:
        self.drawn = False
        if not self.get_visible() or self.axes is None:
            return
        frame = self.axes.get_window_extent(renderer)
        for xy in self.candidates:
            self.set_position(xy)
            box = self.get_window_extent(renderer)
            inside = (box.x0 >= frame.x0 - 1 and box.x1 <= frame.x1 + 1 and box.y0 >= frame.y0 - 1
                      and box.y1 <= frame.y1 + 1)
            if inside and not any(box.overlaps(other) for other in self.placer.taken):
                self.placer.taken.append(box.expanded(1.04, 1.1))
                self.drawn = True
                super().draw(renderer)
                return
        self.set_position(self.candidates[0])


def _add_label(ax: Axes, candidates: Sequence[tuple[float, float]], text: str, **kw: Any) -> _Label:
    kw.setdefault("fontsize", 7)
    kw.setdefault("ha", "center")
    kw.setdefault("va", "bottom")
    kw.setdefault("bbox", dict(boxstyle="square,pad=0.1", fc="white", ec="none", alpha=0.75))
    kw.setdefault("zorder", 4)  # above every arrow, so an arrow never crosses a label's text
    label = _Label(candidates, text, _placer(ax), **kw)
    ax.add_artist(label)
    return label


def labels_drawn(ax: Axes) -> list[_Label]:
    """The de-collided labels of ``ax`` that found room in the last draw."""
    return [t for t in ax.texts if isinstance(t, _Label) and t.drawn]


# -- message labels --------------------------------------------------------------------------
def _short(x: Any, width: int = 12) -> str:
    """A compact form of a value or a client command."""
    if hasattr(x, "op") and hasattr(x, "key"):  # a kv Command
        if getattr(x, "client", 0) < 0:
            return "no-op"
        value = getattr(x, "value", None)
        s = f"{x.op} {x.key}" + ("" if value is None else f"={value}")
    elif isinstance(x, str):
        s = repr(x)
    else:
        s = str(x)
    return s if len(s) <= width else s[: width - 1] + "…"


def _ballot(b: Any, names: Mapping[int, str] | None) -> str:
    """``(round,proposer)`` with the proposer's display name."""
    if hasattr(b, "round") and hasattr(b, "proposer"):
        who = (names or {}).get(int(b.proposer), str(b.proposer))
        return f"({b.round},{who})"
    return str(b)


def message_label(msg: Any, kind: str | None = None, names: Mapping[int, str] | None = None) -> str:
    """A short label for an arrow: the kind, then the ballot or term, then the value.

    Works on any protocol's message dataclass by its field names: ``ballot`` (drawn as
    ``(round,proposer)`` with the proposer's display name), ``term`` (``t3``), ``slot`` (``s4``),
    ``value`` / ``command`` (``v=…``), ``key`` with its ``version``'s value (``x='a'``),
    ``accepted`` (a Paxos promise's highest accepted value),
    ``entries`` (``+2`` entries or ``hb`` for a heartbeat), ``vote_granted`` / ``success``
    (✓ / ✗).

    Examples
    --------
    >>> from consensuslab.protocols.paxos import Accept, Ballot
    >>> message_label(Accept(Ballot(1, 0), 7), names={0: "A"})
    'Accept (1,A) v=7'
    """
    kind = kind or type(msg).__name__
    parts = [kind]
    ballot = getattr(msg, "ballot", None)
    if ballot is not None:
        parts.append(_ballot(ballot, names))
    elif getattr(msg, "term", None) is not None:
        parts.append(f"t{msg.term}")
    if getattr(msg, "slot", None) is not None:
        parts.append(f"s{msg.slot}")
    key = getattr(msg, "key", None)
    if isinstance(key, str):
        version = getattr(msg, "version", None)
        value = getattr(version, "value", None)
        parts.append((key if len(key) <= 12 else key[:11] + "…") + ("" if value is None else f"={_short(value)}"))
    for field in ("value", "command"):
        if hasattr(msg, field) and not callable(getattr(msg, field)):
            parts.append(f"v={_short(getattr(msg, field))}")
    acc = getattr(msg, "accepted", None)
    if isinstance(acc, tuple) and len(acc) == 2 and hasattr(acc[0], "round"):
        parts.append(f"acc={_short(acc[1])}")
    elif isinstance(acc, tuple) and acc:
        parts.append(f"{len(acc)} acc")
    entries = getattr(msg, "entries", None)
    if entries is not None:
        parts.append(f"+{len(entries)}" if entries else "hb")
    for field in ("vote_granted", "success"):
        flag = getattr(msg, field, None)
        if isinstance(flag, bool):
            parts.append("✓" if flag else "✗")
    return " ".join(parts)


# -- message-sequence chart ----------------------------------------------------------------------
def _down_intervals(events: pd.DataFrame | None, t_end: float) -> list[tuple[int, float, float | None]]:
    """(node, crash time, restart time or None) from crash/restart events."""
    if events is None or len(events) == 0:
        return []
    out: list[tuple[int, float, float | None]] = []
    open_: dict[int, float] = {}
    for row in events.sort_values("time", kind="stable").itertuples(index=False):
        if row.event not in ("crash", "restart") or pd.isna(row.node):
            continue
        node = int(row.node)
        if row.event == "crash" and node not in open_:
            open_[node] = float(row.time)
        elif row.event == "restart" and node in open_:
            out.append((node, open_.pop(node), float(row.time)))
    out += [(node, t, None) for node, t in open_.items()]
    return out


def _partition_spans(events: pd.DataFrame | None, t_end: float, labels: Mapping[int, str],
                     everyone: Sequence[int] = ()) -> list[tuple[float, float, str]]:
    """(start, end, description) of the partitions in ``events`` (fault records)."""
    if events is None or len(events) == 0 or "kind" not in events:
        return []
    spans: list[tuple[float, float, str]] = []
    start: float | None = None
    desc = ""
    faults = events[events["event"] == "fault"].sort_values("time", kind="stable")
    for row in faults.itertuples(index=False):
        t = float(row.time)
        if row.kind in ("partition", "cut", "isolate"):
            if start is not None and row.kind == "partition":  # a new partition replaces the old
                spans.append((start, t, desc))
                start = None
            if start is None:
                start, desc = t, ""
            name = lambda i: labels.get(int(i), str(int(i)))  # noqa: E731
            if row.kind == "partition":
                named = [list(g) for g in (row.detail or [])]
                rest = sorted(set(everyone) - {int(i) for g in named for i in g})
                groups = [", ".join(name(i) for i in g) for g in named + ([rest] if rest else [])]
                desc = "partition " + " | ".join("{" + g + "}" for g in groups)
            elif row.kind == "cut":
                arrow = "↔" if row.detail else "→"
                desc = (desc + "; " if desc else "") + f"cut {name(row.node)}{arrow}{name(row.peer)}"
            else:
                desc = (desc + "; " if desc else "") + f"{name(row.node)} isolated"
        elif row.kind == "heal" and start is not None:
            spans.append((start, t, desc))
            start = None
    if start is not None:
        spans.append((start, max(t_end, start), desc))
    return spans


def sequence_chart(
    messages: pd.DataFrame,
    ax: Axes | None = None,
    nodes: Sequence[int] | None = None,
    labels: Mapping[int, str] | None = None,
    title: str | None = None,
    label_messages: bool | Callable[[Any], str] = True,
    max_messages: int = 400,
    events: pd.DataFrame | None = None,
    legend: bool = True,
) -> Axes:
    """Message-sequence chart: one vertical lifeline per node, time flowing down.

    Parameters
    ----------
    messages : DataFrame
        ``Simulator.trace.messages()``: columns src, dst, kind, sent, delivered, fate (and
        ``dropped``, ``msg`` when present). ``messages.attrs["time_unit"] == "step"`` marks a
        hand-driven run (the axis then counts steps, not ms).
    nodes : sequence of int, optional
        Which lifelines to draw (default: every node that appears).
    labels : mapping, optional
        Display names, e.g. ``{0: "A", 1: "B", 2: "C"}``; also used for ballots in labels.
    label_messages : bool or callable
        Write what each arrow carries (:func:`message_label`), or pass a function of a row
        (with fields ``kind``, ``msg``, ...) that returns the label. Labels that would overlap
        are thinned when the figure is drawn.
    max_messages : int
        Draw at most this many (the earliest); a chart with more is unreadable.
    events : DataFrame, optional
        ``Trace.to_frame()`` (or any frame with columns time, event, node, peer, kind, detail):
        crashes (✖, the lifeline dotted while down), restarts (▲) and partitions (shaded band).
    legend : bool
        Draw the legend (outside the axes, on the right): one entry per kind and per mark used.
    """
    ax = _axes(ax, (7, 5))
    df = messages.head(max_messages)
    step_axis = messages.attrs.get("time_unit") == "step"
    if nodes is None:
        nodes = sorted(set(df["src"].dropna().astype(int)) | set(df["dst"].dropna().astype(int)))
    labels = dict(labels or {})
    xpos = {n: i for i, n in enumerate(nodes)}
    times = [df["sent"].max(), df["delivered"].max()] + ([df["dropped"].max()] if "dropped" in df else [])
    t_end = float(np.nanmax(times)) if len(df) else 1.0
    t_start = float(df["sent"].min()) if len(df) else 0.0
    if events is not None and len(events) and len(messages) <= max_messages:
        # every message is drawn: also show the crashes, restarts and faults that follow the last one
        faults = events[events["event"].isin(("crash", "restart", "fault"))]
        if len(faults):
            t_end = max(t_end, float(faults["time"].max()))
    span = t_end - t_start if t_end > t_start else 1.0
    kinds = list(dict.fromkeys(df["kind"]))
    cmap = plt.cm.tab10 if len(kinds) <= 10 else plt.cm.tab20
    colors = {k: cmap(i % cmap.N) for i, k in enumerate(kinds)}
    used: set[str] = set()

    def text_of(row: Any) -> str:
        if callable(label_messages):
            return str(label_messages(row))
        msg = getattr(row, "msg", None)
        return row.kind if msg is None or isinstance(msg, float) else message_label(msg, row.kind, labels)

    fracs = (0.5, 0.35, 0.65, 0.2, 0.8)
    # how far down an in-flight arrow reaches: half a typical delay (a step on a step axis)
    done = df[df["fate"] == "delivered"]
    typical = float((done["delivered"] - done["sent"]).median()) if len(done) else (1.0 if step_axis else 0.1 * span)
    for row in df.itertuples(index=False):
        if row.src not in xpos or row.dst not in xpos:
            continue
        x0, x1 = xpos[row.src], xpos[row.dst]
        c = colors[row.kind]
        if row.fate == "delivered":
            ax.annotate("", xy=(x1, row.delivered), xytext=(x0, row.sent),
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.2))
            if label_messages:
                cand = [(x0 + f * (x1 - x0), row.sent + f * (row.delivered - row.sent)) for f in fracs]
                _add_label(ax, cand, text_of(row), color=c)
        elif row.fate == "in flight":  # sent, not yet delivered: an open dashed arrow half-way
            xm = x0 + 0.5 * (x1 - x0)
            ym = row.sent + 0.5 * typical
            ax.annotate("", xy=(xm, ym), xytext=(x0, row.sent),
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.0, ls="--"))
            used.add("in flight")
            if label_messages:
                cand = [(x0 + f * (xm - x0), row.sent + f * (ym - row.sent)) for f in (1.0, 0.7, 0.4)]
                _add_label(ax, cand, text_of(row), color=c, style="italic")
        else:
            dropped = getattr(row, "dropped", np.nan)
            in_flight = not pd.isna(dropped) and dropped > row.sent
            end = dropped if in_flight else row.sent + 0.03 * span  # lost at send: a short stub
            xm = x0 + (0.8 if in_flight else 0.25) * (x1 - x0)
            ax.plot([x0, xm], [row.sent, end], color=c, lw=1, ls="--")
            fate = row.fate if row.fate in _FATES else "loss"
            ax.plot([xm], [end], marker=_FATES[fate][0], color=_DROP_COLOR, ls="none", ms=6)
            used.add(fate)
            if label_messages:
                cand = [(x0 + f * (xm - x0), row.sent + f * (end - row.sent)) for f in (0.5, 0.3, 0.7)]
                _add_label(ax, cand, text_of(row), color=c, alpha=0.8)
    # lifelines, crashes and restarts
    pad = 0.05 * span if t_end > t_start else 0.5  # a single instant still gets a visible range
    lo_t, hi_t = t_start - pad, t_end + pad
    downs = [d for d in _down_intervals(events, hi_t) if d[0] in xpos]
    for x in xpos.values():
        ax.axvline(x, color="0.75", lw=1, zorder=0)
    for node, t0, t1 in downs:
        x = xpos[node]
        a, b = max(t0, lo_t), min(hi_t if t1 is None else t1, hi_t)
        if b > a:
            ax.plot([x, x], [a, b], color="white", lw=2.5, zorder=0.5)
            ax.plot([x, x], [a, b], color="0.45", lw=1, ls=":", zorder=0.6)
            used.add("down")
        if lo_t <= t0 <= hi_t:
            ax.plot([x], [t0], marker="X", ms=10, color="black", ls="none", zorder=3)
            used.add("crash")
        if t1 is not None and lo_t <= t1 <= hi_t:
            ax.plot([x], [t1], marker="^", ms=9, color="green", ls="none", zorder=3)
            used.add("restart")
    for t0, t1, desc in _partition_spans(events, hi_t, labels, nodes):
        a, b = max(t0, lo_t), min(t1, hi_t)
        if b <= a:
            continue
        ax.axhspan(a, b, color=_PARTITION_COLOR, alpha=0.15, lw=0, zorder=0)
        used.add("partition span")
        if desc:
            _add_label(ax, [(-0.45, a), (len(nodes) - 0.55, a), (-0.45, (a + b) / 2)], desc, color="darkorange",
                       ha="left", va="top", fontsize=7, zorder=3.9)
    ax.set_xticks(range(len(nodes)), [labels.get(n, str(n)) for n in nodes])
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("node", fontsize=8)
    ax.set_xlim(-0.5, len(nodes) - 0.5)
    # time runs down from the first send (a small margin above it; 0 if the chart starts near 0)
    top = t_start - pad
    if t_start <= 0.0 or top < 0.0:
        top = min(0.0, t_start)
    ax.set_ylim(t_end + pad, top)
    ax.set_ylabel("step (one action each)" if step_axis else "time (ms)")
    if title:
        ax.set_title(title, pad=24)
    if legend and len(df):
        _sequence_legend(ax, kinds, colors, used)
    return ax


def _sequence_legend(ax: Axes, kinds: Sequence[str], colors: Mapping[str, Any], used: set[str]) -> None:
    handles: list[Artist] = [Line2D([], [], color=colors[k], lw=1.5, label=k) for k in kinds]
    for fate, (marker, text) in _FATES.items():
        if fate in used:
            handles.append(Line2D([], [], color="0.4", ls="--", marker=marker, mfc=_DROP_COLOR, mec=_DROP_COLOR,
                                  label=text))
    if "in flight" in used:
        handles.append(Line2D([], [], color="0.4", ls="--", label="in flight (dashed open arrow)"))
    if "crash" in used:
        handles.append(Line2D([], [], color="black", marker="X", ms=8, ls="none", label="crash ✖"))
    if "down" in used:
        handles.append(Line2D([], [], color="0.45", ls=":", label="node down"))
    if "restart" in used:
        handles.append(Line2D([], [], color="green", marker="^", ms=8, ls="none", label="restart ▲"))
    if "partition span" in used:
        handles.append(Patch(color=_PARTITION_COLOR, alpha=0.3, label="partitioned"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              frameon=False, title="message kind / mark", title_fontsize=7)


# -- timeline of non-message events ---------------------------------------------------------------
def timeline(
    events: pd.DataFrame,
    ax: Axes | None = None,
    n: int | None = None,
    events_shown: Sequence[str] = ("crash", "restart", "note", "fault"),
    title: str | None = None,
    labels: Mapping[int, str] | None = None,
) -> Axes:
    """Per-node timeline of non-message events (crashes, restarts, notes) from ``to_frame()``.

    Crashes are ✖, restarts ▲, notes ● with their name (labels de-collided), the time a node is
    down is a dotted line and partitions are shaded; every mark has a legend entry.
    """
    ax = _axes(ax, (8, 3))
    labels = dict(labels or {})
    df = events[events["event"].isin(events_shown)]
    nodes = sorted(set(df["node"].dropna().astype(int))) if n is None else list(range(n))
    t_end = float(events["time"].max()) if len(events) else 1.0
    used: set[str] = set()
    for node, t0, t1 in _down_intervals(df, t_end):
        ax.plot([t0, t_end if t1 is None else t1], [node, node], color="0.45", ls=":", lw=1.2, zorder=1)
        used.add("down")
    style = {"crash": ("X", "black", "crash ✖"), "restart": ("^", "green", "restart ▲"),
             "note": ("o", "tab:blue", "note (protocol event)")}
    if "fault" in events_shown:
        for t0, t1, _desc in _partition_spans(df, t_end, labels, nodes):
            ax.axvspan(t0, t1, color=_PARTITION_COLOR, alpha=0.15, lw=0)
            used.add("partition span")
    for row in df.itertuples(index=False):
        if row.event == "fault" or pd.isna(row.node) or int(row.node) not in nodes:
            continue
        marker, color, _ = style.get(row.event, ("o", "0.3", row.event))
        ax.plot(row.time, int(row.node), marker=marker, color=color, ls="none", ms=8, zorder=3)
        used.add(row.event)
        if row.event == "note":
            y = int(row.node)
            _add_label(ax, [(row.time, y + 0.15), (row.time, y - 0.15), (row.time, y + 0.3)], str(row.kind),
                       ha="left", va="bottom")
    ax.set_yticks(nodes, [labels.get(i, f"node {i}") for i in nodes])
    ax.set_ylim(-0.6, len(nodes) - 0.4 if nodes else 0.5)
    ax.set_xlabel("time (ms)")
    handles: list[Artist] = [Line2D([], [], color=c, marker=m, ls="none", label=text)
                             for ev, (m, c, text) in style.items() if ev in used]
    if "down" in used:
        handles.append(Line2D([], [], color="0.45", ls=":", label="node down"))
    if "partition span" in used:
        handles.append(Patch(color=_PARTITION_COLOR, alpha=0.3, label="partitioned"))
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return ax


# -- delay distributions ----------------------------------------------------------------------
def _hist_range(samples: Mapping[str, np.ndarray], q: float = 0.99) -> float:
    """Right edge of a histogram: the largest sample if every tail is light (max within 1.25 ×
    the ``q`` quantile, e.g. a uniform), else the largest ``q`` quantile."""
    edges = []
    for s in samples.values():
        s = np.asarray(s, dtype=float)
        qv, mx = float(np.quantile(s, q)), float(s.max())
        edges.append(mx if mx <= 1.25 * qv else qv)
    return max(edges)


def _share(p: float) -> str:
    """A small share as a percentage with two significant digits (never a misleading 0.0%)."""
    return f"{100 * p:.2g}%"


def latency_hist(samples: Mapping[str, np.ndarray], ax: Axes | None = None, bins: int | None = None,
                 log: bool = False, hi: float | None = None) -> Axes:
    """Overlaid histograms (densities) of delay samples, one per named distribution.

    The x range ends at the largest sample when every tail is light, else at the largest 99th
    percentile (or at ``hi``). Samples beyond the range are **not** folded into the last bin:
    they are left out (the density is still relative to the whole sample, so the area drawn is
    the fraction in range) and their share is given in the legend — plot :func:`latency_ccdf`
    beside it to see them. ``bins`` defaults to ``sqrt`` of the smallest sample size, between
    10 and 60 (fewer bins for a small sample, so sampling noise does not pass for shape).
    """
    ax = _axes(ax, (7, 3.5))
    hi = _hist_range(samples) if hi is None else float(hi)
    if bins is None:
        bins = int(np.clip(np.sqrt(min(len(s) for s in samples.values())), 10, 60))
    edges = np.linspace(0.0, hi, bins + 1)
    width = edges[1] - edges[0]
    for name, s in samples.items():
        s = np.asarray(s, dtype=float)
        counts, _ = np.histogram(s[s <= hi], bins=edges)
        beyond = float(np.mean(s > hi))
        label = name if beyond == 0 else f"{name} ({_share(beyond)} beyond {hi:.0f} ms)"
        ax.stairs(counts / (len(s) * width), edges, lw=1.5, label=label)
    ax.set_xlabel("one-way delay (ms)")
    ax.set_ylabel("density (1/ms)")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=7)
    return ax


def latency_ccdf(samples: Mapping[str, np.ndarray], ax: Axes | None = None,
                 exact: Mapping[str, Any] | None = None, confidence: float = 0.95) -> Axes:
    """Complementary CDF ``P(delay >= x)`` on log-log axes, out to the largest sample.

    A band gives a pointwise ``confidence`` interval of each tail probability (Clopper–Pearson,
    from :func:`consensuslab.experiments.simulator.delay_ccdf`); ``exact`` maps names to
    :class:`~consensuslab.sim.Latency` distributions whose exact tail is drawn dashed
    (``1 - u`` at ``ppf(u)``). Dotted verticals mark each sample's 99th percentile.
    """
    from consensuslab.experiments.simulator import delay_ccdf  # noqa: PLC0415

    ax = _axes(ax, (5, 3.5))
    for i, (name, s) in enumerate(samples.items()):
        color = f"C{i}"
        t = delay_ccdf(s, confidence=confidence)
        ax.step(t["x"], t["ccdf"], where="post", color=color, lw=1.5, label=name)
        ax.fill_between(t["x"], t["lower"], t["upper"], step="post", color=color, alpha=0.2, lw=0)
        ax.axvline(float(np.quantile(s, 0.99)), color=color, ls=":", lw=1)
        if exact and name in exact:
            u = 1.0 - np.logspace(0, -np.log10(len(s)) - 0.5, 200)
            ax.plot(exact[name].ppf(u), 1.0 - u, color=color, ls="--", lw=1, alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("one-way delay x (ms, log)")
    ax.set_ylabel("P(delay ≥ x)")
    handles, texts = ax.get_legend_handles_labels()
    handles += [Patch(color="0.5", alpha=0.3), Line2D([], [], color="0.3", ls=":")]
    texts += [f"{confidence:.0%} pointwise interval", "99th percentile"]
    if exact:
        handles.append(Line2D([], [], color="0.3", ls="--"))
        texts.append("exact tail of the distribution")
    ax.legend(handles, texts, fontsize=7, loc="lower left")
    return ax


def latency_figure(samples: Mapping[str, np.ndarray], exact: Mapping[str, Any] | None = None,
                   title: str | None = None, bins: int | None = None) -> Figure:
    """A histogram (body) beside a log-log complementary CDF (tail) of delay samples.

    The default title states the finding: the spread of the medians against the spread of the
    99th percentiles, computed from ``samples``.
    """
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4.2), width_ratios=(1.1, 1))
    latency_hist(samples, ax=a1, bins=bins)
    latency_ccdf(samples, ax=a2, exact=exact)
    a1.set_title("body: density", fontsize=10)
    a2.set_title("tail: complementary CDF, every sample", fontsize=10)
    if title is None:
        title = _finding(samples)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def _finding(samples: Mapping[str, np.ndarray]) -> str:
    med = {k: float(np.median(v)) for k, v in samples.items()}
    p99 = {k: float(np.quantile(v, 0.99)) for k, v in samples.items()}
    if len(samples) == 1:
        (k,) = samples
        return f"{k}: median {med[k]:.1f} ms, p99 {p99[k]:.1f} ms ({p99[k] / med[k]:.1f}× the median)"
    lo, hi = min(p99, key=p99.get), max(p99, key=p99.get)  # type: ignore[arg-type]
    return (f"Medians within {min(med.values()):.1f}–{max(med.values()):.1f} ms, but p99 ranges from "
            f"{p99[lo]:.0f} ms ({lo}) to {p99[hi]:.0f} ms ({hi})")

