"""Retrieval latency against archive size: 10k, 100k and 1,000,000 chunks.

    python bench/scale.py [--sizes 10000,100000,1000000] [--queries 100] [--source-home DIR] [--json]

1. Source. The corpus (../shared/corpus/papers) is ingested into a temporary home with the real pipeline
   (parse, chunk, embed, store); --source-home reuses a home that already holds it. Its chunks, page texts and
   vectors are the material every archive below is made of.
2. Growth. One archive, in a temporary folder, written with footnote's own classes (index.catalog.Catalog,
   index.store.ChromaStore, the catalog's begin/complete protocol), grows to each size in turn; the figures are
   taken at each size before it grows on. Copy 0 of each paper is the real paper; copy c >= 1 is the paper again
   under a new id (``<id>.r<c>``), its chunks perturbed: a few neighbouring words swapped, a share of the digits
   changed, and its vector the real chunk's embedding plus Gaussian noise (sigma 0.015 per dimension, about
   cosine 0.96 to the original), normalised. Nothing is embedded at build time.
3. Queries. The first --queries questions of bench/questions.json (`ask` texts, then `cite_query`s), embedded
   once before timing. Each timed call is ``index.retrieve.Retriever.search(Query(text, k=5, vector=...))``:
   dense (Chroma) + lexical (FTS5 BM25) + fusion and the catalog reads, with the embedding precomputed, in
   this process, after warm-up calls: ``search`` is each query's first search, ``again`` the same searches
   repeated after all of them (each query's FTS5 pages and HNSW nodes then in SQLite's and Chroma's caches).
   Since the retriever runs the two sides at once, ``search`` is about the longer of them plus fusion.
   ``dense`` and ``lexical`` time the two sides alone on the same queries;
   ``paper`` is the same search restricted to one paper (``--paper`` / digests); ``ask`` is ask's retrieval: its
   pool of QASettings.pool (30) passages, with the papers the question names searched too (index.route), and
   ``route`` the naming step alone. The copies repeat their paper's names, so past about four copies a name is
   on more than index.route.MAX_NAMED title pages and routes nowhere: at 100k and 1M chunks ``ask`` is the
   pool's retrieval without the within-paper lists, and ``route`` what deciding that costs.

Progress goes to stderr; the table to stdout. Everything is written under one temporary folder, deleted at
the end (--keep DIR keeps the grown archive there instead).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from common import CORPUS, QUESTIONS, ingest_timed

from footnote.settings import Settings
from footnote.types import Chunk, Paper
from index.archive import Archive
from index.retrieve import Query, Retriever
from index.route import route
from index.store import ChromaStore

SIZES = (10_000, 100_000, 1_000_000)
NOISE = 0.015
WARM_UP = 5
_NUMBER = re.compile(r"\d")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- source material ----------------------------------------------------------------------------------------------


@dataclass
class SourcePaper:
    paper: Paper
    published: str | None
    pages: list[str]
    sections: list[str]
    chunks: list[Chunk]
    vectors: np.ndarray


def load_source(home: Path) -> list[SourcePaper]:
    archive = Archive(Settings(home=home))
    try:
        out = []
        for record in archive.papers():
            chunks = archive.catalog.chunks_of(record.id)
            got = archive.store.collection.get(ids=[c.id for c in chunks], include=["embeddings"])
            by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
            vectors = np.asarray([by_id[c.id] for c in chunks], dtype=np.float32)
            pages = [archive.page_text(record.id, p) or "" for p in range(1, record.pages + 1)]
            paper = Paper(
                record.id,
                record.version,
                record.title,
                record.authors,
                record.abstract,
                record.source_url,
                record.sha256,
                record.pages,
            )
            out.append(SourcePaper(paper, record.published, pages, list(record.sections), chunks, vectors))
        return out
    finally:
        archive.close()


def load_queries(path: Path, n: int) -> list[str]:
    questions = json.loads(path.read_text())["questions"]
    texts = [q["ask"] for q in questions] + [q["cite_query"] for q in questions if q.get("cite_query")]
    return texts[:n]


# --- perturbed copies ---------------------------------------------------------------------------------------------


def perturb_text(text: str, rng: random.Random) -> str:
    """A few neighbouring words swapped (about 1 in 30) and about a third of the digits changed."""
    words = text.split(" ")
    for _ in range(max(1, len(words) // 30)):
        i = rng.randrange(max(1, len(words) - 1))
        if i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
    text = " ".join(words)
    return _NUMBER.sub(lambda m: str(rng.randrange(10)) if rng.random() < 0.33 else m.group(), text)


def perturb_vectors(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = vectors + rng.normal(0.0, NOISE, vectors.shape).astype(np.float32)
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


def copy_paper(src: SourcePaper, copy: int, rng: random.Random, nprng: np.random.Generator) -> SourcePaper:
    if copy == 0:
        return src
    pid = f"{src.paper.id}.r{copy}"
    paper = Paper(pid, src.paper.version, src.paper.title, src.paper.authors, src.paper.abstract,
                  src.paper.source_url, f"{src.paper.sha256[:48]}{copy:016x}", src.paper.pages)  # fmt: skip
    chunks = []
    for i, c in enumerate(src.chunks):
        text = perturb_text(c.text, rng)
        chunks.append(
            Chunk(pid, c.page_start, c.page_end, c.section, c.kind, c.char_start, c.char_end, text, id=f"{pid}:{i:05d}")
        )
    return SourcePaper(paper, src.published, src.pages, src.sections, chunks, perturb_vectors(src.vectors, nprng))


def stream(source: Sequence[SourcePaper], seed: int = 0) -> Iterator[SourcePaper]:
    """Copy 0 of every paper, then copy 1 of every paper, and so on, forever."""
    rng, nprng = random.Random(seed), np.random.default_rng(seed)
    copy = 0
    while True:
        for src in source:
            yield copy_paper(src, copy, rng, nprng)
        copy += 1


def grow(archive: Archive, papers: Iterator[SourcePaper], target: int, batch: int, pending: list) -> int:
    """Write whole papers until the archive holds at least ``target`` chunks; returns the chunk count.

    Papers go in with the catalog's protocol (pending, vectors, then complete), the vectors of several papers
    sent to Chroma in one upsert of about ``batch`` chunks."""
    count = archive.catalog.chunk_count()
    group: list[SourcePaper] = pending[:]
    pending.clear()
    while count < target or group:
        size = sum(len(p.chunks) for p in group)
        while count + size < target and size < batch:
            p = next(papers)
            group.append(p)
            size += len(p.chunks)
        if count + size > target and len(group) > 1 and count < target:
            # Keep the last paper for the next size so that each size is reached without overshooting by much.
            extra = group.pop()
            pending.append(extra)
            size -= len(extra.chunks)
        if not group:
            break
        for p in group:
            archive.catalog.begin_paper(p.paper, p.published)
        archive.store.upsert([c for p in group for c in p.chunks], np.concatenate([p.vectors for p in group]))
        for p in group:
            archive.catalog.complete_paper(p.paper.id, p.pages, p.chunks, p.sections)
        count += size
        group = []
        if count >= target:
            break
    return count


# --- timing -------------------------------------------------------------------------------------------------------


@dataclass
class Timings:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.values.setdefault(name, []).append(seconds)

    def p(self, name: str, q: float) -> float:
        ordered = sorted(self.values.get(name, []))
        if not ordered:
            return float("nan")
        return 1000 * ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def original_id(paper_id: str) -> str:
    """The corpus paper a copy was made from ("2502.13189.r7" -> "2502.13189")."""
    return re.sub(r"\.r\d+$", "", paper_id)


def hit(passages: Sequence, answers: Sequence[tuple[str, frozenset[int]]]) -> bool:
    """Whether a passage (of the paper or of a copy of it) spans an accepted page."""
    for p in passages:
        pages = set(range(p.chunk.page_start, p.chunk.page_end + 1))
        if any(original_id(p.chunk.paper_id) == pid and pages & accepted for pid, accepted in answers):
            return True
    return False


def measure(
    archive: Archive,
    queries: Sequence[str],
    vectors: np.ndarray,
    paper_of: Sequence[str],
    answers: dict[str, list[tuple[str, frozenset[int]]]],
) -> tuple[Timings, int, int]:
    """Latencies, and how many answerable queries had an accepted page in the top 5 (of how many)."""
    retriever = Retriever(archive)
    s = archive.settings.index
    for text, vector in list(zip(queries, vectors, strict=True))[:WARM_UP]:
        retriever.search(Query(text, k=5, vector=vector))
    t = Timings()
    hits = answerable = 0
    for text, vector, paper in zip(queries, vectors, paper_of, strict=True):
        start = time.perf_counter()
        found = retriever.search(Query(text, k=5, vector=vector))
        t.add("search", time.perf_counter() - start)
        if answers.get(text):
            answerable += 1
            hits += hit(found, answers[text])
        t.add("dense", timed(lambda: archive.store.query(vector, s.dense_k, exclude_kinds=("references",))))  # noqa: B023
        t.add("lexical", timed(lambda: archive.catalog.lexical_search(text, s.lexical_k)))  # noqa: B023
        t.add("paper", timed(lambda: retriever.search(Query(text, k=5, paper_ids=[paper], vector=vector))))  # noqa: B023
        ask_pool = Query(text, k=archive.settings.qa.pool, route=True, vector=vector)
        t.add("ask", timed(lambda: retriever.search(ask_pool)))  # noqa: B023
        t.add("route", timed(lambda: route(archive.catalog, text)))  # noqa: B023
    # The same searches once more: each query's FTS5 pages and HNSW nodes are now in SQLite's and Chroma's caches
    # (the first pass read them from the OS page cache or the disk), as for a user asking about the same topic.
    for text, vector in zip(queries, vectors, strict=True):
        t.add("again", timed(lambda: retriever.search(Query(text, k=5, vector=vector))))  # noqa: B023
    return t, hits, answerable


def disk_mib(path: Path) -> float:
    try:
        out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout
        return int(out.split()[0]) / 1024
    except (subprocess.CalledProcessError, FileNotFoundError, ValueError, IndexError):
        return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- main -----------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in SIZES),
        help="archive sizes in chunks, comma-separated, ascending (default 10000,100000,1000000)",
    )
    parser.add_argument("--queries", type=int, default=100, help="queries timed at each size (default 100)")
    parser.add_argument("--source-home", type=Path, help="a home that already holds the corpus (read only)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="PDFs to ingest when --source-home is not given")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="the question set (JSON)")
    parser.add_argument("--batch", type=int, default=5000, help="chunks per Chroma upsert while building")
    parser.add_argument(
        "--no-documents",
        action="store_true",
        help="keep chunk texts out of Chroma (ChromaStore(documents=False)); the catalog holds them anyway",
    )
    parser.add_argument("--keep", type=Path, help="keep the grown archive in this (new) folder")
    parser.add_argument(
        "--archive", type=Path, help="time an archive grown earlier (--keep) as it is, without building anything"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    work = Path(tempfile.mkdtemp(prefix="footnote-scale-"))
    figures: dict = {"sizes": [], "machine": f"{os.cpu_count()} CPU cores"}
    figures["documents_in_chroma"] = not args.no_documents
    try:
        source_home = args.source_home
        if source_home is None:
            source_home = work / "source"
            log(f"ingesting {args.corpus} into a temporary home (real pipeline)...")
            figures["source_ingest_s"] = ingest_timed(source_home, [args.corpus])
            log(f"  {figures['source_ingest_s']:.1f} s")
        source = load_source(source_home)
        real = sum(len(p.chunks) for p in source)
        figures["source"] = {"papers": len(source), "chunks": real}
        log(f"source: {len(source)} papers, {real} chunks")

        queries = load_queries(args.questions, args.queries)
        embed_archive = Archive(Settings(home=source_home))
        query_vectors = np.asarray(embed_archive.embedder.embed(queries), dtype=np.float32)
        embed_archive.close()
        # Accepted (paper, pages) per query text; the one-paper filter is the first accepted paper, else a paper
        # in turn.
        answers: dict[str, list[tuple[str, frozenset[int]]]] = {}
        for q in json.loads(args.questions.read_text())["questions"]:
            for text in (q["ask"], q.get("cite_query")):
                if text and q.get("answers"):
                    answers.setdefault(text, [(a["paper_id"], frozenset(a["pages"])) for a in q["answers"]])
        paper_of = [
            answers[text][0][0] if answers.get(text) else source[i % len(source)].paper.id
            for i, text in enumerate(queries)
        ]

        home = args.archive or args.keep or work / "archive"
        if args.keep and args.keep.exists():
            raise SystemExit(f"--keep {args.keep}: the folder exists")
        settings = Settings(home=home)
        store = ChromaStore(home, settings.index.collection, None, documents=not args.no_documents)
        archive = Archive(settings, store=store)
        store.lookup = archive.catalog.chunk_filters  # as Archive wires its own store
        papers = stream(source)
        pending: list = []
        build_total = 0.0
        if args.archive:
            sizes = [archive.catalog.chunk_count()]
            figures["archive"] = str(args.archive)
        for size in sizes:
            start = time.perf_counter()
            if not args.archive:
                log(f"growing to {size:,} chunks...")
                count = grow(archive, papers, size, args.batch, pending)
            else:
                count = size
            step = time.perf_counter() - start
            build_total += step
            n_papers = len(archive.papers())
            log(f"  {count:,} chunks, {n_papers:,} papers, +{step:.1f} s; timing {len(queries)} queries...")
            t, hits, answerable = measure(archive, queries, query_vectors, paper_of, answers)
            row = {
                "size": size,
                "chunks": count,
                "papers": n_papers,
                "build_step_s": round(step, 1),
                "build_total_s": round(build_total, 1),
                "catalog_mib": round(disk_mib(home / "archive.sqlite") + disk_mib(home / "archive.sqlite-wal"), 1),
                "chroma_mib": round(disk_mib(home / "chroma"), 1),
                "peak_rss_mib": round(peak_rss_mib()),
                "latency_ms": {
                    name: {"p50": round(t.p(name, 50), 2), "p95": round(t.p(name, 95), 2)} for name in t.values
                },
                "search_mean_ms": round(1000 * statistics.fmean(t.values["search"]), 2),
                "hit_at_5": f"{hits}/{answerable}",
            }
            figures["sizes"].append(row)
            lat = row["latency_ms"]
            log(
                f"  search p50 {lat['search']['p50']:.1f} ms p95 {lat['search']['p95']:.1f} ms "
                f"hit@5 {hits}/{answerable} (dense {lat['dense']['p50']:.1f}/{lat['dense']['p95']:.1f}, "
                f"lexical {lat['lexical']['p50']:.1f}/{lat['lexical']['p95']:.1f})"
            )
        archive.close()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures, indent=2) if args.json else render(figures, len(queries)))
    return 0


def render(figures: dict, n_queries: int) -> str:
    lines = [
        f"Retrieval latency against archive size ({figures['machine']}, {n_queries} queries per size, k=5, "
        f"query embedding precomputed; Chroma documents {'on' if figures['documents_in_chroma'] else 'off'})",
        "",
        "| chunks | papers | search p50 / p95 | again p50 / p95 | dense p50 / p95 | lexical p50 / p95 "
        "| one paper p50 / p95 | ask's pool p50 / p95 | route p50 / p95 | hit@5 | build (step, total) "
        "| disk: catalog + chroma | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in figures["sizes"]:
        lat = row["latency_ms"]

        def cell(name: str, lat: dict = lat) -> str:
            return f"{lat[name]['p50']:.1f} / {lat[name]['p95']:.1f} ms"

        lines.append(
            f"| {row['chunks']:,} | {row['papers']:,} | **{cell('search')}** | {cell('again')} | {cell('dense')} "
            f"| {cell('lexical')} | {cell('paper')} | {cell('ask')} | {cell('route')} | {row['hit_at_5']} "
            f"| {row['build_step_s']:.0f} s, {row['build_total_s']:.0f} s "
            f"| {row['catalog_mib']:,.0f} + {row['chroma_mib']:,.0f} MiB | {row['peak_rss_mib']:,} MiB |"
        )
    if "source_ingest_s" in figures:
        lines.append("")
        src = figures["source"]
        lines.append(
            f"Source: the corpus ingested in {figures['source_ingest_s']:.1f} s "
            f"({src['chunks']} chunks of {src['papers']} papers)."
        )
    lines.append("Targets at 1M chunks: search p50 <= 30 ms, p95 <= 100 ms.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
