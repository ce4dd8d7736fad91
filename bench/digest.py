"""Digest benchmark: seconds per paper for the extractive generator, and (with an LLM endpoint) the wall time of a
day's digest with the sections of all papers in flight together, and the tokens sent and received per paper.

    python bench/digest.py [--home DIR] [--papers ID ...] [--runs N] [--llm] [--json]

Without --home, the papers (default: five of ../shared/corpus/papers) are ingested into a fresh temporary home
first. --llm uses the endpoint configured the usual way (FOOTNOTE_LLM_BASE_URL, FOOTNOTE_LLM_MODEL,
FOOTNOTE_LLM_API_KEY or OPENAI_*); without one it is skipped with a note. Extractive timings are taken after a
warm-up digest (model loaded, stores open, section queries embedded), each paper digested --runs times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from common import CORPUS, ingest_timed

from footnote.settings import Settings
from index.archive import Archive
from summarize.digest import SectionWriter, build_digest, digest_paper

DEFAULT_PAPERS = ("2502.13189", "2505.00212", "2504.21798", "2501.12948", "2412.19437")


def extractive(archive: Archive, ids: Sequence[str], runs: int) -> dict:
    start = time.perf_counter()
    writer = SectionWriter(archive, "en", "extractive")  # embeds the section queries once
    setup_s = time.perf_counter() - start
    digest_paper(writer, ids[0], None)  # warm-up
    per_paper: dict[str, float] = {}
    for pid in ids:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            digest_paper(writer, pid, None)
            times.append(time.perf_counter() - t0)
        per_paper[pid] = statistics.median(times)
    values = sorted(per_paper.values())
    return {"setup_s": setup_s, "per_paper_s": per_paper, "p50_s": statistics.median(values), "max_s": values[-1]}


def with_llm(archive: Archive, ids: Sequence[str]) -> dict | None:
    settings = archive.settings.llm
    if not settings.configured:
        return None
    from footnote.llm import LLMClient
    from summarize.llm_gen import LLMDrafter

    drafter = LLMDrafter(LLMClient(settings))
    start = time.perf_counter()
    digest = build_digest("bench", archive, list(ids), lang="en", generator="llm", llm=drafter)
    wall = time.perf_counter() - start
    papers = {}
    for paper in digest.papers:
        sent, received = drafter.usage_by_paper.get(paper.id, [0, 0])
        g = paper.grounding
        papers[paper.id] = {
            "prompt_tokens": sent,
            "completion_tokens": received,
            "statements": g.statements,
            "dropped": g.dropped,
            "numbers": g.numbers,
            "numbers_verified": g.numbers_verified,
        }
    return {"model": settings.model, "concurrency": settings.concurrency, "wall_s": wall, "papers": papers}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="a home with the papers ingested (read only)")
    parser.add_argument("--papers", nargs="+", default=list(DEFAULT_PAPERS), metavar="ID")
    parser.add_argument("--runs", type=int, default=3, help="extractive digests per paper (median kept)")
    parser.add_argument("--llm", action="store_true", help="also digest the papers with the configured LLM")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    temp: Path | None = None
    ingest_s = None
    if args.home is None:
        temp = Path(tempfile.mkdtemp(prefix="footnote-bench-digest-"))
        print(f"ingesting {len(args.papers)} papers into {temp} ...", file=sys.stderr)
        ingest_s = ingest_timed(temp, [CORPUS / f"{pid}.pdf" for pid in args.papers])
    archive = Archive(Settings(home=args.home or temp))
    try:
        missing = [pid for pid in args.papers if archive.paper(pid) is None]
        if missing:
            raise SystemExit(f"error: not in the archive at {args.home}: {', '.join(missing)}")
        fig = {"ingest_s": ingest_s, "extractive": extractive(archive, args.papers, args.runs)}
        if args.llm:
            fig["llm"] = with_llm(archive, args.papers)
    finally:
        archive.close()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)

    if args.json:
        print(json.dumps(fig, indent=2))
        return 0
    ex = fig["extractive"]
    print(
        f"extractive digest, {len(args.papers)} papers, median of {args.runs} runs each (2 cores: "
        f"{os.cpu_count()} CPUs visible)"
    )
    print(f"  one-time setup (section queries embedded): {ex['setup_s']:.2f} s")
    for pid, seconds in ex["per_paper_s"].items():
        print(f"  {pid:12} {seconds * 1000:7.0f} ms")
    print(f"  p50 {ex['p50_s'] * 1000:.0f} ms per paper, slowest {ex['max_s'] * 1000:.0f} ms (target <= 1 s)")
    if args.llm:
        llm = fig["llm"]
        if llm is None:
            print("llm: no endpoint configured (FOOTNOTE_LLM_BASE_URL / FOOTNOTE_LLM_MODEL); skipped")
        else:
            print(f"llm digest ({llm['model']}, {llm['concurrency']} requests in flight): {llm['wall_s']:.1f} s")
            print("  paper        tokens sent  received  statements  dropped  numbers verified")
            for pid, p in llm["papers"].items():
                print(
                    f"  {pid:12} {p['prompt_tokens']:11} {p['completion_tokens']:9} {p['statements']:11} "
                    f"{p['dropped']:8}  {p['numbers_verified']}/{p['numbers']}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
