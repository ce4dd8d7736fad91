"""Vector store seam. Chroma, embedded (PersistentClient under the home) or a server (HttpClient).

With ``Settings.index.chroma_url`` set (``FOOTNOTE_CHROMA_URL=http://host:port``) the vectors live on that
Chroma server and nothing is written under ``HOME/chroma``; everything else (catalog, lexical index, PDFs)
stays in the home. Both clients go through the same `ChromaStore` code.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlparse

import numpy as np

from footnote.errors import ArchiveError
from footnote.types import Chunk

T = TypeVar("T")


class VectorStore(Protocol):
    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def delete_paper(self, paper_id: str) -> None: ...

    def query(
        self,
        vector: np.ndarray,
        k: int,
        *,
        paper_ids: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = (),
        include_kinds: Sequence[str] | None = None,
        chunk_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def ids(self, paper_id: str | None = None) -> list[str]: ...


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``http[s]://host[:port]``; the port defaults to Chroma's 8000 (443 for https)."""
    try:
        parsed = urlparse(url.strip())
        port = parsed.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise ArchiveError(f"FOOTNOTE_CHROMA_URL {url!r}: {exc} (expected http://host:port)") from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ArchiveError(f"FOOTNOTE_CHROMA_URL {url!r}: not a Chroma server URL (expected http://host:port)")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        raise ArchiveError(
            f"FOOTNOTE_CHROMA_URL {url!r}: only scheme, host and port are supported (expected http://host:port)"
        )
    ssl = parsed.scheme == "https"
    return parsed.hostname, port or (443 if ssl else 8000), ssl


def _marked(method: Any = None, **_: Any) -> Any:
    """`overrides.override` without its checks: marks the method, as the real one does, and returns it."""
    if method is None:
        return _marked
    method.__override__ = True
    return method


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _unchecked_overrides() -> Iterator[None]:
    """Chroma marks 162 methods (those a local client loads) with the `overrides` package's ``@override``, which
    checks each one's signature against its base class's as the class is built (disassembling the caller's frame
    to find the bases). That check is a test of Chroma's own code, and it is a quarter of the time a fresh
    process spends importing chromadb (about 0.3 of 1.2 s here; bench/cite_latency.py). While the first store of
    a process opens (importing chromadb and making its first client), ``@override`` only marks the method, which
    is all that `overrides.EnforceOverrides` looks for; afterwards the real decorator is back for everyone else.
    (The real one also copies a base method's docstring onto an override without one; Chroma's classes loaded
    meanwhile go without.) The lock keeps two first stores on two threads from restoring each other's saves."""
    try:
        import overrides
    except ImportError:  # a Chroma that no longer uses it
        yield
        return
    with _PATCH_LOCK:
        if "chromadb" in sys.modules:  # imported already: nothing left to gain
            yield
            return
        saved = overrides.override, overrides.overrides
        overrides.override = overrides.overrides = _marked
        try:
            yield
        finally:
            overrides.override, overrides.overrides = saved


