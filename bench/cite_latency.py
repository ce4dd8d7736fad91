"""`footnote cite` as a fresh process: wall time p50/p95 over N runs, and what the process imports.

    python bench/cite_latency.py [--home DIR] [--runs N] [--backend auto|openvino|openvino-int8|...] [--json]

Without --home the corpus (../shared/corpus/papers beside the checkout) is ingested into a fresh temporary home
first (with the same backend; the time is printed) and deleted afterwards. Each run is
`python -m footnote.cli --home DIR cite QUERY --json` in a new process, timed from spawn to exit, cycling through a
few real queries; one untimed run comes first (it builds the ONNX cache if missing and warms the OS page cache).
A last run under `python -X importtime` lists the slowest top-level imports and whether torch,
sentence_transformers, transformers or llama_index were imported at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "papers"
QUERIES = (
    "DeepSeek-V3 was trained on 14.8T tokens",
    "GRPO foregoes the critic model",
    "MoBA block sparse attention",
    "SWE-smith task instances",
    "auxiliary-loss-free load balancing",
)
HEAVY = ("torch", "sentence_transformers", "transformers", "llama_index")


def environment(backend: str) -> dict[str, str]:
    env = dict(os.environ)
    env["FOOTNOTE_EMBEDDING_BACKEND"] = backend
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def cite_command(home: Path, query: str, *python_flags: str) -> list[str]:
    return [sys.executable, *python_flags, "-m", "footnote.cli", "--home", str(home), "cite", query, "--json"]


def run_once(home: Path, query: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cite_command(home, query), env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cite failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def import_profile(home: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        cite_command(home, QUERIES[0], "-X", "importtime"), env=env, capture_output=True, text=True, check=True
    )
    top: dict[str, int] = {}  # modules imported at level 0 (by footnote's own code or the interpreter)
    imported: set[str] = set()
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:]  # one space after the bar, then two per nesting level
        imported.add(name.strip().split(".")[0])
        if not name.startswith(" ") and not name.startswith(("footnote", "index", "qa", "ingest", "summarize")):
            top[name] = top.get(name, 0) + int(parts[1])
    slowest = sorted(top.items(), key=lambda kv: -kv[1])[:8]
    return {
        "slowest_ms": {k: round(v / 1000) for k, v in slowest},
        "heavy_imported": [m for m in HEAVY if m in imported],
    }


def ingest(home: Path, env: dict[str, str], corpus: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "footnote.cli", "--home", str(home), "ingest", str(corpus), "--json"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="a home with papers ingested (read only)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="PDFs to ingest when --home is not given")
    parser.add_argument("--runs", type=int, default=10, help="timed runs (default 10)")
    parser.add_argument("--backend", default="auto", help="FOOTNOTE_EMBEDDING_BACKEND for the runs (default auto)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    env = environment(args.backend)
    temp = None
    figures: dict = {"backend": args.backend}
    try:
        home = args.home
        if home is None:
            temp = Path(tempfile.mkdtemp(prefix="footnote-cite-latency-"))
            home = temp / "home"
            print(f"ingesting {args.corpus} into {home} ...", file=sys.stderr, flush=True)
            figures["ingest_s"] = round(ingest(home, env, args.corpus), 1)
        run_once(home, QUERIES[0], env)  # untimed: ONNX cache, OS page cache
        times = [run_once(home, QUERIES[i % len(QUERIES)], env) for i in range(args.runs)]
        figures.update(
            runs=len(times),
            p50_s=round(statistics.median(times), 3),
            p95_s=round(sorted(times)[min(len(times) - 1, round(0.95 * (len(times) - 1)))], 3),
            min_s=round(min(times), 3),
        )
        figures.update(import_profile(home, env))
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    if "ingest_s" in figures:
        print(f"ingest of the corpus: {figures['ingest_s']} s")
    print(
        f"footnote cite, fresh process, backend {args.backend}: p50 {figures['p50_s']:.2f} s, "
        f"p95 {figures['p95_s']:.2f} s, min {figures['min_s']:.2f} s over {figures['runs']} runs"
    )
    print("slowest imports (cumulative ms): " + ", ".join(f"{k} {v}" for k, v in figures["slowest_ms"].items()))
    print("heavy modules imported: " + (", ".join(figures["heavy_imported"]) or "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
