"""Trace recording: every send / deliver / drop / timer / crash / restart / note as a record.

Records are tuples ``(time, event, node, peer, kind, detail, msg_id)`` kept in a list (cheap
to append); :meth:`Trace.to_frame` turns them into a pandas DataFrame for analysis and plots.
``event`` is one of :data:`EVENTS`; ``kind`` is the message class name for message events, the
timer name for timers, the note's event for notes. For message events ``node`` is the sender
on ``send``/``duplicate`` and the receiver on ``deliver``; ``peer`` is the other end; ``detail``
is the message (``(reason, message)`` for drops); ``msg_id`` links a ``send`` (or
``duplicate``) to its ``deliver`` or delivery-time ``drop`` (``None`` for drops at send time
and for non-message events). Message counts by kind are always kept, even when full recording
is off.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

__all__ = ["Trace", "EVENTS"]

EVENTS = ("send", "duplicate", "deliver", "drop", "timer", "crash", "restart", "client", "reply", "note", "fault")


class Trace:
    """Collects trace records; ``enabled=False`` keeps only the message counters."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.records: list[tuple[float, str, int | None, int | None, str, Any, int | None]] = []
        self._sent: Counter[type] = Counter()
        self._delivered: Counter[type] = Counter()
        self._dropped: Counter[type] = Counter()

    def record(self, time: float, event: str, node: int | None, peer: int | None, kind: str, detail: Any = None) -> None:
        """Append a non-message record (crash, restart, note, fault, ...)."""
        if self.enabled:
            self.records.append((time, event, node, peer, kind, detail, None))

    @staticmethod
    def _named(counter: Counter[type]) -> dict[str, int]:
        out: Counter[str] = Counter()
        for t, c in counter.items():
            out[t.__name__] += c
        return dict(sorted(out.items()))

    @property
    def sent_by_kind(self) -> dict[str, int]:
        """Messages sent, by message class name (a duplicated message counts once)."""
        return self._named(self._sent)

    @property
    def delivered_by_kind(self) -> dict[str, int]:
        return self._named(self._delivered)

    @property
    def dropped_by_kind(self) -> dict[str, int]:
        return self._named(self._dropped)

    @property
    def messages_sent(self) -> int:
        return sum(self._sent.values())

    @property
    def messages_delivered(self) -> int:
        return sum(self._delivered.values())

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame: time, event, node, peer, kind, detail, msg_id."""
        df = pd.DataFrame(self.records, columns=["time", "event", "node", "peer", "kind", "detail", "msg_id"])
        return df.astype({"node": "Int64", "peer": "Int64", "msg_id": "Int64"})

    def messages(self) -> pd.DataFrame:
        """One row per sent message copy: src, dst, kind, sent, delivered (NaN if dropped), fate.

        ``fate`` is ``delivered``, or the drop reason (``loss``, ``partition``, ``down``), or
        ``in flight``. This is what a message-sequence chart draws.
        """
        rows: dict[int, dict[str, Any]] = {}
        early_drops = []
        for time, event, node, peer, kind, detail, mid in self.records:
            if event in ("send", "duplicate"):
                assert mid is not None  # a send or duplicate record always carries its message id
                rows[mid] = {"msg_id": mid, "src": node, "dst": peer, "kind": kind, "sent": time,
                             "delivered": float("nan"), "fate": "in flight", "msg": detail}
            elif event == "deliver" and mid in rows:
                rows[mid]["delivered"] = time
                rows[mid]["fate"] = "delivered"
            elif event == "drop":
                if node is None:
                    continue  # a client request to a crashed node: not a message between nodes
                reason, msg = detail
                if mid is not None and mid in rows:
                    rows[mid]["fate"] = reason
                    rows[mid]["dropped"] = time
                else:
                    early_drops.append({"msg_id": None, "src": node, "dst": peer, "kind": kind, "sent": time,
                                        "delivered": float("nan"), "fate": reason, "msg": msg, "dropped": time})
        cols = ["msg_id", "src", "dst", "kind", "sent", "delivered", "dropped", "fate", "msg"]
        df = pd.DataFrame(list(rows.values()) + early_drops, columns=cols)
        return df.sort_values(["sent", "src"], kind="stable").reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.records)
