"""Ingest: sources → PDFs → parse → chunk → embed → archive, one paper failing never stopping the rest."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

from footnote.errors import FetchError, FootnoteError, InvalidSourceError
from footnote.types import DailyEntry, Paper
from index.archive import Archive
from index.catalog import PaperRecord
from ingest.chunk import chunk_paper
from ingest.ids import is_arxiv_id, pdf_name
from ingest.parse import parse_pdf
from ingest.sources import LocalPDF, RemotePaper, Source, resolve
from ingest.version import TEXT_VERSION

log = logging.getLogger(__name__)


class Progress(Protocol):
    """Receives stage events; the CLI shows them as progress bars on stderr."""

    def start(self, total: int) -> None: ...

    def stage(self, paper: str, stage: str) -> None: ...

    def done(self, paper: str, outcome: str) -> None: ...


class NoProgress:
    def start(self, total: int) -> None:
        pass

    def stage(self, paper: str, stage: str) -> None:
        pass

    def done(self, paper: str, outcome: str) -> None:
        pass


@dataclass
class IngestReport:
    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)  # {"source", "error"}
    chunks: dict[str, int] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)
    errors_by_id: dict[str, str] = field(default_factory=dict)
    # A source whose PDF is already in the archive under another id ("moba.pdf", byte for byte 2502.13189): its
    # id -> the paper's. The paper's id is the one in `skipped`.
    same_as: dict[str, str] = field(default_factory=dict)
    # Papers ingested from a damaged file ({"source", "paper_id", "warning"}): what could be read is in the archive.
    warnings: list[dict[str, str]] = field(default_factory=list)
    # Lines for the user that are neither failures nor warnings ("x.pdf: the same PDF as ID, ..."); the CLI prints
    # them on stderr (not through logging, whose level a library imported on the way may have raised).
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"ingested": self.ingested, "skipped": self.skipped, "failed": self.failed, "warnings": self.warnings}

    def fail(self, source: str, error: str, paper_id: str | None = None) -> None:
        self.failed.append({"source": source, "error": error})
        if paper_id:
            self.errors_by_id[paper_id] = error


def published_date(paper_id: str, entry: DailyEntry | None, day: str | None) -> str | None:
    """The date a paper is filed under: its daily list's date, else the month in its arXiv id."""
    if day:
        return day
    if entry and entry.published_at:
        return entry.published_at[:10]
    if len(paper_id) >= 4 and paper_id[:4].isdigit():
        return f"20{paper_id[:2]}-{paper_id[2:4]}-01"
    return None


def ingest(
    sources: Sequence[str | Source],
    archive: Archive,
    *,
    entries: dict[str, DailyEntry] | None = None,
    day: str | None = None,
    progress: Progress | None = None,
    lock_wait_s: float = 0.0,
) -> IngestReport:
    """Ingest every source it can; report the ones it could not, each with a one-line reason."""
    progress = progress or NoProgress()
    entries = entries or {}
    report = IngestReport()
    resolved: list[Source] = []
    for source in sources:
        if isinstance(source, LocalPDF | RemotePaper):
            resolved.append(source)
            continue
        try:
            resolved.extend(resolve(source))
        except InvalidSourceError as exc:
            report.fail(source, str(exc))
    # One entry per paper id; the last mention wins (so v2 after v1 ingests v2).
    unique: dict[str, Source] = {}
    for item in resolved:
        unique.pop(item.paper_id, None)
        unique[item.paper_id] = item
    with archive.write_lock(lock_wait_s):
        archive.check_embedder()  # before anything is parsed: a home of another model takes no papers
        # Papers a crashed ingest left pending are redone from the source they were recorded with,
        # whatever this run was asked for, so an interrupted paper is never silently dropped.
        unfinished = archive.pending()
        archive.repair()
        redo: dict[str, tuple[DailyEntry, str | None]] = {}
        for record in unfinished:
            if record.id in unique:
                continue
            source = _redo_source(record)
            if isinstance(source, str):
                report.fail(record.source_url or record.id, source, record.id)
                continue
            unique[record.id] = source
            redo[record.id] = (_entry_of(record), record.published)
        if unfinished:
            redone = ", ".join(r.id for r in unfinished)
            report.notes.append(f"redoing papers a crashed ingest left unfinished: {redone}")
        progress.start(len(unique))
        local: list[tuple[Source, Path]] = []
        remote: list[RemotePaper] = []
        for item in unique.values():
            if isinstance(item, LocalPDF):
                local.append((item, item.path))
            elif (fetch := _remote_to_fetch(archive, item)) is None:
                report.skipped.append(item.paper_id)
                progress.done(item.paper_id, "skipped")
            else:
                remote.append(fetch)
        local.extend(_download(remote, archive, report, progress))
        metadata = {item.paper_id: redo.get(item.paper_id, (entries.get(item.paper_id), day)) for item, _ in local}
        _ingest_local(local, archive, report, progress, metadata)
    return report


