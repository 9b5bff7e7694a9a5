"""Shared test configuration: a non-interactive matplotlib backend for unit tests only."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
