"""QA benchmark: `cite` and extractive `ask` against a hand-written question set over the corpus.

    python bench/qa_eval.py [--home DIR] [--threshold X] [--check] [--details] [--json] [--questions PATH...]

Without --home the corpus (../shared/corpus/papers beside the checkout) is ingested into a fresh temporary
home first (the time it took is printed) and the home is deleted afterwards. With --home the archive there is
only read.

Eleven question sets, all written by reading the PDFs: bench/questions.json (ask's rules were calibrated on it),
bench/questions_heldout.json (written after that calibration; the changes that followed looked at it too),
bench/questions_fresh.json (written after those, and run once as they stood) and bench/questions_blind.json,
questions_blind2.json, ... questions_blind8.json (each written later without reading the code or the other sets,
and run once as the code stood). The "about" of the last nine gives their first run; changes made after it looked
at their misses. The default runs all eleven and prints each set's figures, then the pooled report. Categories:
number, fact, multi (the answer is stated in several papers) and unanswerable. Each answerable question has a
natural `ask` question, a short `cite_query` (what a user would type into `footnote cite`) and the accepted
(paper, pages).
A returned citation hits when its paper matches and its page is accepted. Figures:

- recall@1 / recall@5 per category, for cite (its matches, best first) and for ask (the citations of its
  statements, in statement order: the first statement's citation is rank 1). An abstained answer is a miss.
- abstention accuracy: share of unanswerable questions where ask abstained; answer rate: share of answerable
  questions where it did not.
- latency p50 / p95 of each call, in-process (time.perf_counter around qa.cite.cite / qa.ask.ask), after a
  warm-up call that loads the embedding model and opens the stores.
- the best dense (cosine) similarity among ask's retrieved passages, answerable vs unanswerable, and the
  abstention the current rule (qa.ask.relevant) would give at a range of thresholds, to calibrate
  Settings.qa.abstain_below (--threshold overrides it for the run).

--check verifies the question set against the archive instead: every answerable question's evidence string
appears (whitespace-normalised) on one of its accepted pages; it also lists other pages that hold the evidence,
as hints for pages that may be missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from common import (
    BLIND,
    BLIND2,
    BLIND3,
    BLIND4,
    BLIND5,
    BLIND6,
    BLIND7,
    BLIND8,
    CORPUS,
    FRESH,
    HELDOUT,
    QUESTIONS,
    ingest_timed,
)

from footnote.settings import Settings
from footnote.types import Passage
from index.archive import Archive
from index.catalog import Catalog
from index.retrieve import Query, Retriever
from qa.ask import Answer, ask, relevant
from qa.cite import cite

ANSWERABLE = ("number", "fact", "multi")
T = TypeVar("T")
SWEEP = tuple(round(0.2 + 0.05 * i, 2) for i in range(10))  # 0.20 ... 0.65


# --- the question set -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    paper_id: str
    pages: tuple[int, ...]
    evidence: str | None = None


@dataclass(frozen=True)
class Question:
    id: str
    category: str
    ask: str
    cite_query: str | None
    answers: tuple[Accepted, ...]
    evidence: str | None = None
    kind: str | None = None  # unanswerable only: outside (not in the corpus) or unstated (a corpus paper is silent)

    @property
    def answerable(self) -> bool:
        return self.category != "unanswerable"

    def accepts(self, paper_id: str, page: int) -> bool:
        return any(a.paper_id == paper_id and page in a.pages for a in self.answers)


def load_questions(path: Path) -> list[Question]:
    items = json.loads(path.read_text())["questions"]
    return [
        Question(
            id=item["id"],
            category=item["category"],
            ask=item["ask"],
            cite_query=item.get("cite_query"),
            answers=tuple(
                Accepted(a["paper_id"], tuple(a["pages"]), a.get("evidence")) for a in item.get("answers", [])
            ),
            evidence=item.get("evidence"),
            kind=item.get("kind"),
        )
        for item in items
    ]


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def check_questions(archive: Archive, questions: Sequence[Question]) -> tuple[list[str], list[str]]:
    """Errors (evidence not on any accepted page, unknown paper) and hints (evidence on pages not listed)."""
    errors: list[str] = []
    hints: list[str] = []
    papers = {r.id: r.pages for r in archive.papers()}
    for q in questions:
        if q.answerable and not q.answers:
            errors.append(f"{q.id}: answerable but no answers")
        if q.answerable and not (q.evidence or all(a.evidence for a in q.answers)):
            errors.append(f"{q.id}: no evidence string")
        for a in q.answers:
            if a.paper_id not in papers:
                errors.append(f"{q.id}: paper {a.paper_id} is not in the archive")
                continue
            if a.evidence and not _found_on(archive, a.paper_id, a.pages, a.evidence):
                errors.append(f"{q.id}: {a.evidence!r} is on none of {a.paper_id} pages {list(a.pages)}")
            needle = a.evidence or q.evidence or ""
            extra = [p for p in _pages_with(archive, a.paper_id, papers[a.paper_id], needle) if p not in a.pages]
            if needle and extra:
                hints.append(f"{q.id}: {needle!r} is also on {a.paper_id} pages {extra}")
        if q.evidence and not any(_found_on(archive, a.paper_id, a.pages, q.evidence) for a in q.answers):
            errors.append(f"{q.id}: {q.evidence!r} is on none of the accepted pages")
    return errors, hints


def _found_on(archive: Archive, paper_id: str, pages: Sequence[int], needle: str) -> bool:
    target = normalise(needle)
    return any(target in normalise(archive.page_text(paper_id, p) or "") for p in pages)


def _pages_with(archive: Archive, paper_id: str, n_pages: int, needle: str) -> list[int]:
    return [p for p in range(1, n_pages + 1) if _found_on(archive, paper_id, [p], needle)] if needle else []


# --- running the questions --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One call's result: the (paper, page) list it returned, best first, and what to show for a miss."""

    question: Question
    tool: str  # cite | ask
    seconds: float
    returned: list[tuple[str, int, str]] = field(default_factory=list)  # (paper, page, quote)
    abstained: bool = False
    best_dense: float | None = None
    passages: list[Passage] = field(default_factory=list)  # ask only: what it retrieved (the pool it chose from)
    judged: list[Passage] = field(default_factory=list)  # ask only: the k an answer comes from, abstention judges

    def rank(self) -> int | None:
        """1-based rank of the first accepted citation, or None."""
        for i, (paper_id, page, _) in enumerate(self.returned, start=1):
            if self.question.accepts(paper_id, page):
                return i
        return None


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """The call's result and its wall time in seconds (time.perf_counter)."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def run_cite(archive: Archive, q: Question, k: int) -> Outcome:
    matches, seconds = timed(lambda: cite(archive, q.cite_query or q.ask, k=k))
    return Outcome(q, "cite", seconds, [(m.paper_id, m.page, m.quote) for m in matches])


def run_ask(archive: Archive, q: Question, k: int) -> Outcome:
    answer: Answer
    answer, seconds = timed(lambda: ask(archive, q.ask))
    returned: list[tuple[str, int, str]] = []
    for statement in answer.statements:
        for c in statement.citations:
            if all((c.paper_id, c.page) != (p, g) for p, g, _ in returned):
                returned.append((c.paper_id, c.page, c.quote))
    judged = list(answer.judged)
    best = max((p.dense or 0.0 for p in answer.passages), default=None)  # the pool holds the judged passages
    return Outcome(q, "ask", seconds, returned, answer.abstained, best, list(answer.passages), judged)


def warm_up(archive: Archive) -> None:
    """Load the embedding model and open Chroma and SQLite, so that no timed call pays for them."""
    cite(archive, "warm-up query about attention", k=5)
    ask(archive, "What is a warm-up question?")


def run_all(archive: Archive, questions: Sequence[Question], k: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    start = time.perf_counter()
    for q in questions:
        if q.answerable:
            outcomes.append(run_cite(archive, q, k))
        outcomes.append(run_ask(archive, q, k))
    print(f"ran {len(questions)} questions in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return outcomes


# --- figures ----------------------------------------------------------------------------------------------------


def recall(outcomes: Sequence[Outcome], at: int) -> float | None:
    if not outcomes:
        return None
    return sum(1 for o in outcomes if (r := o.rank()) is not None and r <= at) / len(outcomes)


def coverage(outcomes: Sequence[Outcome], at: int) -> float | None:
    """Mean share of a question's accepted papers that have a hit in the top `at` (for multi-paper questions)."""
    shares = []
    for o in outcomes:
        papers = {a.paper_id for a in o.question.answers}
        found = {p for p, page, _ in o.returned[:at] if o.question.accepts(p, page)}
        shares.append(len(found) / len(papers))
    return sum(shares) / len(shares) if shares else None


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def pick(outcomes: Sequence[Outcome], tool: str, category: str | None = None) -> list[Outcome]:
    return [o for o in outcomes if o.tool == tool and (category is None or o.question.category == category)]


