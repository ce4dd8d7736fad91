"""footnote: grounded daily digests, question answering and citation lookup over research papers."""

__version__ = "0.1.0"