def _redo_source(record: PaperRecord) -> Source | str:
    """Where a pending paper came from, or why it cannot be redone."""
    url = record.source_url
    if url.startswith("file:"):
        path = Path(url2pathname(urlsplit(url).path))
        if path.is_file():
            return LocalPDF(str(path), path, record.id, record.version)
        return f"{path}: an interrupted ingest left {record.id} unfinished and this file is gone; ingest it again"
    if is_arxiv_id(record.id):
        return RemotePaper(url or record.id, record.id, record.version)
    return f"{record.id}: an interrupted ingest left it unfinished and its source {url!r} is unknown; ingest it again"


def _entry_of(record: PaperRecord) -> DailyEntry:
    """The metadata a pending paper was recorded with, so its redo files it exactly as before."""
    return DailyEntry(record.id, record.title, record.authors, record.abstract, 0, None, record.version)


def _remote_to_fetch(archive: Archive, item: RemotePaper) -> RemotePaper | None:
    """What to fetch for an arXiv paper: nothing where the archive holds that version or a later one, read by this
    TEXT_VERSION. One read by an older footnote is read again, as the version the archive holds, where that PDF is
    in the download cache; it is not fetched again for that alone (offline, the fetch would fail a paper the
    archive holds), nor is an older version fetched in its place."""
    record = archive.paper(item.paper_id)
    if record is None:
        return item
    if not (item.version is None or (record.version is not None and record.version >= item.version)):
        return item  # a later version than the archive's
    if record.parser == TEXT_VERSION:
        return None
    cached = (archive.pdf_dir / pdf_name(item.paper_id, record.version)).is_file()
    return RemotePaper(item.source, item.paper_id, record.version) if cached else None


def _download(
    remote: list[RemotePaper], archive: Archive, report: IngestReport, progress: Progress
) -> list[tuple[Source, Path]]:
    if not remote:
        return []
    from ingest.download import Downloader

    for item in remote:
        progress.stage(item.paper_id, "download")
    downloader = Downloader(archive.settings.ingest, archive.pdf_dir)
    results = downloader.fetch_many([(r.paper_id, r.version) for r in remote])
    out: list[tuple[Source, Path]] = []
    for item in remote:
        result = results.get(item.paper_id)
        if isinstance(result, Path):
            out.append((item, result))
        else:
            error = str(result) if result is not None else f"{item.paper_id}: not downloaded"
            report.fail(item.source, error, item.paper_id)
            progress.done(item.paper_id, "failed")
    return out


@dataclass
class _Job:
    """One local PDF on its way through the pipeline: read and hashed on the main thread, parsed and chunked
    on the parser thread (`work`), embedded and stored on the main thread."""

    item: Source
    sha: str
    entry: DailyEntry | None
    day: str | None
    work: Future