def figures(outcomes: Sequence[Outcome], threshold: float, catalog: Catalog) -> dict:
    out: dict = {"threshold": threshold, "recall": {}, "latency_ms": {}}
    for category in (*ANSWERABLE, "answerable"):
        cat = None if category == "answerable" else category
        row = {}
        for tool in ("cite", "ask"):
            chosen = [o for o in pick(outcomes, tool, cat) if o.question.answerable]
            row[tool] = {"n": len(chosen), "r@1": recall(chosen, 1), "r@5": recall(chosen, 5)}
        out["recall"][category] = row
    out["multi_coverage@5"] = {tool: coverage(pick(outcomes, tool, "multi"), 5) for tool in ("cite", "ask")}
    unanswerable = pick(outcomes, "ask", "unanswerable")
    answerable = [o for o in pick(outcomes, "ask") if o.question.answerable]
    out["abstention_accuracy"] = {
        "n": len(unanswerable),
        "value": sum(o.abstained for o in unanswerable) / max(1, len(unanswerable)),
    }
    for kind in sorted({o.question.kind for o in unanswerable if o.question.kind}):
        chosen = [o for o in unanswerable if o.question.kind == kind]
        out["abstention_accuracy"][kind] = {"n": len(chosen), "value": sum(o.abstained for o in chosen) / len(chosen)}
    out["answer_rate"] = {
        "n": len(answerable),
        "value": sum(not o.abstained for o in answerable) / max(1, len(answerable)),
    }
    for tool in ("cite", "ask"):
        ms = [o.seconds * 1000 for o in pick(outcomes, tool)]
        out["latency_ms"][tool] = {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95)}
    out["best_dense"] = {
        "answerable": spread([o.best_dense for o in answerable]),
        "unanswerable": spread([o.best_dense for o in unanswerable]),
    }
    out["sweep"] = sweep(answerable, unanswerable, catalog)
    return out


