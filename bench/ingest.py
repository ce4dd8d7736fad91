"""Ingest benchmark: footnote's pipeline, stage by stage, against LlamaIndex's default pipeline.

    python bench/ingest.py [--papers N] [--skip-baseline] [--rounds N] [--json] [--corpus DIR]

Three runs, each in its own subprocess (so each peak RSS is its own) and each in a fresh temporary home:

1. footnote, stage by stage: read, parse (ingest.parse.parse_pdf), chunk (ingest.chunk.chunk_paper with the
   embedder's count_tokens), embed (archive.embedder.embed) and store (archive.add), called one after another in a
   loop over the PDFs, each stage timed on its own (the real pipeline parses ahead on a second thread and embeds
   the papers parsed by then in one call);
2. footnote, end to end: ingest.pipeline.ingest([corpus], archive), the headline number;
3. LlamaIndex's defaults: SimpleDirectoryReader (pypdf) + SentenceSplitter (1024 tokens, 200 overlap) +
   HuggingFaceEmbedding on the same model folder + ChromaVectorStore on a PersistentClient, through
   VectorStoreIndex.from_documents. pypdf extracts lone surrogates from some papers, which Chroma cannot store,
   so the documents' text is cleaned (lone surrogates dropped) before indexing.

With ``--rounds N`` (N > 1) runs 2 and 3 are repeated N times, in alternating order (footnote then LlamaIndex,
then LlamaIndex then footnote, ...), and the median of the N ratios is printed beside each round's: this machine's
speed drifts by ±20% within minutes, and one pair measured minutes apart can land on either side of a drift.
The figures of the first round stay where a single run puts them.

See bench/README.md for the packages the baseline needs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_VERBOSITY"] = "error"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the packages first: bench/ingest.py must not shadow ingest/

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "papers"
STAGES = ("read", "parse", "chunk", "embed", "store")
BASELINE_MODULES = {
    "llama_index.readers.file": "llama-index-readers-file",
    "llama_index.embeddings.huggingface": "llama-index-embeddings-huggingface",
    "llama_index.vector_stores.chroma": "llama-index-vector-stores-chroma",
    "pypdf": "pypdf",
}
BASELINE_PACKAGES = "llama-index-readers-file llama-index-embeddings-huggingface llama-index-vector-stores-chroma pypdf"
_SURROGATE = re.compile("[\ud800-\udfff]")


def peak_rss_mib() -> float:
    """This process's peak resident set size (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def corpus_pdfs(corpus: Path, limit: int | None) -> list[Path]:
    """The PDFs `footnote ingest DIR` would take, in the same (sorted) order."""
    pdfs = sorted(p for p in corpus.iterdir() if p.suffix.lower() == ".pdf" and p.is_file())
    return pdfs[:limit] if limit else pdfs


def read_fraction(token_counts: list[int], max_seq_length: int) -> dict:
    """How much of its inputs a model that reads max_seq_length tokens ([CLS] and [SEP] included) sees."""
    window = max_seq_length - 2
    total = sum(token_counts)
    read = sum(min(n, window) for n in token_counts)
    return {
        "max_seq_length": max_seq_length,
        "tokens_total": total,
        "tokens_read": read,
        "fraction_read": read / total if total else 1.0,
        "inputs_truncated": sum(n > window for n in token_counts),
        "largest_input_tokens": max(token_counts, default=0),
    }


# ---------------------------------------------------------------- workers (each runs in its own subprocess)


