"""Typed errors. The library raises these; the CLI turns them into one-line messages."""

from __future__ import annotations


class FootnoteError(Exception):
    """Base of every error footnote reports to the user as one line."""


class InvalidSourceError(FootnoteError):
    """A source given to ingest is not a PDF path, directory, arXiv id or paper URL."""


class InvalidDateError(FootnoteError):
    """A date is not a real YYYY-MM-DD date."""


class FetchError(FootnoteError):
    """An HTTP fetch failed after retries (status, timeout, size cap, not a PDF...)."""


class DailyListError(FetchError):
    """The daily papers list could not be fetched or parsed."""


class PDFError(FootnoteError):
    """A PDF cannot be parsed: corrupt, truncated, encrypted, empty, too long or without text."""


class ArchiveError(FootnoteError):
    """The archive home cannot be used (locked by another ingest, unreadable...)."""


class ArchiveLockedError(ArchiveError):
    """Another footnote process holds the archive's write lock."""


class EmbeddingModelMismatchError(ArchiveError):
    """The archive's vectors were made by another embedding model than the one configured."""


class LLMError(FootnoteError):
    """The LLM endpoint failed or returned something unusable."""


class NotIngestedError(FootnoteError):
    """A paper that a command needs is not in the archive."""
