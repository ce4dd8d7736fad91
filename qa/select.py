"""Which sentences of the retrieved passages answer a question: ask's ranking of its candidate sentences.

Retrieval ranks chunks of about 200 tokens, and a chunk's vector and its BM25 both speak for the whole chunk; the
answer is usually one sentence of it, and often not in the top-ranked chunk: the chunk that repeats the question's
names most ranks first, the sentence that answers ("we propose a solution that adheres to the 'less structure'
principle") sits in the abstract ranked 15th. So ask takes a wider pool of passages (``QASettings.pool``) and ranks
their sentences on their own, by three signals (more for a question that asks why, how many or how much faster,
or names a model size), fused by reciprocal rank like retrieval itself:

- BM25 of the sentence against the question, among the pool's sentences (an in-memory FTS5 table with the
  archive's tokenizer, so "rewards" matches "reward" and the question's rarest words weigh most);
- the exact-match score of citation lookup (qa.cite.sentence_score: the question's numbers and names, then shared
  words), of the question without the names of the papers it names (index.route): every sentence of such a paper
  is about its name, and the sentences that spell it out most (its title block, its introduction, its related
  work) are seldom the answer. Nor does it count the paper's title, which cite counts for each sentence (the
  title measured slightly worse here);
- the sentence's place in the pool, at half weight: its passage's retrieval rank, then its place in the passage
  (dense similarity enters here);
- for a question that asks why, whether the sentence states a cause ("due to", "stems from", "thus"): the
  sentences that share most words with such a question restate what it asks about (for "Why did Kimi-Audio not
  pre-train on speech-enhanced audio only?", those about its data pipeline and speech enhancement), while the
  answer gives the reason ("Thus, we randomly choose original or enhanced audio ..."). bench/qa_eval.py: on the
  434 questions the cause words were chosen with, fact R@5 93.5% -> 95.7% (4 of 22 why-questions found, none
  lost, numbers and abstention the same); on bench/questions_blind7.json, written afterwards, 87.5% -> 91.7% (1
  of 18 why-questions found, none lost);
- for a question that asks how many of something ("How many task instances ...?"), whether the sentence puts a
  number just before that noun ("50k instances", "64 routed experts"): among the sentences about the thing
  counted, the one that counts it. bench/qa_eval.py, 522 questions: number R@1 75.2% -> 77.8%, ask R@1 74.0% ->
  74.5%, R@5 96.6% -> 96.8%, abstention the same (86.4%).
- for a question that asks for a ratio ("How many times faster ...?", "How much faster ...?", "What speedup
  ...?"), whether the sentence states one ("a speedup ratio of up to 6.5x", "16 times", "3-fold"): MoBA's
  figure caption and its pre-training sentences share the question's words, the 6.5x sentence answers it.
  bench/qa_eval.py, 522 questions: number R@1 76.5% -> 79.1% (four questions, none lost), ask R@1 74.5% -> 75.5%.
- for a question that names a model size ("DeepSeekMoE 16B"), how many of its sizes the headings above the
  sentence's section name: a paper that trains several sizes gives each its own section ("5. Scaling up to
  DeepSeekMoE 16B" above "5.1.2. Hyper-Parameters"), whose sentences seldom repeat the size, while another
  section may ("As in DeepSeekMoE 16B, ..." in the 145B one). bench/qa_eval.py, 522 questions: ask R@1 75.7% ->
  77.7%, number R@1 81.0% -> 82.4% (eight questions, one a place lower); the section's own heading counted too:
  76.7%.

A signal that gives a sentence nothing (no shared term, no exact match) does not rank it. Each passage is
represented by its best sentence (its others kept, best first, for when an overlapping neighbour quoted it).
Calibrated on bench/questions.json and checked on bench/questions_heldout.json, bench/questions_fresh.json and
bench/questions_blind*.json (bench/qa_eval.py).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

from footnote.types import Passage
from index.archive import Archive
from index.catalog import FTS_TOKENIZE, fts_terms
from index.route import Route
from qa.cite import sentence_score
from summarize.verify import Sentence, passage_sentences

RRF_K = 10  # a small constant: the first few places of each signal are what counts
WEIGHTS = {"bm25": 1.0, "exact": 0.5, "passage": 0.5, "cause": 1.0, "count": 1.0, "ratio": 1.0, "context": 1.0}
MIN_CHARS = 20  # shorter "sentences" are headings, table cells and reference stubs
BULLET = re.compile(r"^[•·\-–*]\s*")
# "Why ...?", "... and why?", "..., and why that one?": the question (or one of its clauses) asks for a reason.
WHY = re.compile(r"(?:^|[.?!,;:]\s+|\band\s+)why\b", re.IGNORECASE)
# The words English prose states a cause or a consequence with (not "since" or "as": mostly time and comparison).
CAUSE = re.compile(
    r"\b(?:because|due to|owing to|as a result|therefore|thus|hence|consequently|stems? from|caused by|"
    r"attribut\w+ (?:\S+ ){0,3}?to|the reasons?|reasons? (?:is|are|for)|leads? to|results? in)\b",
    re.IGNORECASE,
)


# "How many task instances ...?", "... the number of routed experts ...": the question asks for a count of
# something, and the answer states a number just before it ("50k instances", "64 routed experts").
HOW_MANY = re.compile(
    r"\b(?:how many|number of)\s+(?:of\s+(?:the|these|those|its|their)\s+)?"
    r"((?:[a-z][\w-]*(?:\s+|(?=[?,.;:!]|$))){1,4})",
    re.IGNORECASE,
)
_NOT_NOUN = re.compile(
    r"\b(?:do|does|did|is|are|was|were|has|have|had|can|could|will|would|in|on|of|for|per|at|with|from|by|"
    r"the|a|an|used|across|they|it|each)\b.*",
    re.IGNORECASE,
)
# "How many times faster ...?", "How much faster ...?", "By what factor ...?", "What (is the) speedup ...?", "How large
# is the speedup ...?": the question asks for a ratio, and the answer states one ("a speedup ratio of up to 6.5x",
# "16 times", "a 3-fold reduction"). Not "how many times did it fail" (a count), "how much more data" or "how much
# better" (an amount, a difference of points), "8x A100" or "8x NVIDIA GPUs" (a count of GPUs), "4096×12" or
# "10 x 10" (a product) nor "5-fold cross-validation".
_FASTER = "faster|slower|quicker|cheaper|costlier|smaller|larger|bigger|shorter|longer"
ASKS_RATIO = re.compile(
    rf"\bhow\s+many\s+times\s+(?:[\w-]+\s+){{0,3}}?(?:{_FASTER}|more|less|fewer|higher|lower|as)\b|"
    rf"\bhow\s+much\s+(?:{_FASTER})\b|\bby\s+(?:what|which|how\s+large\s+a|how\s+much\s+of\s+a)\s+factor\b|"
    r"\bwhat(?:'s|’s|\s+(?:is|was|are|were))?\s+(?:the\s+|its\s+|their\s+)?(?:[\w-]+\s+){0,2}?speed-?ups?\b|"
    r"\bhow\s+(?:large|big|much)\s+(?:is|was|are|were)\s+(?:the|its|their)\s+(?:[\w-]+\s+){0,2}?speed-?ups?\b",
    re.IGNORECASE,
)
STATES_RATIO = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?\s?(?:×(?!\s?\d)|x(?![\w-])(?!\s*\d)(?!\s+(?:[A-Z]+\d+\w*|NVIDIA|GPUs?|TPUs?|nodes?)\b)|"
    r"times\b|-?fold\b(?![\s-]+cross))",
    re.IGNORECASE,
)
_AS_WRITTEN = frozenset({"news", "series", "species", "times"})  # no plural to take off ("times": a ratio)


def counted(query: str) -> str | None:
    """The noun a "how many" question counts, lower case, as the question writes it ("How many task instances
    does SWE-smith contain?" gives "instances"); None for other questions, and for "how many times" (a ratio)."""
    m = HOW_MANY.search(query)
    if not m:
        return None
    words = _NOT_NOUN.sub("", m.group(1)).split()
    if not words or words[0].lower() == "times":
        return None
    return words[-1].lower()


def states_count(noun: str) -> re.Pattern[str]:
    """A number followed, within three words, by the noun, singular or plural: "50k instances", "64 routed
    experts", "600k reasoning related training samples", "one query" for "queries"; not across a preposition,
    "and", "or" or "the" (a plot's "0 10 20 Number of Problems", "Pass@8192 on the remaining problems")."""
    if noun in _AS_WRITTEN:
        word = re.escape(noun)
    elif noun.endswith("ies"):
        word = rf"{re.escape(noun[:-3])}(?:y|ies)"
    elif noun.endswith(("sses", "xes", "zes", "ches", "shes")):
        word = rf"{re.escape(noun[:-2])}(?:es)?"
    elif noun.endswith("s") and not noun.endswith(("ss", "us", "is")):
        word = rf"{re.escape(noun[:-1])}s?"
    else:
        word = rf"{re.escape(noun)}(?:e?s)?"
    return re.compile(
        rf"(?<![\w.\-@])\d[\d.,]*\s?[kKMBT]?\+?\s+"
        rf"(?:(?!(?:of|and|or|to|in|on|at|for|with|by|from|the)\s)[a-z][\w-]*\s+){{0,3}}{word}\b",
        re.IGNORECASE,
    )


@dataclass(frozen=True)
class Candidate:
    """A passage's best sentence for the question, with its fused score, and the passage's other sentences."""

    passage: Passage
    text: str  # the sentence without a leading bullet
    score: float
    others: tuple[str, ...] = ()  # the passage's other sentences that rank, best first


def rank_sentences(
    archive: Archive, query: str, passages: Sequence[Passage], named: Route | None = None
) -> list[Candidate]:
    """The best sentence of each passage, best first (passages without a usable sentence are left out);
    ``named``: the papers the query names, whose names the exact-match score leaves out."""
    found: list[tuple[int, Passage, Sentence, str]] = []
    offsets: dict[str, list[int]] = {}  # per paper: a pool of 30 passages comes from a few papers
    for rank, passage in enumerate(passages):
        pid = passage.chunk.paper_id
        if pid not in offsets:
            offsets[pid] = archive.page_offsets(pid)
        for sentence in passage_sentences(passage, offsets[pid]):
            text = BULLET.sub("", sentence.text)
            if len(text) >= MIN_CHARS:
                found.append((rank, passage, sentence, text))
    if not found:
        return []
    exact = named.rest(query) if named is not None else query
    if not exact.strip(" ?.!"):  # the question is its names and nothing else
        exact = query
    signals = {
        "bm25": _bm25(query, [text for *_, text in found]),
        "exact": [sentence_score(exact, sentence) for _, _, sentence, _ in found],
        "passage": [1.0 / (1 + rank) for rank, *_ in found],
    }
    if WHY.search(query):
        signals["cause"] = [1.0 if CAUSE.search(text) else 0.0 for *_, text in found]
    noun = counted(query)
    if noun:
        count = states_count(noun)
        signals["count"] = [1.0 if count.search(text) else 0.0 for *_, text in found]
    if ASKS_RATIO.search(query):
        signals["ratio"] = [1.0 if STATES_RATIO.search(text) else 0.0 for *_, text in found]
    sizes = SIZE.findall(query)
    if sizes:
        headings = _headings_above(archive, [passage.chunk for _, passage, _, _ in found])
        values = [sum(size.lower() in headings[p.chunk.id] for size in sizes) for _, p, _, _ in found]
        if any(values):
            signals["context"] = [float(v) for v in values]
    fused = [0.0] * len(found)
    for name, values in signals.items():
        for i, contribution in enumerate(_reciprocal_ranks(values)):
            fused[i] += WEIGHTS[name] * contribution
    by_passage: dict[str, list[tuple[float, str]]] = {}
    for (_, passage, _, text), score in zip(found, fused, strict=True):
        by_passage.setdefault(passage.chunk.id, []).append((score, text))
    best = []
    for _, passage, _, _ in found:
        ranked = by_passage.pop(passage.chunk.id, None)
        if ranked:
            ranked.sort(key=lambda item: -item[0])  # stable: equal scores keep the passage's order
            best.append(Candidate(passage, ranked[0][1], ranked[0][0], tuple(t for _, t in ranked[1:])))
    return sorted(best, key=lambda c: -c.score)


# A model size in a question ("DeepSeekMoE 16B", "a 7B model"): papers that train several sizes describe each
# under a heading that names it ("5. Scaling up to DeepSeekMoE 16B"), and the sections below repeat one another.
SIZE = re.compile(r"(?<![\w.-])\d+(?:\.\d+)?[BMK](?![\w-])")
_NUMBERED = re.compile(r"^((?:\d+|[A-Z])(?:\.\d+)*)\.?\s")


def headings_above(section: str, sections: Sequence[str]) -> list[str]:
    """The headings of ``sections`` (a paper's, in order) above a numbered ``section``: "5. Scaling up to
    DeepSeekMoE 16B" and "5.1. Experimental Setup" above "5.1.2. Hyper-Parameters"; none above a top-level or an
    unnumbered one."""
    m = _NUMBERED.match(section)
    if not m or "." not in m.group(1):
        return []
    parts = m.group(1).split(".")
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts))}
    return [title for title in sections if (t := _NUMBERED.match(title)) and t.group(1) in prefixes]


