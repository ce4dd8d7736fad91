"""Hybrid retrieval: dense (Chroma) and lexical (FTS5 BM25), fused by reciprocal rank.

With ``Query.route``, a question that names papers (index.route) is also searched within them: dense, and lexical
with the names left out, two more ranked lists in the same fusion. Ask routes; cite does not (a claim or a number
typed into cite is matched exactly, names included).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np

from footnote.numbers import Number, extract_numbers, query_numbers
from footnote.types import Passage
from index.archive import Archive
from index.route import Route, route

SELECTIVE_PAPERS = 32
# The two lists within named papers weigh half as much as the archive-wide ones: together as much as one of them,
# so a question that names two papers' models ("How does DeepSeek-R1 compare with Kimi k1.5?") still gets passages
# of both when only one name is specific enough to route (bench/qa_eval.py: same recall as 1.0, fewer answers to
# unanswerable questions).
NAMED_WEIGHT = 0.5
DENSE_THREADS = 4  # dense queries in flight at once across the process's searches

_dense_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _dense_threads() -> ThreadPoolExecutor:
    """The threads the dense side of a search runs on while the caller's thread runs the lexical side: Chroma's
    query and SQLite's FTS5 both release the GIL, so the two overlap (a search takes about the longer of the two,
    not their sum; with FOOTNOTE_CHROMA_URL the dense side is a request to the server)."""
    global _dense_pool
    with _pool_lock:
        if _dense_pool is None:
            _dense_pool = ThreadPoolExecutor(max_workers=DENSE_THREADS, thread_name_prefix="footnote-dense")
        return _dense_pool


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
    route: bool = False  # also search the papers the text names, without their names (index.route)


class Retriever:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.settings = archive.settings.index
        self._routes: dict[tuple[str, tuple[str, ...] | None], Route | None] = {}  # ask asks search, then named

    def search(self, query: Query) -> list[Passage]:
        paper_ids = self._paper_filter(query)
        if paper_ids is not None and not paper_ids:
            return []
        self.archive.check_embedder()  # before any model is loaded (or exported) for nothing
        self.archive.open_for_queries(query.text if query.vector is None else None)
        vector = query.vector if query.vector is not None else self.archive.query_vector(query.text)
        lists = self._both(vector, query.text, paper_ids, query)
        named = self._route(query.text, paper_ids) if query.route else None
        numbers = query_numbers(query.text)
        if named is not None:
            lists += self._both(vector, named.rest(query.text), list(named.paper_ids), query, pairs=True)
            # The 2 of "O1 Replication Journey Part 2" is the paper's name, not a figure asked for.
            numbers = [n for n in numbers if n.text.lower() not in named.words]
        return self._fuse(lists, query.k, numbers)

    def named(self, query: Query) -> Route | None:
        """The papers the query names (index.route), among those its filters allow; None when it names none."""
        paper_ids = self._paper_filter(query)
        if paper_ids is not None and not paper_ids:
            return None
        return self._route(query.text, paper_ids)

    def _route(self, text: str, paper_ids: Sequence[str] | None) -> Route | None:
        key = (text, None if paper_ids is None else tuple(paper_ids))
        if key not in self._routes:
            self._routes[key] = route(self.archive.catalog, text, paper_ids)
        return self._routes[key]

    def _both(
        self, vector: np.ndarray, text: str, paper_ids: Sequence[str] | None, query: Query, pairs: bool = False
    ) -> list[list[tuple[str, float]]]:
        """The dense and the lexical list, among ``paper_ids`` if given (the named papers: with the question
        without their names, and neighbouring words as phrases, ``pairs``)."""
        # A few papers: their chunk ids from the catalog let the store search them exactly, fetched by id.
        few = paper_ids is not None and len(paper_ids) <= SELECTIVE_PAPERS
        dense = _dense_threads().submit(
            self.archive.store.query,
            vector,
            self.settings.dense_k,
            paper_ids=paper_ids,
            exclude_kinds=query.exclude_kinds,
            include_kinds=query.include_kinds,
            chunk_ids=self.archive.catalog.chunk_ids(paper_ids) if few else None,
        )
        try:
            lexical = self.archive.catalog.lexical_search(
                text,
                self.settings.lexical_k,
                paper_ids=paper_ids,
                exclude_kinds=query.exclude_kinds,
                include_kinds=query.include_kinds,
                pairs=pairs,
            )
        except BaseException:
            wait([dense])  # no query left running behind the lexical side's error, which is the one raised
            raise
        return [dense.result(), lexical]

    def _paper_filter(self, query: Query) -> list[str] | None:
        if query.paper_ids is None and not query.since and not query.until:
            return None
        return self.archive.catalog.complete_ids(query.paper_ids, query.since, query.until)

    def _fuse(self, lists: list[list[tuple[str, float]]], k: int, numbers: Sequence[Number] = ()) -> list[Passage]:
        """Reciprocal rank fusion of ranked (chunk id, score) lists: [dense, lexical, then any within named
        papers: dense, lexical], then the query's ``numbers`` found in a chunk lift it. A passage's dense score
        is its cosine in either dense list."""
        rrf = self.settings.rrf_k
        scores: dict[str, float] = {}
        for n, ranked_list in enumerate(lists):
            weight = 1.0 if n < 2 else NAMED_WEIGHT
            for rank, (cid, _) in enumerate(ranked_list):
                scores[cid] = scores.get(cid, 0.0) + weight / (rrf + rank + 1)
        dense_of = {cid: s for ranked_list in lists[0::2] for cid, s in ranked_list}
        # the archive-wide BM25 where a passage has one, else its BM25 within the named papers
        lexical_of = {cid: s for ranked_list in reversed(lists[1::2]) for cid, s in ranked_list}
        ranked = sorted(scores, key=lambda cid: -scores[cid])
        # Only chunks the catalog holds are real: vectors of unfinished papers are invisible.
        chunks = self.archive.catalog.chunks(ranked[: max(k * 3, k + 10, self.settings.number_pool)])
        if numbers:
            # Rank fusion weighs an exact number like any other word; a user who types "53.5%" means the
            # passage that states it (not the 7B of "MiMo-7B": a name's part, which would lift every chunk
            # that names the model above the one that answers). Each of the query's numbers found in a chunk
            # adds up to the score of a first place in both lists.
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
