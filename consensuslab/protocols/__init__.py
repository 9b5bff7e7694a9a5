"""Sans-I/O protocol cores."""