def _headings_above(archive: Archive, chunks) -> dict[str, str]:
    """Each chunk's headings_above, joined, lower case; each paper's sections read once."""
    sections: dict[str, tuple[str, ...]] = {}
    out: dict[str, str] = {}
    for chunk in chunks:
        if chunk.id in out:
            continue
        if chunk.paper_id not in sections:
            record = archive.catalog.paper(chunk.paper_id)
            sections[chunk.paper_id] = record.sections if record else ()
        out[chunk.id] = " ".join(headings_above(chunk.section, sections[chunk.paper_id])).lower()
    return out


def _reciprocal_ranks(values: Sequence[float]) -> list[float]:
    """1 / (RRF_K + rank) for each value ranked highest first; values of 0 or less get nothing. Equal values
    keep the pool's order (sorting is stable): the sentences of one passage rank in their order in it, first
    sentence first. (Giving equal values one shared rank measured slightly worse on bench/qa_eval.py: ask R@5
    on numbers 98.4% -> 96.7%, the rest the same.)"""
    order = sorted((i for i, v in enumerate(values) if v > 0), key=lambda i: -values[i])
    out = [0.0] * len(values)
    for rank, i in enumerate(order, start=1):
        out[i] = 1.0 / (RRF_K + rank)
    return out


def _bm25(query: str, texts: Sequence[str]) -> list[float]:
    """BM25 of each text against the query's terms, the texts being the whole collection (higher is better)."""
    terms = fts_terms(query)
    scores = [0.0] * len(texts)
    if not terms:
        return scores
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(f"CREATE VIRTUAL TABLE s USING fts5(text, tokenize='{FTS_TOKENIZE}')")
        db.executemany("INSERT INTO s (rowid, text) VALUES (?, ?)", enumerate(texts))
        for rowid, score in db.execute("SELECT rowid, -bm25(s) FROM s WHERE s MATCH ?", [" OR ".join(terms)]):
            scores[rowid] = score
    return scores
