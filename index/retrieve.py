"""Hybrid retrieval: dense (Chroma) and lexical (FTS5 BM25), fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from footnote.numbers import extract_numbers
from footnote.types import Passage
from index.archive import Archive

SELECTIVE_PAPERS = 32


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 5
    paper_ids: Sequence[str] | None = None
    since: str | None = None
    until: str | None = None
    exclude_kinds: Sequence[str] = ("references",)
    include_kinds: Sequence[str] | None = None  # only these section kinds, if given
    vector: np.ndarray | None = None  # precomputed embedding of text, if any


class Retriever:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.settings = archive.settings.index

    def search(self, query: Query) -> list[Passage]:
        paper_ids = self._paper_filter(query)
        if paper_ids is not None and not paper_ids:
            return []
        self.archive.check_embedder()
        vector = query.vector if query.vector is not None else self.archive.embedder.embed([query.text])[0]
        # A few papers: their chunk ids from the catalog let the store search them exactly, fetched by id.
        few = paper_ids is not None and len(paper_ids) <= SELECTIVE_PAPERS
        dense = self.archive.store.query(
            vector,
            self.settings.dense_k,
            paper_ids=paper_ids,
            exclude_kinds=query.exclude_kinds,
            include_kinds=query.include_kinds,
            chunk_ids=self.archive.catalog.chunk_ids(paper_ids) if few else None,
        )
        lexical = self.archive.catalog.lexical_search(
            query.text,
            self.settings.lexical_k,
            paper_ids=paper_ids,
            exclude_kinds=query.exclude_kinds,
            include_kinds=query.include_kinds,
        )
        return self._fuse(dense, lexical, query.k, query.text)

    def _paper_filter(self, query: Query) -> list[str] | None:
        if query.paper_ids is None and not query.since and not query.until:
            return None
        return self.archive.catalog.complete_ids(query.paper_ids, query.since, query.until)

    def _fuse(
        self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]], k: int, text: str = ""
    ) -> list[Passage]:
        rrf = self.settings.rrf_k
        scores: dict[str, float] = {}
        for rank, (cid, _) in enumerate(dense):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (rrf + rank + 1)
        for rank, (cid, _) in enumerate(lexical):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (rrf + rank + 1)
        dense_of, lexical_of = dict(dense), dict(lexical)
        ranked = sorted(scores, key=lambda cid: -scores[cid])
        # Only chunks the catalog holds are real: vectors of unfinished papers are invisible.
        chunks = self.archive.catalog.chunks(ranked[: max(k * 3, k + 10, self.settings.number_pool)])
        numbers = extract_numbers(text)
        if numbers:
            # Rank fusion weighs an exact number like any other word; a user who types "53.5%" means the
            # passage that states it. Each of the query's numbers found in a chunk adds up to the score of
            # a first place in both lists.
            top = 2.0 / (rrf + 1)
            for cid, chunk in chunks.items():
                found = extract_numbers(chunk.text)
                hits = sum(1 for n in numbers if any(n.matches(f) for f in found))
                scores[cid] += top * hits / len(numbers)
            ranked = sorted(scores, key=lambda cid: -scores[cid])
        best = [cid for cid in ranked if cid in chunks][:k]
        titles = self.archive.catalog.titles(chunks[cid].paper_id for cid in best)
        out = []
        for cid in best:
            chunk = chunks[cid]
            title = titles.get(chunk.paper_id, "")
            out.append(Passage(chunk, scores[cid], dense_of.get(cid), lexical_of.get(cid), title))
        return out