def _ingest_local(
    local: list[tuple[Source, Path]],
    archive: Archive,
    report: IngestReport,
    progress: Progress,
    metadata: dict[str, tuple[DailyEntry | None, str | None]],
) -> None:
    """Parse and chunk the next papers on a second thread while this one embeds and stores the current ones.

    Parsing (PyMuPDF) and chunking hold the GIL; embedding (OpenVINO, onnxruntime) and Chroma's writes release
    it, so on two cores the two halves overlap. The papers already parsed when the embedder gets to them are
    embedded in one call: sorted by length together, batches pad less and the runtime's streams idle less at
    the end than paper by paper (about 10-30% more chunks/s on the corpus). Only the main thread writes to the
    archive, storing the papers one by one in their order. In memory: the group being embedded and stored, and
    at most `ingest.parse_ahead` parsed papers waiting behind it.

    Nothing waits on a core left idle at the start: the model loads while the first paper is parsed, and a third
    thread opens the vector store while the first papers are embedded (see `_load_model`, `_open_store`). On the
    corpus, five interleaved pairs: 29.9 s against 31.2 s mean, the cores busy 1.83 of 2 on average, from 1.78."""
    settings = archive.settings.ingest
    embedder = archive.embedder
    queue: deque[_Job] = deque()
    queued: dict[str, str] = {}  # sha256 -> id of the papers of this run, so that two copies make one paper
    copies: list[tuple[Source, str]] = []  # a later source with a queued paper's bytes, and that paper's id
    todo = iter(local)
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="footnote-parse") as parser,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="footnote-open") as opener,
    ):

        def fill() -> None:
            while len(queue) < settings.parse_ahead:
                nxt = next(todo, None)
                if nxt is None:
                    return
                item, path = nxt
                entry, day = metadata[item.paper_id]
                with _failures(item, report, progress, archive):
                    progress.stage(item.paper_id, "parse")
                    data = path.read_bytes()
                    sha = hashlib.sha256(data).hexdigest()
                    held = archive.held(item.paper_id, sha)
                    if held and held.parser == TEXT_VERSION:
                        report.skipped.append(item.paper_id)
                        progress.done(item.paper_id, "skipped")
                        continue
                    first = queued.get(sha)
                    if first and _copy_of(item.paper_id, first):  # decided once the first is stored, or not
                        copies.append((item, first))
                        continue
                    # The same PDF, read by an older footnote (held): this paper itself, read again (not a copy of
                    # another paper holding the same bytes, such as the arXiv id of a local file).
                    same = None if held else archive.same_pdf(sha)
                    if same and _copy_of(item.paper_id, same):
                        held = archive.paper(same)  # complete, from these bytes
                        if held.parser == TEXT_VERSION:
                            _skip_copy(item, same, report, progress)
                            continue
                        # A copy of a paper an older footnote read: that paper is read again, from these bytes,
                        # under its own id and with its own metadata (as a crashed ingest's redo is).
                        report.same_as[item.paper_id] = same
                        report.notes.append(f"{item.source}: the same PDF as {same}, already in the archive")
                        item = replace(item, paper_id=same, version=held.version)
                        entry, day = _entry_of(held), held.published
                    if held:
                        report.notes.append(f"{item.paper_id}: read again (an older footnote read its text)")
                    queued[sha] = item.paper_id
                    work = parser.submit(_parse_and_chunk, item, data, settings, embedder.count_tokens)
                    queue.append(_Job(item, sha, entry, day, work))

        try:
            fill()
            if queue:
                _load_model(archive)  # while the first paper is parsed
            opening: Future | None = None  # the store, opened on its own thread while the first papers are embedded
            while queue:
                group = [queue.popleft()]
                wait([group[0].work])  # this one parsed; the others already parsed join it
                while queue and queue[0].work.done():
                    group.append(queue.popleft())
                fill()  # the parser goes on with the next papers while these are embedded
                parsed: list[tuple[_Job, object, list]] = []
                for job in group:
                    with _failures(job.item, report, progress, archive):
                        parsed.append((job, *job.work.result()))
                if opening is None:
                    opening = opener.submit(_open_store, archive)
                vectors = _embed_group(parsed, archive, report, progress)
                wait([opening])  # before the first store: only one thread opens it
                for (job, doc, chunks), vecs in zip(parsed, vectors, strict=True):
                    if vecs is not None:
                        with _failures(job.item, report, progress, archive):
                            _store(job, doc, chunks, vecs, archive, report, progress)
        finally:  # interrupted (Ctrl-C, a lost store): papers not yet parsed are not parsed for nothing
            for job in queue:
                job.work.cancel()
    for item, first in copies:
        if first in report.ingested:
            _skip_copy(item, first, report, progress)
        else:
            reason = report.errors_by_id.get(first, "it was not ingested")
            report.fail(item.source, f"{item.source}: the same PDF as {first}, which failed: {reason}", item.paper_id)
            progress.done(item.paper_id, "failed")


def _load_model(archive: Archive) -> None:
    """Load the embedding model now, while the first paper is parsed (OpenVINO compiles mostly with the GIL
    released), rather than in the first embed, after that parse. A failure is left for the first embed to raise,
    where the pipeline reports it as before."""
    load = getattr(archive.embedder, "load", None)
    if load is not None:
        with contextlib.suppress(Exception):
            load()


def _open_store(archive: Archive) -> None:
    """Open the vector store (chromadb's import, about 0.7 s of Python). Run on a thread while the first papers
    are embedded (OpenVINO releases the GIL), rather than by the first store, when nothing else ran: a core
    sat idle. A failure is left for the first store to raise."""
    with contextlib.suppress(Exception):
        archive.store  # noqa: B018  # a cached property: opening it is the point


def _copy_of(paper_id: str, other: str) -> bool:
    """Whether a source under ``paper_id`` with the bytes of paper ``other`` is that paper: always, but for an
    arXiv id given for bytes that came in as a local file, which is ingested under its id."""
    return paper_id != other and (not is_arxiv_id(paper_id) or is_arxiv_id(other))


