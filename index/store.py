"""Vector store seam. Chroma, embedded (PersistentClient under the home) or a server (HttpClient)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import numpy as np

from footnote.errors import ArchiveError
from footnote.types import Chunk


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
    ) -> list[tuple[str, float]]: ...

    def count(self) -> int: ...

    def ids(self, paper_id: str | None = None) -> list[str]: ...


class ChromaStore:
    """One Chroma collection of chunk vectors (cosine space); footnote computes the embeddings itself."""

    BATCH = 1000

    def __init__(self, home: Path, collection: str = "footnote_chunks", url: str | None = None) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if url:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ArchiveError(f"{url!r}: not a Chroma server URL (expected http://host:port)")
            self.client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        else:
            self.client = chromadb.PersistentClient(path=str(home / "chroma"), settings=chroma_settings)
        try:
            self.collection = self.client.get_or_create_collection(
                collection, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as exc:  # a server that is down, or a store we cannot open
            raise ArchiveError(f"Chroma at {url or home / 'chroma'}: {exc}") from None

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for i in range(0, len(chunks), self.BATCH):
            part = chunks[i : i + self.BATCH]
            self.collection.upsert(
                ids=[c.id for c in part],
                embeddings=vectors[i : i + self.BATCH],
                documents=[c.text for c in part],
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
            )

    def delete_paper(self, paper_id: str) -> None:
        self.collection.delete(where={"paper_id": paper_id})

    def query(
        self,
        vector: np.ndarray,
        k: int,
        *,
        paper_ids: Sequence[str] | None = None,
        exclude_kinds: Sequence[str] = (),
        include_kinds: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        clauses: list[dict] = []
        if include_kinds:
            clauses.append({"kind": {"$in": list(include_kinds)}})
        if paper_ids is not None:
            if not paper_ids:
                return []
            clauses.append({"paper_id": {"$in": list(paper_ids)}})
        if exclude_kinds:
            clauses.append({"kind": {"$nin": list(exclude_kinds)}})
        where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        result = self.collection.query(query_embeddings=[vector], n_results=k, where=where, include=["distances"])
        ids, distances = result["ids"][0], result["distances"][0]
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, distances, strict=True)]

    def count(self) -> int:
        return self.collection.count()

    def ids(self, paper_id: str | None = None) -> list[str]:
        where = {"paper_id": paper_id} if paper_id else None
        return list(self.collection.get(where=where, include=[])["ids"])
