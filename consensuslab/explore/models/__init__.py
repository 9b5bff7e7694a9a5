"""Models of particular systems, for :func:`consensuslab.explore.check`."""
