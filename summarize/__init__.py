"""Stage 3a: per-section retrieval, generation, verification, digest rendering."""
