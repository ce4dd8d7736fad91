"""Stage 1: daily list, download, parse, chunk."""
