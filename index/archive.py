"""The archive under the home: catalog (SQLite) + vectors (Chroma) + embedder, and the write protocol.

A paper is written in three steps: marked pending in the catalog, its vectors upserted into Chroma
(old ones deleted first), then pages, chunks and lexical rows written and the paper marked complete
in one SQLite commit. Readers only see chunks that the catalog holds, so a crash at any point leaves
either the old state or a pending paper that the next ingest redoes; `repair` drops orphan vectors
(and the temp files of downloads that were killed) before the redo.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from footnote.errors import ArchiveLockedError, EmbeddingModelMismatchError, NotIngestedError
from footnote.settings import Settings
from footnote.types import Chunk, Paper
from index.catalog import Catalog, PaperRecord
from index.embed import BACKENDS, Embedder, default_embedder, resolve_model_path
from index.store import ChromaStore, VectorStore

EMBEDDING_MODEL_KEY = "embedding_model"


def _holder(fh, tries: int = 40) -> str:
    """The pid the lock's holder wrote into the lock file. It writes it just after taking the lock and clears it
    just before letting go, so an empty file is one of those two moments: read again for up to a second."""
    for _ in range(tries):
        fh.seek(0)
        holder = fh.read().strip()
        if holder:
            return holder
        time.sleep(0.025)
    return "?"


def _quietly(call) -> None:
    with contextlib.suppress(Exception):
        call()


def model_of(embedder_name: str) -> str:
    """The model of an embedder's name, without the backend ("bundled:all-MiniLM-L6-v2#openvino")."""
    model, _, backend = embedder_name.rpartition("#")
    return model if model and backend in BACKENDS else embedder_name