def run_footnote_stages(pdfs: list[Path], home: Path) -> dict:
    """footnote's stages called one after another (ingest/pipeline.py overlaps parse and embed), each timed."""
    t0 = time.perf_counter()
    from footnote.settings import Settings
    from footnote.types import Paper
    from index.archive import Archive
    from ingest.chunk import chunk_paper
    from ingest.parse import parse_pdf
    from ingest.pipeline import _abstract_of, published_date
    from ingest.sources import local_id

    settings = Settings().with_home(home)
    archive = Archive(settings)
    embedder = archive.embedder
    embedder.embed(["warm-up"])  # loads the model (torch, sentence-transformers) outside the embed stage
    archive.store  # noqa: B018 - opens Chroma outside the store stage
    setup_s = time.perf_counter() - t0

    seconds = dict.fromkeys(STAGES, 0.0)
    per_paper = []
    token_counts: list[int] = []
    parse_cpu_s = 0.0
    with archive.write_lock():
        for path in pdfs:
            paper_id, version = local_id(path)
            times = {}
            t = time.perf_counter()
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            archive.is_current(paper_id, sha)
            times["read"] = time.perf_counter() - t

            t, cpu = time.perf_counter(), time.thread_time()
            parsed = parse_pdf(data, max_pages=settings.ingest.max_pages, name=str(path))
            times["parse"] = time.perf_counter() - t
            parse_cpu_s += time.thread_time() - cpu  # the parse's own core-seconds: "per core" in the target

            t = time.perf_counter()
            chunks = chunk_paper(
                paper_id,
                parsed,
                max_tokens=settings.ingest.chunk_tokens,
                overlap=settings.ingest.chunk_overlap,
                count_tokens=embedder.count_tokens,
            )
            times["chunk"] = time.perf_counter() - t

            texts = [c.text for c in chunks]
            t = time.perf_counter()
            vectors = embedder.embed(texts)
            times["embed"] = time.perf_counter() - t

            t = time.perf_counter()
            paper = Paper(
                id=paper_id,
                version=version,
                title=parsed.title,
                authors=(),
                abstract=_abstract_of(parsed),
                source_url=path.resolve().as_uri(),
                sha256=sha,
                pages=parsed.page_count,
            )
            sections = list(dict.fromkeys(s.title for s in parsed.sections if s.kind != "front"))
            archive.add(paper, parsed.pages, chunks, vectors, sections, published_date(paper_id, None, None))
            times["store"] = time.perf_counter() - t

            counts = embedder.count_tokens(texts)  # not timed: the benchmark's own bookkeeping
            token_counts.extend(counts)
            for stage, s in times.items():
                seconds[stage] += s
            per_paper.append(
                {"id": paper_id, "pages": parsed.page_count, "chunks": len(chunks), "tokens": sum(counts), **times}
            )
    archive.close()
    total_s = time.perf_counter() - t0
    return {
        "papers": len(per_paper),
        "pages": sum(p["pages"] for p in per_paper),
        "chunks": len(token_counts),
        "tokens": sum(token_counts),
        "setup_s": setup_s,
        "stage_s": seconds,
        "parse_cpu_s": parse_cpu_s,
        "total_s": total_s,
        "peak_rss_mib": peak_rss_mib(),
        "embedder": embedder.name,
        "settings": {
            "chunk_tokens": settings.ingest.chunk_tokens,
            "chunk_overlap": settings.ingest.chunk_overlap,
            "embedding_batch": settings.index.embedding_batch,
            "embedding_model": settings.index.embedding_model,
        },
        "embedder_reads": read_fraction(token_counts, embedder.max_tokens),
        "per_paper": per_paper,
    }


def run_footnote_pipeline(pdfs: list[Path], home: Path, sources: list[str]) -> dict:
    """The real thing: ingest.pipeline.ingest on a fresh home, model loading and all."""
    t0 = time.perf_counter()
    from footnote.settings import Settings
    from index.archive import Archive
    from ingest.pipeline import ingest

    archive = Archive(Settings().with_home(home))
    report = ingest(sources, archive)
    archive.close()
    total_s = time.perf_counter() - t0
    return {
        "papers": len(report.ingested),
        "failed": report.failed,
        "pages": sum(report.pages.values()),
        "chunks": sum(report.chunks.values()),
        "total_s": total_s,
        "peak_rss_mib": peak_rss_mib(),
    }


