"""Stage 2: embed, store, retrieve."""