class Archive:
    def __init__(
        self, settings: Settings, *, embedder: Embedder | None = None, store: VectorStore | None = None
    ) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.home / "archive.sqlite")
        self._embedder = embedder
        self._store = store
        self._embedder_checked = False
        self._opened = False
        self._prefetched: dict[str, np.ndarray] = {}

    @functools.cached_property
    def embedder(self) -> Embedder:
        if self._embedder is not None:
            return self._embedder
        s = self.settings.index
        return default_embedder(s.embedding_model, s.embedding_batch, s.embedding_backend)

    def check_embedder(self) -> None:
        """Refuse to mix vectors of two embedding models: the model that made the archive's vectors (recorded
        with its first paper) must be the configured one. Backends of one model (openvino, onnx, torch) make
        vectors close enough to mix (see index.embed). A home that records no model (empty, or made before
        models were recorded) is not checked, and is checked again next time."""
        if self._embedder_checked:
            return
        built = self.catalog.meta(EMBEDDING_MODEL_KEY)
        if built is None:
            return
        current = model_of(self.embedder.name)
        if built != current and resolve_model_path(built) != resolve_model_path(current):
            raise EmbeddingModelMismatchError(
                f"{self.home}: this archive's vectors were made by the embedding model {built!r}, but "
                f"{current!r} is configured (FOOTNOTE_EMBEDDING_MODEL); use {built!r} with this home, or a "
                "new home for the other model"
            )
        self._embedder_checked = True

    @functools.cached_property
    def store(self) -> VectorStore:
        if self._store is not None:
            return self._store
        s = self.settings.index
        return ChromaStore(
            self.home, s.collection, s.chroma_url, documents=s.chroma_documents, lookup=self.catalog.chunk_filters
        )

    def open_for_queries(self, text: str | None = None) -> None:
        """Load the embedding model and open the vector store side by side. A fresh `footnote cite` spends most
        of its time here: compiling the model's graph (0.15-0.3 s) runs in native code that lets go of the GIL,
        importing chromadb (about 0.6 s) is Python. The model's own imports (and its export, the first time on
        a machine) stay on this thread, so no two threads import at once. A load that fails on the other
        thread fails again, with its error, at the first embed.

        With ``text`` (the query about to be searched), the model thread embeds it too, once loaded: the first
        run of a compiled model is slower than the next ones (about 60 ms here), and the store takes longer to
        open than the model to load, so that run costs nothing; `query_vector` hands the vector over."""
        if self._opened:
            return
        self._opened = True
        embedder = self.embedder
        prepare = getattr(embedder, "prepare", None)
        if prepare is None or "store" in self.__dict__:
            return
        prepare()

        def load() -> None:
            embedder.load()
            if text is not None:
                self._prefetched[text] = embedder.embed([text])[0]

        worker = threading.Thread(target=_quietly, args=(load,), name="footnote-model-load", daemon=True)
        worker.start()
        try:
            self.store  # noqa: B018 (opening it is the point)
        finally:
            worker.join()

    def query_vector(self, text: str) -> np.ndarray:
        """The embedding of a query: the one `open_for_queries` made for it, if it did, else embedded now."""
        vector = self._prefetched.pop(text, None)
        return vector if vector is not None else self.embedder.embed([text])[0]

    @property
    def pdf_dir(self) -> Path:
        path = self.home / "pdfs"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        self.catalog.close()

    # ------------------------------------------------------------ writing

    @contextlib.contextmanager
    def write_lock(self, wait_s: float = 0.0) -> Iterator[None]:
        """Exclusive write access to the home; another holder makes this wait up to wait_s, then refuse."""
        path = self.home / "ingest.lock"
        with open(path, "a+") as fh:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise ArchiveLockedError(
                            f"{self.home}: another footnote process (pid {_holder(fh)}) is writing this archive; "
                            "try again when it has finished"
                        ) from None
                    time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh, fcntl.LOCK_UN)

    def same_pdf(self, sha256: str) -> str | None:
        """The id of a paper already ingested completely from a PDF with these exact bytes."""
        return self.catalog.paper_with_sha(sha256)

    def held(self, paper_id: str, sha256: str) -> PaperRecord | None:
        """The paper's record where it is completely ingested from exactly this PDF, else None."""
        record = self.catalog.paper(paper_id)
        return record if record and record.status == "complete" and record.sha256 == sha256 else None

    def is_current(self, paper_id: str, sha256: str) -> bool:
        """True when this exact PDF is already completely ingested."""
        return self.held(paper_id, sha256) is not None

    def add(
        self,
        paper: Paper,
        pages: Sequence[str],
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        sections: Sequence[str],
        published: str | None = None,
        *,
        warning: str = "",
        text_version: str = "",
    ) -> None:
        """Write one paper (replacing any earlier version) with the crash-safe protocol above; ``warning`` says
        what of a damaged PDF could not be read, ``text_version`` which parser read it."""
        self.check_embedder()
        # The first paper of an empty home records the model, once it is written. (A home made before models
        # were recorded holds papers and no record: which model made them is unknown, so none is recorded.)
        first = self.catalog.meta(EMBEDDING_MODEL_KEY) is None and not self.catalog.has_papers()
        self.catalog.begin_paper(paper, published)
        self.store.delete_paper(paper.id)
        self.store.upsert(chunks, vectors)
        self.catalog.complete_paper(paper.id, pages, chunks, sections, warning=warning, parser=text_version)
        if first:
            self.catalog.set_meta(EMBEDDING_MODEL_KEY, model_of(self.embedder.name))

    def pending(self) -> list[PaperRecord]:
        """Papers a crashed ingest left unfinished (their source and metadata, to redo them)."""
        return [r for r in self.catalog.papers(complete_only=False) if r.status == "pending"]

    def repair(self) -> list[str]:
        """Undo what a crash left: half-written downloads in the PDF cache, and the vectors and rows of
        papers left pending; returns the pending ids (to be ingested again). Call under `write_lock`."""
        self.drop_partial_downloads()
        pending = self.catalog.pending_ids()
        for paper_id in pending:
            self.store.delete_paper(paper_id)
            self.catalog.remove_paper(paper_id)
        return pending

    def drop_partial_downloads(self) -> list[Path]:
        """Remove the temp files (``.<name>.<random>.part``) a killed download leaves in the PDF cache.

        Downloads only run under the write lock, so whoever holds it owns every temp file there."""
        folder = self.home / "pdfs"
        removed = []
        if folder.is_dir():
            for path in folder.glob(".*.part"):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
        return removed

    # ------------------------------------------------------------ reading

    def papers(self) -> list[PaperRecord]:
        return self.catalog.papers()

    def paper(self, paper_id: str) -> PaperRecord | None:
        record = self.catalog.paper(paper_id)
        return record if record and record.status == "complete" else None

    def known_papers(self, paper_ids: Sequence[str]) -> list[str]:
        """The archive's ids of papers a user named (``--paper``): an arXiv id with a version (2501.12948v2) or
        surrounding spaces names the paper; an id the archive does not hold completely is refused, naming it, so
        that a typo is not answered with "nothing found"."""
        from ingest.ids import is_arxiv_id, parse_arxiv_id

        out = []
        for given in paper_ids:
            paper_id = parse_arxiv_id(given)[0] if is_arxiv_id(given) else given.strip()
            if self.paper(paper_id) is None:
                raise NotIngestedError(
                    f"--paper {given!r}: not in the archive at {self.home} (footnote papers lists what is)"
                )
            out.append(paper_id)
        return list(dict.fromkeys(out))

    def page_text(self, paper_id: str, page: int) -> str | None:
        return self.catalog.page_text(paper_id, page)

    def page_offsets(self, paper_id: str) -> list[int]:
        return self.catalog.page_offsets(paper_id)