def _skip_copy(item: Source, paper_id: str, report: IngestReport, progress: Progress) -> None:
    if paper_id not in report.skipped:
        report.skipped.append(paper_id)
    report.same_as[item.paper_id] = paper_id
    report.notes.append(f"{item.source}: the same PDF as {paper_id}, already in the archive; skipped")
    progress.done(item.paper_id, f"same PDF as {paper_id}")


def _parse_and_chunk(item: Source, data: bytes, settings, count_tokens) -> tuple:
    """The parser thread's part: no archive access here."""
    parsed = parse_pdf(data, max_pages=settings.max_pages, name=item.source)
    chunks = chunk_paper(
        item.paper_id,
        parsed,
        max_tokens=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count_tokens=count_tokens,
    )
    if not chunks:
        raise FootnoteError(f"{item.source}: no text to index")
    return parsed, chunks


def _embed_group(parsed: list[tuple], archive: Archive, report: IngestReport, progress: Progress) -> list:
    """Each paper's vectors, its chunks embedded in one call with the others'; if that call fails, it fails
    every paper of the group (with the same reason) and each gets None."""
    for job, _, _ in parsed:
        progress.stage(job.item.paper_id, "embed")
    texts = [c.text for _, _, chunks in parsed for c in chunks]
    try:
        vectors = archive.embedder.embed(texts)
    except Exception as exc:
        for job, _, _ in parsed:
            _record_failure(job.item, exc, report, progress, archive)
        return [None] * len(parsed)
    out, start = [], 0
    for _, _, chunks in parsed:
        out.append(vectors[start : start + len(chunks)])
        start += len(chunks)
    return out


def _store(job: _Job, parsed, chunks, vectors, archive: Archive, report: IngestReport, progress: Progress) -> None:
    item, entry, paper_id = job.item, job.entry, job.item.paper_id
    progress.stage(paper_id, "store")
    abstract = entry.abstract if entry else _abstract_of(parsed)
    paper = Paper(
        id=paper_id,
        version=item.version or (entry.version if entry else None),
        title=entry.title if entry else parsed.title,
        authors=entry.authors if entry else (),
        abstract=abstract,
        source_url=_source_url(item, archive),
        sha256=job.sha,
        pages=parsed.page_count,
    )
    sections = list(dict.fromkeys(s.title for s in parsed.sections if s.kind != "front"))
    damage = parsed.damage() or ""
    archive.add(
        paper,
        parsed.pages,
        chunks,
        vectors,
        sections,
        published_date(paper_id, entry, job.day),
        warning=damage,
        text_version=TEXT_VERSION,
    )
    report.ingested.append(paper_id)
    report.chunks[paper_id] = len(chunks)
    report.pages[paper_id] = parsed.page_count
    if damage:
        report.warnings.append({"source": item.source, "paper_id": paper_id, "warning": f"{item.source}: {damage}"})
    progress.done(paper_id, "ingested")


@contextlib.contextmanager
def _failures(item: Source, report: IngestReport, progress: Progress, archive: Archive) -> Iterator[None]:
    """Turn one paper's failure into a line of the report, so that it never stops the others."""
    try:
        yield
    except Exception as exc:
        _record_failure(item, exc, report, progress, archive)


def _record_failure(item: Source, exc: Exception, report: IngestReport, progress: Progress, archive: Archive) -> None:
    """One line in the report for this paper's failure (FOOTNOTE_DEBUG re-raises what footnote did not foresee)."""
    paper_id = item.paper_id
    if isinstance(exc, FootnoteError | FetchError):
        message = str(exc)
    elif isinstance(exc, OSError):
        message = f"{item.source}: {exc.strerror or exc}"
    else:  # one paper's unforeseen failure never stops the others
        if archive.settings.debug:
            raise exc
        log.debug("ingest of %s failed unexpectedly", item.source, exc_info=exc)
        message = f"{item.source}: unexpected {type(exc).__name__}: {' '.join(str(exc).split()) or 'no message'}"
    report.fail(item.source, message, paper_id)
    progress.done(paper_id, "failed")


def _abstract_of(parsed) -> str:
    for section in parsed.sections:
        if section.kind == "abstract":
            text = parsed.text[section.char_start : section.char_end]
            return " ".join(text.split())[:3000]
    return ""


def _source_url(item: Source, archive: Archive) -> str:
    if isinstance(item, RemotePaper):
        base = archive.settings.ingest.arxiv_base_url.rstrip("/")
        return f"{base}/pdf/{item.paper_id}" + (f"v{item.version}" if item.version else "")
    return item.path.resolve().as_uri()
