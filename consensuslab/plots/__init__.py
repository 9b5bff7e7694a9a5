"""matplotlib figures, one module per topic (the only place besides widgets that imports matplotlib)."""
