"""Trace recording: every send / deliver / drop / timer / crash / restart / note as a record.

Records are tuples ``(time, event, node, peer, kind, detail)`` kept in a list (cheap to
append); :meth:`Trace.to_frame` turns them into a pandas DataFrame for analysis and plots.
``event`` is one of :data:`EVENTS`; ``kind`` is the message class name for message events, the
timer name for timers, the note's event for notes. Message counts by kind are always kept, even
when full recording is off.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

__all__ = ["Trace", "EVENTS"]

EVENTS = ("send", "deliver", "drop", "timer", "crash", "restart", "client", "reply", "note", "fault")


class Trace:
    """Collects trace records; ``enabled=False`` keeps only the message counters."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.records: list[tuple[float, str, int | None, int | None, str, Any]] = []
        self._sent: Counter[type] = Counter()
        self._delivered: Counter[type] = Counter()
        self._dropped: Counter[type] = Counter()

    def record(self, time: float, event: str, node: int | None, peer: int | None, kind: str, detail: Any = None) -> None:
        if self.enabled:
            self.records.append((time, event, node, peer, kind, detail))

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
        """The records as a DataFrame with columns time, event, node, peer, kind, detail."""
        return pd.DataFrame(self.records, columns=["time", "event", "node", "peer", "kind", "detail"])

    def __len__(self) -> int:
        return len(self.records)
