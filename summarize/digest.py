"""A day's digest: for each paper, seven sections, each from its own retrieval, every statement verified."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from footnote.types import Chunk, DailyEntry, Passage, Statement
from index.archive import Archive
from index.retrieve import Query, Retriever
from ingest.ids import is_arxiv_id
from summarize.extractive import pick_sentences, titled_paragraph
from summarize.sections import SECTIONS, SectionSpec, Topic
from summarize.verify import Draft, Grounding, Verifier

log = logging.getLogger(__name__)

EXCLUDE_KINDS = ("references", "front", "acknowledgments")


@dataclass
class SectionResult:
    key: str
    title: str
    statements: list[Statement]
    generator: str
    note: str = ""  # e.g. why the LLM output was replaced by the extractive fallback
    missing_labels: list[str] = field(default_factory=list)
    # The topics whose LLM request failed, written by SectionWriter.fall_back once the paper's other sections are
    # in: (topic's index, topic, passages, statements wanted). Each topic's statements, in the topics' order.
    pending: list[tuple[int, Topic, list[Passage], int]] = field(default_factory=list, repr=False, compare=False)
    by_topic: list[list[Statement]] = field(default_factory=list, repr=False, compare=False)

    @property
    def stated(self) -> bool:
        return bool(self.statements)

    def to_json(self) -> dict:
        out = {
            "key": self.key,
            "title": self.title,
            "stated": self.stated,
            "statements": [s.to_json() for s in self.statements],
            "generator": self.generator,
        }
        if self.note:
            out["note"] = self.note
        if self.key == "setup":
            out["missing_labels"] = self.missing_labels
        return out


@dataclass
class PaperDigest:
    id: str
    title: str
    status: str  # "ok" | "failed"
    error: str | None = None
    sections: list[SectionResult] = field(default_factory=list)
    grounding: Grounding = field(default_factory=Grounding)
    upvotes: int | None = None
    abstract: str = ""  # from the daily list; shown for failed papers, marked abstract-only
    authors: tuple[str, ...] = ()
    usage: list[int] | None = None  # [prompt tokens, completion tokens] sent to the LLM for this paper
    warning: str = ""  # what of a damaged PDF could not be read (recorded at ingest): its digest misses that

    def to_json(self) -> dict:
        out = {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "error": self.error,
            "sections": [s.to_json() for s in self.sections],
            "grounding": self.grounding.to_json(),
            "upvotes": self.upvotes,
            "links": links(self.id),
            "warning": self.warning or None,
        }
        if self.usage is not None:
            out["usage"] = {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1]}
        if self.status == "failed":
            out["abstract"] = self.abstract
            out["abstract_only"] = True
        return out


@dataclass
class Digest:
    date: str
    lang: str
    generator: str
    papers: list[PaperDigest]

    def to_json(self) -> dict:
        return {
            "date": self.date,
            "lang": self.lang,
            "generator": self.generator,
            "papers": [p.to_json() for p in self.papers],
        }


def links(paper_id: str) -> dict:
    """arXiv, PDF and HF links of an arXiv paper; none for a local PDF ("local-...") or a source that failed
    before it had an id (a path)."""
    if not is_arxiv_id(paper_id):
        return {}
    return {
        "arxiv": f"https://arxiv.org/abs/{paper_id}",
        "pdf": f"https://arxiv.org/pdf/{paper_id}",
        "hf": f"https://huggingface.co/papers/{paper_id}",
    }


class SectionWriter:
    """Retrieves passages for each section of one paper and turns them into verified statements."""

    def __init__(self, archive: Archive, lang: str, generator: str, llm=None) -> None:
        self.archive = archive
        self.retriever = Retriever(archive)
        self.settings = archive.settings.summarize
        self.lang = lang
        self.generator = generator
        self.llm = llm
        self.verifier = Verifier(archive.page_text, archive.page_offsets)
        # The extractive statements of each paper so far: a sentence states one section's topic, not two. The
        # sections are written in CLAIM_ORDER, one after another (extractive digests run on one worker).
        self._taken: dict[str, set[str]] = {}
        self._paragraphs: dict[str, tuple[list[Chunk], str]] = {}  # each paper's chunks and title, for _titled
        queries = [q for spec in SECTIONS for topic in spec.topics for q in topic.queries]
        self._vectors = dict(zip(queries, archive.embedder.embed(queries), strict=True))

    def passages(self, paper_id: str, topic: Topic, prefer_kinds: tuple[str, ...] = ()) -> list[Passage]:
        """The topic's passages in this paper: the best of the sections where such text usually stands
        (abstract and introduction for motivation, ...), then relevant ones from anywhere else."""
        k = self.settings.passages_per_section
        floor = self.settings.min_relevance

        def search(include: tuple[str, ...] | None, queries: tuple[str, ...] = topic.queries) -> list[Passage]:
            merged: dict[str, Passage] = {}
            for q in queries:
                query = Query(
                    q,
                    k=k,
                    paper_ids=[paper_id],
                    exclude_kinds=EXCLUDE_KINDS,
                    include_kinds=include,
                    vector=self._vectors[q],
                )
                for p in self.retriever.search(query):
                    if p.chunk.id not in merged or merged[p.chunk.id].score < p.score:
                        merged[p.chunk.id] = p
            return sorted(merged.values(), key=lambda p: -p.score)

        preferred = search(prefer_kinds)[: k // 2] if prefer_kinds else []
        # Each preferred kind's best two passages, where the others outrank them (one search on the topic's first
        # query among the kinds missing), on top of the k: a paper's results section outranks its abstract on "main
        # results", but the abstract states the headline result (in its first chunk or its second), which the
        # digest must not miss, nor may it cost the passages found before.
        missing = tuple(kind for kind in prefer_kinds if not any(p.chunk.kind == kind for p in preferred))
        found = search(missing, topic.queries[:1]) if missing else []
        extra = [p for kind in missing for p in [p for p in found if p.chunk.kind == kind][:2]]
        seen = {p.chunk.id for p in preferred + extra}
        general = [p for p in search(None) if p.chunk.id not in seen and ((p.dense or 0) >= floor or p.lexical)]
        found = preferred + extra + general[: k - len(preferred)]
        own = self._titled(paper_id, topic)
        first = {p.chunk.id for p in own}
        return own + [p for p in found if p.chunk.id not in first]

    def _titled(self, paper_id: str, topic: Topic) -> list[Passage]:
        """The paper's own paragraphs on the topic, first: those under a run-in heading that names it
        ("Limitations and future directions."; summarize.extractive.titled_paragraph), at most two. Retrieval ranks them
        below passages that merely share the topic's words (SWE-smith's failure analysis, for limitations)."""
        if topic.heading is None:
            return []
        if paper_id not in self._paragraphs:  # read once per paper: two topics look
            chunks = [c for c in self.archive.catalog.chunks_of(paper_id) if c.kind not in EXCLUDE_KINDS]
            self._paragraphs[paper_id] = chunks, self.archive.catalog.titles([paper_id]).get(paper_id, "")
        chunks, title = self._paragraphs[paper_id]
        return [Passage(c, 1.0, None, None, title) for c in chunks if titled_paragraph(topic, c.text)][:2]

    def write(self, paper_id: str, title: str, spec: SectionSpec) -> tuple[SectionResult, Grounding]:
        grounding = Grounding()
        missing: list[str] = []
        notes: list[str] = []
        generator = self.generator
        by_topic: list[list[Statement]] = []
        pending: list[tuple[int, Topic, list[Passage], int]] = []
        for index, topic in enumerate(spec.topics):
            passages = self.passages(paper_id, topic, spec.prefer_kinds)
            by_id = {p.chunk.id: p for p in passages}
            limit = self.settings.statements_per_section if topic.label is None else 2
            drafts: list[Draft] = []
            if passages and self.generator == "llm" and self.llm is not None:
                from footnote.errors import LLMError

                try:
                    drafts = self.llm.draft(title, spec, topic, passages, self.lang, limit)
                except LLMError as exc:
                    notes.append(f"LLM failed ({exc}); extractive fallback")
                    generator = "extractive"
                    pending.append((index, topic, passages, limit))  # written by fall_back, after the others
                    by_topic.append([])
                    continue
            elif passages:
                drafts = self._extractive(topic, passages, spec, limit, title)
            kept, g = self.verifier.verify(drafts, by_id)
            if self.generator == "extractive":
                self._taken.setdefault(paper_id, set()).update(k.text for k in kept)
            grounding.add(g)
            by_topic.append(kept[:limit])
            if topic.label and not kept:
                missing.append(topic.label)
        statements = [s for kept in by_topic for s in kept]
        result = SectionResult(spec.key, spec.title(self.lang), statements, generator, "; ".join(notes), missing)
        result.pending, result.by_topic = pending, by_topic
        return result, grounding

    def fall_back(self, title: str, results: Sequence[tuple[SectionResult, Grounding]]) -> None:
        """Write the topics of one paper whose LLM request failed, with the extractive generator, one after
        another in CLAIM_ORDER and each leaving out the sentences the paper's digest already states. An LLM
        digest writes its sections side by side, and fallbacks written there picked from the whole paper apart
        from each other: two of them could quote the same sentence (SWE-smith's limitations paragraph, under
        limitations and under future work)."""
        if not any(result.pending for result, _ in results):
            return
        taken = {s.text for result, _ in results for s in result.statements}
        specs = {spec.key: spec for spec in SECTIONS}
        for result, grounding in sorted(results, key=lambda item: _claim_rank(item[0].key)):
            spec = specs[result.key]
            for index, topic, passages, limit in result.pending:
                drafts = self._extractive(topic, passages, spec, limit, title, taken)
                kept, g = self.verifier.verify(drafts, {p.chunk.id: p for p in passages})
                grounding.add(g)
                result.by_topic[index] = kept[:limit]
                taken.update(s.text for s in kept[:limit])
                if topic.label and not kept:
                    result.missing_labels.append(topic.label)
            if result.pending:
                order = [t.label for t in spec.topics]
                result.missing_labels.sort(key=order.index)
                result.statements = [s for kept in result.by_topic for s in kept]
                result.pending = []

    def _extractive(
        self,
        topic: Topic,
        passages: list[Passage],
        spec: SectionSpec,
        limit: int,
        title: str,
        taken: set[str] | None = None,
    ) -> list[Draft]:
        if taken is None:
            taken = self._taken.get(passages[0].chunk.paper_id, set()) if self.generator == "extractive" else set()
        offsets = {p.chunk.paper_id: self.archive.page_offsets(p.chunk.paper_id) for p in passages}
        return pick_sentences(
            topic,
            passages,
            offsets,
            limit=limit,
            max_chars=self.settings.max_sentence_chars,
            prefer_kinds=spec.prefer_kinds,
            title=title,
            taken=frozenset(taken),
            embed=self.archive.embedder.embed,
        )


# The order the sections pick their sentences in, where one sentence would suit two: a contribution or a result
# before the motivation that leads to it, a limitation of prior work (motivation) before this paper's own, the
# results before the setup that names their benchmark. The digest shows SECTIONS' order.
CLAIM_ORDER = ("contributions", "results", "motivation", "architecture", "setup", "limitations", "future_work")


def _claim_rank(key: str) -> int:
    return CLAIM_ORDER.index(key) if key in CLAIM_ORDER else len(CLAIM_ORDER)


def _claiming(generator: str, sections: Sequence[SectionSpec] = SECTIONS) -> list[SectionSpec]:
    """The order to write the sections in: CLAIM_ORDER for the extractive generator, whose sections share the
    paper's sentences; the digest's own order for an LLM (its requests go out in that order)."""
    if generator != "extractive":
        return list(sections)
    return sorted(sections, key=lambda s: _claim_rank(s.key))


def _in_digest_order(results: dict[str, tuple[SectionResult, Grounding]]) -> list[tuple[SectionResult, Grounding]]:
    return [results[spec.key] for spec in SECTIONS]


def digest_paper(writer: SectionWriter, paper_id: str, entry: DailyEntry | None) -> PaperDigest:
    """One paper's digest, its sections one after another (build_digest runs a day's sections in parallel)."""
    digest = _start_paper(writer, paper_id, entry)
    results = {s.key: writer.write(paper_id, digest.title, s) for s in _claiming(writer.generator)}
    _finish_paper(writer, digest, _in_digest_order(results))
    return digest


def _start_paper(writer: SectionWriter, paper_id: str, entry: DailyEntry | None) -> PaperDigest:
    record = writer.archive.paper(paper_id)
    title = entry.title if entry else (record.title if record else paper_id)
    return PaperDigest(
        paper_id,
        title,
        "ok",
        upvotes=entry.upvotes if entry else None,
        authors=entry.authors if entry else (record.authors if record else ()),
        warning=record.warning if record else "",
    )


def _finish_paper(
    writer: SectionWriter, digest: PaperDigest, results: Sequence[tuple[SectionResult, Grounding]]
) -> None:
    writer.fall_back(digest.title, results)
    for section, grounding in results:
        digest.sections.append(section)
        digest.grounding.add(grounding)


def failed_paper(paper_id: str, entry: DailyEntry | None, error: str) -> PaperDigest:
    return PaperDigest(
        paper_id,
        entry.title if entry else paper_id,
        "failed",
        error=error,
        upvotes=entry.upvotes if entry else None,
        abstract=entry.abstract if entry else "",
        authors=entry.authors if entry else (),
    )


def build_digest(
    day: str,
    archive: Archive,
    paper_ids: Sequence[str],
    *,
    lang: str,
    generator: str,
    entries: dict[str, DailyEntry] | None = None,
    errors: dict[str, str] | None = None,
    llm=None,
    progress=None,
) -> Digest:
    """Digest the given papers (already ingested, or failed with a reason in ``errors``).

    With an LLM, the sections of all the day's papers go out together, at most ``llm.concurrency``
    requests in flight; the papers keep their order in the digest."""
    entries = entries or {}
    errors = errors or {}
    writer = SectionWriter(archive, lang, generator, llm)
    workers = llm.concurrency if generator == "llm" and llm is not None else 1
    papers: list[PaperDigest] = []
    if progress:
        progress.start(len(paper_ids))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[PaperDigest, dict[str, Future]]] = []
        for paper_id in paper_ids:
            entry = entries.get(paper_id)
            if paper_id in errors or archive.paper(paper_id) is None:
                papers.append(failed_paper(paper_id, entry, errors.get(paper_id, "not in the archive")))
                if progress:
                    progress.done(paper_id, "failed")
                continue
            digest = _start_paper(writer, paper_id, entry)
            papers.append(digest)
            futures = {
                spec.key: pool.submit(writer.write, paper_id, digest.title, spec) for spec in _claiming(generator)
            }
            pending.append((digest, futures))
        for digest, futures in pending:
            if progress:
                progress.stage(digest.id, "summarize")
            _finish_paper(writer, digest, _in_digest_order({key: f.result() for key, f in futures.items()}))
            if progress:
                progress.done(digest.id, "ok")
    if llm is not None:
        for digest in papers:
            digest.usage = llm.usage_by_paper.get(digest.id)
    return Digest(day, lang, generator, papers)
