"""ipywidgets explorers used by the notebooks; their logic is testable without a kernel."""