def run_baseline(pdfs: list[Path], home: Path) -> dict:
    """LlamaIndex's default ingest pipeline, on the same PDFs and the same embedding model folder."""
    t0 = time.perf_counter()
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler
    from llama_index.core.instrumentation.events.embedding import EmbeddingEndEvent, EmbeddingStartEvent
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from index.embed import BUNDLED, SentenceTransformerEmbedder, resolve_model_path

    class EmbedWatch(BaseEventHandler):
        """Times the embedding calls and keeps the exact texts the embedder was given."""

        seconds: float = 0.0
        started: float = 0.0
        texts: list[str] = []  # noqa: RUF012 - a pydantic field: copied per instance

        def handle(self, event, **kwargs) -> None:
            if isinstance(event, EmbeddingStartEvent):
                self.started = time.perf_counter()
            elif isinstance(event, EmbeddingEndEvent):
                self.seconds += time.perf_counter() - self.started
                self.texts.extend(event.chunks)

    model_path = resolve_model_path(BUNDLED)
    embed_model = HuggingFaceEmbedding(model_name=model_path)  # defaults otherwise (batch 10, normalised)
    setup_s = time.perf_counter() - t0

    t = time.perf_counter()
    documents = SimpleDirectoryReader(input_files=[str(p) for p in pdfs]).load_data()
    load_s = time.perf_counter() - t

    t = time.perf_counter()
    dropped, cleaned_pages = 0, 0
    for doc in documents:
        text = doc.text
        found = len(_SURROGATE.findall(text))
        if found:
            doc.set_content(text.encode("utf-8", "surrogatepass").decode("utf-8", "ignore"))
            dropped += found
            cleaned_pages += 1
    clean_s = time.perf_counter() - t

    watch = EmbedWatch()
    get_dispatcher().add_event_handler(watch)
    t = time.perf_counter()
    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection("baseline")
    vector_store = ChromaVectorStore(chroma_collection=collection)
    VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        transformations=[SentenceSplitter()],  # the default: 1024 tokens, 200 overlap
        embed_model=embed_model,
    )
    index_s = time.perf_counter() - t
    total_s = time.perf_counter() - t0
    peak = peak_rss_mib()

    # Not timed: what the embedder was given, in the model's own tokens (metadata header included).
    token_counts = SentenceTransformerEmbedder(BUNDLED).count_tokens(watch.texts)
    return {
        "papers": len(pdfs),
        "pages": len(documents),
        "chunks": collection.count(),
        "embedded_texts": len(watch.texts),
        "tokens": sum(token_counts),
        "surrogates_dropped": dropped,
        "pages_cleaned": cleaned_pages,
        "setup_s": setup_s,
        "load_s": load_s,
        "clean_s": clean_s,
        "index_s": index_s,
        "embed_s": watch.seconds,
        "total_s": total_s,
        "peak_rss_mib": peak,
        "embed_batch_size": embed_model.embed_batch_size,
        "embedder_reads": read_fraction(token_counts, embed_model.max_length),
    }


