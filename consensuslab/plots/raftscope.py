"""Draw one frame of a step-through Raft run as SVG, the way RaftScope does.

Theory of operation
-------------------
:func:`scope_svg` turns a :class:`~consensuslab.scenarios.raftscope.Frame` into an SVG string
(no matplotlib: an SVG redraws in milliseconds, which scrubbing and playing need). Left, the
servers on a ring: fill colour = role (the colours of :mod:`consensuslab.plots.raft`), the big
number = term, the arc around a server = its election timer (full when just reset, draining to
nothing when it fires), a solid outline for a voter, dashed for a learner, dotted and faded for
a server outside the configuration, a thick outline for the leader. Messages in flight are dots
on the line between sender and receiver, placed by how far they have travelled, labelled with
what they carry (``AE t2 [3-4] c2``: AppendEntries of term 2 with entries 3-4, commit index 2;
``RV t3``: RequestVote; filled dots are requests, hollow ones replies). Right, the logs: one row
per server, one square per entry coloured by term and labelled with it, ``C`` on a configuration
entry, a thick black edge on committed entries.
"""

from __future__ import annotations

import html
import math
from typing import Any

from matplotlib.colors import to_hex

from consensuslab.plots.raft import ROLE_COLORS, term_color

__all__ = ["scope_svg", "SCOPE_ROLE_COLORS"]

#: Role fills (Raft's roles as in plots.raft; "paused" for a frozen process).
SCOPE_ROLE_COLORS = {**ROLE_COLORS, "paused": "#bcbddc"}

_W, _H = 980, 500
_CX, _CY, _RING, _R = 215, 250, 158, 32
_LOG_X, _LOG_Y, _CELL, _MAX_CELLS = 450, 92, 26, 19
_REPLIES = ("AppendEntriesReply", "RequestVoteReply", "InstallSnapshotReply")


def _pos(i: int, n: int) -> tuple[float, float]:
    a = -math.pi / 2 + 2 * math.pi * i / max(n, 1)
    return _CX + _RING * math.cos(a), _CY + _RING * math.sin(a)


def _text(x: float, y: float, s: str, size: int = 11, anchor: str = "middle", weight: str = "normal",
          fill: str = "#222", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="{fill}" font-family="sans-serif"{c}>{html.escape(s)}</text>')


def _node(v: Any, n: int) -> str:
    x, y = _pos(v.id, n)
    fill = SCOPE_ROLE_COLORS.get(v.role, "#999")
    dash = {"voter": "", "learner": ' stroke-dasharray="6 3"', "outside": ' stroke-dasharray="2 3"'}[v.member]
    width = 4 if v.role == "leader" else 1.5
    opacity = 0.45 if v.member == "outside" else 1.0
    out = [f'<g opacity="{opacity}" class="scope-node" data-node="{v.id}" data-role="{v.role}">']
    if v.timer is not None:  # the election timer: a draining arc
        rr = _R + 7
        circ = 2 * math.pi * rr
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rr}" fill="none" stroke="#e5e5e5" stroke-width="5"/>')
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{rr}" fill="none" stroke="#636363" stroke-width="5" '
                   f'stroke-dasharray="{v.timer * circ:.1f} {circ:.1f}" transform="rotate(-90 {x:.1f} {y:.1f})"/>')
    out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{_R}" fill="{fill}" stroke="#222" stroke-width="{width}"{dash}/>')
    out.append(_text(x, y + 7, str(v.term), size=20, weight="bold"))
    out.append(_text(x, y - _R - 14, f"S{v.id + 1}", size=12, weight="bold"))
    sub = v.role if v.role in ("down", "paused") else (f"voted S{v.voted_for + 1}" if v.voted_for is not None else "")
    if v.member != "voter":
        sub = (sub + " " if sub else "") + v.member
    if sub:
        out.append(_text(x, y + _R + 20, sub, size=10, fill="#444"))
    out.append("</g>")
    return "".join(out)


