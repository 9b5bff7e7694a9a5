"""Scripted runs of the protocols: walkthroughs, replays and stories for the notebooks.

One module per protocol (:mod:`.paxos`, :mod:`.raft`, :mod:`.vesta`). A scenario may use
:class:`~consensuslab.cluster.Cluster` and the simulator; the protocol modules never import
anything from here (``tests/test_layering.py``).
"""
