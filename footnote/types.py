"""Core value types. Each carries its provenance: chunks know their paper, pages and section;
citations know their chunk, page and verbatim quote."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DailyEntry:
    """One paper on a Hugging Face daily list."""

    id: str  # arXiv id without version
    title: str  # line breaks folded
    authors: tuple[str, ...]
    abstract: str
    upvotes: int
    published_at: str | None = None  # arXiv submission time, ISO 8601
    version: int | None = None


@dataclass(frozen=True)
class Paper:
    """A paper in the archive."""

    id: str  # arXiv id without version (or a local id for non-arXiv PDFs)
    version: int | None
    title: str
    authors: tuple[str, ...]
    abstract: str
    source_url: str
    sha256: str
    pages: int = 0

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    def pdf_url(self, page: int | None = None) -> str:
        url = f"https://arxiv.org/pdf/{self.id}"
        return f"{url}#page={page}" if page else url


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one section of one paper.

    ``char_start``/``char_end`` index the paper's text (its pages' texts joined by "\\n").
    """

    paper_id: str
    page_start: int  # 1-based
    page_end: int
    section: str  # heading as printed, e.g. "3.2 Training Setup"
    kind: str  # canonical section kind: abstract, introduction, method, experiments, ...
    char_start: int
    char_end: int
    text: str
    id: str = field(default="")
    # (start, end) of each sentence in ``text``, as split at ingest; None for chunks stored without them.
    sentences: tuple[tuple[int, int], ...] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", chunk_id(self.paper_id, self.char_start, self.text))

    @property
    def is_reference(self) -> bool:
        return self.kind == "references"


def chunk_id(paper_id: str, char_start: int, text: str) -> str:
    digest = hashlib.sha1(f"{paper_id}\0{char_start}\0{text}".encode()).hexdigest()[:16]
    return f"{paper_id}:{digest}"


@dataclass(frozen=True)
class Passage:
    """A chunk retrieved for a query, with its scores."""

    chunk: Chunk
    score: float  # fused score, higher is better
    dense: float | None = None  # cosine similarity, if the dense side found it
    lexical: float | None = None  # BM25 score, if the lexical side found it
    title: str = ""


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from one page of one paper that supports a statement."""

    paper_id: str
    page: int
    quote: str
    chunk_id: str = ""

    def to_json(self) -> dict:
        return {"paper_id": self.paper_id, "page": self.page, "quote": self.quote}


@dataclass(frozen=True)
class Statement:
    """One sentence of generated output and the citations that ground it."""

    text: str
    citations: tuple[Citation, ...]
    label: str | None = None

    def to_json(self) -> dict:
        out: dict = {"text": self.text}
        if self.label is not None:
            out["label"] = self.label
        out["citations"] = [c.to_json() for c in self.citations]
        return out