class ChromaStore:
    """One Chroma collection of chunk vectors (cosine space); footnote computes the embeddings itself.

    The catalog holds every chunk's text, so by default (``documents=False``, the setting
    ``index.chroma_documents``) Chroma gets none: it indexes documents for its own full-text search, which
    footnote does not use, and keeping them out makes adds about twice as fast and Chroma's folder about a
    third the size.
    """

    # Chroma keeps the vectors added since the HNSW index was last written to disk (every ``sync_threshold`` adds,
    # 1000 by default) in its log, and adds them to the index again each time a process opens the store, on
    # several threads: the graph, and so which neighbours an approximate search finds, then differs from one
    # process to the next (the same question gave other passages, and another answer, on every run). With the
    # index written every ``batch_size`` adds (Chroma's default batch, 100) fewer than that many are replayed,
    # and those Chroma searches exactly, as the newest vectors of a batch: every process finds the same. Writing
    # the index that often costs little (Chroma writes only what changed): random vectors added in batches of
    # 5,000 took 23.8 s against 23.2 s for 50k, 117 s against 111 s for 200k.
    HNSW: ClassVar[Mapping[str, int]] = MappingProxyType({"batch_size": 100, "sync_threshold": 100})
    # Unfiltered candidates fetched per wanted result, in turn, for a kind/paper filter applied in Python.
    OVERFETCH = (2, 8, 32)
    # Paper filters this small are searched exactly (their vectors fetched by paper); larger ones are post-filtered.
    SELECTIVE_PAPERS = 32

    def __init__(
        self,
        home: Path,
        collection: str = "footnote_chunks",
        url: str | None = None,
        *,
        documents: bool = False,
        lookup: Callable[[Sequence[str]], Mapping[str, Mapping[str, Any]]] | None = None,
    ) -> None:
        # ``lookup``: each chunk id's "paper_id" and "kind" as the catalog holds them (Catalog.chunk_filters).
        # With it, the over-fetch of a filtered query asks Chroma for ids and distances only and filters on
        # those: at 1M chunks Chroma's metadata for 100-200 hits costs 10-14 ms warm and 40-60 ms on a cold page
        # cache, against 3 ms for the ids alone and 1-2 ms for the catalog's lookup. An id that the catalog
        # lacks (a paper being written, or removed) does not pass.
        self.lookup = lookup
        with _unchecked_overrides():
            self._open(home, collection, url, documents)

    def _open(self, home: Path, collection: str, url: str | None, documents: bool) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.url = url or None
        self.documents = documents
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        where = self.url or str(home / "chroma")
        try:
            if self.url:
                host, port, ssl = parse_chroma_url(self.url)
                # Connects at once (heartbeat, tenant and database checks): a server that is down fails here.
                self.client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
            else:
                self.client = chromadb.PersistentClient(path=str(home / "chroma"), settings=chroma_settings)
            self.collection = self.client.get_or_create_collection(
                collection,
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine", **self.HNSW}},
            )
            self._settle()
            self.batch = max(1, min(5000, self.client.get_max_batch_size()))
        except ArchiveError:
            raise
        except Exception as exc:  # a server that is down, or a store we cannot open
            raise ArchiveError(self._message(where, exc)) from None

    def _settle(self) -> None:
        """A collection made before HNSW was set (its index written every 1000 adds) is set to it: from the next
        write of its index on, every process searches the same graph."""
        hnsw = (self.collection.configuration_json or {}).get("hnsw") or {}
        if hnsw and hnsw.get("sync_threshold") != self.HNSW["sync_threshold"]:
            configuration = {"hnsw": {"sync_threshold": self.HNSW["sync_threshold"]}}
            _while_locked(lambda: self.collection.modify(configuration=configuration))

    def _message(self, where: str, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if self.url and _is_connection_error(exc):
            return f"Chroma server at {self.url} (FOOTNOTE_CHROMA_URL) is unreachable: {text}"
        return f"Chroma at {where}: {text}"

    def _call(self, fn: Callable[[], T]) -> T:
        """Run one Chroma call; a lost server becomes a one-line ArchiveError naming its URL."""
        try:
            return fn()
        except Exception as exc:
            if self.url and _is_connection_error(exc):
                raise ArchiveError(self._message(self.url, exc)) from None
            raise

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for i in range(0, len(chunks), self.batch):
            part = chunks[i : i + self.batch]
            extra = {"documents": [c.text for c in part]} if self.documents else {}
            self._call(
                functools.partial(
                    self.collection.upsert,
                    ids=[c.id for c in part],
                    embeddings=vectors[i : i + self.batch],
                    metadatas=[
                        {
                            "paper_id": c.paper_id,
                            "page_start": c.page_start,
                            "page_end": c.page_end,
                            "section": c.section[:200],
                            "kind": c.kind,
                        }
                        for c in part
                    ],
                    **extra,
                )
            )

    def delete_paper(self, paper_id: str) -> None:
        self._call(lambda: self.collection.delete(where={"paper_id": paper_id}))

    def query(
        self,
        vector: np.ndarray,
        k: int,
        *,
        paper_ids: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = (),
        include_kinds: Sequence[str] | None = None,
        chunk_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks that pass the filters, as (id, cosine similarity), best first.

        ``chunk_ids``, if given, are the chunks of the ``paper_ids`` as the catalog knows them: the search is
        then exact over those, fetched by id (at 1M chunks, 7 ms for one paper against 110 ms by paper_id).

        Chroma's filtered query costs about the same whatever the filter lets through, and grows with the
        collection: at 1M chunks 0.4 s for one paper and 4.6 s for ``kind $nin [references]``, against 1 ms
        unfiltered (100 ms and 180 ms at 100k). So a few papers are searched exactly, their vectors fetched
        and compared here; broader filters are applied here to an over-fetched unfiltered result (up to
        ``32 * k`` nearest; when even those hold fewer than ``k`` that pass, those few are returned); a
        Chroma `where` is the last resort, when none of them pass.
        """
        if paper_ids is not None and not paper_ids:
            return []
        papers = set(paper_ids) if paper_ids is not None else None
        excluded = set(exclude_kinds)
        included = set(include_kinds) if include_kinds else None
        if papers is None and not excluded and included is None:
            return self._nearest(vector, k, None)

        def keep(meta: Mapping[str, Any]) -> bool:
            kind = meta.get("kind")
            return (
                (papers is None or meta.get("paper_id") in papers)
                and kind not in excluded
                and (included is None or kind in included)
            )

        if chunk_ids is not None:
            return self._exact(vector, k, keep, ids=list(chunk_ids))
        if papers is not None and len(papers) <= self.SELECTIVE_PAPERS:
            return self._exact(vector, k, keep, paper_ids=sorted(papers))
        kept: list[tuple[str, float]] = []
        for factor in self.OVERFETCH:
            n = k * factor
            if self.lookup is not None:
                hits = self._nearest(vector, n, None)
                known = self.lookup([cid for cid, _ in hits])
                kept = [(cid, score) for cid, score in hits if (meta := known.get(cid)) is not None and keep(meta)]
            else:
                hits = self._nearest(vector, n, None, metadatas=True)
                kept = [(cid, score) for cid, score, meta in hits if keep(meta)]
            if len(kept) >= k or len(hits) < n:  # enough, or the whole collection was seen
                return kept[:k]
        if kept:  # the best that pass among the nearest k * 32: fewer than k dense candidates for the fusion
            return kept
        return self._nearest(vector, k, _where(paper_ids, excluded, include_kinds))

    def _exact(
        self,
        vector: np.ndarray,
        k: int,
        keep: Callable[[Mapping[str, Any]], bool],
        *,
        ids: list[str] | None = None,
        paper_ids: list[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Exact cosine search over the given chunks, or over the chunks of a few papers."""
        got_ids: list[str] = []
        embeddings: list = []
        metadatas: list = []
        if ids is not None:
            parts = [{"ids": ids[i : i + 1000]} for i in range(0, len(ids), 1000)]
        elif paper_ids:
            where = {"paper_id": paper_ids[0]} if len(paper_ids) == 1 else {"paper_id": {"$in": paper_ids}}
            parts = [{"where": where}]
        else:
            return []
        for part in parts:
            got = self._call(lambda part=part: self.collection.get(**part, include=["embeddings", "metadatas"]))
            got_ids.extend(got["ids"])
            embeddings.extend(got["embeddings"])
            metadatas.extend(got["metadatas"])
        rows = [i for i, meta in enumerate(metadatas) if keep(meta or {})]
        if not rows:
            return []
        matrix = np.asarray([embeddings[i] for i in rows], dtype=np.float32)
        query = np.asarray(vector, dtype=np.float32).ravel()
        norms = np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(query)), 1e-12)
        sims = matrix @ query / np.maximum(norms, 1e-12)
        order = np.argsort(-sims, kind="stable")[:k]
        return [(got_ids[rows[i]], float(sims[i])) for i in order]

    def _nearest(self, vector: np.ndarray, n: int, where: dict | None, *, metadatas: bool = False) -> list:
        include = ["distances", "metadatas"] if metadatas else ["distances"]
        result = self._call(
            lambda: self.collection.query(query_embeddings=[vector], n_results=n, where=where, include=include)
        )
        ids, distances = result["ids"][0], result["distances"][0]
        scores = [1.0 - float(d) for d in distances]
        if metadatas:
            return list(zip(ids, scores, result["metadatas"][0], strict=True))
        return list(zip(ids, scores, strict=True))

    def count(self) -> int:
        return self._call(self.collection.count)

    def ids(self, paper_id: str | None = None) -> list[str]:
        where = {"paper_id": paper_id} if paper_id else None
        return list(self._call(lambda: self.collection.get(where=where, include=[]))["ids"])


