"""The Raft safety monitor: the five properties of Figure 3, checked after every step.

Theory of operation
-------------------
:class:`RaftMonitor` observes every live :class:`~consensuslab.protocols.raft.RaftNode` after
each simulator step and raises :class:`~consensuslab.check.SafetyViolation` as soon as one of
the properties of Figure 3 (Ongaro & Ousterhout 2014) fails:

Election Safety
    at most one leader per term, over the whole run -- whatever configuration each leader
    was elected under (membership changes, dissertation §4, must not break it; the 2015
    single-server bug did). Past leaders are read from each node's ghost record ``ghost_led``
    (the terms it led, kept by the driver across crashes), so a monitor asked once -- as the
    explorer asks a fresh one on each state -- sees two leaders of a term even if one of them
    has since stepped down or crashed;
Leader Append-Only
    while a node leads in a term, the entries it held are never overwritten or deleted;
Log Matching
    two logs holding an entry with the same index and term are identical up to that index;
Leader Completeness
    an entry committed in term ``t`` is in the log of every leader of a term ``> t``;
State Machine Safety
    no two servers commit or apply different entries at the same index.

To keep this cheap, each log prefix gets a **prefix id** by interning ``(id of the prefix up to
i-1, entry i)``: two logs agree up to ``i`` exactly when their prefix ids at ``i`` are equal,
so each property becomes a dictionary lookup. The monitor re-reads a node's log only when its
``log_version`` changed, from the first index that differs from the copy it keeps; idle steps
cost a few attribute reads per node. Log Matching is checked across time as well: the first
prefix id seen for ``(index, term)`` is remembered, and any log later holding that pair must
have the same prefix. The committed prefix is the longest commit index any node reported;
each index remembers the term in which it was first seen committed, so Leader Completeness
applies only to leaders of later terms (a deposed leader of an older term may legitimately lag).

Configuration entries (membership changes) are log entries like any other: their
configuration is part of the interned key, so Log Matching and State Machine Safety cover them,
and the set of nodes checked grows when the driver adds nodes.

The monitor also checks the local invariants ``last_applied <= commit_index <=
last_log_index`` and that a node's commit index never decreases while it stays up.
"""

from __future__ import annotations

from typing import Any

from consensuslab.check.safety import SafetyViolation
from consensuslab.protocols.base import Monitor
from consensuslab.protocols.raft_messages import Entry, Role

__all__ = ["RaftMonitor"]

_LEADER = Role.LEADER


class _View:
    """What the monitor last saw of one node object."""

    __slots__ = ("node", "version", "base", "ents", "ids", "commit", "applied_seen",
                 "applied_base", "leader_term", "leader_len")

    def __init__(self, node: Any) -> None:
        self.node = node
        self.version = -1
        self.base = 0
        self.ents: list[Entry | None] = [None]  # by log index; [0] is a sentinel
        self.ids: list[int | None] = [0]  # prefix id at each index; None = unknown (compacted)
        self.commit = 0
        self.applied_seen = 0
        self.applied_base = 0
        self.leader_term = -1
        self.leader_len = 0