def spread(values: Sequence[float | None]) -> dict:
    present = [v for v in values if v is not None]
    if not present:
        return {"n": 0}
    return {"n": len(present), "min": min(present), "median": statistics.median(present), "max": max(present)}


def sweep(answerable: Sequence[Outcome], unanswerable: Sequence[Outcome], catalog: Catalog) -> list[dict]:
    """Abstention at each threshold on the k passages ask judges (those its answer comes from): by
    qa.ask.relevant (ask's rule: a dense match at least that close, and the passages mentioning the question's
    names, numbers and focus), and by the dense similarity alone. An answer can still abstain after this when
    every drafted statement fails verification."""
    rows = []
    for t in SWEEP:
        row: dict = {"threshold": t}
        for rule, keep in (
            ("rule", lambda o, t=t: relevant(catalog, o.question.ask, o.judged, t, o.passages)[0]),
            ("dense", lambda o, t=t: (o.best_dense or 0.0) >= t),
        ):
            row[rule] = {
                "abstention_accuracy": sum(not keep(o) for o in unanswerable) / max(1, len(unanswerable)),
                "answer_rate": sum(keep(o) for o in answerable) / max(1, len(answerable)),
            }
        rows.append(row)
    return rows


# --- diagnosis of misses ----------------------------------------------------------------------------------------


def holds_answer(q: Question, passage: Passage) -> bool:
    """Whether the passage is on an accepted page of an accepted paper and holds the evidence string (if any)."""
    chunk = passage.chunk
    for a in q.answers:
        if a.paper_id != chunk.paper_id or not any(chunk.page_start <= p <= chunk.page_end for p in a.pages):
            continue
        needle = a.evidence or q.evidence
        if needle is None or normalise(needle) in normalise(chunk.text):
            return True
    return False


def diagnose(archive: Archive, o: Outcome, k: int) -> str:
    """Where a miss comes from: the answer's passage was not retrieved, or it was and another sentence won."""
    if o.tool == "ask":
        found = any(holds_answer(o.question, p) for p in o.passages)
        if o.abstained:
            return "abstained (answer retrieved)" if found else "abstained (answer not retrieved)"
        return "sentence choice / ranking" if found else "retrieval"
    query = Query(o.question.cite_query or o.question.ask, k=max(20, k * 4))  # what cite retrieves
    found = any(holds_answer(o.question, p) for p in Retriever(archive).search(query))
    return "sentence choice / ranking" if found else "retrieval"


