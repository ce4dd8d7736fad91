"""Embedding benchmark: OpenVINO bf16/fp32 and int8 vs ONNX Runtime int8 and fp32 vs torch fp32 (sentence-transformers).

    python bench/embed.py [--papers N] [--chunks N] [--chunk-tokens T] [--batch B] [--repeat R]
                          [--backends openvino,openvino-int8,onnx-int8,onnx,torch] [--json]

Real chunks: the first N PDFs of the corpus (../shared/corpus/papers, sorted by name) are parsed
(ingest.parse.parse_pdf) and chunked (ingest.chunk.chunk_paper, T tokens, 30 overlap), the first --chunks of them
kept. Each backend (index.embed.make_embedder on the bundled all-MiniLM-L6-v2) embeds one warm-up batch (model
load, and the one-time ONNX export or int8 quantisation if it is not cached yet). Then R rounds: in each, every
backend embeds all chunks once, one after another, so that the machine's speed changing during the run (these
machines are shared) hits every backend alike. Printed per backend: chunks/s of the best round and of the median
one, the median over rounds of its speed relative to the first backend's in the same round (the figure to compare
backends by), tokens/s (tokens the model reads: the chunk's WordPiece tokens plus [CLS] and [SEP], at most 256),
chunks per CPU-second (all threads; less disturbed by other load on the machine, whose load average is printed
too), then the cosine agreement of the vectors between every pair of backends (per chunk: mean, 1st percentile,
min) and the top-10 overlap of a few real queries' rankings over the chunks."""

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


def load(backend: str, texts: list[str], batch: int):
    """The backend's embedder, after one warm-up batch (model load, and the one-time export if missing)."""
    embedder = make_embedder(BUNDLED, batch, backend)  # type: ignore[arg-type]
    started = time.perf_counter()
    embedder.embed(texts[:batch])
    return embedder, time.perf_counter() - started


def measure(backends: list[str], texts: list[str], batch: int, repeat: int) -> list[dict]:
    """`repeat` rounds; in each, every backend embeds all texts once, one after another, so that a change in
    the machine's speed during the run hits all backends alike. Per backend: the best and the median round, and
    the median over rounds of its speed relative to the first backend's in the same round."""
    loaded = []
    for backend in backends:
        print(f"  loading {backend} ...", file=sys.stderr, flush=True)
        loaded.append((backend, *load(backend, texts, batch)))
    walls: dict[str, list[float]] = {b: [] for b in backends}
    cpus: dict[str, list[float]] = {b: [] for b in backends}
    vectors: dict[str, np.ndarray] = {}
    for round_ in range(repeat):
        print(f"  round {round_ + 1}/{repeat}", file=sys.stderr, flush=True)
        for backend, embedder, _ in loaded:
            started, cpu = time.perf_counter(), cpu_seconds()
            vectors[backend] = embedder.embed(texts)
            walls[backend].append(time.perf_counter() - started)
            cpus[backend].append(cpu_seconds() - cpu)
    first = backends[0]
    results = []
    for backend, embedder, load_s in loaded:
        best = min(walls[backend])
        read = [min(n + 2, embedder.max_tokens) for n in embedder.count_tokens(texts)]
        ratios = [theirs / mine for mine, theirs in zip(walls[backend], walls[first], strict=True)]
        results.append(
            {
                "backend": backend,
                "name": embedder.name,
                "load_s": load_s,
                "embed_s": best,
                "chunks_per_s": len(texts) / best,
                "median_chunks_per_s": len(texts) / statistics.median(walls[backend]),
                "rounds_chunks_per_s": [len(texts) / w for w in walls[backend]],
                "speed_vs_first": statistics.median(ratios),
                "tokens_per_s": sum(read) / best,
                "cpu_s": min(cpus[backend]),
                "chunks_per_cpu_s": len(texts) / min(cpus[backend]),
                "precision": getattr(embedder, "precision", None),
                "variant": getattr(embedder, "variant", None),  # the cached model file it runs
                "vectors": vectors[backend],
                "queries": embedder.embed(list(QUERIES)),
            }
        )
    return results


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
    parser.add_argument(
        "--batch", type=int, default=64, help="batch size (default 64, the setting's; onnx* run texts alone)"
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds, each running every backend once, interleaved (default 2)"
    )
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: all)")
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
        f"(max {max(lengths)}), batch {args.batch}, {len(os.sched_getaffinity(0))} cores, {args.repeat} rounds",
        file=sys.stderr,
    )
    load = os.getloadavg()[0]
    results = measure(backends, texts, args.batch, args.repeat)
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
    print(
        f"{'backend':<14} {'chunks/s':>9} {'median':>7} {f'vs {backends[0]}':>14} {'tokens/s':>9} {'embed s':>8} "
        f"{'chunks/cpu-s':>13} {'load s':>7}  name"
    )
    for r in results:
        print(
            f"{r['backend']:<14} {r['chunks_per_s']:9.1f} {r['median_chunks_per_s']:7.1f} "
            f"{r['speed_vs_first']:13.2f}x {r['tokens_per_s']:9,.0f} {r['embed_s']:8.2f} "
            f"{r['chunks_per_cpu_s']:13.1f} {r['load_s']:7.2f}  {r['name']}"
            + (f" ({', '.join(x for x in (r['variant'], r['precision']) if x)})" if r["precision"] else "")
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