def worker_main(args: argparse.Namespace) -> None:
    pdfs = corpus_pdfs(args.corpus, args.papers)
    with tempfile.TemporaryDirectory(prefix=f"footnote-bench-{args.worker}-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp)
        if args.worker == "stages":
            result = run_footnote_stages(pdfs, home)
        elif args.worker == "pipeline":
            sources = [str(args.corpus)] if args.papers is None else [str(p) for p in pdfs]
            result = run_footnote_pipeline(pdfs, home, sources)
        else:
            result = run_baseline(pdfs, home)
    args.result.write_text(json.dumps(result))


# ---------------------------------------------------------------- orchestration


def spawn(worker: str, args: argparse.Namespace) -> dict:
    """Run one worker in a fresh interpreter; return its figures or {"error": ...}."""
    print(f"running {worker}...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="footnote-bench-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--worker", worker, "--corpus", str(args.corpus), "--result", str(result)]
        if args.papers is not None:
            cmd += ["--papers", str(args.papers)]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        if proc.returncode != 0 or not result.is_file():
            tail = proc.stderr.strip().splitlines()[-15:]
            return {"error": f"{worker} worker exited with {proc.returncode}", "stderr_tail": tail}
        return json.loads(result.read_text())


def baseline_pip_command() -> str:
    """The install line that adds the baseline without moving torch or llama-index-core."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        core = f" llama-index-core=={version('llama-index-core')}"
    except PackageNotFoundError:
        core = ""
    return f"pip install {BASELINE_PACKAGES}{core} torch==2.13.0"


def missing_baseline_packages() -> list[str]:
    missing = []
    for module, package in BASELINE_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(package)
    return missing


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def render(figures: dict) -> str:
    lines = []
    n, size = figures["papers"], figures["corpus_mib"]
    lines.append(f"footnote ingest benchmark: {n} PDF{'' if n == 1 else 's'} ({size:.1f} MiB) from {figures['corpus']}")
    lines.append(f"CPU cores: {figures['cpus']}")

    st = figures["footnote_stages"]
    lines.append("")
    lines.append("footnote, stage by stage (the pipeline's stages run serially; fresh home, own process)")
    if "error" in st:
        lines.append(f"  FAILED: {st['error']}")
        lines.extend(f"    {line}" for line in st["stderr_tail"])
    else:
        s = st["settings"]
        lines.append(
            f"  settings: chunk_tokens={s['chunk_tokens']} overlap={s['chunk_overlap']} "
            f"batch={s['embedding_batch']} embedder={st['embedder']}"
        )
        work = sum(st["stage_s"].values())
        lines.append(f"  {'setup':<7}{st['setup_s']:8.2f} s          imports, model load, Chroma open")
        rates = {
            "parse": (
                f"{st['pages']} pages, {st['pages'] / st['stage_s']['parse']:.1f} pages/s; "
                f"{st['pages'] / st['parse_cpu_s']:.1f} pages per CPU-second of its thread"
            ),
            "embed": (
                f"{st['chunks']} chunks, {st['chunks'] / st['stage_s']['embed']:.1f} chunks/s; "
                f"{st['tokens']:,} tokens, {st['tokens'] / st['stage_s']['embed']:,.0f} tokens/s"
            ),
        }
        for stage in STAGES:
            sec = st["stage_s"][stage]
            lines.append(f"  {stage:<7}{sec:8.2f} s {100 * sec / work:5.1f} %   {rates.get(stage, '')}".rstrip())
        lines.append(f"  {'stages':<7}{work:8.2f} s  100.0 %")
        lines.append(f"  {'total':<7}{st['total_s']:8.2f} s          peak RSS {st['peak_rss_mib']:.0f} MiB")
        r = st["embedder_reads"]
        lines.append(
            f"  embedder reads {100 * r['fraction_read']:.1f} % of the chunk tokens "
            f"(max_seq_length {r['max_seq_length']}, largest chunk {r['largest_input_tokens']} tokens, "
            f"{r['inputs_truncated']} truncated)"
        )

    pl = figures["footnote_pipeline"]
    lines.append("")
    lines.append("footnote, end to end: ingest.pipeline.ingest(...) on a fresh home, own process (headline)")
    if "error" in pl:
        lines.append(f"  FAILED: {pl['error']}")
        lines.extend(f"    {line}" for line in pl["stderr_tail"])
    else:
        lines.append(
            f"  {pl['papers']} ingested, {len(pl['failed'])} failed; {pl['pages']} pages, {pl['chunks']} chunks "
            f"in {pl['total_s']:.2f} s ({pl['pages'] / pl['total_s']:.1f} pages/s), "
            f"peak RSS {pl['peak_rss_mib']:.0f} MiB"
        )
        lines.extend(f"  failed: {f['source']}: {f['error']}" for f in pl["failed"])

    bl = figures["baseline"]
    lines.append("")
    lines.append(
        "LlamaIndex defaults: SimpleDirectoryReader (pypdf) + SentenceSplitter (1024/200) + HuggingFaceEmbedding "
        "(same model folder) + ChromaVectorStore, own process"
    )
    if bl is None:
        lines.append("  skipped (--skip-baseline)")
    elif "skipped" in bl:
        lines.append(f"  skipped: {bl['skipped']}")
    elif "error" in bl:
        lines.append(f"  FAILED: {bl['error']}")
        lines.extend(f"    {line}" for line in bl["stderr_tail"])
    else:
        lines.append(
            f"  text cleaned first: {bl['surrogates_dropped']} lone surrogates (from pypdf) dropped from "
            f"{bl['pages_cleaned']} of {bl['pages']} pages; Chroma cannot store them"
        )
        lines.append(
            f"  setup {bl['setup_s']:.2f} s (imports, model load), load/pypdf {bl['load_s']:.2f} s, "
            f"clean {bl['clean_s']:.2f} s, from_documents {bl['index_s']:.2f} s (of which embed {bl['embed_s']:.2f} s)"
        )
        lines.append(
            f"  {bl['pages']} pages, {bl['chunks']} chunks in {bl['total_s']:.2f} s "
            f"({bl['pages'] / bl['total_s']:.1f} pages/s; embed {bl['chunks'] / bl['embed_s']:.1f} chunks/s, "
            f"{bl['embedder_reads']['tokens_read'] / bl['embed_s']:,.0f} tokens read/s), "
            f"peak RSS {bl['peak_rss_mib']:.0f} MiB"
        )
        r = bl["embedder_reads"]
        lines.append(
            f"  its embedder reads {100 * r['fraction_read']:.1f} % of the text it is given: "
            f"{r['tokens_read']:,} of {r['tokens_total']:,} tokens ({r['inputs_truncated']} of "
            f"{bl['embedded_texts']} chunks cut at max_seq_length {r['max_seq_length']}; "
            f"metadata header included)"
        )

    lines.append("")
    speed = figures.get("speedup")
    if speed:
        lines.append(
            f"speed: footnote end to end {pl['total_s']:.2f} s vs LlamaIndex {bl['total_s']:.2f} s: "
            + (f"footnote is {speed:.2f}x faster" if speed >= 1 else f"footnote is {1 / speed:.2f}x slower")
            + f" (LlamaIndex time / footnote time = {speed:.2f})"
        )
    else:
        lines.append("speed: no ratio (baseline not run)")
    if figures.get("rounds"):
        lines.append(f"rounds (end to end, order alternating; the first is the one above): {len(figures['rounds'])}")
        for n, r in enumerate(figures["rounds"], start=1):
            pair = f"footnote {r['footnote_s']:.2f} s" if r["footnote_s"] else "footnote failed"
            if r["baseline_s"]:
                pair += f", LlamaIndex {r['baseline_s']:.2f} s"
            first = "footnote first" if r["order"][0] == "pipeline" else "LlamaIndex first"
            lines.append(f"  {n}. {pair}" + (f": {r['speedup']:.2f}x" if r["speedup"] else "") + f" ({first})")
        if figures.get("speedup_median"):
            lines.append(f"speed over {len(figures['rounds'])} rounds: median {figures['speedup_median']:.2f}x")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=None, metavar="N", help="only the first N PDFs (sorted)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the LlamaIndex baseline")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="N",
        help="end-to-end pairs (footnote, LlamaIndex) to run, in alternating order; the median ratio is printed",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"PDF folder (default {DEFAULT_CORPUS})")
    parser.add_argument("--worker", choices=("stages", "pipeline", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.papers is not None and args.papers < 1:
        parser.error("--papers must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.worker:
        worker_main(args)
        return 0
    if not args.corpus.is_dir():
        print(f"error: {args.corpus}: no such corpus folder (give --corpus DIR)", file=sys.stderr)
        return 2
    pdfs = corpus_pdfs(args.corpus, args.papers)
    if not pdfs:
        print(f"error: {args.corpus}: holds no .pdf files", file=sys.stderr)
        return 2

    figures: dict = {
        "corpus": str(args.corpus),
        "papers": len(pdfs),
        "corpus_mib": sum(p.stat().st_size for p in pdfs) / 2**20,
        "cpus": os.cpu_count(),
        "footnote_stages": spawn("stages", args),
        "footnote_pipeline": None,
        "baseline": None,
        "speedup": None,
    }
    baseline = not args.skip_baseline
    if baseline and (missing := missing_baseline_packages()):
        reason = f"baseline packages missing ({', '.join(missing)}); install them with: {baseline_pip_command()}"
        print(f"baseline skipped: {reason}", file=sys.stderr)
        figures["baseline"] = {"skipped": reason}
        baseline = False
    rounds = []
    for n in range(args.rounds):
        order = ["pipeline", "baseline"] if n % 2 == 0 else ["baseline", "pipeline"]
        ran = {worker: spawn(worker, args) for worker in order if worker == "pipeline" or baseline}
        pl, bl = ran["pipeline"], ran.get("baseline")
        rounds.append(
            {
                "order": [w for w in order if w in ran],
                "footnote_s": pl.get("total_s"),
                "baseline_s": bl.get("total_s") if bl else None,
                "speedup": ratio(bl["total_s"], pl["total_s"]) if bl and "total_s" in bl and "total_s" in pl else None,
            }
        )
        if n == 0:
            figures["footnote_pipeline"] = pl
            if bl:
                figures["baseline"] = bl
            figures["speedup"] = rounds[0]["speedup"]
    if args.rounds > 1:
        figures["rounds"] = rounds
        speedups = [r["speedup"] for r in rounds if r["speedup"]]
        figures["speedup_median"] = statistics.median(speedups) if speedups else None

    print(json.dumps(figures, indent=2) if args.json else render(figures))
    failed = any(isinstance(v, dict) and "error" in v for v in figures.values())
    failed = failed or any(r["footnote_s"] is None for r in rounds)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
