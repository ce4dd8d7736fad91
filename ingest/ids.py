"""arXiv ids and dates: validated before they touch a path or a URL."""

from __future__ import annotations

import datetime as dt
import re

from footnote.errors import InvalidDateError, InvalidSourceError

# New-style ids (0704 onwards): YYMM.NNNN or YYMM.NNNNN, optional vN.
_NEW_ID = re.compile(r"(?P<id>\d{4}\.\d{4,5})(?:v(?P<version>\d{1,3}))?")
# Old-style ids: archive(.SUBJ)/YYMMNNN, optional vN, e.g. hep-th/9901001v2.
_OLD_ID = re.compile(r"(?P<id>[a-z][a-z\-]{1,20}(?:\.[A-Z]{2})?/\d{7})(?:v(?P<version>\d{1,3}))?")


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """Split ``2501.12948v2`` into ``("2501.12948", 2)``; raise InvalidSourceError for anything else."""
    candidate = text.strip()
    for pattern in (_NEW_ID, _OLD_ID):
        m = pattern.fullmatch(candidate)
        if m:
            version = m.group("version")
            return m.group("id"), int(version) if version else None
    raise InvalidSourceError(f"{text!r}: not an arXiv id (expected e.g. 2501.12948 or 2501.12948v2)")


def is_arxiv_id(text: str) -> bool:
    try:
        parse_arxiv_id(text)
    except InvalidSourceError:
        return False
    return True


def safe_name(paper_id: str) -> str:
    """A file name for a validated paper id (old-style ids contain a slash)."""
    parse_arxiv_id(paper_id)
    return paper_id.replace("/", "_")


def pdf_name(paper_id: str, version: int | None = None) -> str:
    """The file name of a paper's PDF in the download cache: ``<safe id>.pdf`` or ``<safe id>v<N>.pdf``."""
    return f"{safe_name(paper_id)}v{version}.pdf" if version else f"{safe_name(paper_id)}.pdf"


def parse_date(text: str) -> dt.date:
    """A real calendar date in YYYY-MM-DD form, or InvalidDateError."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or ""):
        raise InvalidDateError(f"{text!r}: not a date (expected YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidDateError(f"{text!r}: not a date ({exc})") from None