def _message(m: Any, n: int) -> str:
    (x0, y0), (x1, y1) = _pos(m.src, n), _pos(m.dst, n)
    d = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    sx, sy = x0 + ux * (_R + 4), y0 + uy * (_R + 4)
    ex, ey = x1 - ux * (_R + 4), y1 - uy * (_R + 4)
    # requests and replies on one link travel on opposite sides of it
    off = 5 if m.src < m.dst else -5
    px, py = sx + (ex - sx) * m.progress - uy * off, sy + (ey - sy) * m.progress + ux * off
    reply = m.kind in _REPLIES
    fill = "white" if reply else "#3182bd"
    return (f'<g class="scope-msg" data-seq="{m.seq}"><circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{fill}" '
            f'stroke="#3182bd" stroke-width="1.5"/>'
            + _text(px + 7 * (1 if ux >= 0 else -1), py - 6, m.label, size=9,
                    anchor="start" if ux >= 0 else "end", fill="#08519c") + "</g>")


def _logs(frame: Any) -> str:
    out = [_text(_LOG_X, _LOG_Y - 30, "logs (colour and number: term; C: configuration; thick edge: committed)",
                 size=11, anchor="start", fill="#444")]
    longest = max((len(v.log) for v in frame.nodes), default=0)
    first = max(1, longest - _MAX_CELLS + 1)
    for k in range(first, first + min(_MAX_CELLS, max(longest, 1))):
        out.append(_text(_LOG_X + 34 + (k - first) * _CELL + _CELL / 2 - 1, _LOG_Y - 10, str(k), size=9, fill="#777"))
    rows = max(len(frame.nodes), 1)
    step = min(36, (_H - _LOG_Y - 60) / rows)
    for r, v in enumerate(frame.nodes):
        y = _LOG_Y + r * step
        out.append(_text(_LOG_X, y + 16, f"S{v.id + 1}", size=11, anchor="start", weight="bold"))
        for k in range(first, len(v.log) + 1):
            term, kind = v.log[k - 1]
            x = _LOG_X + 34 + (k - first) * _CELL
            color = "#eeeeee" if kind == "snap" else to_hex(term_color(term))
            edge = 3 if k <= v.commit else 0.8
            out.append(f'<rect x="{x}" y="{y}" width="{_CELL - 3}" height="{_CELL - 3}" fill="{color}" '
                       f'stroke="#000" stroke-width="{edge}" class="scope-entry"/>')
            label = "C" if kind == "config" else ("" if kind == "snap" else str(term))
            out.append(_text(x + (_CELL - 3) / 2, y + 16, label, size=10, weight="bold" if kind == "config" else "normal",
                             fill="white" if kind != "snap" else "#999"))
    return "".join(out)


def _legend() -> str:
    out = []
    x = 20
    for role in ("follower", "pre_candidate", "candidate", "leader", "down", "paused"):
        out.append(f'<rect x="{x}" y="{_H - 36}" width="12" height="12" fill="{SCOPE_ROLE_COLORS[role]}" stroke="#222"/>')
        out.append(_text(x + 16, _H - 26, role.replace("_", "-"), size=10, anchor="start"))
        x += 16 + 7 * len(role) + 14
    out.append(_text(20, _H - 8, "big number: term · grey arc: election timer left · dashed outline: learner · "
                     "faded: outside the configuration · filled dot: request, hollow dot: reply",
                     size=10, anchor="start", fill="#444"))
    return "".join(out)


def scope_svg(frame: Any, title: str | None = None) -> str:
    """The SVG picture of ``frame`` (see the module notes)."""
    n = len(frame.nodes)
    leader = f"S{frame.leader + 1}" if frame.leader is not None else "none"
    head = title or f"t = {frame.time:.1f} ms · step {frame.step} · leader {leader}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
             f'class="raftscope" data-step="{frame.step}">',
             f'<rect width="{_W}" height="{_H}" fill="white"/>',
             _text(20, 22, head, size=14, anchor="start", weight="bold", cls="scope-head"),
             _text(20, 42, frame.event, size=12, anchor="start", fill="#333", cls="scope-event")]
    if frame.violation:
        parts.append(_text(20, 60, "SAFETY VIOLATION: " + frame.violation, size=12, anchor="start",
                           weight="bold", fill="#cb181d"))
    for i in range(n):  # the links
        for j in range(i + 1, n):
            (x0, y0), (x1, y1) = _pos(i, n), _pos(j, n)
            parts.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="#f0f0f0" stroke-width="1"/>')
    parts.extend(_node(v, n) for v in frame.nodes)
    parts.extend(_message(m, n) for m in frame.messages)
    parts.append(_logs(frame))
    parts.append(_legend())
    parts.append("</svg>")
    return "".join(parts)
