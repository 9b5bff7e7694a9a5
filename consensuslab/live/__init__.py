"""Live clusters: the same sans-I/O protocol nodes on real processes, UDP and disks.

:mod:`.wire` (messages as versioned, validated JSON), :mod:`.storage` (fsynced records),
:mod:`.runtime` (the asyncio driver of one node), :mod:`.client` (a KV client with retries and a
history), :mod:`.cluster` (local clusters: kill -9, restart, network faults), :mod:`.measure`
(live vs simulated election downtime), :mod:`.serve` and :mod:`.cli` (the command line).
"""