def misses(archive: Archive, outcomes: Sequence[Outcome], k: int) -> list[dict]:
    rows = []
    for o in outcomes:
        q = o.question
        if q.answerable and (o.rank() is None or o.rank() != 1):
            top = o.returned[0] if o.returned else None
            rows.append(
                {
                    "id": q.id,
                    "tool": o.tool,
                    "rank": o.rank(),
                    "why": diagnose(archive, o, k) if o.rank() is None else "hit below rank 1",
                    "got": f"{top[0]} p{top[1]}: {top[2][:110]}" if top else "(nothing: abstained)",
                }
            )
        elif not q.answerable and not o.abstained:
            top = o.returned[0]
            rows.append(
                {
                    "id": q.id,
                    "tool": o.tool,
                    "rank": None,
                    "why": f"answered (best dense {o.best_dense:.3f})",
                    "got": f"{top[0]} p{top[1]}: {top[2][:110]}",
                }
            )
    return rows


# --- output -----------------------------------------------------------------------------------------------------


def details(outcomes: Sequence[Outcome]) -> list[dict]:
    """One row per question: cite and ask ranks, whether ask abstained, its best dense similarity."""
    rows: dict[str, dict] = {}
    for o in outcomes:
        row = rows.setdefault(o.question.id, {"id": o.question.id, "category": o.question.category})
        row[f"{o.tool}_rank"] = o.rank()
        if o.tool == "ask":
            row["abstained"] = o.abstained
            row["best_dense"] = o.best_dense
    return list(rows.values())


def print_details(rows: Sequence[dict]) -> None:
    print("\nper question            cite  ask   abstained  best dense")
    for r in rows:
        cite_rank = "-" if r["category"] == "unanswerable" else (r.get("cite_rank") or "miss")
        ask_rank = "-" if r["category"] == "unanswerable" else (r.get("ask_rank") or "miss")
        dense = f"{r['best_dense']:.3f}" if r.get("best_dense") is not None else "n/a"
        print(f"  {r['id']:<4} {r['category']:<14}  {cite_rank!s:<5} {ask_rank!s:<5} {r['abstained']!s:<10} {dense}")


def pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"


def print_summary(fig: dict) -> None:
    """Recall per category, abstention and answer rate."""
    print(f"{'category':<12} {'n':>3}   {'cite R@1':>8} {'cite R@5':>8}   {'ask R@1':>8} {'ask R@5':>8}")
    for category, row in fig["recall"].items():
        c, a = row["cite"], row["ask"]
        print(
            f"{category:<12} {c['n']:>3}   {pct(c['r@1']):>8} {pct(c['r@5']):>8}   "
            f"{pct(a['r@1']):>8} {pct(a['r@5']):>8}"
        )
    cov = fig["multi_coverage@5"]
    print(f"multi: share of the accepted papers found in the top 5: cite {pct(cov['cite'])}, ask {pct(cov['ask'])}")
    ab, ar = fig["abstention_accuracy"], fig["answer_rate"]
    kinds = ", ".join(f"{kind} {pct(v['value']).strip()} (n={v['n']})" for kind, v in ab.items() if isinstance(v, dict))
    by_kind = f"   [{kinds}]" if kinds else ""
    print(f"\nask abstention accuracy (unanswerable, n={ab['n']}): {pct(ab['value'])}{by_kind}")
    print(f"ask answer rate (answerable, n={ar['n']}):          {pct(ar['value'])}")


