"""Embedding benchmark: torch fp32 (sentence-transformers) vs OpenVINO vs ONNX Runtime fp32 vs ONNX Runtime int8.

    python bench/embed.py [--papers N] [--chunks N] [--chunk-tokens T] [--batch B] [--repeat R]
                          [--backends openvino,onnx-int8,onnx,torch] [--json]

Real chunks: the first N PDFs of the corpus (../shared/corpus/papers, sorted by name) are parsed
(ingest.parse.parse_pdf) and chunked (ingest.chunk.chunk_paper, T tokens, 30 overlap), the first --chunks of them
kept. Each backend (index.embed.make_embedder on the bundled all-MiniLM-L6-v2) embeds one warm-up batch (model
load, and the one-time ONNX export if it is not cached yet), then all chunks R times; the best run counts.
Printed per backend: chunks/s and tokens/s (tokens the model reads: the chunk's WordPiece tokens plus [CLS] and
[SEP], at most 256), chunks per CPU-second (all threads; less disturbed by other load on the machine, whose
load average is printed too), then the cosine agreement of the vectors between every pair of backends (per
chunk: mean, 1st percentile, min) and the top-10 overlap of a few real queries' rankings over the chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from common import CORPUS

from index.embed import BACKENDS, BUNDLED, make_embedder

QUERIES = (
    "auxiliary-loss-free load balancing for mixture of experts",
    "group relative policy optimization without a critic",
    "multi-token prediction training objective",
    "how many H800 GPU hours did pre-training take",
    "reward hacking with neural reward models",
    "SWE-bench task instances synthesised from GitHub repositories",
    "sparse attention over blocks of the context",
    "formal theorem proving in Lean 4",
)


def real_chunks(corpus: Path, papers: int, chunk_tokens: int, limit: int, count_tokens) -> list[str]:
    from ingest.chunk import chunk_paper
    from ingest.parse import parse_pdf

    texts: list[str] = []
    for pdf in sorted(corpus.glob("*.pdf"))[:papers]:
        parsed = parse_pdf(pdf)
        chunks = chunk_paper(pdf.stem, parsed, max_tokens=chunk_tokens, overlap=30, count_tokens=count_tokens)
        texts.extend(c.text for c in chunks)
    return texts[:limit]


def measure(backend: str, texts: list[str], batch: int, repeat: int) -> dict:
    embedder = make_embedder(BUNDLED, batch, backend)  # type: ignore[arg-type]
    started = time.perf_counter()
    embedder.embed(texts[:batch])
    load_s = time.perf_counter() - started
    best = best_cpu = float("inf")
    vectors = None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), cpu_seconds()
        vectors = embedder.embed(texts)
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, cpu_seconds() - cpu)
    read = [min(n + 2, embedder.max_tokens) for n in embedder.count_tokens(texts)]
    return {
        "backend": backend,
        "name": embedder.name,
        "load_s": load_s,
        "embed_s": best,
        "chunks_per_s": len(texts) / best,
        "tokens_per_s": sum(read) / best,
        "cpu_s": best_cpu,
        "chunks_per_cpu_s": len(texts) / best_cpu,
        "precision": getattr(embedder, "precision", None),
        "vectors": vectors,
        "queries": embedder.embed(list(QUERIES)),
    }


def cpu_seconds() -> float:
    """CPU time of this process, all threads (a figure that other load on the machine disturbs less)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def agreement(a: dict, b: dict) -> dict:
    cos = np.sum(a["vectors"] * b["vectors"], axis=1)
    overlap = []
    for qa, qb in zip(a["queries"], b["queries"], strict=True):
        top_a = set(np.argsort(-(a["vectors"] @ qa))[:10].tolist())
        top_b = set(np.argsort(-(b["vectors"] @ qb))[:10].tolist())
        overlap.append(len(top_a & top_b) / 10)
    return {
        "pair": f"{a['backend']} vs {b['backend']}",
        "cos_mean": float(cos.mean()),
        "cos_p1": float(np.percentile(cos, 1)),
        "cos_min": float(cos.min()),
        "top10_overlap": float(np.mean(overlap)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of PDFs")
    parser.add_argument("--papers", type=int, default=4, help="PDFs parsed for chunks (default 4)")
    parser.add_argument("--chunks", type=int, default=512, help="chunks embedded (default 512)")
    parser.add_argument(
        "--chunk-tokens", type=int, default=250, help="chunk size in tokens (default 250: ~220 on average)"
    )
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64, the setting's default)")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per backend; the best counts (default 2)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: all three)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        parser.error(f"unknown backend(s) {unknown}; expected {BACKENDS}")

    counter = make_embedder(BUNDLED, args.batch, "onnx-int8")  # tokenizer only: the model is not loaded
    texts = real_chunks(args.corpus, args.papers, args.chunk_tokens, args.chunks, counter.count_tokens)
    lengths = [min(n + 2, counter.max_tokens) for n in counter.count_tokens(texts)]
    print(
        f"{len(texts)} chunks from {args.papers} papers, {statistics.mean(lengths):.0f} tokens on average "
        f"(max {max(lengths)}), batch {args.batch}, {len(os.sched_getaffinity(0))} cores, best of {args.repeat}",
        file=sys.stderr,
    )
    load = os.getloadavg()[0]
    results = []
    for backend in backends:
        print(f"  {backend} ...", file=sys.stderr, flush=True)
        results.append(measure(backend, texts, args.batch, args.repeat))
    pairs = [agreement(a, b) for i, a in enumerate(results) for b in results[i + 1 :]]

    if args.json:
        rows = [{k: v for k, v in r.items() if k not in ("vectors", "queries")} for r in results]
        print(
            json.dumps(
                {
                    "load_average": load,
                    "chunks": len(texts),
                    "mean_tokens": statistics.mean(lengths),
                    "backends": rows,
                    "agreement": pairs,
                },
                indent=2,
            )
        )
        return 0
    print(f"load average before the runs: {load:.2f} (timings on a busy machine are lower)")
    print(f"{'backend':<10} {'chunks/s':>9} {'tokens/s':>9} {'embed s':>8} {'chunks/cpu-s':>13} {'load s':>7}  name")
    for r in results:
        print(
            f"{r['backend']:<10} {r['chunks_per_s']:9.1f} {r['tokens_per_s']:9,.0f} {r['embed_s']:8.2f} "
            f"{r['chunks_per_cpu_s']:13.1f} {r['load_s']:7.2f}  {r['name']}"
            + (f" ({r['precision']})" if r["precision"] else "")
        )
    if pairs:
        print(f"\n{'agreement':<22} {'cos mean':>8} {'cos p1':>8} {'cos min':>8} {'top-10 overlap':>15}")
        for p in pairs:
            print(
                f"{p['pair']:<22} {p['cos_mean']:8.4f} {p['cos_p1']:8.4f} {p['cos_min']:8.4f} "
                f"{100 * p['top10_overlap']:14.0f}%"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