class RaftMonitor(Monitor):
    """Checks Raft's safety properties (Figure 3) incrementally; see the module docstring.

    Examples
    --------
    >>> from consensuslab.cluster import Cluster
    >>> c = Cluster("raft", n=3, seed=2, check_every_step=True)
    >>> c.run_until(lambda: c.leader() is not None, timeout=2000)
    True
    >>> c.put("x", 1).ok
    True
    """

    def __init__(self) -> None:
        self._intern: dict[tuple, int] = {(): 0}
        self._at: dict[tuple[int, int], int | None] = {}  # (index, term) -> prefix id
        self._leaders: dict[int, int] = {}  # term -> leader id
        self._views: dict[int, _View] = {}
        self._committed_ids: list[int | None] = [0]
        self._committed_entries: list[Entry | None] = [None]
        self._commit_terms: list[int] = [0]
        self.steps = 0
        self._live: Any = ()
        self._led_seen: list[int] = []  # per node: how many of its ghost_led terms were read

    # -- helpers ---------------------------------------------------------------------------
    def _pid(self, prev: int | None, e: Entry) -> int | None:
        if prev is None:
            return None
        try:
            key: tuple = (prev, e.term, e.command) if e.config is None else (prev, e.term, e.command, e.config)
            pid = self._intern.get(key)
        except TypeError:  # an unhashable command value: fall back to its repr
            key = (prev, e.term, repr(e.command), e.config)
            pid = self._intern.get(key)
        if pid is None:
            pid = self._intern[key] = len(self._intern)
        return pid

    @staticmethod
    def _fail(invariant: str, detail: str, now: float) -> None:
        raise SafetyViolation(invariant, detail, now)

    # -- the check -------------------------------------------------------------------------
    def observe(self, sim: Any) -> None:
        """Check every live node; raise :class:`SafetyViolation` on the first broken property."""
        self.steps += 1
        now = sim.now
        self._live = sim.nodes
        views = self._views
        ghosts = getattr(sim, "ghosts", None)
        if ghosts is not None:  # leaders of the past (ghost state), up or down: Election Safety
            self._check_led(ghosts, now)
        for node in sim.nodes:
            if node is None:
                continue
            v = views.get(node.id)
            if v is None or v.node is not node:  # first sight, or restarted from storage
                v = views[node.id] = _View(node)
                # commit stays 0 so that what the node already committed is checked and
                # recorded now: the monitor may be attached late or called only once
                # (Cluster.check_safety) and must not mistake old commits for new ones.
                v.applied_base = node.applied_base
            if node.log_version != v.version:
                self._sync_log(node, v, now)
            if node.role is _LEADER:
                self._check_leader(node, v, now)
            if node.commit_index != v.commit:
                self._check_commit(node, v, now)
            if len(node.applied) != v.applied_seen or node.applied_base != v.applied_base:
                self._check_applied(node, v, now)

    def _check_led(self, ghosts: Any, now: float) -> None:
        seen = self._led_seen
        leaders = self._leaders
        for i, ghost in enumerate(ghosts):
            led = ghost.get("ghost_led", ())
            if i >= len(seen):
                seen.extend([0] * (i + 1 - len(seen)))
            for t in led[seen[i]:]:
                other = leaders.setdefault(t, i)
                if other != i:
                    self._fail("Election Safety", f"nodes {other} and {i} both led term {t}", now)
            seen[i] = len(led)

    def _sync_log(self, node: Any, v: _View, now: float) -> None:
        leading = node.role is _LEADER and v.leader_term == node.term
        if leading:  # remember the leader's prefix id to check Leader Append-Only after
            held = v.leader_len
            held_id = v.ids[held] if held < len(v.ids) else None
        base = node.snapshot_index
        log = node.log
        ents, ids = v.ents, v.ids
        old_len = len(ents) - 1
        new_len = base + len(log)
        if base != v.base:
            # a new snapshot point: the compacted prefix is (if the node is right) the committed
            # log; re-derive it from there (InstallSnapshot may have replaced our copy)
            v.base = base
            cids, cents = self._committed_ids, self._committed_entries
            k = min(base, len(cids) - 1)
            ents[:] = cents[:k + 1] + [None] * (base - k)
            ids[:] = cids[:k + 1] + [None] * (base - k)
            if base > k:
                ids[base] = self._at.get((base, node.snapshot_term))
            elif cents[base] is not None and cents[base].term != node.snapshot_term:
                self._fail("State Machine Safety",
                           f"node {node.id}'s snapshot ends at index {base} in term "
                           f"{node.snapshot_term}; the committed entry there has term {cents[base].term}", now)
            old_len = base
        if base == old_len:
            d = base + 1
        else:
            m = min(old_len, new_len)
            if ents[base + 1:m + 1] == log[:m - base]:
                d = m + 1
            else:
                d = base + 1
                while ents[d] is log[d - base - 1] or ents[d] == log[d - base - 1]:
                    d += 1
        del ents[d:]
        del ids[d:]
        at = self._at
        prev = ids[d - 1]
        for j in range(d, new_len + 1):
            e = log[j - base - 1]
            pid = self._pid(prev, e)
            ents.append(e)
            ids.append(pid)
            if pid is not None:
                known = at.setdefault((j, e.term), pid)
                if known != pid:
                    self._fail("Log Matching",
                               f"node {node.id} holds an entry at index {j} in term {e.term} "
                               f"whose preceding log differs from another log's", now)
            prev = pid
        v.version = node.log_version
        if leading:
            if new_len < held or (held_id is not None and ids[held] is not None and ids[held] != held_id):
                self._fail("Leader Append-Only",
                           f"leader {node.id} of term {node.term} overwrote or deleted entries "
                           f"among the {held} it held", now)

    def _check_leader(self, node: Any, v: _View, now: float) -> None:
        t = node.term
        if v.leader_term != t:
            other = self._leaders.setdefault(t, node.id)
            if other != node.id:
                self._fail("Election Safety", f"nodes {other} and {node.id} both led term {t}", now)
            v.leader_term = t
            self._check_completeness(node, v, now)
        v.leader_len = len(v.ents) - 1

    def _check_completeness(self, node: Any, v: _View, now: float) -> None:
        """Leader Completeness: the leader of term T holds every entry committed before T."""
        terms = self._commit_terms
        c = len(terms) - 1
        t = node.term
        while c > 0 and terms[c] >= t:
            c -= 1
        if c == 0:
            return
        if len(v.ids) - 1 < c:
            self._fail("Leader Completeness",
                       f"leader {node.id} of term {t} has {len(v.ids) - 1} entries but index {c} "
                       f"was committed in term {terms[c]}", now)
        mine, ref = v.ids[c], self._committed_ids[c]
        if mine is not None and ref is not None and mine != ref:
            self._fail("Leader Completeness",
                       f"leader {node.id} of term {t} lacks the entries committed up to index {c} "
                       f"(committed in term {terms[c]})", now)

    def _check_commit(self, node: Any, v: _View, now: float) -> None:
        c = node.commit_index
        if c < v.commit:
            self._fail("State Machine Safety",
                       f"node {node.id}'s commit index went back from {v.commit} to {c}", now)
        if not node.last_applied <= c <= node.last_log_index:
            self._fail("Log invariant",
                       f"node {node.id}: need last_applied <= commit_index <= last_log_index; got "
                       f"{node.last_applied}, {c}, {node.last_log_index}", now)
        v.commit = c
        ids = v.ids
        cids = self._committed_ids
        top = len(cids) - 1
        probe = min(c, top)
        if probe > 0 and ids[probe] is not None and cids[probe] is not None and ids[probe] != cids[probe]:
            self._fail("State Machine Safety",
                       f"node {node.id} committed index {probe} but its log up to there differs "
                       f"from the log committed before", now)
        if c > top:
            t = node.term
            for i in range(top + 1, c + 1):
                cids.append(ids[i])
                self._committed_entries.append(v.ents[i])
                self._commit_terms.append(t)
            live = self._live
            for w in self._views.values():  # live leaders of later terms must hold it
                if w.node.role is _LEADER and w.leader_term > t and live[w.node.id] is w.node:
                    self._check_completeness(w.node, w, now)

    def _check_applied(self, node: Any, v: _View, now: float) -> None:
        if node.applied_base != v.applied_base:  # installed a snapshot: start over from it
            v.applied_base = node.applied_base
            v.applied_seen = 0
        applied = node.applied
        entries = self._committed_entries
        base = node.applied_base
        for k in range(v.applied_seen, len(applied)):
            idx = base + 1 + k
            if idx >= len(entries):
                self._fail("State Machine Safety",
                           f"node {node.id} applied index {idx} before it was committed", now)
            ref = entries[idx]
            if ref is not None and ref.command != applied[k]:
                self._fail("State Machine Safety",
                           f"node {node.id} applied {applied[k]!r} at index {idx}; "
                           f"{ref.command!r} was committed there", now)
        v.applied_seen = len(applied)