def _where(paper_ids: Sequence[str] | None, excluded: set[str], include_kinds: Sequence[str] | None) -> dict | None:
    clauses: list[dict] = []
    if include_kinds:
        clauses.append({"kind": {"$in": list(include_kinds)}})
    if paper_ids is not None:
        clauses.append({"paper_id": {"$in": list(paper_ids)}})
    if excluded:
        clauses.append({"kind": {"$nin": sorted(excluded)}})
    return clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)


LOCKED_TRIES = 6  # waits of 0.05, 0.1, 0.2, 0.4 and 0.8 s between them


def _while_locked(call: Callable[[], T], tries: int = LOCKED_TRIES, wait_s: float = 0.05) -> T:
    """Run a write to embedded Chroma's SQLite again while it answers "database is locked". Chroma's own
    connections can collide: right after a collection is made, changing its configuration failed so about once in
    200 tries (the lock held by another of Chroma's connections, and SQLite answering at once rather than
    waiting). Other errors, and the lock outlasting the tries, are raised."""
    for attempt in range(tries - 1):
        try:
            return call()
        except Exception as exc:
            if "database is locked" not in str(exc):
                raise
            time.sleep(wait_s * 2**attempt)
    return call()


def _is_connection_error(exc: BaseException) -> bool:
    """True for a server that cannot be reached (refused, reset, timed out, DNS), not for a refused request."""
    import httpx

    if isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError):
        return True
    text = str(exc).lower()
    return "could not connect" in text or "connection refused" in text
