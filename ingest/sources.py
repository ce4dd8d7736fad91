"""What `footnote ingest SOURCE...` accepts: PDF paths, directories of PDFs, arXiv ids and paper URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from footnote.errors import InvalidSourceError
from ingest.ids import is_arxiv_id, parse_arxiv_id


@dataclass(frozen=True)
class LocalPDF:
    source: str  # as the user wrote it
    path: Path
    paper_id: str
    version: int | None


@dataclass(frozen=True)
class RemotePaper:
    source: str
    paper_id: str
    version: int | None


Source = LocalPDF | RemotePaper

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_URL_ID = re.compile(r"^/(?:abs|pdf|papers|html)/(?P<id>.+?)(?:\.pdf)?/?$")


def _show(source: str) -> str:
    """The source as the user wrote it, or its repr when it holds control characters (one-line messages)."""
    return repr(source) if any(ord(c) < 32 or ord(c) == 127 for c in source) else source


def local_id(path: Path) -> tuple[str, int | None]:
    """A PDF named by its arXiv id keeps that id; any other file gets a slug of its name."""
    stem = path.stem
    if is_arxiv_id(stem):
        return parse_arxiv_id(stem)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:80] or "paper"
    return f"local-{slug}", None


def resolve(source: str) -> list[Source]:
    """Expand one SOURCE argument; raise InvalidSourceError with a one-line reason."""
    if "\x00" in source:
        raise InvalidSourceError(f"{_show(source)}: contains a NUL byte")
    if not source.strip():
        # Path("") is ".", so an empty argument (an unset shell variable) would ingest the working directory.
        raise InvalidSourceError(f"{source!r}: empty source")
    scheme = _SCHEME.match(source)
    if scheme:
        if scheme.group(1).lower() not in ("http", "https"):
            raise InvalidSourceError(f"{_show(source)}: unsupported URL scheme (give an arXiv or HF paper URL)")
        return [_from_url(source)]
    if is_arxiv_id(source):
        paper_id, version = parse_arxiv_id(source)
        return [RemotePaper(source, paper_id, version)]
    path = Path(source)
    if path.is_dir():
        pdfs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())
        if not pdfs:
            raise InvalidSourceError(f"{_show(source)}: directory holds no .pdf files")
        return [LocalPDF(str(p), p, *local_id(p)) for p in pdfs]
    if path.is_file():
        return [LocalPDF(source, path, *local_id(path))]
    if path.exists():
        raise InvalidSourceError(f"{_show(source)}: not a regular file or directory")
    raise InvalidSourceError(f"{_show(source)}: no such file, and not an arXiv id or paper URL")


def _from_url(url: str) -> RemotePaper:
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower()
    if not (host == "arxiv.org" or host.endswith(".arxiv.org") or host in ("huggingface.co", "hf.co")):
        raise InvalidSourceError(f"{_show(url)}: not an arXiv or huggingface.co/papers URL")
    m = _URL_ID.match(parsed.path)
    if not m or not is_arxiv_id(m.group("id")):
        raise InvalidSourceError(f"{_show(url)}: no arXiv id in this URL")
    paper_id, version = parse_arxiv_id(m.group("id"))
    return RemotePaper(url, paper_id, version)