def print_report(fig: dict, rows: Sequence[dict]) -> None:
    print(f"\nabstain_below = {fig['threshold']}\n")
    print_summary(fig)
    print("\nlatency (in-process, warm)      p50        p95")
    for tool, lat in fig["latency_ms"].items():
        print(f"  {tool:<6} (n={lat['n']:>2})             {lat['p50']:6.0f} ms  {lat['p95']:6.0f} ms")
    print("\nbest dense similarity of ask's passages   min     median  max")
    for group, s in fig["best_dense"].items():
        if s["n"]:
            print(f"  {group:<14} (n={s['n']:>2})               {s['min']:.3f}   {s['median']:.3f}   {s['max']:.3f}")
    print("\nthreshold sweep on the same passages: abstention accuracy / answer rate")
    print("  threshold   ask's rule (qa.ask.relevant)   dense similarity only")
    for r in fig["sweep"]:
        mark = "  <- current" if abs(r["threshold"] - fig["threshold"]) < 1e-9 else ""
        rule, dense = r["rule"], r["dense"]
        print(
            f"  {r['threshold']:.2f}        {pct(rule['abstention_accuracy'])} / {pct(rule['answer_rate'])}"
            f"             {pct(dense['abstention_accuracy'])} / {pct(dense['answer_rate'])}{mark}"
        )
    print("\nmisses (not a hit at rank 1; unanswerable questions that were answered)")
    for r in rows:
        rank = f"rank {r['rank']}" if r["rank"] else "miss"
        print(f"  {r['id']:<4} {r['tool']:<4} {rank:<7} {r['why']:<34} got {r['got']}")


# --- main -------------------------------------------------------------------------------------------------------


def make_archive(home: Path, threshold: float | None) -> Archive:
    qa = {"abstain_below": threshold} if threshold is not None else {}
    return Archive(Settings(home=home, qa=qa))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, help="an archive home with the corpus ingested (read only)")
    parser.add_argument("--threshold", type=float, help="override Settings.qa.abstain_below")
    parser.add_argument(
        "--questions",
        type=Path,
        nargs="+",
        default=[QUESTIONS, HELDOUT, FRESH, BLIND, BLIND2, BLIND3, BLIND4, BLIND5, BLIND6, BLIND7, BLIND8],
        help="question sets (JSON); default: questions.json (calibration), questions_heldout.json, "
        "questions_fresh.json and questions_blind*.json (written afterwards, as checks)",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="PDFs to ingest when --home is not given")
    parser.add_argument("--check", action="store_true", help="verify the question set's pages and exit")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--details", action="store_true", help="also print one line per question")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sets = {path.name: load_questions(path) for path in args.questions}
    temp_home: Path | None = None
    ingest_s: float | None = None
    if args.home is None:
        temp_home = Path(tempfile.mkdtemp(prefix="footnote-qa-eval-"))
        print(f"ingesting {args.corpus} into {temp_home} ...", file=sys.stderr)
        ingest_s = ingest_timed(temp_home, [args.corpus])
        print(f"ingest of the corpus into a fresh home: {ingest_s:.1f} s", file=sys.stderr)
    archive = make_archive(args.home or temp_home, args.threshold)
    try:
        if args.check:
            return max(report_check(archive, questions) for questions in sets.values())
        warm_up(archive)
        k = archive.settings.qa.k
        threshold = archive.settings.qa.abstain_below
        by_set = {name: run_all(archive, questions, k) for name, questions in sets.items()}
        pooled = [o for outcomes in by_set.values() for o in outcomes]
        fig = figures(pooled, threshold, archive.catalog)
        rows = misses(archive, pooled, k)
        if args.json:
            extra = {"questions": details(pooled)} if args.details else {}
            per_set = {name: figures(outcomes, threshold, archive.catalog) for name, outcomes in by_set.items()}
            print(json.dumps({"ingest_s": ingest_s, **fig, "sets": per_set, "misses": rows, **extra}, indent=2))
        else:
            if ingest_s is not None:
                print(f"ingest of the corpus into a fresh home: {ingest_s:.1f} s")
            if len(by_set) > 1:
                for name, outcomes in by_set.items():
                    print(f"\n=== {name} ({len(sets[name])} questions)")
                    print_summary(figures(outcomes, threshold, archive.catalog))
                print(f"\n=== all sets together ({sum(len(q) for q in sets.values())} questions)")
            print_report(fig, rows)
            if args.details:
                print_details(details(pooled))
        return 0
    finally:
        archive.close()
        if temp_home is not None:
            shutil.rmtree(temp_home, ignore_errors=True)


def report_check(archive: Archive, questions: Sequence[Question]) -> int:
    errors, hints = check_questions(archive, questions)
    counts = {c: sum(q.category == c for q in questions) for c in (*ANSWERABLE, "unanswerable")}
    print(f"{len(questions)} questions: " + ", ".join(f"{n} {c}" for c, n in counts.items()))
    for hint in hints:
        print(f"  note: {hint}")
    for error in errors:
        print(f"  ERROR: {error}")
    print("check passed" if not errors else f"check failed: {len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
